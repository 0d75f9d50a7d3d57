"""Fetching ahead: the stored bytes of reads to come, requested while earlier
reads decode, so that an object store's latency is paid while the CPU works.

A reader that knows its next reads (the Loader knows an epoch's batches in
advance) hands a `FetchAhead` one job per read: a function that names the
byte requests the read's plan will make (a plan made without an output; the
shard indexes it needs are fetched on the way, into the index cache). Jobs
run in order on a few threads, as far ahead as a byte budget allows, and
their requests are fetched at once. Their answers wait in the store's
`AheadBuffer`; when the read runs, the store answers its requests from there
(waiting for what is still in flight) instead of asking the server again.
What a read left unused is dropped when the reader moves past it, so the
memory held is the budget and never grows with the epoch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Request = tuple[str, "int | None", "int | None"]  # (key, offset, length): see ReadPlan
Job = Callable[[], "list[tuple[Any, list[Request]]]"]  # -> [(store, requests)]

MISS = object()  # no entry covers the request
IN_FLIGHT = 6  # reads fetched at once (FetchAhead's notes say why so few)


class _Entry:
    """One request fetched ahead: a whole object (length None) or a range."""

    __slots__ = ("key", "offset", "length", "owner", "tag", "done", "blob", "ok", "nbytes")

    def __init__(self, key: str, offset: int, length: int | None, owner: Any, tag: int) -> None:
        self.key, self.offset, self.length = key, offset, length
        self.owner, self.tag = owner, tag
        self.done = threading.Event()
        self.blob: Any = None  # the bytes, or None: the object does not exist
        self.ok = False  # fetched without error
        self.nbytes = 0

    def covers(self, offset: int, length: int | None) -> bool:
        if self.length is None:
            return True
        return length is not None and self.offset <= offset and offset + length <= (
            self.offset + self.length
        )

    def answer(self, offset: int, length: int | None) -> Any:
        """The bytes of (offset, length) from this entry (it is done)."""
        if self.blob is None:
            return None
        if self.length is None and offset == 0 and length is None:
            return self.blob
        view = memoryview(self.blob).cast("B")
        start = offset - self.offset
        return view[start : start + length] if length is not None else view[start:]


class AheadBuffer:
    """A store's answers fetched ahead, by object key, with the bytes each
    owner (a FetchAhead) holds in them. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, list[_Entry]] = {}
        self._held: dict[int, int] = {}  # id(owner) -> bytes of its entries

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def register(
        self, owner: Any, tag: int, requests: Sequence[Request], whole_guess: int
    ) -> list[_Entry]:
        """Entries for `requests` of read `tag`, sized (a whole object at
        `whole_guess` until it arrives); a request `owner` registered for an
        earlier read keeps its entry, now held until `tag` too (fetched once).
        Returns the new entries, to fetch."""
        new: list[_Entry] = []
        with self._lock:
            for key, offset, length in requests:
                if offset is None:
                    continue  # suffixes (shard indexes) go to the index cache instead
                same = next(
                    (e for e in self._by_key.get(key, ())
                     if e.owner is owner and e.offset == offset and e.length == length),
                    None,
                )  # fmt: skip
                if same is not None:
                    same.tag = max(same.tag, tag)
                    continue
                e = _Entry(key, offset, length, owner, tag)
                e.nbytes = whole_guess if length is None else length
                self._held[id(owner)] = self._held.get(id(owner), 0) + e.nbytes
                self._by_key.setdefault(key, []).append(e)
                new.append(e)
        return new

    def resize(self, entry: _Entry, nbytes: int) -> None:
        """An entry's size is known (its object arrived)."""
        with self._lock:
            if any(e is entry for e in self._by_key.get(entry.key, ())):
                self._held[id(entry.owner)] += nbytes - entry.nbytes
            entry.nbytes = nbytes

    def held_by(self, owner: Any) -> int:
        with self._lock:
            return self._held.get(id(owner), 0)

    def find(self, key: str, offset: int, length: int | None) -> Any:
        """The answer to (key, offset, length) from an entry that covers it,
        waiting while that entry is in flight; MISS when none does (or its
        fetch failed: the caller asks the server)."""
        with self._lock:
            entry = next((e for e in self._by_key.get(key, ()) if e.covers(offset, length)), None)
        if entry is None:
            return MISS
        entry.done.wait()
        if not entry.ok:
            return MISS
        return entry.answer(offset, length)

    def expire(self, owner: Any, before: int | None = None) -> None:
        """Drops `owner`'s entries of reads before `before` (None: all)."""
        with self._lock:
            for key in list(self._by_key):
                keep = []
                for e in self._by_key[key]:
                    if e.owner is owner and (before is None or e.tag < before):
                        self._held[id(owner)] -= e.nbytes
                    else:
                        keep.append(e)
                if keep:
                    self._by_key[key] = keep
                else:
                    del self._by_key[key]
            if before is None:
                self._held.pop(id(owner), None)


class FetchAhead:
    """Runs `jobs[j]` (see the module notes) for the reads after the one
    running, up to `budget` bytes of answers held or in flight (a read
    starts only when its expected bytes fit: the budget bounds the peak) and
    at most `max_ahead` reads ahead, on `workers` threads. Reads are named
    (their requests registered, so that a request several reads make is
    fetched once) as soon as they start, and fetched in order, at most
    `in_flight` reads at a time. Call `before(j)` before read j runs, in
    order; `close()` at the end.

    Few reads in flight keep the answers arriving in order: with every read
    of an epoch in flight at once they share the bandwidth and the first one
    completes about when the last does, so decoding cannot overlap the
    transfer (measured on SeaweedFS, 128 dates of 2.4 MB in batches of 8:
    16 reads in flight gave 0.52 s an epoch and a peak over the budget, 6
    gave 0.43 s, and 6 reads of 8 objects still cover 50 ms of latency).

    Sizes not known yet are guessed: a whole object's (known when it
    arrives) as the mean of those that arrived, else `object_estimate` (the
    decoded size of a chunk: compressed objects are smaller); a read not
    named yet as the mean of the reads named so far (before the first is
    named, no other starts)."""

    def __init__(
        self,
        jobs: Sequence[Job],
        budget: int,
        object_estimate: int,
        *,
        max_ahead: int = 64,
        workers: int = 16,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self.jobs = jobs
        self.in_flight = max(1, int(in_flight))
        self._gate = threading.Condition()
        self._fetch_floor = 0  # the reads before it have been fetched
        self._fetched: set[int] = set()  # fetched reads at or after the floor
        self.budget = max(0, int(budget))
        self.max_ahead = max_ahead
        self._object_guess = max(1, int(object_estimate))
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="fastchunk-ahead")
        self._lock = threading.Lock()
        self._next = 0  # the next job to start
        self._named: dict[int, threading.Event] = {}
        self._unnamed: set[int] = set()  # jobs started whose requests are not registered yet
        self._buffers: dict[int, AheadBuffer] = {}
        self._sizes: list[int] = []  # whole objects' sizes, for the guess
        self._named_total = [0, 0]  # new bytes and count of named reads
        self.errors: list[BaseException] = []  # what failing jobs raised (reads ask the server)
        self._closed = False

    # -------------------------------------------------------------- driving
    def before(self, j: int) -> None:
        """Read j is about to run: what reads before it left is dropped, jobs
        are started as far as the budget allows (job j at least), and this
        returns once job j's requests are registered."""
        with self._lock:
            for t in [t for t in self._named if t < j]:
                del self._named[t]
            buffers = list(self._buffers.values())
        for buf in buffers:
            buf.expire(self, j)
        self._start_within_budget(j)
        event = self._named.get(j)
        if event is not None:
            event.wait()
            self._start_within_budget(j)  # its size is known now

    def _start_within_budget(self, j: int) -> None:
        while self._next < len(self.jobs) and self._next <= j + self.max_ahead:
            if self._next > j and self.held() + self._read_guess() > self.budget:
                break  # the next read would not fit: the budget bounds the peak
            self._start(self._next)
            self._next += 1

    def _read_guess(self) -> int:
        """The bytes a read not named yet will add: the mean of those named."""
        with self._lock:
            total, count = self._named_total
        return total // count if count else 0

    def held(self) -> int:
        """Bytes of answers held or in flight, with a guess for reads not
        named yet (the budget itself before any read is named)."""
        with self._lock:
            total, count = self._named_total
            guess = total // count if count else self.budget
            pending = guess * len(self._unnamed)
            buffers = list(self._buffers.values())
        return pending + sum(buf.held_by(self) for buf in buffers)

    def _start(self, j: int) -> None:
        event = threading.Event()
        with self._lock:
            self._named[j] = event
            self._unnamed.add(j)
        self._pool.submit(self._run, j, event)

    def _run(self, j: int, ready: threading.Event) -> None:
        fetches: list[tuple[Any, AheadBuffer, list[_Entry]]] = []
        try:
            if self._closed:
                return
            named = self.jobs[j]()
            whole_guess = self._whole_guess()
            total = 0
            for store, requests in named:
                buf = store.ahead_buffer()
                with self._lock:
                    self._buffers[id(buf)] = buf
                entries = buf.register(self, j, requests, whole_guess)
                total += sum(e.nbytes for e in entries)
                fetches.append((store, buf, entries))
            with self._lock:
                self._named_total[0] += total
                self._named_total[1] += 1
        except BaseException as exc:  # the read asks the server itself
            self.errors.append(exc)
        finally:
            with self._lock:
                self._unnamed.discard(j)
            ready.set()
        # The reads before this one are done or fetching: at most `in_flight`
        # reads fetch at once, in order (read j never waits: the reader is at
        # j only once the reads before it have their answers).
        with self._gate:
            self._gate.wait_for(lambda: self._closed or j < self._fetch_floor + self.in_flight)
        try:
            for store, buf, entries in fetches:
                self._fetch(store, buf, entries)
        finally:
            with self._gate:
                self._fetched.add(j)
                while self._fetch_floor in self._fetched:
                    self._fetched.discard(self._fetch_floor)
                    self._fetch_floor += 1
                self._gate.notify_all()

    def _whole_guess(self) -> int:
        with self._lock:
            return sum(self._sizes) // len(self._sizes) if self._sizes else self._object_guess

    def _fetch(self, store: Any, buf: AheadBuffer, entries: list[_Entry]) -> None:
        if not entries:
            return
        if self._closed:  # the reads ask the server themselves
            for e in entries:
                e.done.set()
            return
        try:
            answers = store.fetch_direct([(e.key, e.offset, e.length) for e in entries])
            for e, blob in zip(entries, answers, strict=True):
                e.blob = blob
                e.ok = True
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            for e in entries:
                if e.ok and e.blob is not None and e.length is None:
                    size = memoryview(e.blob).nbytes
                    with self._lock:
                        self._sizes.append(size)
                        del self._sizes[:-64]
                    buf.resize(e, size)
                e.done.set()

    def close(self) -> None:
        """Stops starting jobs, waits for those running and drops every answer."""
        self._closed = True
        with self._gate:
            self._gate.notify_all()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            buffers = list(self._buffers.values())
            self._unnamed.clear()
        for buf in buffers:
            buf.expire(self)
        for event in self._named.values():
            event.set()
