"""What fastchunk's zarr codec pipeline served and what it handed back to
zarr-python's default pipeline, with the reason: fallbacks are counted (and
logged once per reason), never silent."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

log = logging.getLogger("fastchunk.zarr.pipeline")

_lock = threading.Lock()
_counts: Counter[str] = Counter()
_reasons: Counter[str] = Counter()
_logged: set[str] = set()


def count(what: str, n: int = 1) -> None:
    with _lock:
        _counts[what] += n


def fallback(kind: str, reason: str) -> None:
    """One array (kind "array") or read (kind "read") handed to zarr's default
    pipeline because of `reason`."""
    with _lock:
        _counts[f"{kind}s_fallback"] += 1
        _reasons[f"{kind}: {reason}"] += 1
        first = reason not in _logged
        _logged.add(reason)
    if first:
        log.info("fastchunk codec pipeline: %s read by zarr's default pipeline: %s", kind, reason)


def stats() -> dict[str, Any]:
    """Counters since the process started (or the last reset_stats()):
    arrays_native / arrays_fallback (pipelines zarr created for arrays),
    reads_native / reads_fallback, chunks_native (chunks decoded by the core),
    chunks_vlen (variable-length chunks: framing parsed by the core, bytes
    codecs through numcodecs) and fallback_reasons."""
    with _lock:
        out: dict[str, Any] = {
            k: _counts.get(k, 0)
            for k in ("arrays_native", "arrays_fallback", "reads_native", "reads_fallback",
                      "chunks_native", "chunks_vlen")
        }
        out["fallback_reasons"] = dict(_reasons)
        return out


def reset_stats() -> None:
    with _lock:
        _counts.clear()
        _reasons.clear()
