"""Randomized mutation fuzzer for zarr metadata documents (.zarray, .zattrs,
.zmetadata, zarr.json), driven through fastchunk.open and a small read.

Seeds are real stores written by zarr-python (v2 and v3, every native codec,
a numcodecs fallback filter, sharding, transpose, consolidated groups). Each
case mutates one metadata document (JSON-level edits, or raw text edits),
opens the store and reads a little. The only acceptable failures are
fastchunk's documented exceptions; anything else -- another exception type, a
crash, a read slower than a few seconds -- is reported with the document that
caused it.

    python tests/fuzz/fuzz_metadata.py --iterations 20000 [--seed N]

The test suite imports `run` and calls it with a few hundred iterations.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import zarr
from zarr.codecs import (
    BloscCodec,
    BytesCodec,
    Crc32cCodec,
    GzipCodec,
    ShardingCodec,
    TransposeCodec,
    ZstdCodec,
)

import fastchunk

# Values that have broken metadata parsers before: wrong types, boundaries of
# 32 and 64 bits, non-finite floats, empty and nested containers.
INTERESTING: list[Any] = [
    None, True, False, 0, 1, -1, 2, 255, 256, 2**31 - 1, 2**31, 2**32, 2**53 + 1,
    2**62, 2**63 - 1, 2**63, 2**64, -(2**63), 10**30, 0.5, -0.0, 1e308, 1e-308,
    "", "0", "-1", "NaN", "Infinity", "-Infinity", "0x7fc00000", "0xffffffffffffffff",
    "C", "F", ".", "/", "\\", "..", "../..", "\x00", "é", "<f4", ">i8", "|b1", "|O",
    "<M8[ns]", "V8", "S0", "U0", "float32", "uint64", "r24", "r0", "numpy.datetime64",
    "zstd", "blosc", "crc32c", "gzip", "bytes", "transpose", "sharding_indexed",
    "lz4", "zlib", "delta", "vlen-utf8", "regular", "default", "v2", "start", "end",
    [], [0], [-1], [0, 0], [1, 2, 3, 4, 5, 6, 7, 8, 9], [2**63], [None], ["a"],
    {}, {"id": "zstd"}, {"id": "nope"}, {"name": "nope"}, {"must_understand": False},
    {"name": "bytes"}, {"name": "crc32c"}, {"name": "zstd", "configuration": None},
]


@dataclass
class Seed:
    name: str
    store: Path  # a store written by zarr-python
    doc_key: str  # the metadata document the cases mutate
    array_path: str | None  # what to open: None = the root


def make_seeds(root: Path) -> list[Seed]:
    seeds: list[Seed] = []
    data = (np.arange(6 * 10, dtype="f4").reshape(6, 10) * 0.5).astype("f4")

    def v2(name: str, **kw: Any) -> None:
        path = root / name
        z = zarr.create_array(path, shape=data.shape, chunks=(4, 4), dtype=kw.pop("dtype", "f4"),
                              zarr_format=2, fill_value=0, **kw)
        z[...] = data.astype(z.dtype)
        seeds.append(Seed(name, path, ".zarray", None))

    def v3(name: str, **kw: Any) -> None:
        path = root / name
        z = zarr.create_array(path, shape=data.shape, chunks=kw.pop("chunks", (4, 4)),
                              dtype=kw.pop("dtype", "f4"), fill_value=0, **kw)
        z[...] = data.astype(z.dtype)
        seeds.append(Seed(name, path, "zarr.json", None))

    v2("v2-blosc", compressors=numcodecs.Blosc(cname="lz4", shuffle=1))
    v2("v2-zstd", compressors=numcodecs.Zstd())
    v2("v2-gzip", compressors=numcodecs.GZip())
    v2("v2-zlib", compressors=numcodecs.Zlib())
    v2("v2-lz4", compressors=numcodecs.LZ4())
    v2("v2-raw-be", compressors=None, dtype=">i4")
    v2("v2-order-f", compressors=numcodecs.Zstd(), order="F")
    v2("v2-delta", compressors=numcodecs.Zstd(), filters=[numcodecs.Delta(dtype="f4")])
    v3("v3-default")
    v3("v3-blosc", compressors=BloscCodec(cname="zstd"))
    v3("v3-gzip-crc", compressors=[GzipCodec(), Crc32cCodec()])
    v3("v3-transpose", filters=[TransposeCodec(order=(1, 0))], compressors=ZstdCodec())
    v3("v3-sharded", chunks=(2, 5), shards=(6, 10))
    v3("v3-sharded-start", chunks=(6, 10), compressors=None,
       serializer=ShardingCodec(chunk_shape=(3, 5), index_location="start",
                                codecs=[BytesCodec(), ZstdCodec()]))
    v3("v3-datetime", dtype="M8[s]")

    group = root / "v2-consolidated"
    g = zarr.open_group(group, mode="w", zarr_format=2)
    g.create_array("x", shape=(6,), chunks=(4,), dtype="i2", fill_value=0)[...] = 7
    g.attrs["title"] = "t"
    zarr.consolidate_metadata(group)
    seeds.append(Seed("v2-consolidated", group, ".zmetadata", "x"))
    seeds.append(Seed("v2-zattrs", group, "x/.zattrs" if (group / "x/.zattrs").exists()
                      else ".zattrs", None))

    group3 = root / "v3-consolidated"
    g3 = zarr.open_group(group3, mode="w")
    g3.create_array("y", shape=(5, 3), chunks=(2, 3), dtype="u8", fill_value=1)[...] = 9
    zarr.consolidate_metadata(group3)
    seeds.append(Seed("v3-consolidated", group3, "zarr.json", "y"))
    return seeds


# ------------------------------------------------------------------ mutations


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every (key or index) path into a JSON document, the root included."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


def _get(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _random_value(rng: random.Random, current: Any) -> Any:
    r = rng.random()
    if r < 0.55:
        return copy.deepcopy(rng.choice(INTERESTING))
    if isinstance(current, int) and not isinstance(current, bool) and r < 0.8:
        return rng.choice([current + 1, current - 1, -current, current * 2**rng.randint(1, 40),
                           0, current ^ (1 << rng.randint(0, 63))])
    if isinstance(current, str) and r < 0.8:
        s = list(current)
        if s:
            s[rng.randrange(len(s))] = chr(rng.randint(32, 126))
        return "".join(s) if rng.random() < 0.7 else current + current
    if isinstance(current, list) and r < 0.9:
        if current and rng.random() < 0.5:
            return current[:-1]
        return current + [copy.deepcopy(rng.choice(current) if current else 1)]
    return copy.deepcopy(rng.choice(INTERESTING))


def mutate_doc(doc: Any, rng: random.Random) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        paths = _paths(doc)
        path = rng.choice(paths)
        if not path:
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        action = rng.random()
        if action < 0.15 and isinstance(parent, dict):
            del parent[key]
        elif action < 0.2 and isinstance(parent, list):
            del parent[key]
        elif action < 0.27 and isinstance(parent, dict):
            parent[rng.choice(["extra", "must_understand", "codecs", "shape", "chunks"])] = (
                _random_value(rng, None))
        else:
            parent[key] = _random_value(rng, parent[key])
    return doc


def mutate_text(raw: bytes, rng: random.Random) -> bytes:
    b = bytearray(raw)
    op = rng.random()
    if op < 0.3 and b:
        return bytes(b[: rng.randrange(len(b))])
    if op < 0.6 and b:
        b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if op < 0.8:
        digits = [i for i, c in enumerate(b) if chr(c).isdigit()]
        if digits:
            i = rng.choice(digits)
            return bytes(b[:i] + b"9" * rng.randint(1, 40) + b[i:])
    return bytes(b) * 2


# ------------------------------------------------------------------ one case

EXPECTED = (fastchunk.FastchunkError,)
READ_LIMIT = 1 << 20  # bytes a case may read in full


def exercise(store: Path, array_path: str | None) -> None:
    """Opens and reads a little; raises only what fastchunk documents."""
    node = fastchunk.open(store, path=array_path)
    if isinstance(node, fastchunk.Group):
        names = list(node)[:3]
        for name in names:
            child = node[name]
            if isinstance(child, fastchunk.Array):
                read_some(child)
        return
    read_some(node)


def read_some(a: fastchunk.Array) -> None:
    if a.size == 0:
        # Not a[...]: numpy-style indexing builds one index vector per axis,
        # and a 0 x 2^40 array would need a 2^40 one (reported, not fixed here).
        a[(slice(0, 1),) * a.ndim]
        return
    if a.nbytes <= READ_LIMIT:
        a[...]
    else:
        a[(0,) * a.ndim]
        a[tuple(n - 1 for n in a.shape)]
    if a.ndim:
        a.take([0, a.shape[0] - 1, 0], axis=0) if a.nbytes // max(a.shape[0], 1) * 3 <= (
            READ_LIMIT) else None


@dataclass
class Failure:
    seed: str
    doc_key: str
    document: bytes
    error: str


def run_case(seed: Seed, work: Path, raw: bytes) -> Failure | None:
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(seed.store, work)
    (work / seed.doc_key).write_bytes(raw)
    start = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exercise(work, seed.array_path)
    except EXPECTED:
        pass
    except RecursionError as e:  # deeply nested JSON: json.loads's own limit
        return Failure(seed.name, seed.doc_key, raw, f"RecursionError: {e}")
    except Exception as e:  # noqa: BLE001 -- any other type is the finding
        return Failure(seed.name, seed.doc_key, raw, f"{type(e).__name__}: {e}")
    elapsed = time.monotonic() - start
    if elapsed > 5:
        return Failure(seed.name, seed.doc_key, raw, f"took {elapsed:.1f} s")
    return None


def run(iterations: int, seed: int = 0, workdir: Path | None = None,
        max_failures: int = 20) -> tuple[int, list[Failure]]:
    """Runs `iterations` cases; returns (cases run, failures)."""
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(dir=workdir))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zarr-python's notes on consolidated v3
            seeds = make_seeds(tmp / "seeds")
        originals = {s.name: (s.store / s.doc_key).read_bytes() for s in seeds}
        failures: list[Failure] = []
        # The unmutated seeds must open and read cleanly: a sanity check of the harness.
        for s in seeds:
            f = run_case(s, tmp / "case", originals[s.name])
            if f:
                failures.append(f)
        done = 0
        while done < iterations:
            done += 1
            s = rng.choice(seeds)
            raw = originals[s.name]
            if rng.random() < 0.75:
                raw = json.dumps(mutate_doc(json.loads(raw), rng)).encode()
            else:
                raw = mutate_text(raw, rng)
            f = run_case(s, tmp / "case", raw)
            if f:
                failures.append(f)
                if len(failures) >= max_failures:
                    break
        return done, failures
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    start = time.monotonic()
    done, failures = run(args.iterations, args.seed)
    for f in failures:
        print(f"FAIL [{f.seed} {f.doc_key}] {f.error}\n  {f.document[:400]!r}")
    rate = done / max(time.monotonic() - start, 1e-9)
    print(f"fuzz_metadata: seed={args.seed} cases={done} failures={len(failures)} "
          f"({rate:.0f} cases/s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
