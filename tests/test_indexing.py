"""Selections compared with numpy: basic indexing, one advanced index on any
axis, take() into numpy arrays and torch tensors, and numpy's errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr

import fastchunk
from tests.common import SEED, assert_same, random_data

SHAPE = (13, 17, 7)


@pytest.fixture(scope="module", params=["v3", "v2-F-blosc", "v3-sharded-transposed"])
def stored(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> tuple[fastchunk.Array, np.ndarray]:
    data = random_data(np.random.default_rng(SEED), SHAPE, "float32")
    path = tmp_path_factory.mktemp("indexing") / "a.zarr"
    kind = request.param
    if kind == "v3":
        z = zarr.create_array(str(path), shape=SHAPE, chunks=(5, 4, 3), dtype="f4")
    elif kind == "v2-F-blosc":
        z = zarr.create_array(str(path), shape=SHAPE, chunks=(4, 5, 7), dtype="f4",
                              zarr_format=2, order="F",
                              compressors=numcodecs.Blosc(cname="lz4", shuffle=1))
    else:
        z = zarr.create_array(str(path), shape=SHAPE, chunks=(2, 3, 7), shards=(4, 6, 7),
                              dtype="f4", filters=[zarr.codecs.TransposeCodec(order=(2, 0, 1))])
    z[...] = data
    return fastchunk.open_array(path), data


def random_slice(rng: np.random.Generator, n: int) -> slice:
    def bound() -> int | None:
        return None if rng.random() < 0.3 else int(rng.integers(-n - 3, n + 4))

    step = None if rng.random() < 0.3 else int(rng.choice([-5, -3, -2, -1, 1, 2, 3, 7]))
    return slice(bound(), bound(), step)


def random_array_index(rng: np.random.Generator, n: int) -> Any:
    kind = rng.integers(0, 5)
    if kind == 0:  # a list with duplicates and negatives
        return [int(i) for i in rng.integers(-n, n, size=rng.integers(1, 6))]
    if kind == 1:  # a 1-d integer array, any integer dtype
        dtype = rng.choice(["int64", "int32", "uint8", "int16"])
        lo = 0 if dtype == "uint8" else -n
        return rng.integers(lo, n, size=rng.integers(0, 6)).astype(dtype)
    if kind == 2:  # a 2-d integer array
        return rng.integers(-n, n, size=(2, 3))
    if kind == 3:  # a boolean mask
        return rng.random(n) < 0.4
    return [bool(b) for b in rng.random(n) < 0.5]  # a boolean list


def random_key(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[Any, ...]:
    ndim = len(shape)
    kinds = [str(rng.choice(["int", "slice", "slice", "full"])) for _ in range(ndim)]
    if rng.random() < 0.7:
        kinds[int(rng.integers(0, ndim))] = "array"
    key: list[Any] = []
    for kind, n in zip(kinds, shape, strict=True):
        if kind == "int":
            key.append(int(rng.integers(-n, n)))
        elif kind == "slice":
            key.append(random_slice(rng, n))
        elif kind == "full":
            key.append(slice(None))
        else:
            key.append(random_array_index(rng, n))
    # Trailing full slices may be left out or replaced by an Ellipsis.
    r = rng.random()
    if r < 0.2:
        while key and isinstance(key[-1], slice) and key[-1] == slice(None):
            key.pop()
    elif r < 0.4:
        for i, k in enumerate(key):
            if isinstance(k, slice) and k == slice(None):
                key[i : i + 1] = [Ellipsis]
                while i + 1 < len(key) and isinstance(key[i + 1], slice) and (
                    key[i + 1] == slice(None)
                ):
                    del key[i + 1]
                break
    return tuple(key)


def test_random_selections_match_numpy(stored: tuple[fastchunk.Array, np.ndarray]) -> None:
    a, data = stored
    rng = np.random.default_rng(SEED)
    for _ in range(400):
        key = random_key(rng, SHAPE)
        expected = data[key]
        got = a[key]
        assert np.shape(got) == expected.shape, key
        np.testing.assert_array_equal(got, expected, err_msg=repr(key))


@pytest.mark.parametrize(
    "key",
    [
        (), 3, -1, (2, 5, 6), (-13, -17, -7), np.int64(4), np.array(2), (np.uint8(3), 1),
        slice(None), np.s_[::-1], np.s_[::-1, ::-1, ::-1], np.s_[-2:2:-3, 1:100, ::4],
        np.s_[5:2], np.s_[100:], np.s_[-100:3], Ellipsis, np.s_[..., 0], np.s_[1, ...],
        np.s_[1, ..., 2], np.s_[:, 3], np.s_[..., ::-2],
        np.s_[[0, 12, -1, 0]], np.s_[:, [3, -3]], np.s_[..., [6, 0, 6]],
        np.s_[[]], np.s_[:, np.array([], dtype=np.int64)],
        np.s_[2, [1, 2]], np.s_[[1, 2], 3], np.s_[2, :, [1, 2]], np.s_[[1, 2], :, 3],
        np.s_[1:4, [1, 2], 3], np.s_[2, [[1, 2], [3, 4]], ::2], np.s_[[[1], [2]], 5, 5],
        np.s_[4, 3:9, [0, 0, 1]], np.s_[::-1, 1, [4]],
        np.s_[np.arange(13) % 3 == 0], np.s_[:, np.arange(17) > 20], np.s_[..., np.ones(7, bool)],
        np.s_[3, np.arange(17) < 4, 1],
    ],
    ids=repr,
)
def test_selected_keys_match_numpy(
    stored: tuple[fastchunk.Array, np.ndarray], key: Any
) -> None:
    a, data = stored
    expected = data[key]
    got = a[key]
    if expected.ndim == 0:
        assert np.isscalar(got) or np.ndim(got) == 0
        assert got == expected
        assert np.asarray(got).dtype == expected.dtype
    else:
        assert_same(got, expected)


def test_asarray(stored: tuple[fastchunk.Array, np.ndarray]) -> None:
    a, data = stored
    assert_same(np.asarray(a), data)
    assert_same(np.asarray(a, dtype="float64"), data.astype("float64"))
    assert_same(np.array(a), data)


TAKES = [
    ([3, 3, -1, 0, 12], 0), ([16, -17, 5, 5], 1), ([-1, 0, -1], 2), ([], 0),
    (np.array([[1, 2], [12, -13]]), 0), (np.array([6, 0], dtype=np.uint16), -1),
    ([4, 4], -2), (np.array(5), 0),
]  # fmt: skip


@pytest.mark.parametrize(("indices", "axis"), TAKES, ids=repr)
def test_take(stored: tuple[fastchunk.Array, np.ndarray], indices: Any, axis: int) -> None:
    a, data = stored
    expected = np.take(data, indices, axis=axis)
    assert_same(a.take(indices, axis=axis), expected)


def test_take_default_axis_and_random(stored: tuple[fastchunk.Array, np.ndarray]) -> None:
    a, data = stored
    rng = np.random.default_rng(SEED)
    for _ in range(30):
        axis = int(rng.integers(0, 3))
        idx = rng.integers(-SHAPE[axis], SHAPE[axis], size=rng.integers(1, 20))
        assert_same(a.take(idx, axis), np.take(data, idx, axis=axis))
    assert_same(a.take([2, 0]), data[[2, 0]])


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_take_into_numpy_out(stored: tuple[fastchunk.Array, np.ndarray], axis: int) -> None:
    a, data = stored
    idx = [5, -1, 5, 0]
    expected = np.take(data, idx, axis=axis)
    out = np.full(expected.shape, -7, dtype="float32")
    assert a.take(idx, axis=axis, out=out) is out
    assert_same(out, expected)
    # A non-contiguous out: every other element of a bigger buffer.
    big = np.full(expected.shape[:-1] + (expected.shape[-1] * 2,), -7, dtype="float32")
    view = big[..., ::2]
    assert a.take(idx, axis=axis, out=view) is view
    assert_same(view, expected)
    assert (big[..., 1::2] == -7).all()  # nothing written between
    # A Fortran-ordered out.
    fout = np.asfortranarray(np.zeros(expected.shape, dtype="float32"))
    a.take(idx, axis=axis, out=fout)
    assert_same(fout, expected)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_take_into_torch_out(stored: tuple[fastchunk.Array, np.ndarray], axis: int) -> None:
    torch = pytest.importorskip("torch")  # absent only where no wheel exists (macOS x86_64)
    a, data = stored
    idx = np.array([2, 2, -2, 1])
    expected = np.take(data, idx, axis=axis)
    out = torch.full(expected.shape, -7.0, dtype=torch.float32)
    assert a.take(idx, axis=axis, out=out) is out
    assert_same(out.numpy(), expected)
    # Non-contiguous tensors: a transposed one and a strided slice of a bigger one.
    transposed = torch.zeros(tuple(reversed(expected.shape)), dtype=torch.float32).permute(2, 1, 0)
    assert not transposed.is_contiguous()
    assert a.take(idx, axis=axis, out=transposed) is transposed
    assert_same(transposed.numpy(), expected)
    big = torch.full(expected.shape[:-1] + (expected.shape[-1] * 2,), -7.0)
    view = big[..., ::2]
    a.take(idx, axis=axis, out=view)
    assert_same(view.numpy(), expected)
    assert bool((big[..., 1::2] == -7).all())


def test_take_out_errors(stored: tuple[fastchunk.Array, np.ndarray]) -> None:
    torch = pytest.importorskip("torch")
    a, _ = stored
    with pytest.raises(ValueError):
        a.take([1, 2], axis=0, out=np.empty((3, 17, 7), dtype="float32"))
    with pytest.raises(ValueError):
        a.take([1, 2], axis=0, out=torch.empty((2, 17, 6)))
    with pytest.raises(TypeError):
        a.take([1, 2], axis=0, out=[[0.0]])


def test_take_never_casts_into_an_out_of_another_dtype(
    stored: tuple[fastchunk.Array, np.ndarray],
) -> None:
    """The README says an out of the wrong dtype raises; a float64 out was
    filled with cast values (numpy and torch alike). It raises, untouched."""
    torch = pytest.importorskip("torch")
    a, _ = stored
    wide = np.full((2, 17, 7), -7.0, dtype="float64")
    with pytest.raises(TypeError, match="dtype"):
        a.take([1, 2], axis=0, out=wide)
    assert (wide == -7).all()
    strided = np.full((2, 17, 14), -7.0, dtype="float64")[..., ::2]
    with pytest.raises(TypeError, match="dtype"):
        a.take([1, 2], axis=0, out=strided)
    for dtype in (torch.float64, torch.bfloat16):
        t = torch.full((2, 17, 7), -7.0, dtype=dtype)
        with pytest.raises(TypeError, match="dtype"):
            a.take([1, 2], axis=0, out=t)
        assert bool((t == -7).all())
    with pytest.raises(ValueError, match="read-only"):
        ro = np.zeros((2, 17, 7), dtype="float32")
        ro.flags.writeable = False
        a.take([1, 2], axis=0, out=ro)


def raises_like_numpy(numpy_call: Callable[[], Any], fast_call: Callable[[], Any]) -> None:
    """fastchunk raises the exception class numpy raises (or a subclass)."""
    with pytest.raises(Exception) as expected:  # noqa: B017, PT011 - any type: we learn it
        numpy_call()
    with pytest.raises(expected.type):
        fast_call()


BAD_KEYS = [
    13, -14, (0, 17), (0, 0, -8), np.s_[[0, 13]], np.s_[:, [-18]], np.s_[..., [7]],
    np.s_[0, 0, 0, 0], np.s_[..., 1, ...], 1.0, np.s_[:, 2.5], "a", np.s_[[1.5, 2]],
    np.s_[np.ones(12, bool)], np.s_[:, np.zeros(18, bool)], np.s_[::0], np.s_[{1}],
    ([0, 1], 1.0),
]  # fmt: skip


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
def test_bad_keys_raise_like_numpy(
    stored: tuple[fastchunk.Array, np.ndarray], key: Any
) -> None:
    a, data = stored
    raises_like_numpy(lambda: data[key], lambda: a[key])


BAD_TAKES = [
    ([13], 0), ([-14], 0), ([0, 17], 1), ([7], -1), ([0], 3), ([0], -4),
    (np.array([0.5]), 2), (np.array([1.0, 2.0]), 0),
]  # fmt: skip


@pytest.mark.parametrize(("indices", "axis"), BAD_TAKES, ids=repr)
def test_bad_takes_raise_like_numpy(
    stored: tuple[fastchunk.Array, np.ndarray], indices: Any, axis: int
) -> None:
    a, data = stored
    raises_like_numpy(lambda: np.take(data, indices, axis=axis),
                      lambda: a.take(indices, axis=axis))


@pytest.mark.parametrize("indices", [[1.5], [1.0], ["a"]], ids=repr)
def test_take_non_integer_lists_raise_type_error(
    stored: tuple[fastchunk.Array, np.ndarray], indices: Any
) -> None:
    """numpy truncates float lists in take() and raises ValueError for strings;
    fastchunk refuses both as it refuses float arrays (TypeError, as numpy does)."""
    a, _ = stored
    with pytest.raises(TypeError):
        a.take(indices)


def test_two_advanced_indices_are_refused(stored: tuple[fastchunk.Array, np.ndarray]) -> None:
    a, _ = stored
    with pytest.raises(IndexError, match="only one"):
        a[[0, 1], [0, 1]]


def test_len_and_properties(stored: tuple[fastchunk.Array, np.ndarray]) -> None:
    a, data = stored
    assert len(a) == 13
    assert a.shape == data.shape and a.ndim == 3 and a.size == data.size
    assert a.nbytes == data.nbytes and a.dtype == data.dtype


def test_zero_dim_indexing(tmp_path: Path) -> None:
    z = zarr.create_array(str(tmp_path / "a.zarr"), shape=(), dtype="int32")
    z[()] = 9
    a = fastchunk.open_array(tmp_path / "a.zarr")
    data = np.array(9, dtype="int32")
    assert a[()] == 9 and a[...].shape == () and a[...] == 9
    with pytest.raises(TypeError):
        len(a)
    raises_like_numpy(lambda: data[0], lambda: a[0])


@pytest.mark.parametrize("order", [(1, 2, 0), (0, 2, 1), (2, 1, 0)])
def test_read_orthogonal_into_a_transposed_output(
    stored: tuple[fastchunk.Array, np.ndarray], order: tuple[int, int, int]
) -> None:
    """An output whose axes lie in memory in another order (anemoi-training's
    variables last) is written in place, chunk by chunk, tiled or not."""
    arr, data = stored
    rng = np.random.default_rng(SEED + 1)
    for _ in range(12):
        indices: list[Any] = []
        for n in data.shape:
            if rng.random() < 0.5:
                lo = int(rng.integers(0, n))
                indices.append(range(lo, int(rng.integers(lo, n)) + 1))
            else:
                indices.append(np.sort(rng.choice(n, size=int(rng.integers(1, n + 1)))))
        counts = [len(i) for i in indices]
        memory = np.full([counts[d] for d in order], np.nan, dtype=np.float32)
        out = memory.transpose(np.argsort(order))
        assert out.shape == tuple(counts)
        arr.read_orthogonal(indices, out)
        want = data[np.ix_(*[np.asarray(i) for i in indices])]
        np.testing.assert_array_equal(out, want)


def test_read_orthogonal_refuses_outputs_with_gaps(
    stored: tuple[fastchunk.Array, np.ndarray],
) -> None:
    arr, data = stored
    indices = [range(n) for n in data.shape]
    wide = np.empty((data.shape[0], data.shape[1], data.shape[2] * 2), dtype=np.float32)
    with pytest.raises(ValueError, match="C-contiguous"):
        arr.read_orthogonal(indices, wide[:, :, ::2])
    with pytest.raises(ValueError, match="C-contiguous"):
        arr.read_orthogonal(indices, np.empty(data.shape, np.float32)[::-1])
    # The core checks strides itself: overlapping or out-of-range ones are refused.
    buf = np.empty(data.size, np.float32).view(np.uint8)
    for strides in [(4, 4, 4), (4 * data.shape[1] * data.shape[2] * 2, 4 * data.shape[2], 4)]:
        with pytest.raises(IndexError, match="strides"):
            arr._native.read(indices, buf, 0, strides)
