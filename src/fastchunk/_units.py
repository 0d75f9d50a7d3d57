"""Byte counts as people write them: 512MB, 2GiB, 1e9, 32G."""

from __future__ import annotations

import re

_SCALE = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
_BINARY = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40, "P": 2**50}
_PATTERN = re.compile(r"([0-9]*\.?[0-9]+(?:E[+-]?[0-9]+)?)([KMGTP]?)(I?)B?")


def parse_bytes(value: int | str) -> int:
    """An int, or a string such as "512MB", "2GiB", "32G" or "1e9"."""
    if isinstance(value, bool):
        raise ValueError(f"cannot read {value!r} as a byte count")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a byte count cannot be negative")
        return value
    text = str(value).strip().upper().replace(" ", "")
    m = _PATTERN.fullmatch(text)
    if not m or (m.group(3) and not m.group(2)):
        raise ValueError(f"cannot read {value!r} as a byte count (e.g. 512MB, 2GiB)")
    scale = _BINARY[m.group(2)] if m.group(3) else _SCALE[m.group(2)]
    return int(float(m.group(1)) * scale)
