"""The decode floors: builds decode_floor.cc and feeds it job files.

The pread floor (source "pread") reads the same chunk files as the readers
(page cache warm, the read is inside the timing) and decodes them with the C
library alone, with the same number of threads, into one preallocated buffer.
The decode-only floor (source "memory") reads every chunk once before timing
and times decoding alone: compressed bytes already in memory, reused contexts,
one preallocated output. For sharded stores the shard indexes are read once,
here, before timing; the floors then read (or take) and decode the inner
chunks."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from common import BUILD_DIR, HERE, SHARD_DATES, StoreSize

SOURCE = HERE / "decode_floor.cc"
BINARY = BUILD_DIR / "decode_floor"


def build() -> Path:
    """Compiles the floor program when missing or older than its source."""
    if BINARY.exists() and BINARY.stat().st_mtime >= SOURCE.stat().st_mtime:
        return BINARY
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    cxx = os.environ.get("CXX") or shutil.which("g++") or "c++"
    cmd = [cxx, "-O3", "-march=native", "-std=c++17", "-o", str(BINARY), str(SOURCE)]
    subprocess.run([*cmd, "-lzstd", "-lblosc", "-lpthread"], check=True)
    return BINARY


@dataclass(frozen=True)
class ChunkFile:
    path: str
    offset: int
    length: int


def chunk_files(store: Path, encoding: str, size: StoreSize) -> list[ChunkFile]:
    """Where each date's chunk lies (file, byte range), by reading the store
    layout directly (and the shard indexes, once)."""
    if encoding == "blosc":
        paths = [store / f"{d}.0.0.0" for d in range(size.dates)]
        return [ChunkFile(str(p), 0, p.stat().st_size) for p in paths]
    if encoding == "zstd":
        paths = [store / "c" / str(d) / "0" / "0" / "0" for d in range(size.dates)]
        return [ChunkFile(str(p), 0, p.stat().st_size) for p in paths]
    if encoding == "sharded":
        out = []
        for s in range((size.dates + SHARD_DATES - 1) // SHARD_DATES):
            shard = store / "c" / str(s) / "0" / "0" / "0"
            data = shard.read_bytes()
            index = data[-(16 * SHARD_DATES + 4) : -4]  # at the end, then a crc32c
            pairs = struct.unpack(f"<{2 * SHARD_DATES}Q", index)
            for i in range(min(SHARD_DATES, size.dates - s * SHARD_DATES)):
                off, n = pairs[2 * i], pairs[2 * i + 1]
                if off == 2**64 - 1:
                    raise ValueError(f"{shard}: inner chunk {i} is empty; the floor needs data")
                out.append(ChunkFile(str(shard), off, n))
        return out
    raise ValueError(encoding)


def codec_of(encoding: str) -> str:
    return "blosc" if encoding == "blosc" else "zstd"


@dataclass
class Segments:
    """Region of a decoded chunk copied to the output (no segments: all of it)."""

    count: int = 0
    src_off: int = 0
    nbytes: int = 0
    src_stride: int = 0
    dst_stride: int = 0


SOURCES = ("pread", "memory")


class Job:
    def __init__(
        self, codec: str, threads: int, mode: str = "throughput", source: str = "pread"
    ) -> None:
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        self.lines = [f"codec {codec}", f"threads {threads}", f"mode {mode}", f"source {source}"]

    def batch(
        self, chunks: list[ChunkFile], decoded: int, out_step: int, seg: Segments | None = None
    ) -> None:
        seg = seg or Segments()
        self.lines.append(f"batch {out_step * len(chunks)} {len(chunks)}")
        for k, c in enumerate(chunks):
            self.lines.append(
                f"task {c.offset} {c.length} {decoded} {k * out_step} {seg.count} {seg.src_off} "
                f"{seg.nbytes} {seg.src_stride} {seg.dst_stride} {c.path}"
            )

    def run(self, repeats: int = 1, dump: Path | None = None) -> list[str]:
        text = "\n".join([*self.lines, f"repeats {repeats}"] + ([f"dump {dump}"] if dump else []))
        with tempfile.NamedTemporaryFile("w", suffix=".job", delete=False) as f:
            f.write(text + "\n")
            name = f.name
        try:
            res = subprocess.run([str(build()), name], capture_output=True, text=True)
        finally:
            os.unlink(name)
        if res.returncode != 0:
            raise RuntimeError(f"decode_floor failed: {res.stderr.strip()}")
        return res.stdout.split("\n")


class Floor:
    """The floor for one store: one job per workload, same batches as the readers."""

    def __init__(
        self, store: Path, encoding: str, size: StoreSize, threads: int, source: str = "pread"
    ) -> None:
        self.files = chunk_files(store, encoding, size)
        self.codec = codec_of(encoding)
        self.size = size
        self.threads = threads
        self.source = source

    def _job(self, threads: int | None = None, mode: str = "throughput") -> Job:
        return Job(self.codec, self.threads if threads is None else threads, mode, self.source)

    def _take_job(self, batches: list[np.ndarray]) -> Job:
        job = self._job()
        cb = self.size.chunk_bytes
        for idx in batches:
            job.batch([self.files[d] for d in idx.reshape(-1).tolist()], cb, cb)
        return job

    def _grid_job(self, batches: list[np.ndarray], q: int) -> Job:
        job = self._job()
        v, p = self.size.variables, self.size.points
        seg = Segments(count=v, src_off=0, nbytes=4 * q, src_stride=4 * p, dst_stride=4 * q)
        for idx in batches:
            job.batch([self.files[d] for d in idx.tolist()], self.size.chunk_bytes, 4 * q * v, seg)
        return job

    @staticmethod
    def _seconds(lines: list[str]) -> tuple[float, float]:
        """Best wall seconds and best CPU seconds (all threads) of the repeats
        (the dump, when asked for, is not timed; its CPU time is counted)."""
        runs = [x.split() for x in lines if x.startswith("repeat ")]
        return min(float(r[2]) for r in runs), min(float(r[3]) for r in runs)

    def take(self, batches: list[np.ndarray], repeats: int = 1) -> tuple[float, float]:
        return self._seconds(self._take_job(batches).run(repeats))

    def grid(self, batches: list[np.ndarray], q: int, repeats: int = 1) -> tuple[float, float]:
        return self._seconds(self._grid_job(batches, q).run(repeats))

    def full(self, repeats: int = 1) -> tuple[float, float]:
        job = self._job()
        cb = self.size.chunk_bytes
        job.batch(self.files, cb, cb)
        return self._seconds(job.run(repeats))

    def take_output(self, idx: np.ndarray) -> np.ndarray:
        """The decoded bytes of one take, for the correctness check."""
        with tempfile.TemporaryDirectory() as d:
            dump = Path(d) / "out.bin"
            self._take_job([idx]).run(1, dump=dump)
            return np.fromfile(dump, dtype="<f4")

    def grid_output(self, idx: np.ndarray, q: int) -> np.ndarray:
        with tempfile.TemporaryDirectory() as d:
            dump = Path(d) / "out.bin"
            self._grid_job([idx], q).run(1, dump=dump)
            return np.fromfile(dump, dtype="<f4")

    def latency_us(self, elements: list[tuple[int, int, int]], whole: bool = False) -> float:
        """Median microseconds to read one element: read the chunk and decode
        what holds it (blosc: its block; zstd: the whole chunk), one thread.
        whole=True: decode each element's whole chunk into the output (one
        date read alone)."""
        job = self._job(1, mode="latency")
        p = self.size.points
        cb = self.size.chunk_bytes
        for i, j, k in elements:
            if whole:
                job.batch([self.files[i]], cb, cb)
                continue
            seg = Segments(count=1, src_off=4 * (j * p + k), nbytes=4)
            job.batch([self.files[i]], cb, 4, seg)
        line = next(x for x in job.run(1) if x.startswith("latency_us"))
        return float(line.split()[1])
