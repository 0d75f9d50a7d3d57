"""Remote reads: the core plans each read once (_core.ReadPlan, see
csrc/engine/read_plan.h) and names the byte ranges it needs; this module
fetches exactly those, in rounds, and hands them over. Reads of more objects
than one round of concurrent requests decode while later objects are still in
flight."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastchunk import _core
from fastchunk.errors import ChunkDecodeError

Request = tuple[str, "int | None", "int | None"]  # (key, offset, length): see ReadPlan
Decoder = Callable[[str, Any], Any]  # (key, stored object) -> the bytes the core copies


def serve(plan: Any, store: Any, *, decode: Decoder | None = None, stream: bool = True) -> None:
    """Runs `plan` to the end with bytes from `store`. `decode(key, object)`
    turns each whole object into what the core takes (the numcodecs fallback,
    the item numbers of variable-length arrays)."""
    concurrency = max(1, int(getattr(store, "concurrency", 32)))
    while plan.decode_ready():
        requests = plan.pending()
        if not requests:
            break  # finish() names the chunk whose bytes never came
        if stream and decode is None and _streams(store, requests, concurrency):
            _stream(plan, store, requests, concurrency)
        else:
            plan.provide(requests, fetch(store, requests, decode))
    plan.finish()


def _streams(store: Any, requests: Sequence[Request], concurrency: int) -> bool:
    """Streaming pays only when the objects take several rounds of requests."""
    return (
        len(requests) > concurrency
        and hasattr(store, "iter_many")
        and all(offset == 0 and length is None for _, offset, length in requests)
    )


def _stream(plan: Any, store: Any, requests: Sequence[Request], concurrency: int) -> None:
    # Each decode call gets half a round of objects, and at least two per thread.
    step = max(2 * _core.get_num_threads(), concurrency // 2)
    arrived = 0
    for key, blob in store.iter_many([key for key, _, _ in requests]):
        plan.provide_object(key, blob)
        arrived += 1
        if arrived % step == 0:
            plan.decode_ready()


def fetch(store: Any, requests: Sequence[Request], decode: Decoder | None = None) -> list[Any]:
    """The answers to a plan's requests, in order: whole objects through
    get_many, byte ranges through get_ranges, tails with the object size
    through get_suffixes (stores without the last two: cut from whole objects)."""
    results: list[Any] = [None] * len(requests)
    whole = [i for i, (_, offset, length) in enumerate(requests) if offset == 0 and length is None]
    tails = [i for i, (_, offset, _) in enumerate(requests) if offset is None]
    ranges = [i for i, (_, offset, length) in enumerate(requests)
              if offset is not None and length is not None]  # fmt: skip
    if whole:
        got = store.get_many([requests[i][0] for i in whole])
        for i in whole:
            key = requests[i][0]
            blob = got.get(key)
            results[i] = blob if blob is None or decode is None else _decoded(store, key, blob,
                                                                             decode)
    if tails:
        if hasattr(store, "get_suffixes"):
            got_tails = store.get_suffixes([(requests[i][0], requests[i][2]) for i in tails])
        else:
            objects = store.get_many([requests[i][0] for i in tails])
            got_tails = [_tail(objects.get(requests[i][0]), requests[i][2]) for i in tails]
        for i, answer in zip(tails, got_tails, strict=True):
            results[i] = answer
    if ranges:
        if hasattr(store, "get_ranges"):
            got_ranges = store.get_ranges([requests[i] for i in ranges])
        else:
            objects = store.get_many([requests[i][0] for i in ranges])
            got_ranges = [_cut(objects.get(requests[i][0]), requests[i]) for i in ranges]
        for i, answer in zip(ranges, got_ranges, strict=True):
            results[i] = answer
    return results


def _decoded(store: Any, key: str, blob: Any, decode: Decoder) -> Any:
    try:
        return decode(key, blob)
    except ChunkDecodeError as e:
        raise ChunkDecodeError(f"{store.name}: chunk '{key}': {e}") from None


def _tail(blob: Any, length: int) -> tuple[Any, int] | None:
    if blob is None:
        return None
    view = memoryview(blob).cast("B")
    return view[max(0, len(view) - length) :], len(view)


def _cut(blob: Any, request: Request) -> Any:
    if blob is None:
        return None
    _, offset, length = request
    return memoryview(blob).cast("B")[offset : offset + length]  # type: ignore[operator]
