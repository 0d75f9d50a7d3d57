"""`fastchunk rechunk`: offline transposition and re-encoding of zarr arrays.

Destination objects (chunks, or shards of inner chunks) are produced in groups
whose decoded source region fits the memory budget. Each group is read from
the source with fastchunk, cut into chunks and encoded by the C++ core on its
thread pool, and every object is written under a temporary name and renamed
into place, so an interrupted run leaves only whole objects behind. A rerun
skips the objects that exist. The zarr metadata is written last: until it is
there, the destination holds a marker file describing the run instead.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import fastchunk
from fastchunk import _core
from fastchunk._units import parse_bytes
from fastchunk.array import Array
from fastchunk.errors import MetadataError, UnsupportedError
from fastchunk.group import Group
from fastchunk.store import url_scheme
from fastchunk.tools.chunking import plan_group_shape
from fastchunk.tools.progress import Progress
from fastchunk.zarr import codecs as _codecs
from fastchunk.zarr import metadata as _metadata
from fastchunk.zarr import write as zwrite
from fastchunk.zarr.chunk_keys import ChunkKeys
from fastchunk.zarr.codecs import CodecChain, NativeCodec

MARKER = ".fastchunk-rechunk.json"
_PARTIAL = ".partial-"

# ---------------------------------------------------------------- parsing

def parse_shape(text: str | Sequence[int] | None) -> tuple[int, ...] | None:
    """'1,-1,8' -> (1, -1, 8); -1 means the whole axis."""
    if text is None:
        return None
    if isinstance(text, str):
        try:
            values = tuple(int(v) for v in text.split(",") if v.strip())
        except ValueError:
            raise ValueError(f"invalid shape {text!r}: use integers separated by commas") from None
    else:
        values = tuple(int(v) for v in text)
    for v in values:
        if v == 0 or v < -1:
            raise ValueError(f"invalid shape {text!r}: entries must be positive or -1")
    return values


@dataclass(frozen=True)
class Codec:
    """One destination compressor: a codec of the core's registry and its
    configuration (numcodecs keys; what is not given takes the codec's
    default), or none."""

    name: str
    config: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:  # lists when it comes back from Dask or JSON
        object.__setattr__(self, "config", tuple((str(k), v) for k, v in self.config))

    @property
    def native(self) -> NativeCodec:
        return _codecs.registry()[self.name]

    def configuration(self, zarr_format: int, dtype: np.dtype) -> dict[str, Any]:
        """What zarr_format metadata says of this codec for items of `dtype`,
        checked: UnsupportedError when the codec cannot encode with it."""
        return _core.codec_configuration(self.name, dict(self.config), dtype.str, zarr_format)

    @property
    def text(self) -> str:
        if self.name == "none":
            return "none"
        config = self.configuration(3, np.dtype("<f8"))
        values = [config.get(k) for k in self.native.positional_keys]
        while values and values[-1] is None:
            values.pop()
        return ":".join([self.name, *("" if v is None else str(v) for v in values)])

    def v2_compressor(self, dtype: np.dtype) -> dict[str, Any] | None:
        if self.name == "none":
            return None
        return {"id": self.name, **self.configuration(2, dtype)}

    def v3_codecs(self, dtype: np.dtype) -> list[dict[str, Any]]:
        if self.name == "none":
            return []
        return [{"name": self.native.v3_name, "configuration": self.configuration(3, dtype)}]


def _compressors() -> list[NativeCodec]:
    """The registered codecs `--codec` can name: numcodecs compressors."""
    return [
        c
        for c in _codecs.registry().values()
        if c.numcodecs and c.kind == "bytes_to_bytes" and not c.fixed_size
    ]


def codec_usage() -> str:
    """The forms `--codec` takes, from the registry."""
    forms = [":".join([c.name, *(k.upper() for k in c.positional_keys)]) for c in _compressors()]
    return ", ".join(forms) + " or none"


def parse_codec(text: str) -> Codec:
    """NAME[:V1[:V2...]] with NAME a compressor of the core's registry and the
    values its positional configuration keys (zstd:LEVEL,
    blosc:CNAME:CLEVEL:SHUFFLE, ...), or none."""
    parts = [p.strip() for p in text.strip().lower().split(":")]
    name, args = parts[0], parts[1:]
    if name == "none" and not args:
        return Codec("none")
    native = {c.name: c for c in _compressors()}.get(name)
    if native is None or len(args) > len(native.positional_keys):
        raise ValueError(f"invalid codec {text!r}: use {codec_usage()}")

    def value(arg: str) -> Any:
        try:
            return int(arg)
        except ValueError:
            return arg

    config = tuple(
        (key, value(arg)) for key, arg in zip(native.positional_keys, args, strict=False) if arg
    )
    codec = Codec(name, config)
    try:
        codec.configuration(3, np.dtype("<f8"))
    except (UnsupportedError, MetadataError) as e:
        raise ValueError(f"codec {text!r}: {e}") from None
    return codec


# ---------------------------------------------------------------- metadata


@dataclass
class Target:
    """One array to write: where it comes from, where it goes, how it is encoded."""

    src_path: str
    dst_path: str
    shape: tuple[int, ...]
    dtype: str
    chunks: tuple[int, ...]  # encode unit (inner chunk when sharded)
    shards: tuple[int, ...] | None
    codec: Codec
    zarr_format: int
    fill: bytes
    attrs: dict[str, Any]
    dimension_names: list[Any] | None
    src_chunks: tuple[int, ...]
    group_shape: tuple[int, ...] = ()
    note: str = ""

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    @property
    def object_shape(self) -> tuple[int, ...]:
        return self.shards or self.chunks

    @property
    def grid(self) -> tuple[int, ...]:
        return tuple(-(-s // o) for s, o in zip(self.shape, self.object_shape, strict=False))

    @property
    def nobjects(self) -> int:
        return math.prod(self.grid)

    def identity(self) -> dict[str, Any]:
        """What a resumed run must agree on."""
        return {
            "src_path": self.src_path,
            "dst_path": self.dst_path,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "chunks": list(self.chunks),
            "shards": list(self.shards) if self.shards else None,
            "codec": self.codec.text,
            "zarr_format": self.zarr_format,
        }

    def key(self, coords: Sequence[int]) -> str:
        return ChunkKeys.default(self.zarr_format, self.dst_path, len(self.shape)).key(coords)

    def metadata(self) -> dict[str, bytes]:
        """Metadata documents of the array (key -> JSON bytes)."""
        dt = self.np_dtype
        fill = zwrite.fill_json(np.frombuffer(self.fill, dtype=dt).reshape(()))
        prefix = self.dst_path + "/" if self.dst_path else ""
        if self.zarr_format == 2:
            zarray = {
                "zarr_format": 2,
                "shape": list(self.shape),
                "chunks": list(self.chunks),
                "dtype": zwrite.v2_dtype_str(dt),
                "compressor": self.codec.v2_compressor(dt),
                "fill_value": fill,
                "order": "C",
                "filters": None,
                "dimension_separator": ".",
            }
            docs = {prefix + ".zarray": _dumps(zarray)}
            if self.attrs:
                docs[prefix + ".zattrs"] = _dumps(self.attrs)
            return docs
        bytes_codec: dict[str, Any] = {"name": "bytes", "configuration": {}}
        if dt.itemsize > 1:
            bytes_codec["configuration"] = {"endian": "little"}
        chain = [bytes_codec] + self.codec.v3_codecs(dt)
        if self.shards:
            chain = [
                {
                    "name": "sharding_indexed",
                    "configuration": {
                        "chunk_shape": list(self.chunks),
                        "codecs": chain,
                        "index_codecs": [
                            {"name": "bytes", "configuration": {"endian": "little"}},
                            {"name": "crc32c"},
                        ],
                        "index_location": "end",
                    },
                }
            ]
        doc: dict[str, Any] = {
            "zarr_format": 3,
            "node_type": "array",
            "shape": list(self.shape),
            "data_type": zwrite.v3_data_type(dt),
            "chunk_grid": {
                "name": "regular",
                "configuration": {"chunk_shape": list(self.object_shape)},
            },
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": fill,
            "codecs": chain,
            "attributes": self.attrs,
        }
        if self.dimension_names is not None:
            doc["dimension_names"] = self.dimension_names
        return {prefix + "zarr.json": _dumps(doc)}


    def codec_chains(self) -> tuple[CodecChain, CodecChain | None]:
        """The chains that encode what metadata() describes, read back from it:
        the chunks' (inner chunks' when sharded) and the shard index's."""
        prefix = self.dst_path + "/" if self.dst_path else ""
        docs = self.metadata()
        if self.zarr_format == 2:
            meta = _metadata.parse_v2(json.loads(docs[prefix + ".zarray"]), {}, "")
        else:
            meta = _metadata.parse_v3(json.loads(docs[prefix + "zarr.json"]), "")
        if meta.native_codecs is None:
            raise UnsupportedError(f"codec {self.codec.text} cannot be encoded by the core")
        return meta.native_codecs, meta.shard.index_chain if meta.shard else None


def _dumps(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode()


def group_metadata(path: str, zarr_format: int, attrs: dict[str, Any]) -> dict[str, bytes]:
    prefix = path + "/" if path else ""
    if zarr_format == 2:
        docs = {prefix + ".zgroup": _dumps({"zarr_format": 2})}
        if attrs:
            docs[prefix + ".zattrs"] = _dumps(attrs)
        return docs
    return {
        prefix + "zarr.json": _dumps({"zarr_format": 3, "node_type": "group", "attributes": attrs})
    }


# ---------------------------------------------------------------- planning


def _resolve(spec: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(max(1, s) if c == -1 else c for c, s in zip(spec, shape, strict=False))


def make_target(
    array: Array,
    dst_path: str,
    chunks: tuple[int, ...] | None,
    shards: tuple[int, ...] | None,
    codec: Codec,
    zarr_format: int | None,
) -> Target:
    fmt = zarr_format or array.zarr_format
    if fmt not in (2, 3):
        raise ValueError(f"zarr format must be 2 or 3, got {fmt}")
    shape = tuple(array.shape)
    note = ""
    if chunks is not None and len(chunks) == len(shape):
        new_chunks = _resolve(chunks, shape)
    else:
        if chunks is not None:
            note = f"rank {len(shape)} differs from --chunks: chunks kept"
        new_chunks = tuple(array.chunks)
    new_shards = None
    if shards is not None:
        if len(shards) == len(shape):
            new_shards = _resolve(shards, shape)
            bad = [(s, c) for s, c in zip(new_shards, new_chunks, strict=False) if s % c]
            if bad:
                raise ValueError(
                    f"{array.path or 'array'}: shards {new_shards} are not a multiple of "
                    f"chunks {new_chunks}"
                )
        else:
            note = (note + "; " if note else "") + "rank differs from --shards: not sharded"
    if new_shards is not None and fmt == 2:
        raise UnsupportedError("sharding needs zarr format 3 (--format 3)")
    dt = np.dtype(array.dtype)
    fill = np.asarray(array.fill_value, dtype=dt).reshape(())
    zwrite.fill_json(fill)  # fail early on a fill value that cannot be written
    if fmt == 3:
        zwrite.v3_data_type(dt)
    dims = array.dimension_names if fmt == 3 else None
    return Target(
        src_path=array.path,
        dst_path=dst_path,
        shape=shape,
        dtype=dt.str,
        chunks=new_chunks,
        shards=new_shards,
        codec=codec,
        zarr_format=fmt,
        fill=fill.tobytes(),
        attrs=dict(array.attrs),
        dimension_names=dims,
        src_chunks=tuple(array.chunks),
        note=note,
    )


def group_objects(target: Target, index: int) -> list[tuple[int, ...]]:
    """Grid coordinates of the objects of group `index` (C order over groups)."""
    grid = target.grid
    gshape = target.group_shape
    ggrid = [-(-n // k) for n, k in zip(grid, gshape, strict=False)]
    gcoords = np.unravel_index(index, ggrid) if ggrid else ()
    ranges = [
        range(int(c) * k, min((int(c) + 1) * k, n))
        for c, k, n in zip(gcoords, gshape, grid, strict=False)
    ]
    return [tuple(c) for c in itertools.product(*ranges)]


def ngroups(target: Target) -> int:
    return math.prod(-(-n // k) for n, k in zip(target.grid, target.group_shape, strict=False))


# ---------------------------------------------------------------- running

@functools.lru_cache(maxsize=4)
def _open_source(src: str, path: str, options_json: str) -> Array:
    return fastchunk.open_array(src, path or None, json.loads(options_json) or None)


def _source_array(src: str, path: str, storage_options: dict[str, Any] | None) -> Array:
    """The source array, opened once per process for the groups that follow
    (a few recent sources are kept, not every source ever opened)."""
    return _open_source(src, path, json.dumps(storage_options or {}, sort_keys=True))


def partial_path(dst_root: str, key: str) -> str:
    """Where write_atomic writes `key` before renaming it into place: a hidden
    name of this process and thread, beside the object."""
    path = os.path.join(dst_root, *key.split("/"))
    return os.path.join(
        os.path.dirname(path),
        f".{os.path.basename(path)}{_PARTIAL}{os.getpid()}-{threading.get_ident()}",
    )


def write_atomic(dst_root: str, key: str, data: bytes) -> None:
    """The one writer of the destination (objects and metadata): `data` under a
    temporary name, then renamed into place, so that a reader (or a rerun)
    finds nothing or a whole object."""
    path = os.path.join(dst_root, *key.split("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = partial_path(dst_root, key)
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def run_group(
    src: str,
    storage_options: dict[str, Any] | None,
    target: Target,
    index: int,
    dst_root: str,
) -> tuple[int, int]:
    """Produces the objects of one group that do not exist yet.
    Returns (written, skipped)."""
    objects = group_objects(target, index)
    todo = [c for c in objects if not os.path.exists(os.path.join(dst_root, target.key(c)))]
    if not todo:
        return 0, len(objects)
    array = _source_array(src, target.src_path, storage_options)
    obj = target.object_shape
    nd = len(target.shape)
    lo = [min(c[d] for c in todo) * obj[d] for d in range(nd)]
    hi = [min((max(c[d] for c in todo) + 1) * obj[d], target.shape[d]) for d in range(nd)]
    slab = np.empty([h - s for s, h in zip(lo, hi, strict=False)], dtype=target.np_dtype)
    if nd == 0:
        slab[()] = array[()]
    else:
        array.read_orthogonal(
            [np.arange(s, h, dtype=np.int64) for s, h in zip(lo, hi, strict=False)], slab
        )
    chain, index_chain = target.codec_chains()
    request = {
        "array_shape": target.shape,
        "slab_origin": lo,
        "chunk_shape": target.chunks,
        "fill": target.fill,
        "codecs": chain,
        "index_codecs": index_chain,
        "chunks_per_shard": (
            [s // c for s, c in zip(target.shards, target.chunks, strict=False)]
            if target.shards
            else None
        ),
        "object_coords": todo,
    }
    encoded = _core.encode_objects(request, slab)
    del slab
    for coords, data in zip(todo, encoded, strict=False):
        write_atomic(dst_root, target.key(coords), data)
    return len(todo), len(objects) - len(todo)


def _clean_partials(dst_root: str) -> None:
    for dirpath, _dirs, files in os.walk(dst_root):
        for name in files:
            if name.startswith(".") and _PARTIAL in name:
                os.remove(os.path.join(dirpath, name))


def _check_destination(dst_root: str, identity: dict[str, Any], overwrite: bool) -> bool:
    """Prepares `dst_root`; True when an unfinished run of the same rechunk is
    resumed. `overwrite`: whatever is there is removed first (never resumed)."""
    marker = os.path.join(dst_root, MARKER)
    if overwrite and os.path.lexists(dst_root):
        if not os.path.isdir(dst_root) or os.path.islink(dst_root):
            raise FileExistsError(f"{dst_root} exists and is not a directory: not overwritten")
        shutil.rmtree(dst_root)
    if os.path.exists(marker):
        with open(marker) as f:
            previous = json.load(f)
        if previous != identity:
            raise FileExistsError(
                f"{dst_root} holds an unfinished rechunk with other parameters "
                f"({previous}); rerun with the same parameters, or --overwrite"
            )
        _clean_partials(dst_root)
        return True
    if os.path.isdir(dst_root) and os.listdir(dst_root):
        raise FileExistsError(
            f"{dst_root} exists and is not an unfinished fastchunk rechunk; --overwrite replaces it"
        )
    os.makedirs(dst_root, exist_ok=True)
    write_atomic(dst_root, MARKER, json.dumps(identity, indent=2).encode())
    return False


@dataclass
class RechunkPlan:
    """What a rechunk writes: the arrays (with the groups of objects each is
    written in), the group documents, and what a resumed run must agree on."""

    src: str
    dst_root: str
    targets: list[Target]
    group_docs: dict[str, bytes] = field(default_factory=dict)
    identity: dict[str, Any] = field(default_factory=dict)

    @property
    def tasks(self) -> list[tuple[Target, int]]:
        return [(t, i) for t in self.targets for i in range(ngroups(t))]


def _walk_groups(group: Group, path: str) -> Iterator[tuple[str, Group]]:
    yield path, group
    for name, sub in group.groups():
        yield from _walk_groups(sub, f"{path}/{name}" if path else name)


def _check_ranks(targets: list[Target], chunks: tuple[int, ...] | None,
                 shards: tuple[int, ...] | None) -> None:
    """--chunks (--shards) of a rank no array has is an error, not a copy
    with the old chunks: arrays of another rank keep theirs only beside
    arrays that take them."""
    ranks = sorted({len(t.shape) for t in targets})
    for flag, spec in (("--chunks", chunks), ("--shards", shards)):
        if spec is not None and len(spec) not in ranks:
            what = f"rank {ranks[0]}" if len(ranks) == 1 else f"ranks {', '.join(map(str, ranks))}"
            raise ValueError(f"{flag} {','.join(map(str, spec))} has {len(spec)} dimensions; "
                             f"the arrays to rechunk have {what}")


def plan_rechunk(
    src: str,
    dst: str | os.PathLike[str],
    chunks: str | Sequence[int] | None,
    shards: str | Sequence[int] | None,
    codec: str,
    zarr_format: int | None,
    memory: str | int,
    path: str | None,
    storage_options: dict[str, Any] | None,
) -> RechunkPlan:
    """Parses the arguments and plans the run: every array's target and the
    groups of objects that fit the memory budget. Writes nothing."""
    if url_scheme(str(dst)) is not None:
        raise UnsupportedError("rechunk writes to a local (or shared) directory, not to a URL")
    src = os.fspath(src) if isinstance(src, os.PathLike) else src
    if "://" not in src:
        src = os.path.abspath(src)  # Dask workers may run elsewhere than this directory
    dst_root = os.path.abspath(os.fspath(dst))
    if "://" not in src and _nested(src, dst_root):
        raise ValueError(f"the destination {dst_root} and the source {src} overlap")
    chunk_spec = parse_shape(chunks)
    shard_spec = parse_shape(shards)
    the_codec = parse_codec(codec)
    budget = parse_bytes(memory)
    node = fastchunk.open(src, path, storage_options)
    plan = RechunkPlan(src, dst_root, [])
    if isinstance(node, Array):
        plan.targets.append(make_target(node, "", chunk_spec, shard_spec, the_codec, zarr_format))
    else:
        fmt = zarr_format or node.zarr_format
        for gpath, grp in _walk_groups(node, ""):
            plan.group_docs.update(group_metadata(gpath, fmt, dict(grp.attrs)))
        for apath, arr in node.walk_arrays():
            plan.targets.append(
                make_target(arr, apath, chunk_spec, shard_spec, the_codec, zarr_format)
            )
    _check_ranks(plan.targets, chunk_spec, shard_spec)
    threads = fastchunk.get_num_threads()
    # The decoded-chunk cache (off by default) lives inside the same budget.
    budget -= int(fastchunk.get_cache_info().get("capacity", 0))
    for t in plan.targets:
        t.group_shape = plan_group_shape(
            t.shape, t.object_shape, t.src_chunks, t.np_dtype.itemsize, budget, threads, t.chunks
        )
    plan.identity = {
        "version": 1,
        "source": str(src),
        "path": path,
        "arrays": [t.identity() for t in plan.targets],
    }
    return plan


def _nested(a: str, b: str) -> bool:
    """Whether one of the directories `a` and `b` is (inside) the other."""
    ra, rb = os.path.realpath(a), os.path.realpath(b)
    return ra == rb or ra.startswith(rb + os.sep) or rb.startswith(ra + os.sep)


def _write_objects(plan: RechunkPlan, storage_options: dict[str, Any] | None, dask: str | None,
                   progress: bool | None) -> dict[str, list[int]]:
    """Every group of every array (on a Dask cluster when `dask` names one);
    returns (written, skipped) objects per array."""
    tasks = plan.tasks
    counts = {t.dst_path: [0, 0] for t in plan.targets}
    total = sum(t.nobjects for t in plan.targets)
    with Progress(total, desc="rechunk", unit="obj", enabled=progress) as bar:
        if dask:
            _run_dask(dask, plan.src, storage_options, tasks, plan.dst_root, counts, bar)
        else:
            for t, i in tasks:
                written, skipped = run_group(plan.src, storage_options, t, i, plan.dst_root)
                counts[t.dst_path][0] += written
                counts[t.dst_path][1] += skipped
                bar.update(written + skipped)
    return counts


def _write_metadata(plan: RechunkPlan) -> None:
    """The zarr documents, last: until they are there the marker says what the
    destination is."""
    docs = dict(plan.group_docs)
    for t in plan.targets:
        docs.update(t.metadata())
    for key, data in docs.items():
        write_atomic(plan.dst_root, key, data)
    os.remove(os.path.join(plan.dst_root, MARKER))


def _summary(plan: RechunkPlan, resumed: bool, seconds: float,
             counts: dict[str, list[int]]) -> dict[str, Any]:
    return {
        "source": str(plan.src),
        "destination": plan.dst_root,
        "resumed": resumed,
        "seconds": seconds,
        "arrays": {
            t.dst_path or "/": {
                "shape": list(t.shape),
                "chunks": list(t.chunks),
                "shards": list(t.shards) if t.shards else None,
                "codec": t.codec.text,
                "zarr_format": t.zarr_format,
                "objects": t.nobjects,
                "written": counts[t.dst_path][0],
                "skipped": counts[t.dst_path][1],
                "groups": ngroups(t),
                "group_shape": list(t.group_shape),
                "note": t.note,
            }
            for t in plan.targets
        },
    }


def rechunk(
    src: str,
    dst: str,
    chunks: str | Sequence[int] | None,
    shards: str | Sequence[int] | None = None,
    codec: str = "zstd:3",
    zarr_format: int | None = None,
    memory: str | int = "2GB",
    dask: str | None = None,
    path: str | None = None,
    storage_options: dict[str, Any] | None = None,
    progress: bool | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Rewrites the array (or every array of the group) at `src` into `dst`
    with new chunks, shards, codec and format. Returns a summary. An
    unfinished run of the same parameters in `dst` is resumed; anything else
    there is an error, unless `overwrite` (it is removed first)."""
    t0 = time.monotonic()
    plan = plan_rechunk(src, dst, chunks, shards, codec, zarr_format, memory, path,
                        storage_options)
    resumed = _check_destination(plan.dst_root, plan.identity, overwrite)
    counts = _write_objects(plan, storage_options, dask, progress)
    _write_metadata(plan)
    _open_source.cache_clear()
    return _summary(plan, resumed, time.monotonic() - t0, counts)


def _dask_task(
    src: str,
    storage_options: dict[str, Any] | None,
    target: dict[str, Any],
    index: int,
    dst_root: str,
) -> tuple[int, int]:
    return run_group(src, storage_options, _target_from_dict(target), index, dst_root)


def _target_from_dict(d: dict[str, Any]) -> Target:
    d = dict(d)
    d["codec"] = Codec(**d["codec"])
    for k in ("shape", "chunks", "src_chunks", "group_shape"):
        d[k] = tuple(d[k])
    d["shards"] = tuple(d["shards"]) if d["shards"] else None
    return Target(**d)


def _run_dask(
    address: str,
    src: str,
    storage_options: dict[str, Any] | None,
    tasks: list[tuple[Target, int]],
    dst_root: str,
    counts: dict[str, list[int]],
    bar: Progress,
) -> None:
    """One Dask task per group of destination objects; workers read the source
    themselves and write into `dst_root` (a directory every worker sees)."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise UnsupportedError(
            "--dask needs dask[distributed]: pip install 'dask[distributed]'"
        ) from None
    with Client(address) as client:
        as_dicts = {id(t): asdict(t) for t, _ in tasks}
        futures = {}
        for t, i in tasks:
            fut = client.submit(
                _dask_task, src, storage_options, as_dicts[id(t)], i, dst_root, pure=False
            )
            futures[fut] = t.dst_path
        for fut in as_completed(list(futures)):
            written, skipped = fut.result()
            counts[futures[fut]][0] += written
            counts[futures[fut]][1] += skipped
            bar.update(written + skipped)
