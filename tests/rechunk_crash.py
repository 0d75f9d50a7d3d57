"""`fastchunk rechunk` in a process that dies as a killed worker would:
after writing STOP_AFTER objects it writes half of the next one under its
temporary name and leaves with os._exit (no cleanup, exit status 75).

    python -m tests.rechunk_crash STOP_AFTER SRC DST [rechunk options]

The hook lives here, around the production writer, not inside it."""

from __future__ import annotations

import os
import sys

from fastchunk.tools import rechunk
from fastchunk.tools.cli import main

EXIT_STATUS = 75


def crash_after(stop_after: int) -> None:
    """Replaces rechunk's writer with one that dies on object stop_after + 1."""
    real = rechunk.write_atomic
    written = 0

    def write(dst_root: str, key: str, data: bytes) -> None:
        nonlocal written
        if key == rechunk.MARKER:
            return real(dst_root, key, data)
        if written >= stop_after:
            tmp = rechunk.partial_path(dst_root, key)
            os.makedirs(os.path.dirname(tmp), exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data[: len(data) // 2])
            os._exit(EXIT_STATUS)
        real(dst_root, key, data)
        written += 1

    rechunk.write_atomic = write


if __name__ == "__main__":
    crash_after(int(sys.argv[1]))
    sys.exit(main(["rechunk", *sys.argv[2:]]))
