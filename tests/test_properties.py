"""Property-based tests of the public reading API: random selections, index
dtypes and `out` buffers of the right or wrong size, dtype, layout and
writability. Every call either returns what numpy returns or raises a clean
IndexError, TypeError or ValueError; it never crashes, never reads out of
bounds, and never silently writes somewhere else than `out`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import zarr

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fastchunk  # noqa: E402

SHAPE = (13, 7, 5)
CLEAN = (IndexError, TypeError, ValueError)
INT_DTYPES = ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8"]
PROPERTY = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, np.ndarray]]:
    """Three layouts over the same logical data: v3 chunked (some chunks never
    written: the fill value), v2 order F with blosc, v3 sharded."""
    root = tmp_path_factory.mktemp("properties")
    rng = np.random.default_rng(5)
    data = rng.integers(-1000, 1000, size=SHAPE).astype("i2")
    data[8:, 3:, :] = 7  # a region of fill values
    out = {}
    z = zarr.create_array(str(root / "v3.zarr"), shape=SHAPE, chunks=(4, 3, 2), dtype="i2",
                          fill_value=7)  # fmt: skip
    z[...] = data
    out["v3"] = data
    z = zarr.create_array(str(root / "v2f.zarr"), shape=SHAPE, chunks=(5, 4, 3), dtype="f8",
                          zarr_format=2, order="F")  # fmt: skip
    z[...] = data.astype("f8")
    out["v2f"] = data.astype("f8")
    z = zarr.create_array(str(root / "sharded.zarr"), shape=SHAPE, chunks=(2, 3, 2),
                          shards=(4, 6, 4), dtype="i2", fill_value=7)  # fmt: skip
    z[...] = data
    out["sharded"] = data
    return {name: (fastchunk.open_array(root / f"{name}.zarr"), d) for name, d in out.items()}


names = st.sampled_from(["v3", "v2f", "sharded"])


@st.composite
def basic_keys(draw: Any) -> tuple[Any, ...]:
    """Integers (in range or just outside), slices with any step, and at most
    one integer array or boolean mask."""
    key: list[Any] = []
    array_axis = draw(st.one_of(st.none(), st.integers(0, len(SHAPE) - 1)))
    for d, n in enumerate(SHAPE):
        if d == array_axis:
            if draw(st.booleans()):
                key.append(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))))
            else:
                values = draw(st.lists(st.integers(-n - 2, n + 1), max_size=6))
                key.append(np.array(values, dtype=draw(st.sampled_from(["i8", "i4", "i2"]))))
            continue
        kind = draw(st.sampled_from(["int", "slice", "slice", "all"]))
        if kind == "int":
            key.append(draw(st.integers(-n - 2, n + 1)))
        elif kind == "slice":
            step = draw(st.sampled_from([1, 2, 3, -1, -2, -3]))
            start = draw(st.one_of(st.none(), st.integers(-n - 3, n + 3)))
            stop = draw(st.one_of(st.none(), st.integers(-n - 3, n + 3)))
            key.append(slice(start, stop, step))
        else:
            key.append(slice(None))
    return tuple(key)


@PROPERTY
@given(name=names, key=basic_keys())
def test_getitem_matches_numpy(stores, name: str, key: tuple[Any, ...]) -> None:
    a, data = stores[name]
    try:
        want = data[key]
    except IndexError:
        with pytest.raises(IndexError):
            a[key]
        return
    got = a[key]
    np.testing.assert_array_equal(got, want)
    assert np.shape(got) == np.shape(want)


@st.composite
def take_args(draw: Any) -> tuple[np.ndarray, int]:
    axis = draw(st.integers(-len(SHAPE), len(SHAPE) - 1))
    n = SHAPE[axis]
    dims = draw(st.sampled_from([(), (0,), (4,), (2, 3)]))
    size = int(np.prod(dims)) if dims else 1
    dtype = draw(st.sampled_from(INT_DTYPES))
    lo = 0 if dtype.startswith("u") else -n - 2
    values = draw(st.lists(st.integers(lo, n + 1), min_size=size, max_size=size))
    return np.array(values, dtype=dtype).reshape(dims), axis


OUT_KINDS = ["none", "good", "wrong-shape", "wrong-dtype", "strided", "read-only", "fortran",
             "list"]  # fmt: skip


def make_out(kind: str, shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """An output buffer of `kind`: right, or wrong in one way."""
    if kind == "none":
        return None
    if kind == "good":
        return np.full(shape, 99, dtype=dtype)
    if kind == "wrong-shape":
        return np.full((*shape, 2) if shape else (3,), 99, dtype=dtype)
    if kind == "wrong-dtype":
        return np.full(shape, 99, dtype="f4" if dtype != np.float32 else "i4")
    if kind == "strided":
        base = np.full((*shape[:-1], 2 * shape[-1]) if shape else (2,), 99, dtype=dtype)
        return base[..., ::2] if shape else base[::2].reshape(())
    if kind == "read-only":
        out = np.full(shape, 99, dtype=dtype)
        out.flags.writeable = False
        return out
    if kind == "fortran":
        return np.asfortranarray(np.full(shape, 99, dtype=dtype))
    return [99] * max(1, int(np.prod(shape)))


@PROPERTY
@given(name=names, args=take_args(), out_kind=st.sampled_from(OUT_KINDS))
def test_take_matches_numpy_or_raises_cleanly(stores, name, args, out_kind) -> None:
    a, data = stores[name]
    idx, axis = args
    try:
        want = np.take(data, idx.astype(np.int64), axis=axis)
    except IndexError:
        with pytest.raises(IndexError):
            a.take(idx, axis=axis)
        return
    out = make_out(out_kind, want.shape, data.dtype)
    before = None if out is None or isinstance(out, list) else np.array(out, copy=True)
    try:
        got = a.take(idx, axis=axis, out=out)
    except CLEAN:
        # Only a wrong `out` may be refused, and it is left as it was.
        assert out_kind in ("wrong-shape", "read-only", "list", "wrong-dtype")
        if before is not None:
            np.testing.assert_array_equal(out, before)
        return
    np.testing.assert_array_equal(got, want)
    if out is not None:
        assert got is out
        np.testing.assert_array_equal(out, want)  # written where asked, whatever its layout


@st.composite
def orthogonal_args(draw: Any) -> list[np.ndarray]:
    indices = []
    for n in SHAPE:
        dtype = draw(st.sampled_from(INT_DTYPES + ["f8", "bool"]))
        values = draw(st.lists(st.integers(-2, n + 1), max_size=5))
        indices.append(np.array(values).astype(dtype))
    return indices


@PROPERTY
@given(name=names, indices=orthogonal_args(),
       out_kind=st.sampled_from(OUT_KINDS[1:]))  # fmt: skip
def test_read_orthogonal_reads_exactly_or_raises_cleanly(stores, name, indices, out_kind) -> None:
    a, data = stores[name]
    shape = tuple(len(i) for i in indices)
    out = make_out(out_kind, shape, data.dtype)
    before = None if isinstance(out, list) else np.array(out, copy=True)
    bad_dtype = any(i.dtype.kind not in "iu" and i.size for i in indices)
    bad_range = any(
        i.size and (i.astype(np.float64).min() < 0 or i.astype(np.float64).max() >= n)
        for i, n in zip(indices, SHAPE, strict=True)
        if i.dtype.kind in "iu"
    )
    bad_out = not (
        isinstance(out, np.ndarray)
        and out.dtype == data.dtype
        and out.shape == shape
        and out.flags.c_contiguous  # a strided or F-order view of 0 or 1 rows may be
        and out.flags.writeable
    )
    if not (bad_dtype or bad_range or bad_out):
        a.read_orthogonal(indices, out)
        np.testing.assert_array_equal(out, data[np.ix_(*[i.astype(np.int64) for i in indices])])
        return
    with pytest.raises(CLEAN):
        a.read_orthogonal(indices, out)
    if before is not None:
        np.testing.assert_array_equal(out, before)  # nothing written on refusal
