"""The Cython boundary: every entry point that turns Python objects into
pointers checks sizes, types, layouts and writability first, and C++ error
kinds map to Python exceptions by name, in one place."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import zarr

import fastchunk
from fastchunk import _core

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def array(tmp_path_factory: pytest.TempPathFactory) -> tuple[fastchunk.Array, np.ndarray]:
    data = np.arange(60 * 50, dtype="f4").reshape(60, 50)
    path = tmp_path_factory.mktemp("boundary") / "a.zarr"
    z = zarr.create_array(str(path), shape=data.shape, chunks=(7, 9), dtype="f4")
    z[...] = data
    return fastchunk.open_array(path), data


def axes(shape: tuple[int, ...]) -> list[np.ndarray]:
    return [np.arange(n, dtype=np.int64) for n in shape]


# ------------------------------------------------------------ read_orthogonal


def test_out_too_small_is_rejected_not_overflowed(array) -> None:
    a, _data = array
    with pytest.raises(ValueError, match="shape"):
        a.read_orthogonal(axes(a.shape), np.empty(4, "f4"))
    with pytest.raises(ValueError):  # the native layer checks the byte size itself
        a._native.read(axes(a.shape), np.empty(4, "f4"))


def test_negative_and_out_of_range_indices_are_index_errors(array) -> None:
    a, _data = array
    for bad in (np.array([-1, 0]), np.array([0, 60]), np.array([2**62])):
        with pytest.raises(IndexError, match="out of bounds"):
            a.read_orthogonal([bad, np.arange(50)], np.empty((bad.size, 50), "f4"))
    with pytest.raises(IndexError):
        a.read_orthogonal([np.array([0], dtype=np.uint64) - 1, np.arange(50)],
                          np.empty((1, 50), "f4"))  # fmt: skip


def test_out_is_written_in_place_or_rejected(array) -> None:
    a, data = array
    rows, cols = np.array([5, 0, 59]), np.arange(50)
    big = np.zeros((3, 100), "f4")
    with pytest.raises(ValueError, match="C-contiguous"):
        a.read_orthogonal([rows, cols], big[:, ::2])  # not filled through a thrown-away copy
    fortran = np.zeros((3, 50), "f4", order="F")  # the transpose of a C-contiguous array
    a.read_orthogonal([rows, cols], fortran)  # written in place, axes in their order
    np.testing.assert_array_equal(fortran, data[rows])
    frozen = np.zeros((3, 50), "f4")
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        a.read_orthogonal([rows, cols], frozen)
    with pytest.raises(TypeError, match="dtype"):
        a.read_orthogonal([rows, cols], np.zeros((3, 50), "f8"))
    with pytest.raises(TypeError, match="numpy array"):
        a.read_orthogonal([rows, cols], bytearray(600))
    out = np.zeros((3, 50), "f4")
    assert a.read_orthogonal([rows, cols], out) is None
    np.testing.assert_array_equal(out, data[rows])


def test_index_dtypes_and_ranks(array) -> None:
    a, data = array
    out = np.empty((2, 50), "f4")
    for dt in ("i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8"):
        a.read_orthogonal([np.array([3, 1], dtype=dt), np.arange(50)], out)
        np.testing.assert_array_equal(out, data[[3, 1]])
    with pytest.raises(TypeError, match="integers"):
        a.read_orthogonal([np.array([3.0, 1.0]), np.arange(50)], out)
    with pytest.raises(TypeError, match="integers"):
        a.read_orthogonal([np.array([True, False]), np.arange(50)], out)
    with pytest.raises(IndexError, match="dimensions"):
        a.read_orthogonal([np.array([[3, 1]]), np.arange(50)], out)
    with pytest.raises(IndexError, match="2 index arrays"):
        a.read_orthogonal([np.array([3, 1])], out)
    empty = np.empty((0, 50), "f4")
    a.read_orthogonal([np.array([]), np.arange(50)], empty)  # any dtype when empty


def test_per_call_thread_count_leaves_the_setting_alone(array) -> None:
    a, data = array
    before = fastchunk.get_num_threads()
    rows = np.array([59, 3, 3, 40])
    for n in (1, 3, 7):
        out = np.empty((4, 50), "f4")
        a.read_orthogonal([rows, np.arange(50)], out, num_threads=n)
        np.testing.assert_array_equal(out, data[rows])
        np.testing.assert_array_equal(a.take(rows, num_threads=n), data[rows])
        assert fastchunk.get_num_threads() == before
    with pytest.raises(ValueError, match="num_threads"):
        a.take(rows, num_threads=0)


# ------------------------------------------------------------ plans


def test_read_plan_checks_its_buffers_and_requests(array) -> None:
    a, data = array
    idx = axes(a.shape)
    with pytest.raises(ValueError, match="bytes"):
        a._native.plan(idx, np.empty(10, "f4"))
    with pytest.raises(TypeError):
        _core.ReadPlan()
    plan = a._native.plan(idx)  # no output: it can name what it needs, not decode
    assert len(plan.pending()) == len(plan.keys()) == 9 * 6
    with pytest.raises(ValueError, match="without an output"):
        plan.decode_ready()
    out = np.empty(a.shape, "f4")
    plan = a._native.plan(idx, out)
    requests = plan.pending()
    with pytest.raises(ValueError, match="answers"):
        plan.provide(requests, [None])
    with pytest.raises(ValueError, match="bad request"):
        plan.provide([(requests[0][0], 5, None)], [b"x"])
    with pytest.raises(fastchunk.FastchunkError, match="not an object this read needs"):
        plan.provide([("elsewhere/0.0", 0, None)], [b"x"])
    with pytest.raises(ValueError, match="contiguous"):
        plan.provide([requests[0]], [memoryview(np.zeros(100, "u1"))[::2]])
    with pytest.raises(fastchunk.FastchunkError, match="never provided"):
        plan.finish()


def test_read_plan_serves_a_local_store_like_the_one_call_read(array) -> None:
    a, data = array
    rows = np.array([59, 0, 13, 13])
    cols = np.array([49, 1, 2, 30])
    out = np.empty((4, 4), "f4")
    plan = a._native.plan([rows, cols], out)
    while plan.decode_ready():
        requests = plan.pending()
        plan.provide(requests, [a.store.get(k) for k, _o, _n in requests])
        assert set(plan.held_objects) <= {k for k, _o, _n in requests}
    plan.finish()
    assert plan.held_objects == []  # every provided object let go once decoded
    np.testing.assert_array_equal(out, data[np.ix_(rows, cols)])


# ------------------------------------------------------------ other entry points


def test_transform_batch_checks_layout_and_buffers() -> None:
    src = np.ones((2, 3, 4), "f4")
    dst = np.empty((2, 3, 4), "f4")
    _core.transform_batch(src, dst, 2, 3, 4)
    with pytest.raises(ValueError, match="elements"):  # the product overflows 64 bits in C
        _core.transform_batch(src, dst, 2**40, 2**40, 2**40 + 24)
    frozen = np.empty((2, 3, 4), "f4")
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _core.transform_batch(src, frozen, 2, 3, 4)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.transform_batch(src, np.empty((2, 3, 8), "f4")[..., ::2], 2, 3, 4)
    with pytest.raises(ValueError, match="bytes"):
        _core.transform_batch(src, np.empty(5, "f4"), 2, 3, 4)


def test_scan_stats_checks_its_layout() -> None:
    block = np.ones((2, 3, 4), "f4")
    assert list(_core.scan_stats(block, 2, 3, 4)["count"]) == [8, 8, 8]
    with pytest.raises(ValueError):
        _core.scan_stats(block, -2, -3, 4)
    with pytest.raises(ValueError):
        _core.scan_stats(block, 2**40, 2**40, 2**40 + 24)
    with pytest.raises(ValueError):
        _core.scan_stats(block, 24, 0, 1)


def test_chunk_key_encoding_checks_its_input() -> None:
    keys = _core.ChunkKeyEncoding("a/", 2, "c/", "/", "c")
    assert keys.key([1, 2]) == "a/c/1/2"
    assert keys.coords("a/c/1/2") == (1, 2)
    with pytest.raises(ValueError, match="coordinates"):
        keys.key([1])
    with pytest.raises(ValueError):
        _core.ChunkKeyEncoding("", 1, "", "..", "0")


# ------------------------------------------------------------ errors


def test_every_error_kind_maps_to_an_exception_by_name() -> None:
    """The kinds declared in csrc/common/error.h are the ones the boundary
    declares, and each but kOk has its exception."""
    header = (ROOT / "csrc" / "common" / "error.h").read_text()
    body = header[header.index("enum class ErrorKind") :]
    body = body[: body.index("};")]
    declared = dict(
        (name, int(value)) for name, value in re.findall(r"\b(k\w+)\s*=\s*(\d+)", body)
    )
    assert declared == _core.ERROR_KINDS
    mapped = set(_core.EXCEPTION_OF_KIND)
    assert mapped == {v for k, v in declared.items() if k != "kOk"}
    assert _core.EXCEPTION_OF_KIND[_core.ERROR_KINDS["kDecode"]] is fastchunk.ChunkDecodeError
    # Each is a FastchunkError and the builtin that fits.
    fits = {"kMetadata": ValueError, "kUnsupported": NotImplementedError, "kIO": OSError,
            "kMemory": MemoryError, "kInternal": RuntimeError, "kNotFetched": OSError,
            "kIndex": IndexError}
    for kind, value in _core.ERROR_KINDS.items():
        if kind == "kOk":
            continue
        cls = _core.EXCEPTION_OF_KIND[value]
        assert issubclass(cls, fastchunk.FastchunkError), kind
        assert cls is not fastchunk.FastchunkError, kind
        assert issubclass(cls, fits.get(kind, Exception)), kind
    pxi = (ROOT / "src" / "fastchunk" / "_errors.pxi").read_text()
    assert not re.search(r"kind\s*==\s*\d", pxi)  # no integer literals copied from C++


def test_core_errors_are_fastchunk_errors_and_the_fitting_builtin(tmp_path: Path) -> None:
    """Raised for real: a failed open is an OSError with its errno, a selection
    outside the array an IndexError, bytes a plan never got a NotFetchedError;
    all of them FastchunkErrors."""
    import errno
    import os

    path = tmp_path / "a.zarr"
    zarr.create_array(str(path), shape=(4, 4), chunks=(2, 2), dtype="i4")[...] = 1
    os.remove(path / "c" / "0" / "0")
    os.symlink(path / "c" / "0" / "0", path / "c" / "0" / "0")  # a loop: open fails
    a = fastchunk.open(path)
    with pytest.raises(OSError) as failed:
        a[...]
    assert isinstance(failed.value, fastchunk.FastchunkError)
    assert failed.value.errno == errno.ELOOP
    assert "c/0/0" in str(failed.value)
    with pytest.raises(IndexError) as outside:
        a._native.read([np.array([7]), range(4)], np.empty(4, "i4"))
    assert isinstance(outside.value, fastchunk.FastchunkError)
    plan = a._native.plan([range(4), range(4)], np.empty(16, "i4"))
    with pytest.raises(OSError, match="never provided") as unfetched:
        plan.finish()
    assert isinstance(unfetched.value, fastchunk.FastchunkError)


def test_the_boundary_has_one_error_discipline() -> None:
    """No C++ exception crosses into Cython (`except +`): every fallible core
    call returns an ErrorInfo that check() turns into the exception."""
    for pxd in (ROOT / "src" / "fastchunk" / "includes").glob("*.pxd"):
        assert "except +" not in pxd.read_text(), pxd.name
    errors = (ROOT / "src" / "fastchunk" / "_errors.pxi").read_text()
    assert "cdef int check(const ErrorInfo& info) except -1 nogil" in errors
    # One form at every call site, `with nogil: check(api_...(...))`: no
    # ErrorInfo held in a variable between the call and its check.
    for pxi in (ROOT / "src" / "fastchunk").glob("*.pxi"):
        if pxi.name != "_errors.pxi":
            assert "cdef ErrorInfo" not in pxi.read_text(), pxi.name
