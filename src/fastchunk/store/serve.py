"""Remote reads: the core plans each read once (_core.ReadPlan, see
csrc/engine/read_plan.h) and names the byte ranges it needs (Requests); this
module fetches exactly those through the Store protocol, in rounds, and hands
the Answers over. Reads of more objects than one round of concurrent requests
decode while later objects are still in flight."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastchunk import _core
from fastchunk.errors import ChunkDecodeError
from fastchunk.store.protocol import WHOLE, Answer, Request, Store

Decoder = Callable[[str, Any], Any]  # (key, stored object) -> the bytes the core copies


def serve(plan: Any, store: Store, *, decode: Decoder | None = None, stream: bool = True) -> None:
    """Runs `plan` to the end with bytes from `store`. `decode(key, object)`
    turns each whole object into what the core takes (the numcodecs fallback,
    the item numbers of variable-length arrays)."""
    concurrency = max(1, int(store.concurrency))
    while plan.decode_ready():
        requests = plan.pending()
        if not requests:
            break  # finish() names the chunk whose bytes never came
        if stream and decode is None and _streams(requests, concurrency):
            _stream(plan, store, requests, concurrency)
        else:
            plan.provide(requests, fetch(store, requests, decode))
    plan.finish()


def _streams(requests: Sequence[Request], concurrency: int) -> bool:
    """Streaming pays only when the objects take several rounds of requests."""
    return len(requests) > concurrency and all(r.kind == WHOLE for r in requests)


def _stream(plan: Any, store: Store, requests: Sequence[Request], concurrency: int) -> None:
    # Each decode call gets half a round of objects, and at least two per thread.
    step = max(2 * _core.get_num_threads(), concurrency // 2)
    arrived = 0
    keys = [r.key for r in requests]
    for key, blob in store.iter_many(keys):
        plan.provide_object(key, blob, store.known_versions([key])[0] if blob is not None else "")
        arrived += 1
        if arrived % step == 0:
            plan.decode_ready()


def fetch(store: Store, requests: Sequence[Request], decode: Decoder | None = None
          ) -> list[Answer | None]:
    """The answers to a plan's requests, in order (store.read); whole objects
    decoded by `decode` when given."""
    answers = store.read(requests)
    if decode is None:
        return answers
    out: list[Answer | None] = []
    for r, answer in zip(requests, answers, strict=True):
        if answer is not None and r.kind == WHOLE:
            answer = Answer(_decoded(store, r.key, answer.data, decode), None, answer.version)
        out.append(answer)
    return out


def _decoded(store: Store, key: str, blob: Any, decode: Decoder) -> Any:
    try:
        return decode(key, blob)
    except ChunkDecodeError as e:
        raise ChunkDecodeError(f"{store.name}: chunk '{key}': {e}") from None
