"""`fastchunk info`: every figure against truth computed here independently
(file sizes from os.walk, numpy on the data written, chunks deleted by hand)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastchunk
from fastchunk import _core
from fastchunk.tools.cli import main

zarr = pytest.importorskip("zarr")
numcodecs = pytest.importorskip("numcodecs")

from tests import s3_server  # noqa: E402
from tests.s3_server import s3 as _s3_fixture  # noqa: E402, F401 - fixture "s3"

DATA_SHAPE = (12, 3, 50)
DATA_CHUNKS = (2, 3, 20)
DATA_MISSING = [(1, 0, 1), (4, 0, 2)]
INTS_SHAPE = (7, 9)
INTS_CHUNKS = (3, 4)
INTS_MISSING = [(2, 2)]


def _chunk_region(coords: tuple[int, ...], chunks: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(c * k, (c + 1) * k) for c, k in zip(coords, chunks, strict=True))


@pytest.fixture(scope="module")
def v2_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A v2 group with a float array (NaNs, NaN fill) and a nested int array,
    some of whose chunks are deleted; with the values a reader must see."""
    rng = np.random.default_rng(7)
    root = tmp_path_factory.mktemp("info") / "g.zarr"
    g = zarr.open_group(root, mode="w", zarr_format=2)
    g.attrs["title"] = "info test"
    data = (rng.standard_normal(DATA_SHAPE) * 10).astype("f4")
    data[rng.random(DATA_SHAPE) < 0.1] = np.nan
    a = g.create_array(
        "data",
        shape=DATA_SHAPE,
        chunks=DATA_CHUNKS,
        dtype="f4",
        fill_value=np.nan,
        compressors=numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1),
    )
    a[:] = data
    ints = np.arange(math.prod(INTS_SHAPE), dtype="i4").reshape(INTS_SHAPE) * 3 - 50
    b = g.create_array(
        "sub/ints",
        shape=INTS_SHAPE,
        chunks=INTS_CHUNKS,
        dtype="i4",
        fill_value=-7,
        compressors=numcodecs.Zstd(level=1),
    )
    b[:] = ints
    expected_data = data.copy()
    stored_data = np.ones(DATA_SHAPE, bool)
    for c in DATA_MISSING:
        os.remove(root / "data" / ".".join(map(str, c)))
        expected_data[_chunk_region(c, DATA_CHUNKS)] = np.nan
        stored_data[_chunk_region(c, DATA_CHUNKS)] = False
    expected_ints = ints.copy()
    stored_ints = np.ones(INTS_SHAPE, bool)
    for c in INTS_MISSING:
        os.remove(root / "sub" / "ints" / ".".join(map(str, c)))
        expected_ints[_chunk_region(c, INTS_CHUNKS)] = -7
        stored_ints[_chunk_region(c, INTS_CHUNKS)] = False
    # "stored": where the values come from stored chunks (the scan's statistics)
    return {"root": root, "data": expected_data, "sub/ints": expected_ints,
            "stored": {"data": stored_data, "sub/ints": stored_ints}}  # fmt: skip


def _disk(array_dir: Path) -> tuple[int, int, dict[str, int]]:
    """(total bytes, number of files, {chunk file name: size}) under a directory."""
    total, count, chunk_files = 0, 0, {}
    for dirpath, _dirs, files in os.walk(array_dir):
        for name in files:
            size = os.path.getsize(os.path.join(dirpath, name))
            total += size
            count += 1
            rel = os.path.relpath(os.path.join(dirpath, name), array_dir).replace(os.sep, "/")
            if re.fullmatch(r"\d+(\.\d+)*", rel) or re.fullmatch(r"c(/\d+)+", rel):
                chunk_files[rel] = size
    return total, count, chunk_files


def _run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["info", *args, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # exactly one JSON object
    return json.loads(out)


def _grid(shape: tuple[int, ...], chunks: tuple[int, ...]) -> list[int]:
    return [-(-s // c) for s, c in zip(shape, chunks, strict=True)]


def test_info_json_figures_of_a_group(v2_store: dict, capsys: pytest.CaptureFixture) -> None:
    root = v2_store["root"]
    report = _run_json(capsys, str(root))
    assert set(report) == {"totals", "arrays"}
    assert set(report["arrays"]) == {"data", "sub/ints"}
    total, count, _ = _disk(root)  # every object of the store, group metadata included
    missing = len(DATA_MISSING) + len(INTS_MISSING)
    present = math.prod(_grid(DATA_SHAPE, DATA_CHUNKS)) + math.prod(_grid(INTS_SHAPE, INTS_CHUNKS))
    assert report["totals"] == {
        "bytes_on_disk": total,
        "bytes_decoded": v2_store["data"].nbytes + v2_store["sub/ints"].nbytes,
        "objects": count,
        "arrays": 2,
        "chunks_present": present - missing,
        "chunks_missing": missing,
        "corrupt_chunks": 0,
    }
    cases = {
        "data": (DATA_SHAPE, DATA_CHUNKS, "float32", "NaN", DATA_MISSING, ["blosc"]),
        "sub/ints": (INTS_SHAPE, INTS_CHUNKS, "int32", -7, INTS_MISSING, ["zstd"]),
    }
    for path, (shape, chunks, dtype, fill, missing, codecs) in cases.items():
        r = report["arrays"][path]
        total, count, chunk_files = _disk(root / path)
        nchunks = math.prod(_grid(shape, chunks))
        nbytes = v2_store[path].nbytes
        assert r["shape"] == list(shape)
        assert r["chunks"] == list(chunks)
        assert r["dtype"] == dtype
        assert r["shards"] is None
        assert r["codecs"] == codecs
        assert r["fill_value"] == fill
        assert r["nbytes"] == nbytes == math.prod(shape) * np.dtype(dtype).itemsize
        assert r["nbytes_stored"] == total
        assert r["nobjects"] == count
        assert r["grid_unit"] == "chunk"
        assert r["nchunks"] == nchunks
        assert r["nchunks_stored"] == len(chunk_files) == nchunks - len(missing)
        assert r["nmissing"] == len(missing)
        assert r["missing_chunks"] == sorted([list(c) for c in missing])
        assert r["ratio"] == pytest.approx(nbytes / total)
        assert "nan_count" not in r and "access" not in r


def test_info_of_an_array_root_and_path(v2_store: dict, capsys: pytest.CaptureFixture) -> None:
    root = v2_store["root"]
    by_path = _run_json(capsys, str(root), "--path", "sub/ints")
    direct = _run_json(capsys, str(root / "sub" / "ints"))
    assert "arrays" not in by_path and "arrays" not in direct
    total, count, _ = _disk(root / "sub" / "ints")
    for r in (by_path, direct):
        assert r["nbytes_stored"] == total and r["nobjects"] == count
        assert r["missing_chunks"] == [list(c) for c in INTS_MISSING]


def test_missing_list_is_abbreviated(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    z = zarr.create_array(
        tmp_path / "a.zarr", shape=(30,), chunks=(1,), dtype="u1", fill_value=0, zarr_format=3
    )
    z[:] = np.arange(1, 31, dtype="u1")
    deleted = [3, 5, 6, 7, 10, 11, 12, 13, 20, 21, 22, 29]
    for i in deleted:
        os.remove(tmp_path / "a.zarr" / "c" / str(i))
    r = _run_json(capsys, str(tmp_path / "a.zarr"))
    assert r["nmissing"] == len(deleted)
    assert r["nchunks_stored"] == 30 - len(deleted)
    assert r["missing_chunks"] == [[i] for i in deleted[:10]]


def _expected_stats(values: np.ndarray) -> dict[str, Any]:
    v = values.astype("f8")
    ok = v[~np.isnan(v)]
    return {
        "nan_count": int(np.isnan(v).sum()),
        "min": ok.min(),
        "max": ok.max(),
        "mean": ok.mean(),
        "stdev": ok.std(),
    }


def _check_stats(got: dict[str, Any], values: np.ndarray, stored: Any = None) -> None:
    """The scan's figures of `values` where `stored` (a mask: the values of
    stored chunks; missing chunks are no data) is true."""
    mask = np.ones(values.shape, bool) if stored is None else stored
    exp = _expected_stats(values[mask])
    assert got["nan_count"] == exp["nan_count"]
    assert got["min"] == pytest.approx(exp["min"])
    assert got["max"] == pytest.approx(exp["max"])
    assert got["mean"] == pytest.approx(exp["mean"], rel=1e-9, abs=1e-9)
    assert got["stdev"] == pytest.approx(exp["stdev"], rel=1e-7)
    if "missing_values" in got:
        assert got["missing_values"] == int((~mask).sum())


@pytest.mark.parametrize("threads", [1, 2])
def test_scan_matches_numpy(v2_store: dict, capsys: pytest.CaptureFixture, threads: int) -> None:
    fastchunk.set_num_threads(threads)
    try:
        report = _run_json(capsys, str(v2_store["root"]), "--scan", "--var-axis", "1")
    finally:
        fastchunk.set_num_threads(0)
    data = report["arrays"]["data"]
    expected, stored = v2_store["data"], v2_store["stored"]["data"]
    _check_stats(data, expected, stored)
    assert data["nan_count"] > 0
    assert data["missing_values"] == int((~stored).sum()) == 2 * 3 * 20 + 2 * 3 * 10
    assert data["corrupt_chunks"] == []
    assert len(data["per_index"]) == DATA_SHAPE[1]
    for i, s in enumerate(data["per_index"]):
        _check_stats(s, expected[:, i, :], stored[:, i, :])
    ints = report["arrays"]["sub/ints"]  # var axis 1 of a 2-d int array
    values, stored = v2_store["sub/ints"], v2_store["stored"]["sub/ints"]
    _check_stats(ints, values, stored)
    assert isinstance(ints["min"], int) and ints["min"] == int(values[stored].min())
    for i, s in enumerate(ints["per_index"]):
        _check_stats(s, values[:, i], stored[:, i])


@pytest.mark.parametrize("dtype", ["f2", "f4", "f8", "i1", "i8", "u2", "u8", "?"])
def test_scan_kernel_matches_numpy(dtype: str) -> None:
    rng = np.random.default_rng(3)
    shape = (5, 7, 3001)
    if dtype == "?":
        block = rng.random(shape) > 0.3
    elif np.dtype(dtype).kind == "f":
        block = (rng.standard_normal(shape) * 50).astype(dtype)
        block[rng.random(shape) < 0.05] = np.nan
    else:
        info = np.iinfo(dtype)
        block = rng.integers(max(info.min, -(2**40)), min(info.max, 2**40), size=shape, dtype=dtype)
    res = _core.scan_stats(block, 5, 7, 3001)
    as_f8 = block.astype("f8")
    np.testing.assert_array_equal(res["nan_count"], np.isnan(as_f8).sum(axis=(0, 2)))
    np.testing.assert_array_equal(res["count"], (~np.isnan(as_f8)).sum(axis=(0, 2)))
    np.testing.assert_array_equal(res["min"], np.nanmin(as_f8, axis=(0, 2)))
    np.testing.assert_array_equal(res["max"], np.nanmax(as_f8, axis=(0, 2)))
    np.testing.assert_allclose(res["sum"], np.nansum(as_f8, axis=(0, 2)), rtol=1e-12)
    squares = np.nansum(as_f8 * as_f8, axis=(0, 2))
    np.testing.assert_allclose(res["sum_squares"], squares, rtol=1e-12)


def test_access_pattern_figures(v2_store: dict, capsys: pytest.CaptureFixture) -> None:
    root = v2_store["root"]
    _total, _count, chunk_files = _disk(root / "data")
    mean_chunk = sum(chunk_files.values()) / len(chunk_files)
    itemsize = 4
    chunk_nbytes = math.prod(DATA_CHUNKS) * itemsize
    grid = _grid(DATA_SHAPE, DATA_CHUNKS)
    for axis, batch in [(2, 4), (0, 5)]:
        r = _run_json(
            capsys, str(root), "--path", "data", "--axis", str(axis), "--batch", str(batch)
        )["access"]
        sample = math.prod(DATA_SHAPE) // DATA_SHAPE[axis] * itemsize
        per_sample = math.prod(grid) // grid[axis]
        rows = min(batch, grid[axis])
        assert r["axis"] == axis and r["batch"] == batch
        assert r["sample_nbytes"] == sample
        assert r["batch_nbytes"] == sample * batch
        assert r["chunks_per_sample"] == per_sample
        assert r["sample_decode_nbytes"] == per_sample * chunk_nbytes
        assert r["sample_read_nbytes"] == round(per_sample * mean_chunk)
        assert r["sample_amplification"] == pytest.approx(per_sample * chunk_nbytes / sample)
        assert r["chunks_per_batch"] == per_sample * rows
        assert r["batch_decode_nbytes"] == per_sample * rows * chunk_nbytes
        assert r["batch_read_nbytes"] == round(per_sample * rows * mean_chunk)
        assert r["batch_amplification"] == pytest.approx(
            per_sample * rows * chunk_nbytes / (sample * batch)
        )
    # Reading by index along the last axis (chunks of 20 there) is the wrong
    # chunking: the hint says so and proposes the transposition.
    bad = _run_json(capsys, str(root), "--path", "data", "--axis", "2")["access"]
    assert bad["sample_amplification"] == pytest.approx(20.0)
    assert "rechunk" in bad["hint"] and "--chunks -1,-1,1" in bad["hint"]
    # Chunks of 2 along axis 0: 2 samples per chunk and the 50 items of the
    # last axis stored as 3 chunks of 20: 2 * 60 / 50 = 2.4.
    fair = _run_json(capsys, str(root), "--path", "data", "--axis", "0")["access"]
    assert fair["sample_amplification"] == pytest.approx(2.4)
    assert "acceptable" in fair["hint"]


def test_sharded_array_counts_shards(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    store = tmp_path / "s.zarr"
    data = np.arange(10 * 25, dtype="f8").reshape(10, 25) / 7
    z = zarr.create_array(
        store, shape=data.shape, chunks=(2, 5), shards=(4, 10), dtype="f8", fill_value=-1.5
    )
    z[:] = data
    os.remove(store / "c" / "1" / "2")
    expected = data.copy()
    expected[4:8, 20:25] = -1.5
    stored = np.ones(data.shape, bool)
    stored[4:8, 20:25] = False  # the missing shard: no data
    r = _run_json(capsys, str(store), "--scan", "--axis", "0")
    total, count, shard_files = _disk(store)
    assert r["grid_unit"] == "shard"
    assert r["chunks"] == [2, 5] and r["shards"] == [4, 10]
    assert r["nchunks"] == 3 * 3
    assert r["nchunks_stored"] == len(shard_files) == 8
    assert r["missing_chunks"] == [[1, 2]]
    assert r["inner_chunks_per_shard"] == 2 * 2
    assert r["ninner_chunks"] == 5 * 5
    assert r["nbytes_stored"] == total and r["nobjects"] == count
    assert r["codecs"][0] == "sharding_indexed"
    _check_stats(r, expected, stored)
    # Decode units are inner chunks: one sample along axis 0 decodes 5 chunks of 2x5.
    assert r["access"]["chunks_per_sample"] == 5
    assert r["access"]["sample_decode_nbytes"] == 5 * 2 * 5 * 8


def test_text_table(v2_store: dict, capsys: pytest.CaptureFixture) -> None:
    assert main(["info", str(v2_store["root"]), "--axis", "0", "--batch", "3", "--scan"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("store\n")
    assert "\n\ndata  (zarr v2)" in out
    assert "sub/ints  (zarr v2)" in out
    total, count, _ = _disk(v2_store["root"] / "data")
    assert f"{total:,} B" in out and f"{count:,} objects" in out
    assert "(1,0,1), (4,0,2)" in out
    found = v2_store["data"][v2_store["stored"]["data"]]
    assert f"NaN {int(np.isnan(found).sum()):,}" in out
    assert "batch of 3" in out and "hint" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)


def test_version_and_python_m(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fastchunk", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"fastchunk {fastchunk.__version__}"
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "fastchunk"]
    assert script.value == "fastchunk.tools.cli:main"
    assert script.load() is main


def test_progress_bar_only_on_a_terminal(v2_store: dict) -> None:
    import fcntl
    import pty
    import struct
    import termios

    cmd = [sys.executable, "-m", "fastchunk", "info", str(v2_store["root"]), "--scan", "--json"]
    piped = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "scan" not in piped.stderr
    master, slave = pty.openpty()
    # A terminal of 24 x 80 (a fresh pty has no size and tqdm draws nothing).
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        # The parent keeps the terminal open until the child exits, so what
        # the child wrote stays readable; then the master is drained.
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=slave, check=True)
        os.set_blocking(master, False)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except (BlockingIOError, OSError):
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(slave)
        os.close(master)
    assert b"scan" in seen  # the bar was drawn on the terminal
    assert json.loads(proc.stdout)["arrays"]["data"]["nan_count"] > 0


def test_errors_are_clean(tmp_path: Path, v2_store: dict, capsys: pytest.CaptureFixture) -> None:
    assert main(["info", str(tmp_path / "nothing")]) == 1
    assert "no zarr store" in capsys.readouterr().err
    assert main(["info", str(v2_store["root"]), "--path", "data", "--axis", "3"]) == 1
    assert "out of range" in capsys.readouterr().err
    assert main(["info", str(v2_store["root"]), "--batch", "3"]) == 1
    assert "--batch needs --axis" in capsys.readouterr().err
    assert main(["info", str(v2_store["root"]), "--var-axis", "1"]) == 1
    assert "--var-axis needs --scan" in capsys.readouterr().err
    (tmp_path / "bad.zarr").mkdir()
    (tmp_path / "bad.zarr" / ".zarray").write_text("{not json")
    assert main(["info", str(tmp_path / "bad.zarr")]) == 1
    assert "not valid JSON" in capsys.readouterr().err


def test_info_over_s3_matches_local(
    s3: s3_server.S3Server, v2_store: dict, capsys: pytest.CaptureFixture
) -> None:
    s3.upload_dir(v2_store["root"], "info-test/g.zarr")
    options = json.dumps(s3.storage_options())
    url = f"s3://{s3.bucket}/info-test/g.zarr"
    remote = _run_json(capsys, url, "--storage-options", options, "--scan", "--axis", "0")
    local = _run_json(capsys, str(v2_store["root"]), "--scan", "--axis", "0")
    assert remote == local
    assert remote["arrays"]["data"]["nmissing"] == len(DATA_MISSING)


def test_scan_lists_every_corrupt_chunk_and_exits_nonzero(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Issue 20: the scan went on past the first corrupt chunk, named each
    (key and error), kept the statistics of the rest, and the command failed."""
    store = tmp_path / "c.zarr"
    data = (np.arange(8 * 6 * 10, dtype="f4").reshape(8, 6, 10) % 17) - 3.0
    data[0, 0, :3] = np.nan
    z = zarr.create_array(
        store, shape=data.shape, chunks=(1, 6, 10), dtype="f4", fill_value=np.nan,
        compressors=zarr.codecs.ZstdCodec(level=1),
    )  # fmt: skip
    z[:] = data
    corrupt = {2: b"garbage, not zstd", 5: b""}
    for row, content in corrupt.items():
        (store / "c" / str(row) / "0" / "0").write_bytes(content)
    os.remove(store / "c" / "6" / "0" / "0")  # missing: not corrupt, not NaN
    assert main(["info", str(store), "--scan", "--json"]) == 3
    captured = capsys.readouterr()
    r = json.loads(captured.out)
    listed = {c["key"]: c for c in r["corrupt_chunks"]}
    assert set(listed) == {f"c/{row}/0/0" for row in corrupt}
    for row in corrupt:
        assert listed[f"c/{row}/0/0"]["chunk"] == [row, 0, 0]
        assert listed[f"c/{row}/0/0"]["error"]
    assert "2 corrupt chunks" in captured.err
    good = np.delete(data, [2, 5, 6], axis=0)
    _check_stats({k: v for k, v in r.items() if k != "missing_values"}, good)
    assert r["nan_count"] == 3  # the missing chunk's fill values are not NaNs found
    assert r["missing_values"] == 6 * 10
    assert r["corrupt_values"] == 2 * 6 * 10
    # The text report names them too, and fails the same way.
    assert main(["info", str(store), "--scan"]) == 3
    out = capsys.readouterr().out
    assert "c/2/0/0" in out and "c/5/0/0" in out


def test_scan_names_the_corrupt_inner_chunk_of_a_shard(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    store = tmp_path / "s.zarr"
    data = np.arange(8 * 12, dtype="f8").reshape(8, 12)
    z = zarr.create_array(
        store, shape=data.shape, chunks=(2, 6), shards=(4, 12), dtype="f8", fill_value=0.0,
        compressors=zarr.codecs.ZstdCodec(level=1),
    )  # fmt: skip
    z[:] = data
    shard = store / "c" / "1" / "0"
    raw = bytearray(shard.read_bytes())
    raw[:8] = b"\xff" * 8  # the first inner chunk of the shard (it is stored first)
    shard.write_bytes(bytes(raw))
    r = _run_json_code(capsys, 3, str(store), "--scan")
    (bad,) = r["corrupt_chunks"]
    assert bad["key"] == "c/1/0" and bad["chunk"] == [1, 0] and bad["inner_chunk"] == [2, 0]
    assert r["corrupt_values"] == 2 * 6
    good = np.ones(data.shape, bool)
    good[4:6, 0:6] = False
    _check_stats({k: v for k, v in r.items() if k != "missing_values"}, data, good)


def _run_json_code(capsys: pytest.CaptureFixture[str], code: int, *args: str) -> dict[str, Any]:
    assert main(["info", *args, "--json"]) == code
    return json.loads(capsys.readouterr().out)


def test_info_of_an_icechunk_repository(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A repository written by Icechunk itself: totals, missing chunks and
    the scan figures against what Icechunk reads through zarr-python."""
    from tests.icechunk_repos import array_paths, icechunk_group, write_history

    history = write_history(tmp_path / "repo")
    r = _run_json(capsys, str(history.path), "--scan")
    expected = icechunk_group(history.path)
    paths = array_paths(expected)
    assert set(r["arrays"]) == set(paths)
    t = r["totals"]
    assert t["arrays"] == len(paths)
    assert t["bytes_decoded"] == sum(expected[p].nbytes for p in paths)
    assert t["chunks_present"] + t["chunks_missing"] == sum(
        r["arrays"][p]["nchunks"] for p in paths
    )
    # "temp" (16 x 5 x 40 in chunks of 2 x 5 x 20): rows 8-11 were never written.
    temp = r["arrays"]["temp"]
    assert temp["nmissing"] == 4 and temp["nchunks_stored"] == 12
    assert temp["missing_chunks"] == [[4, 0, 0], [4, 0, 1], [5, 0, 0], [5, 0, 1]]
    values = np.asarray(expected["temp"][:])
    stored = np.ones(values.shape, bool)
    stored[8:12] = False
    _check_stats(temp, values, stored)
    assert temp["corrupt_chunks"] == []
