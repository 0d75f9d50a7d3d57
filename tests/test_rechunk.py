"""`fastchunk rechunk`: round trips read back by zarr-python, for v2 and v3,
sharded or not, interrupted and resumed, locally and on a Dask cluster."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastchunk
from fastchunk import _core
from fastchunk.errors import UnsupportedError
from fastchunk.tools.chunking import plan_group_shape
from fastchunk.tools.cli import main
from fastchunk.tools.rechunk import MARKER, parse_codec, rechunk
from fastchunk.zarr.codecs import CodecChain

zarr = pytest.importorskip("zarr")
numcodecs = pytest.importorskip("numcodecs")

from tests import s3_server  # noqa: E402
from tests.s3_server import s3 as _s3_fixture  # noqa: E402, F401 - fixture "s3"

SHAPE = (24, 4, 60)  # (dates, variables, gridpoints)
THREADS = 2  # the memory budgets below count per-thread scratch buffers


@pytest.fixture(autouse=True)
def _two_threads() -> Any:
    fastchunk.set_num_threads(THREADS)
    yield
    fastchunk.set_num_threads(0)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An anemoi-like v2 group: one chunk per date (blosc lz4), NaNs, a missing
    chunk, attributes, a nested group and a 1-d array of another rank."""
    rng = np.random.default_rng(11)
    root = tmp_path_factory.mktemp("rechunk") / "src.zarr"
    g = zarr.open_group(root, mode="w", zarr_format=2)
    g.attrs.update({"title": "era", "variables": ["t", "u", "v", "q"]})
    data = (rng.standard_normal(SHAPE) * 100).astype("f4")
    data[rng.random(SHAPE) < 0.05] = np.nan
    a = g.create_array(
        "data",
        shape=SHAPE,
        chunks=(1, 4, 60),
        dtype="f4",
        fill_value=np.nan,
        compressors=numcodecs.Blosc(cname="lz4", clevel=5, shuffle=1),
    )
    a[:] = data
    a.attrs["units"] = "K"
    os.remove(root / "data" / "5.0.0")
    data[5] = np.nan
    dates = np.arange(SHAPE[0], dtype="i8") * 3600
    d = g.create_array("meta/dates", shape=dates.shape, chunks=(10,), dtype="i8", fill_value=-1)
    d[:] = dates
    g["meta"].attrs["kind"] = "metadata"
    return {"root": root, "data": data, "meta/dates": dates}


def _check_copy(dst: Path, source: dict[str, Any], fmt: int) -> None:
    """zarr-python and fastchunk read the destination back equal to the source."""
    g = zarr.open_group(dst, mode="r")
    assert g.metadata.zarr_format == fmt
    assert dict(g.attrs) == {"title": "era", "variables": ["t", "u", "v", "q"]}
    assert dict(g["meta"].attrs) == {"kind": "metadata"}
    assert dict(g["data"].attrs) == {"units": "K"}
    for path in ("data", "meta/dates"):
        np.testing.assert_array_equal(g[path][...], source[path])
        np.testing.assert_array_equal(fastchunk.open(dst, path=path)[...], source[path])
    assert np.isnan(g["data"].fill_value)
    assert g["meta/dates"].fill_value == -1
    assert not (dst / MARKER).exists()
    assert not [n for _, _, files in os.walk(dst) for n in files if ".partial" in n]


CASES = [
    # (format, chunks, shards, codec)
    (2, "24,1,15", None, "blosc:lz4:5:shuffle"),
    (2, "6,-1,-1", None, "gzip:4"),
    (2, "24,2,7", None, "lz4"),
    (3, "24,1,15", None, "zstd:3"),
    (3, "8,1,30", "24,2,60", "zstd:1"),
    (3, "4,4,7", "8,4,14", "blosc:zstd:3:bitshuffle"),
    (3, "12,1,-1", None, "none"),
    (3, "3,2,20", "6,4,-1", "zlib:2"),
]


@pytest.mark.filterwarnings("ignore:Numcodecs codecs are not in the Zarr version 3")
@pytest.mark.parametrize(("fmt", "chunks", "shards", "codec"), CASES)
def test_round_trip(
    tmp_path: Path, source: dict[str, Any], fmt: int, chunks: str, shards: str | None, codec: str
) -> None:
    dst = tmp_path / "dst.zarr"
    summary = rechunk(
        source["root"],
        dst,
        chunks,
        shards=shards,
        codec=codec,
        zarr_format=fmt,
        memory="40KB",
        progress=False,
    )
    _check_copy(dst, source, fmt)
    info = summary["arrays"]["data"]
    want_chunks = [SHAPE[i] if c == "-1" else int(c) for i, c in enumerate(chunks.split(","))]
    z = zarr.open_array(dst, path="data", mode="r")
    assert list(z.chunks) == want_chunks
    if shards:
        want_shards = [SHAPE[i] if s == "-1" else int(s) for i, s in enumerate(shards.split(","))]
        assert list(z.shards) == want_shards and list(z.chunks) == want_chunks
        assert info["objects"] == math.prod(
            -(-n // s) for n, s in zip(SHAPE, want_shards, strict=True)
        )
    assert info["groups"] > 1  # the 40 KB budget forces several groups
    assert info["written"] == info["objects"] and info["skipped"] == 0
    # The 1-d array has another rank than --chunks: its chunks are kept.
    assert list(zarr.open_array(dst, path="meta/dates", mode="r").chunks) == [10]


def test_codec_metadata_is_what_zarr_expects(tmp_path: Path, source: dict[str, Any]) -> None:
    dst = tmp_path / "v2.zarr"
    rechunk(
        source["root"],
        dst,
        "24,1,15",
        codec="blosc:zstd:7:bitshuffle",
        zarr_format=2,
        progress=False,
    )
    zarray = json.loads((dst / "data" / ".zarray").read_text())
    assert zarray["compressor"] == {
        "id": "blosc",
        "cname": "zstd",
        "clevel": 7,
        "shuffle": 2,
        "blocksize": 0,
    }
    assert zarray["fill_value"] == "NaN" and zarray["dtype"] == "<f4"
    raw = (dst / "data" / "0.0.0").read_bytes()
    expected = source["data"][:, 0, :15]
    decoded = np.frombuffer(numcodecs.Blosc().decode(raw), dtype="<f4").reshape(24, 1, 15)
    np.testing.assert_array_equal(decoded[:, 0], expected)


def test_shard_index_is_at_the_end_with_crc32c(tmp_path: Path, source: dict[str, Any]) -> None:
    dst = tmp_path / "s.zarr"
    rechunk(
        source["root"],
        dst,
        "8,1,30",
        shards="24,2,60",
        codec="zstd:1",
        zarr_format=3,
        path="data",
        progress=False,
    )
    doc = json.loads((dst / "zarr.json").read_text())
    sharding = doc["codecs"][0]
    assert sharding["name"] == "sharding_indexed"
    assert sharding["configuration"]["index_location"] == "end"
    assert sharding["configuration"]["index_codecs"][1] == {"name": "crc32c"}
    shard = (dst / "c" / "0" / "1" / "0").read_bytes()
    n = 3 * 2 * 2
    index = shard[-(16 * n + 4) : -4]
    crc = int.from_bytes(shard[-4:], "little")
    assert crc == _core.crc32c(index)
    pairs = np.frombuffer(index, dtype="<u8").reshape(n, 2)
    ends = pairs[:, 0] + pairs[:, 1]
    assert ends.max() == len(shard) - (16 * n + 4)  # chunks first, index last
    # Inner chunk (1, 1, 0) of shard (0, 1, 0): dates 8..15, variable 3, points 0..29.
    offset, size = pairs[(1 * 2 + 1) * 2 + 0]
    inner = numcodecs.Zstd().decode(shard[offset : offset + size])
    np.testing.assert_array_equal(
        np.frombuffer(inner, "<f4").reshape(8, 1, 30)[:, 0], source["data"][8:16, 3, :30]
    )
    np.testing.assert_array_equal(zarr.open_array(dst, mode="r")[...], source["data"])


def _objects(dst: Path) -> dict[str, tuple[int, int]]:
    """Chunk or shard files (not metadata) -> (inode, mtime_ns)."""
    out = {}
    for dirpath, _dirs, files in os.walk(dst):
        for name in files:
            if name.startswith(".") or name.endswith(".json"):
                continue
            st = os.stat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), dst)] = (st.st_ino, st.st_mtime_ns)
    return out


def _interrupted_run(src: Path, dst: Path, args: list[str], stop_after: int) -> None:
    """Runs `fastchunk rechunk` in a child process that dies (os._exit, no
    cleanup) halfway through writing object number stop_after + 1
    (tests/rechunk_crash.py)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.rechunk_crash",
            str(stop_after),
            str(src),
            str(dst),
            *args,
            "--quiet",
            "--threads",
            str(THREADS),
        ],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 75, proc.stderr
    assert (dst / MARKER).exists()
    assert not (dst / ".zgroup").exists() and not (dst / "zarr.json").exists()
    partial = [n for _, _, files in os.walk(dst) for n in files if ".partial-" in n]
    assert len(partial) == 1  # the object being written when the process died


@pytest.mark.parametrize(("fmt", "shards"), [(2, None), (3, "24,2,60")])
def test_interrupted_then_resumed(
    tmp_path: Path, source: dict[str, Any], fmt: int, shards: str | None
) -> None:
    dst = tmp_path / "dst.zarr"
    args = ["--chunks", "24,1,15", "--format", str(fmt), "--memory", "40KB"]
    if shards:
        args += ["--shards", shards]
    _interrupted_run(source["root"], dst, args, stop_after=3)
    before = _objects(dst)
    assert len(before) == 3
    summary = rechunk(
        source["root"],
        dst,
        "24,1,15",
        shards=shards,
        zarr_format=fmt,
        memory="40KB",
        progress=False,
    )
    assert summary["resumed"]
    total = sum(a["objects"] for a in summary["arrays"].values())
    assert sum(a["skipped"] for a in summary["arrays"].values()) == 3
    assert sum(a["written"] for a in summary["arrays"].values()) == total - 3
    after = _objects(dst)
    for key, stamp in before.items():
        assert after[key] == stamp  # finished objects were not rewritten
    assert len(after) == total
    _check_copy(dst, source, fmt)


def test_resume_refuses_other_parameters(tmp_path: Path, source: dict[str, Any]) -> None:
    dst = tmp_path / "dst.zarr"
    _interrupted_run(source["root"], dst, ["--chunks", "24,1,15", "--memory", "40KB"], 2)
    with pytest.raises(FileExistsError, match="other parameters"):
        rechunk(source["root"], dst, "12,1,15", memory="40KB", progress=False)
    assert (
        main(
            [
                "rechunk",
                str(source["root"]),
                str(tmp_path / "x.zarr"),
                "--chunks",
                "24,1,15",
                "--quiet",
            ]
        )
        == 0
    )
    with pytest.raises(FileExistsError, match="not an unfinished"):
        rechunk(source["root"], tmp_path / "x.zarr", "24,1,15", progress=False)


def test_bad_arguments_are_clean_errors(
    tmp_path: Path, source: dict[str, Any], capsys: pytest.CaptureFixture
) -> None:
    src = source["root"]
    with pytest.raises(UnsupportedError, match="format 3"):
        rechunk(src, tmp_path / "a", "24,1,15", shards="24,2,30", zarr_format=2)
    with pytest.raises(ValueError, match="not a multiple"):
        rechunk(src, tmp_path / "b", "24,1,15", shards="24,2,20", zarr_format=3)
    with pytest.raises(ValueError, match="invalid codec"):
        rechunk(src, tmp_path / "c", "24,1,15", codec="brotli")
    with pytest.raises(MemoryError, match="raise --memory"):
        rechunk(src, tmp_path / "d", "-1,-1,-1", memory="1KB")
    assert main(["rechunk", str(src), str(tmp_path / "e"), "--chunks", "0,1,1"]) == 1
    assert "positive" in capsys.readouterr().err
    assert not any((tmp_path / n).exists() for n in "abcde")


def test_codec_and_memory_parsing() -> None:
    assert fastchunk.parse_bytes("2GB") == 2 * 10**9
    assert fastchunk.parse_bytes("512MiB") == 512 * 2**20
    assert parse_codec("blosc").text == "blosc:lz4:5:shuffle"
    assert parse_codec("zstd").text == "zstd:3"
    with pytest.raises(ValueError):
        parse_codec("gzip:12")


def test_groups_fit_the_budget_and_follow_source_chunks() -> None:
    # Transposition of one-chunk-per-date data into all-dates chunks: the
    # planner takes whole source chunks (all dates of a few points per group).
    shape, dst, src = (1000, 8, 4000), (1000, 1, 100), (1, 8, 4000)
    budget = 64 * 2**20
    g = plan_group_shape(shape, dst, src, 4, budget, threads=2)
    slab = math.prod(min(k * o, s) for k, o, s in zip(g, dst, shape, strict=True)) * 4
    assert slab * 2.2 <= budget
    assert g[1] == 8  # every variable of a date: each source chunk is decoded once per group
    groups_along_points = -(-40 // g[2])
    decoded = 1000 * groups_along_points * 8 * 4000 * 4
    assert decoded <= 40 * shape[0] * 8 * 4000 * 4 / 5  # far less than one decode per chunk


def test_rechunk_on_a_dask_cluster(tmp_path: Path, source: dict[str, Any]) -> None:
    distributed = pytest.importorskip("dask.distributed")
    dst = tmp_path / "dask.zarr"
    # Interrupted locally, finished on the cluster: workers skip the objects done.
    _interrupted_run(
        source["root"],
        dst,
        ["--chunks", "6,2,30", "--shards", "12,4,60", "--format", "3", "--memory", "40KB"],
        stop_after=2,
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        assert (
            main(
                [
                    "rechunk",
                    str(source["root"]),
                    str(dst),
                    "--chunks",
                    "6,2,30",
                    "--shards",
                    "12,4,60",
                    "--format",
                    "3",
                    "--memory",
                    "40KB",
                    "--dask",
                    cluster.scheduler_address,
                    "--quiet",
                ]
            )
            == 0
        )
        fresh = tmp_path / "fresh.zarr"
        summary = rechunk(
            source["root"],
            fresh,
            "24,1,15",
            zarr_format=2,
            memory="40KB",
            dask=cluster.scheduler_address,
            progress=False,
        )
    _check_copy(dst, source, 3)
    _check_copy(fresh, source, 2)
    assert summary["arrays"]["data"]["groups"] > 1
    assert summary["arrays"]["data"]["written"] == summary["arrays"]["data"]["objects"]


def test_source_on_s3(tmp_path: Path, s3: s3_server.S3Server, source: dict[str, Any]) -> None:
    s3.upload_dir(source["root"], "rechunk-test/src.zarr")
    dst = tmp_path / "from_s3.zarr"
    rechunk(
        f"s3://{s3.bucket}/rechunk-test/src.zarr",
        dst,
        "24,1,15",
        zarr_format=3,
        storage_options=s3.storage_options(),
        progress=False,
    )
    _check_copy(dst, source, 3)


@pytest.mark.parametrize(
    ("codec", "config"),
    [
        ("zstd", {"level": 5}),
        ("zstd", {"level": 1, "checksum": True}),
        ("blosc", {"cname": "lz4", "clevel": 5, "shuffle": 1}),
        ("blosc", {"cname": "zlib", "clevel": 9, "shuffle": 2}),
        ("blosc", {"cname": "blosclz", "clevel": 0, "shuffle": 0}),
        ("gzip", {"level": 6}),
        ("zlib", {"level": 1}),
        ("lz4", {"acceleration": 1}),
        ("bz2", {"level": 9}),
        ("lzma", {"preset": 1}),
        ("lzma", {"format": 2, "preset": 6}),
        ("shuffle", {"elementsize": 8}),
        ("delta", {"dtype": "<i8"}),
        ("delta", {"dtype": ">i8", "astype": ">i8"}),
        ("delta", {"dtype": "<u4", "astype": "<i8"}),
    ],
)
def test_encoders_decode_with_numcodecs(codec: str, config: dict[str, Any]) -> None:
    """Every codec of the registry the CLI offers, plus the filters: fastchunk's
    encoders write what numcodecs decodes, and its decoders read it back."""
    rng = np.random.default_rng(5)
    data = np.cumsum(rng.standard_normal(50_000)).astype("<f8").tobytes()
    chain = CodecChain(2, "<f8", ((codec, config),))
    encoded = _core.encode_chunk(data, chain)
    decoded = numcodecs.get_codec({"id": codec, **config}).decode(encoded)
    assert np.asarray(decoded).tobytes() == data
    assert bytes(_core.decode_chunk(encoded, chain, len(data))) == data


def test_crc32c_encoder_and_byte_order() -> None:
    import crc32c

    encoded = _core.encode_chunk(b"fastchunk", CodecChain(3, "|u1", (("crc32c", {}),)))
    assert encoded == b"fastchunk" + crc32c.crc32c(b"fastchunk").to_bytes(4, "little")
    words = np.arange(4, dtype="=u4")
    big = CodecChain(3, "<u4", (("bytes", {"endian": "big"}),))
    assert _core.encode_chunk(words.tobytes(), big) == words.astype(">u4").tobytes()


@pytest.mark.parametrize("codec", ["bz2:9", "lzma:1", "zlib:3", "lz4:2"])
@pytest.mark.parametrize(("zarr_format", "shards"), [(2, None), (3, None), (3, "24,2,30")])
def test_rechunk_with_every_compressor(
    tmp_path: Path, source: dict[str, Any], codec: str, zarr_format: int, shards: str | None
) -> None:
    dst = tmp_path / "out.zarr"
    rechunk(source["root"], dst, "24,1,15", shards=shards, codec=codec, zarr_format=zarr_format,
            progress=False)
    _check_copy(dst, source, zarr_format)


def test_the_writer_has_no_test_hook() -> None:
    """The crash test wraps the writer from outside (tests/rechunk_crash.py):
    the production module reads no test variable and never exits the process."""
    import inspect

    from fastchunk.tools import rechunk as r

    source = inspect.getsource(r)
    assert "_exit" not in source and "environ" not in source


def test_chunks_of_a_rank_no_array_has_are_an_error(
    tmp_path: Path, source: dict[str, Any], capsys: pytest.CaptureFixture
) -> None:
    """Issue 20: --chunks of the wrong rank copied with the old chunks and
    exited 0. In a group, arrays of another rank still keep theirs beside
    arrays that take the new ones (test_round_trip)."""
    src = source["root"]
    with pytest.raises(ValueError, match="--chunks 24,15 has 2 dimensions.*ranks 1, 3"):
        rechunk(src, tmp_path / "a", "24,15", progress=False)
    with pytest.raises(ValueError, match="--chunks 24,1 has 2 dimensions.*rank 3"):
        rechunk(src, tmp_path / "b", "24,1", path="data", progress=False)
    with pytest.raises(ValueError, match="--shards"):
        rechunk(src, tmp_path / "c", "24,1,15", shards="24,2", zarr_format=3, progress=False)
    assert main(["rechunk", str(src), str(tmp_path / "d"), "--chunks", "24,15", "--quiet"]) == 1
    assert "2 dimensions" in capsys.readouterr().err
    assert not any((tmp_path / n).exists() for n in "abcd")


def test_overwrite_replaces_the_destination(tmp_path: Path, source: dict[str, Any]) -> None:
    src = source["root"]
    dst = tmp_path / "dst.zarr"
    rechunk(src, dst, "24,1,15", zarr_format=3, progress=False)
    with pytest.raises(FileExistsError, match="--overwrite"):
        rechunk(src, dst, "6,1,60", zarr_format=2, progress=False)
    assert main(["rechunk", str(src), str(dst), "--chunks", "6,1,60", "--format", "2",
                 "--quiet"]) == 1
    summary = rechunk(src, dst, "6,1,60", zarr_format=2, progress=False, overwrite=True)
    assert not summary["resumed"]
    _check_copy(dst, source, 2)
    assert list(zarr.open_array(dst, path="data", mode="r").chunks) == [6, 1, 60]
    assert not (dst / "zarr.json").exists()  # nothing of the v3 store is left
    # An unfinished run of other parameters is replaced too, never resumed.
    _interrupted_run(src, dst, ["--chunks", "24,1,15", "--format", "3", "--overwrite"], 2)
    assert main(["rechunk", str(src), str(dst), "--chunks", "12,2,30", "--format", "3",
                 "--overwrite", "--quiet"]) == 0
    _check_copy(dst, source, 3)
    # Never over the source itself.
    with pytest.raises(ValueError, match="overlap"):
        rechunk(src, src, "24,1,15", progress=False, overwrite=True)
    assert (src / ".zgroup").exists()


def test_source_arrays_are_released_after_a_run(tmp_path: Path, source: dict[str, Any]) -> None:
    import gc
    import weakref

    from fastchunk.tools import rechunk as r

    src = str(source["root"])
    opened = r._source_array(src, "data", None)
    ref = weakref.ref(opened)
    del opened
    rechunk(src, str(tmp_path / "dst.zarr"), chunks="24,1,15", progress=False)
    gc.collect()
    assert ref() is None, "rechunk keeps every source array it ever opened"
