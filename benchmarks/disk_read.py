"""What the disk under a store gives cold: every file of the store evicted
from the page cache (posix_fadvise DONTNEED), then read whole by 1, 4, 16 and
64 threads; GB/s of stored bytes. The ceiling for bench_cold.py's readers.

    python benchmarks/disk_read.py benchmarks/data/blosc-512x16x40320.zarr
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def evict(files: list[Path]) -> None:
    for p in files:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def read_whole(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        n = 0
        while block := os.read(fd, 1 << 22):
            n += len(block)
        return n
    finally:
        os.close(fd)


def main() -> None:
    root = Path(sys.argv[1])
    files = [p for p in root.rglob("*") if p.is_file()]
    for workers in (1, 4, 16, 64):
        evict(files)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            total = sum(pool.map(read_whole, files))
        seconds = time.perf_counter() - t0
        print(
            f"{workers:3d} readers: {total / seconds / 1e9:.2f} GB/s of stored bytes, cold "
            f"({total / 1e9:.2f} GB)"
        )


if __name__ == "__main__":
    main()
