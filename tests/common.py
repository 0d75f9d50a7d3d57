"""Helpers shared by the tests: seeded random data, JSON edits, comparisons."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20240611


def random_data(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Random values of any fixed-size numeric, bool or datetime dtype."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        out = rng.random(shape) > 0.5
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        out = rng.integers(info.min, info.max, size=shape, dtype=dt.newbyteorder("="),
                           endpoint=True)
    elif dt.kind == "f":
        out = rng.standard_normal(shape) * 100
    elif dt.kind == "c":
        out = rng.standard_normal(shape) * 100 + 1j * rng.standard_normal(shape)
    elif dt.kind in "Mm":
        out = rng.integers(-(10**12), 10**12, size=shape, dtype=np.int64).view(
            dt.newbyteorder("=")
        )
    else:
        raise ValueError(f"no random data for {dt}")
    return np.asarray(out).astype(dt)


def edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrites the JSON document at `path` after `change` edits it in place."""
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))


def assert_same(actual: Any, expected: np.ndarray) -> None:
    """Equal values (NaN == NaN), shape and dtype (byte order aside)."""
    actual = np.asarray(actual)
    assert actual.shape == expected.shape
    assert actual.dtype == expected.dtype.newbyteorder("=")
    np.testing.assert_array_equal(actual, expected, strict=False)


def check_reads(array: Any, expected: np.ndarray) -> None:
    """The whole array and a few strided, reversed and gathered selections
    read like numpy reads them from `expected`."""
    assert array.shape == expected.shape
    assert array.dtype == expected.dtype.newbyteorder("=")
    assert_same(array[...], expected)
    if expected.ndim == 0:
        return
    strided = tuple(slice(1, None, 2) for _ in range(expected.ndim))
    reverse = tuple(slice(None, None, -3) for _ in range(expected.ndim))
    assert_same(array[strided], expected[strided])
    assert_same(array[reverse], expected[reverse])
    n = expected.shape[0]
    if n:
        rows = [n - 1, 0, n // 2, n - 1]
        assert_same(array.take(rows, axis=0), expected.take(rows, axis=0))


def no_slow_warning_reads(array: Any, expected: np.ndarray) -> None:
    """check_reads, failing on any SlowCodecWarning (the codecs are native)."""
    import warnings

    import fastchunk

    with warnings.catch_warnings():
        warnings.simplefilter("error", fastchunk.SlowCodecWarning)
        check_reads(array, expected)
