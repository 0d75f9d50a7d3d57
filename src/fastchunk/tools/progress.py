"""A progress bar shown only when stderr is a terminal (tqdm when installed)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, TextIO


class Progress:
    """Counts work done out of `total` (None: unknown, the count alone is
    shown). Silent unless `stream` is a terminal (or `enabled` forces it);
    uses tqdm when it can be imported, a plain one-line bar otherwise."""

    def __init__(
        self,
        total: int | None,
        desc: str = "",
        unit: str = "it",
        enabled: bool | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.total = None if total is None else int(total)
        self.desc = desc
        self.unit = unit
        self.n = 0
        self._stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self._stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self._bar: Any = None
        self._last = 0.0
        self._start = time.monotonic()
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(
                    total=self.total, desc=desc, unit=unit, file=self._stream, leave=False
                )

    def update(self, n: int = 1) -> None:
        self.n += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last < 0.2 and (self.total is None or self.n < self.total):
            return
        self._last = now
        elapsed = now - self._start
        if self.total is None:
            self._stream.write(f"\r{self.desc} {self.n} {self.unit} {elapsed:.0f}s")
            self._stream.flush()
            return
        frac = self.n / self.total if self.total else 1.0
        width = 30
        filled = int(round(frac * width))
        bar = "#" * filled + "-" * (width - filled)
        self._stream.write(
            f"\r{self.desc} [{bar}] {self.n}/{self.total} {self.unit} {elapsed:.0f}s"
        )
        self._stream.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        else:
            self._stream.write("\r" + " " * 79 + "\r")
            self._stream.flush()
        self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
