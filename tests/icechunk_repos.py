"""Icechunk repositories written by Icechunk itself (PyPI icechunk, format
version 1) through zarr-python, for the tests that compare fastchunk's reads
with Icechunk's; and NetCDF4 files written by xarray whose chunks such
repositories reference as virtual chunks."""

from __future__ import annotations

import datetime
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FIXTURES = Path(__file__).resolve().parent / "data" / "icechunk"


def require(module: str) -> Any:
    """The module, or a skip; a failure where every test must run (the
    README's test command sets FASTCHUNK_REQUIRE_ALL_TESTS; the test extra
    installs it)."""
    import importlib

    import pytest

    if os.environ.get("FASTCHUNK_REQUIRE_ALL_TESTS"):
        return importlib.import_module(module)
    return pytest.importorskip(module)


def icechunk() -> Any:
    ic = require("icechunk")
    ic.set_logs_filter("error")
    return ic


@dataclass
class History:
    """A repository with several commits, branches and tags."""

    path: Path
    snapshots: dict[str, str] = field(default_factory=dict)  # commit label -> snapshot id
    branches: tuple[str, ...] = ("main", "dev")
    tags: tuple[str, ...] = ("v1", "v2")

    def refs(self) -> list[dict[str, str]]:
        """Every way to name a snapshot: branches, tags, snapshot ids."""
        out = [{"branch": b} for b in self.branches] + [{"tag": t} for t in self.tags]
        return out + [{"snapshot": s} for s in self.snapshots.values()]


def write_history(path: Path) -> History:
    """Commits on main: "create" (arrays partly written: missing chunks;
    inline and native chunks; a sharded array; a 0-d array; nested groups),
    "rewrite" (chunks rewritten, a shard partly rewritten, attributes
    changed), "grow" (an array resized and appended to). Branch dev from
    "rewrite": "dev-edit" deletes chunks and adds an array. Tags v1 (create)
    and v2 (main's head)."""
    import zarr
    from zarr.codecs import BloscCodec, BytesCodec, ZstdCodec

    ic = icechunk()
    rng = np.random.default_rng(26)
    history = History(path)
    repo = ic.Repository.create(ic.local_filesystem_storage(str(path)))

    s = repo.writable_session("main")
    root = zarr.group(s.store, attributes={"title": "history", "version": 1})
    temp = root.create_array("temp", shape=(12, 5, 40), chunks=(2, 5, 20), dtype="f4",
                             fill_value=np.nan, dimension_names=("time", "level", "x"))
    temp[:8] = rng.standard_normal((8, 5, 40)).astype("f4")
    sh = root.create_array("sharded", shape=(16, 48), chunks=(4, 8), shards=(8, 24),
                           dtype="i4", fill_value=-1)
    sh[:8, :24] = rng.integers(0, 2**31, (8, 24), dtype="i4")  # incompressible: native
    sh[12:, 30:] = 5
    small = root.create_array("small", shape=(9,), chunks=(2,), dtype="i2", fill_value=7)
    small[:5] = np.arange(5, dtype="i2")  # chunks of 4 bytes: inline
    root.create_array("scalar", shape=(), dtype="f8", fill_value=0.0)[()] = 3.25
    deep = root.create_group("sub").create_group("deep", attributes={"level": 2})
    blosc = deep.create_array("blosc", shape=(30, 7), chunks=(8, 7), dtype="u2",
                              compressors=[BloscCodec(cname="lz4", clevel=3)], fill_value=0)
    blosc[:] = rng.integers(0, 60000, (30, 7), dtype="u2")
    raw = deep.create_array("raw", shape=(6, 6), chunks=(3, 3), dtype=">i8",
                            serializer=BytesCodec(endian="big"), compressors=None, fill_value=0)
    raw[:3] = rng.integers(-(2**40), 2**40, (3, 6))
    history.snapshots["create"] = s.commit("create")

    s = repo.writable_session("main")
    root = zarr.open_group(s.store)
    root["temp"][2:6, :, 10:30] = -rng.random((4, 5, 20)).astype("f4")
    root["sharded"][0:4, 0:8] = 99  # one inner chunk of a shard rewritten
    root["small"][1:4] = -3
    root["sub/deep/blosc"][10:20] = 7
    root.attrs["version"] = 2
    history.snapshots["rewrite"] = s.commit("rewrite")
    repo.create_branch("dev", history.snapshots["rewrite"])

    s = repo.writable_session("main")
    root = zarr.open_group(s.store)
    temp = root["temp"]
    temp.resize((16, 5, 40))
    temp[12:16] = 1.5
    root["small"][6:9] = 11
    history.snapshots["grow"] = s.commit("grow")

    s = repo.writable_session("dev")
    root = zarr.open_group(s.store)
    root["temp"][0:2] = np.nan  # a chunk equal to the fill value: deleted
    root.create_array("extra", shape=(4, 4), chunks=(4, 4), dtype="f4",
                      compressors=[ZstdCodec(level=3)], fill_value=0)[:] = 2.0
    history.snapshots["dev-edit"] = s.commit("dev-edit")

    repo.create_tag("v1", history.snapshots["create"])
    repo.create_tag("v2", history.snapshots["grow"])
    return history


def icechunk_group(path: Path, authorize: dict[str, Any] | None = None, **ref: str) -> Any:
    """The zarr group Icechunk itself reads at `ref` (branch=, tag= or snapshot_id=)."""
    import zarr

    ic = icechunk()
    kwargs: dict[str, Any] = {}
    if authorize is not None:
        kwargs["authorize_virtual_chunk_access"] = ic.containers_credentials(authorize)
    repo = ic.Repository.open(ic.local_filesystem_storage(str(path)), **kwargs)
    if "snapshot" in ref:
        ref = {"snapshot_id": ref["snapshot"]}
    if not ref:
        ref = {"branch": "main"}
    return zarr.open_group(repo.readonly_session(**ref).store, mode="r")


def array_paths(group: Any, prefix: str = "") -> list[str]:
    """Paths of every array below a zarr-python group."""
    out = []
    for name, node in sorted(group.members()):
        path = f"{prefix}{name}"
        if hasattr(node, "shape"):
            out.append(path)
        else:
            out.extend(array_paths(node, path + "/"))
    return out


# ---------------------------------------------------------------- virtual chunks


def write_netcdf(path: Path, rng: np.random.Generator) -> dict[str, Any]:
    """A NetCDF4 file (xarray, h5netcdf) with a zlib-compressed chunked
    variable "t" and an uncompressed chunked variable "u"; returns the data
    and, per variable, the HDF5 chunks: (grid index, byte offset, size)."""
    import h5py
    import xarray as xr

    t = rng.standard_normal((8, 6, 10)).astype("f4")
    u = rng.integers(-1000, 1000, (12, 4), dtype="i4")
    ds = xr.Dataset({"t": (("time", "y", "x"), t), "u": (("a", "b"), u)})
    ds.to_netcdf(path, engine="h5netcdf", encoding={
        "t": {"chunksizes": (2, 6, 10), "zlib": True, "complevel": 4},
        "u": {"chunksizes": (3, 4)},
    })
    out: dict[str, Any] = {"t": t, "u": u}
    with h5py.File(path, "r") as f:
        for name in ("t", "u"):
            d = f[name]
            chunks = []
            for i in range(d.id.get_num_chunks()):
                info = d.id.get_chunk_info(i)
                index = tuple(o // c for o, c in zip(info.chunk_offset, d.chunks, strict=True))
                chunks.append((index, info.byte_offset, info.size))
            out[name + "_chunks"] = (d.chunks, chunks)
    return out


def file_url(path: Path) -> str:
    return "file://" + urllib.parse.quote(str(path))


def local_etag(path: Path) -> str:
    st = os.stat(path)
    return f"{st.st_ino:x}-{st.st_mtime_ns // 1000:x}-{st.st_size:x}"


def write_virtual_repo(repo_path: Path, data: dict[str, Any], url: str, container: Any,
                       prefix: str, authorize: dict[str, Any],
                       checksum: str = "etag", etag: str | None = None) -> Any:
    """A repository whose arrays "t" and "u" reference the NetCDF file's
    chunks at `url` as virtual chunks (condition `checksum`: "etag",
    "modified" or "none"), through the container `container` for `prefix`."""
    import zarr
    from zarr.codecs import BytesCodec

    ic = icechunk()
    from zarr.codecs.numcodecs import Zlib

    config = ic.RepositoryConfig.default()
    config.set_virtual_chunk_container(ic.VirtualChunkContainer(prefix, container))
    repo = ic.Repository.create(ic.local_filesystem_storage(str(repo_path)), config=config,
                                authorize_virtual_chunk_access=ic.containers_credentials(authorize))
    s = repo.writable_session("main")
    root = zarr.group(s.store)
    t_chunks, t_refs = data["t_chunks"]
    u_chunks, u_refs = data["u_chunks"]
    root.create_array("t", shape=data["t"].shape, chunks=t_chunks, dtype="f4",
                      serializer=BytesCodec(endian="little"), compressors=[Zlib(level=4)],
                      fill_value=np.nan)
    root.create_array("u", shape=data["u"].shape, chunks=u_chunks, dtype="i4",
                      serializer=BytesCodec(endian="little"), compressors=None, fill_value=0)
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    for name, refs in (("t", t_refs), ("u", u_refs)):
        for index, offset, size in refs:
            key = f"{name}/c/" + "/".join(str(i) for i in index)
            cond = {"etag": etag, "modified": later, "none": None}[checksum]
            s.store.set_virtual_ref(key, url, offset=offset, length=size, checksum=cond)
    s.commit("virtual chunks")
    return repo


def write_anemoi_like(group: Any, rng: np.random.Generator, dates: int = 20) -> None:
    """An anemoi-like dataset into a zarr-python group: "data" (dates,
    variables, 1, grid), dates, coordinates, statistics, the attributes
    fastchunk.anemoi reads; one chunk per date, a missing date."""
    variables = ["t2m", "msl", "tp"]
    grid = 64
    start = np.datetime64("2020-01-01T00:00:00", "s")
    times = start + np.arange(dates) * np.timedelta64(6, "h")
    data = rng.standard_normal((dates, len(variables), 1, grid)).astype("f4")
    group.attrs.update({
        "variables": variables, "frequency": "6h", "start_date": str(times[0]),
        "end_date": str(times[-1]), "resolution": "o96",
        "missing_dates": [str(times[5])],
    })
    arr = group.create_array("data", shape=data.shape, chunks=(1, len(variables), 1, grid),
                             dtype="f4", fill_value=np.nan)
    arr[:] = data
    group.create_array("dates", shape=(dates,), dtype="datetime64[s]")[:] = times
    group.create_array("latitudes", shape=(grid,), dtype="f8")[:] = np.linspace(-90, 90, grid)
    group.create_array("longitudes", shape=(grid,), dtype="f8")[:] = np.linspace(0, 360, grid)
    for name, fn in (("mean", np.mean), ("stdev", np.std), ("maximum", np.max),
                     ("minimum", np.min)):
        group.create_array(name, shape=(len(variables),), dtype="f8")[:] = fn(
            data, axis=(0, 2, 3))
