"""Quantities as people write them: byte counts (512MB, 2GiB, 1e9, 32G) and
durations (6h, 30min, PT6H, 1 day, 0:00:00): one parser of each for the
whole package."""

from __future__ import annotations

import datetime
import re
from typing import Any

import numpy as np

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


_DURATION_UNITS = {
    "d": "days", "day": "days", "days": "days",
    "h": "hours", "hour": "hours", "hours": "hours",
    "m": "minutes", "min": "minutes", "minute": "minutes", "minutes": "minutes",
    "s": "seconds", "sec": "seconds", "second": "seconds", "seconds": "seconds",
}  # fmt: skip
_ISO_DURATION = re.compile(
    r"P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)


def parse_timedelta(value: Any) -> datetime.timedelta:
    """A duration as anemoi and people write one: an int (hours), "6h",
    "1d", "30m", "30min", "10s", "1:30", "1:30:10", "1 day, 0:00:00", ISO 8601
    "PT6H", a numpy timedelta64 or a timedelta."""
    if isinstance(value, datetime.timedelta):
        return value
    if isinstance(value, np.timedelta64):
        return datetime.timedelta(seconds=int(value.astype("timedelta64[s]").astype(np.int64)))
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return datetime.timedelta(hours=int(value))
    if not isinstance(value, str):
        raise ValueError(f"cannot read duration {value!r}")
    text = value.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return datetime.timedelta(hours=int(text))
    if text.startswith("-"):
        return -parse_timedelta(text[1:])
    if text.startswith("+"):
        return parse_timedelta(text[1:])
    m = re.fullmatch(r"(\d+)\s*([a-zA-Z]+)", text)
    if m and m.group(2).lower() in _DURATION_UNITS:
        return datetime.timedelta(**{_DURATION_UNITS[m.group(2).lower()]: int(m.group(1))})
    if re.fullmatch(r"\d+:\d+(:\d+)?", text):
        parts = [int(p) for p in text.split(":")] + [0]
        return datetime.timedelta(hours=parts[0], minutes=parts[1], seconds=parts[2])
    m = re.fullmatch(r"(\d+) days?, (\d+):(\d+):(\d+)", text)
    if m:
        d, h, mi, s = (int(g) for g in m.groups())
        return datetime.timedelta(days=d, hours=h, minutes=mi, seconds=s)
    m = _ISO_DURATION.fullmatch(text.upper())
    if m and any(m.groupdict().values()):
        return datetime.timedelta(**{k: int(v) for k, v in m.groupdict().items() if v})
    raise ValueError(f"cannot read duration {value!r}")
