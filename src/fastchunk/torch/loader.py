"""Loader: batches assembled ahead by native threads into a ring of reusable
(pinned) host buffers, copied to the GPU on a side stream.

A CPU batch yielded by Loader lives in a ring buffer: it is valid until the
next batch is requested (clone it to keep it), the contract that lets the
loader fill pinned memory once and never allocate per batch.
"""

from __future__ import annotations

import collections
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from fastchunk import _core
from fastchunk._units import parse_bytes
from fastchunk.array import Array
from fastchunk.store.fetch_ahead import FetchAhead
from fastchunk.torch.dataset import ArrayDataset
from fastchunk.torch.sampler import ShardedBatchSampler
from fastchunk.torch.source import SampleSource
from fastchunk.torch.transform import Transform

_END = object()
ENV_PREFETCH_BYTES = "FASTCHUNK_PREFETCH_BYTES"


def _default_prefetch_bytes() -> int:
    """FASTCHUNK_PREFETCH_BYTES, else 256 MiB (at most a sixteenth of the memory)."""
    value = os.environ.get(ENV_PREFETCH_BYTES)
    if value:
        return parse_bytes(value)
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        memory = 8 << 30
    return min(256 << 20, memory // 16)


def _statistics(source: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean, stdev) per channel of a sample source, for normalize="statistics"."""
    if name != "statistics":
        raise ValueError(f"normalize must be (mean, std) or 'statistics', got {name!r}")
    src = source.source if isinstance(source, ArrayDataset) else source
    if src is None or isinstance(src, Array) or not isinstance(src, SampleSource):
        raise ValueError(
            "normalize='statistics' needs a sample source with statistics, such as an anemoi "
            "view (fastchunk.anemoi.open_dataset), or an ArrayDataset made from one"
        )
    return src.channel_statistics()


class _Slot:
    """One reusable host buffer of the ring."""

    def __init__(self, ds: ArrayDataset, batch_size: int, pin: bool) -> None:
        shape = (batch_size, *ds.output_shape)
        self.host = torch.empty(shape, dtype=ds.out_dtype, pin_memory=pin)
        raw = (batch_size, *ds.sample_shape)
        self.staging = np.empty(raw, dtype=ds.dtype) if ds.needs_staging else None
        self.event: Any = None  # CUDA event of the last copy out of `host`


class Loader:
    """Batches of an array (or an ArrayDataset, or an anemoi view from
    `fastchunk.anemoi.open_dataset`) as torch tensors of shape (batch, ...),
    assembled by native threads `prefetch` batches ahead into a ring of
    reusable host buffers (pinned when CUDA is available), with normalization
    / NaN replacement / cast fused into the copy.

    With a view, `offsets` count steps of its frequency, its missing dates
    are skipped (with any `missing=` given), `normalize="statistics"` uses its
    mean and stdev, and `layout="anemoi"` gives anemoi-training's order:
    (batch, window, ensembles, gridpoints, variables). `num_threads` sizes this
    loader's own reads; other readers in the process keep theirs.

    From an object store (s3://, gs://, http://), the stored bytes of the
    batches after the one decoding are fetched ahead, in the epoch's order,
    up to `prefetch_bytes` of answers held or in flight (default 256 MiB, at
    most a sixteenth of the memory; FASTCHUNK_PREFETCH_BYTES; 0 turns it
    off): an epoch from a store with latency runs as fast as one without
    (fastchunk.store.fetch_ahead).

    With `device` a CUDA device, each batch is copied on a side stream
    (non-blocking) and the host buffer is reused only after its copy finished.
    Use `set_epoch(e)` (the epoch also advances after each full pass),
    `len(loader)` batches per epoch and rank, `state_dict()` /
    `load_state_dict()` to resume mid-epoch. Ranks default to
    torch.distributed when initialised."""

    def __init__(
        self,
        array_or_dataset: Array | ArrayDataset | SampleSource | str | os.PathLike[str],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        offsets: Sequence[int] | None = None,
        select: Any = None,
        pin_memory: bool = True,
        device: Any = None,
        prefetch: int = 2,
        num_threads: int | None = None,
        normalize: tuple[Any, Any] | str | None = None,
        dtype: Any = None,
        *,
        nan: float | None = None,
        normalize_axis: int | None = None,
        missing: Sequence[int] | None = None,
        axis: int = 0,
        chunk_aware: bool = False,
        layout: str = "native",
        path: str | None = None,
        storage_options: dict[str, Any] | None = None,
        prefetch_bytes: int | str | None = None,
    ) -> None:
        if isinstance(normalize, str):
            normalize = _statistics(array_or_dataset, normalize)
            normalize_axis = 1 if normalize_axis is None else normalize_axis
        fused = None
        if normalize is not None or nan is not None or dtype is not None or layout != "native":
            fused = Transform(normalize, axis=normalize_axis, nan=nan, dtype=dtype, layout=layout)
        if isinstance(array_or_dataset, ArrayDataset):
            ds = array_or_dataset
            if (
                offsets is not None
                or select is not None
                or missing is not None
                or axis != 0
                or path is not None
                or storage_options is not None
            ):
                raise ValueError(
                    "offsets/select/missing/axis/path/storage_options belong to the dataset passed"
                )
            if fused is not None:
                if ds.transform is not None:
                    raise ValueError("the dataset has a transform already")
                ds = ds.with_transform(fused)
        else:
            ds = ArrayDataset(
                array_or_dataset, axis, offsets, select, fused, missing, path, storage_options
            )
        self.dataset = ds
        if len(ds) == 0:
            raise ValueError(f"{ds!r} has no valid samples")
        if prefetch < 1:
            raise ValueError("prefetch must be >= 1")
        self.prefetch = int(prefetch)
        self.prefetch_bytes = (
            _default_prefetch_bytes() if prefetch_bytes is None else parse_bytes(prefetch_bytes)
        )
        self.num_threads = num_threads
        self.sampler = ShardedBatchSampler(
            len(ds),
            batch_size,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
            rank=rank,
            world_size=world_size,
            chunk_ids=ds.chunk_ids if chunk_aware else None,
        )
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self._cuda = self.device.type == "cuda"
        if self._cuda and not torch.cuda.is_available():
            raise RuntimeError(f"device {self.device} requested but CUDA is not available")
        self.pin_memory = bool(pin_memory) and torch.cuda.is_available()
        self._slots: list[_Slot] | None = None
        self._epoch = 0
        self._position = 0  # batches of the current epoch handed out
        self._resume: int | None = None

    @property
    def batch_size(self) -> int:
        return self.sampler.batch_size

    @property
    def epoch(self) -> int:
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        self._epoch = int(epoch)
        self._position = 0
        self._resume = None

    def __len__(self) -> int:
        return len(self.sampler)

    def state_dict(self) -> dict[str, Any]:
        s = self.sampler
        return {
            "epoch": self._epoch,
            "batches_done": self._position,
            "seed": s.seed,
            "shuffle": s.shuffle,
            "batch_size": s.batch_size,
            "drop_last": s.drop_last,
            "world_size": s.world_size,
            "rank": s.rank,
            "num_samples": s.num_samples,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        s = self.sampler
        mine = self.state_dict()
        for key in ("seed", "shuffle", "batch_size", "drop_last", "world_size", "num_samples"):
            if state[key] != mine[key]:
                raise ValueError(f"state has {key}={state[key]!r}, this loader {mine[key]!r}")
        if not 0 <= int(state["batches_done"]) <= len(s):
            raise ValueError(f"batches_done {state['batches_done']} out of range")
        self._epoch = int(state["epoch"])
        self._position = int(state["batches_done"])
        self._resume = self._position

    # ---- iteration
    def _ring(self) -> list[_Slot]:
        if self._slots is None:
            ds, pin = self.dataset, self.pin_memory
            self._slots = [_Slot(ds, self.batch_size, pin) for _ in range(self.prefetch + 1)]
        return self._slots

    def _fetch_ahead(self, batches: Sequence[np.ndarray]) -> FetchAhead | None:
        """The fetch-ahead of this pass over `batches` (remote stores only)."""
        ds = self.dataset
        if self.prefetch_bytes <= 0 or not batches or not ds.fetches_ahead:
            return None
        chunk_bytes = int(np.prod(ds.array.chunks)) * np.dtype(ds.dtype).itemsize
        jobs = [lambda b=b: ds.fetch_requests(b) for b in batches]
        return FetchAhead(jobs, self.prefetch_bytes, object_estimate=chunk_bytes)

    def _fill(self, slot: _Slot, idx: np.ndarray) -> Any:
        return self.dataset.read_batch(idx, slot.host[: len(idx)], slot.staging)

    def __iter__(self) -> Iterator[Any]:
        start = self._resume or 0
        self._resume = None
        epoch = self._epoch
        batches = self.sampler.batches(epoch)[start:]
        self._position = start
        device = self.device if self._cuda else None
        ahead = self._fetch_ahead(batches)
        fill = self._fill
        if ahead is not None:
            order = iter(range(len(batches)))

            def fill(slot: _Slot, idx: np.ndarray) -> Any:
                ahead.before(next(order))  # the prefetch thread fills batches in order
                return self._fill(slot, idx)

        run = Prefetcher(self._ring(), fill, batches, self.num_threads, device)
        try:
            for batch in run:
                self._position += 1
                yield batch
        finally:
            run.close()
            if ahead is not None:
                ahead.close()
        self._epoch = epoch + 1
        self._position = 0


class Prefetcher:
    """A background thread filling reusable slots in batch order: `fill(slot,
    batch)` writes one batch into a free slot and returns what is yielded
    (a tensor, or a dict or list of them). The native reads and transforms
    it calls release the GIL.

    A yielded CPU batch stays valid until `keep` more batches have been
    requested (1: until the next; 2 for a consumer that fetches one batch
    ahead, as Lightning does); `slots` must hold at least keep + 1. With
    `device` a CUDA device, each batch is copied there on a side stream and
    its slot is reused once the copy is done. A slot handed back while CUDA
    is in use waits, before it is filled again, for the work queued on the
    consumer's stream when it was handed back (the consumer's own
    non-blocking copies out of pinned memory)."""

    def __init__(
        self,
        slots: Sequence[Any],
        fill: Callable[[Any, Any], Any],
        batches: Sequence[Any],
        num_threads: int | None = None,
        device: torch.device | None = None,
        keep: int = 1,
    ) -> None:
        if keep < 1 or len(slots) < keep + 1:
            raise ValueError(f"{len(slots)} slots cannot keep {keep} batches and fill another")
        self.fill = fill
        self.batches = batches
        self.num_threads = num_threads
        self.device = device
        self.keep = keep
        self.free: queue.Queue[Any] = queue.Queue()
        for slot in slots:
            self.free.put(slot)
        self.ready: queue.Queue[Any] = queue.Queue()
        self.stop = threading.Event()
        self.held: collections.deque[Any] = collections.deque()
        self.stream = torch.cuda.Stream(device=device) if device is not None else None
        self.thread = threading.Thread(target=self._work, name="fastchunk-prefetch", daemon=True)
        self.thread.start()

    def _next_free(self) -> Any:
        while not self.stop.is_set():
            try:
                return self.free.get(timeout=0.05)
            except queue.Empty:
                continue
        return None

    def _work(self) -> None:
        if self.num_threads is not None:
            # This thread's reads and transforms only: other readers in the
            # process keep the process-wide count.
            _core.set_thread_num_threads(int(self.num_threads))
        try:
            for batch in self.batches:
                slot = self._next_free()
                if slot is None:
                    return
                event = getattr(slot, "event", None)
                if event is not None:
                    event.synchronize()  # its last copy to the device is done
                    slot.event = None
                result = self.fill(slot, batch)
                if self.stream is not None:
                    self.ready.put(self._to_device(slot, result))
                    self.free.put(slot)
                else:
                    self.ready.put((slot, result, None))
        except BaseException as exc:  # handed to the consumer
            self.ready.put(exc)
            return
        self.ready.put(_END)

    def _to_device(self, slot: Any, result: Any) -> tuple[None, Any, Any]:
        assert self.stream is not None
        with torch.cuda.stream(self.stream):
            moved = _apply(result, lambda t: t.to(self.device, non_blocking=True))
            event = torch.cuda.Event()
            event.record(self.stream)
        slot.event = event
        return (None, moved, event)

    def _release(self, slot: Any) -> None:
        if slot is None:
            return
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            # The consumer may have queued a non-blocking copy out of this
            # slot's pinned memory: refill it only after that work.
            event = torch.cuda.Event()
            event.record(torch.cuda.current_stream())
            slot.event = event
        self.free.put(slot)

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._get()
            if len(self.held) >= self.keep:
                self._release(self.held.popleft())
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            slot, result, event = item
            if event is not None:
                current = torch.cuda.current_stream(self.device)
                current.wait_event(event)
                _apply(result, lambda t, s=current: t.record_stream(s))
            self.held.append(slot)
            yield result

    def _get(self) -> Any:
        while True:
            try:
                return self.ready.get(timeout=1.0)
            except queue.Empty:
                if not self.thread.is_alive() and self.ready.empty():
                    raise RuntimeError("fastchunk prefetch thread ended without a result") from None

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        while self.held:
            self._release(self.held.popleft())


def _apply(result: Any, f: Callable[[torch.Tensor], Any]) -> Any:
    """f over the tensors of a batch: a tensor, or a dict, list or tuple of them."""
    if isinstance(result, torch.Tensor):
        return f(result)
    if isinstance(result, dict):
        return {k: _apply(v, f) for k, v in result.items()}
    if isinstance(result, (list, tuple)):
        return type(result)(_apply(v, f) for v in result)
    return result
