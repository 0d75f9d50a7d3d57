"""Dates and frequencies the way anemoi-datasets reads them: frequencies as
"6h", "1d", "30m", 6 (hours) or timedeltas (read by fastchunk._units); start/end dates that may be
partial ("2020", "2020-03", 20200301) and are rounded to the dataset's dates."""

from __future__ import annotations

import calendar
import datetime
import re
from typing import Any

import numpy as np

from fastchunk._units import parse_timedelta


def as_timedelta(value: Any) -> datetime.timedelta:
    """A frequency as anemoi writes it (fastchunk's one duration parser)."""
    return parse_timedelta(value)


def seconds(value: Any) -> int:
    return int(as_timedelta(value).total_seconds())


def frequency_string(delta: datetime.timedelta) -> str:
    """anemoi's short form: "6h", "1d", "30m", "10s"."""
    total = int(delta.total_seconds())
    if total < 0:
        return "-" + frequency_string(-delta)
    if total == 0:
        return "0h"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if total % size == 0:
            return f"{total // size}{unit}"
    return f"{total}s"


def _round(d: np.datetime64, dates: np.ndarray, up: bool) -> np.datetime64:
    """The first date >= d (up) or the last date <= d, as anemoi rounds: a
    date before the first one rounds to the first, after the last to the last."""
    if dates.size == 0:
        return d
    i = int(np.searchsorted(dates, d, side="left"))
    if i < dates.size and dates[i] == d:
        return dates[i]
    if i == dates.size:
        return dates[-1]
    if up or i == 0:
        return dates[i]
    return dates[i - 1]


def _to_datetime64(value: Any) -> np.datetime64:
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[s]")
    return np.datetime64(value, "s")


def _from_digits(d: int, dates: np.ndarray, last: bool, delta: np.timedelta64) -> np.datetime64:
    text = str(d)
    if len(text) == 4:
        start = np.datetime64(f"{d:04}-01-01T00:00:00", "s")
        end = np.datetime64(f"{d + 1:04}-01-01T00:00:00", "s")
    elif len(text) == 6:
        year, month = divmod(d, 100)
        start = np.datetime64(f"{year:04}-{month:02}-01T00:00:00", "s")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        end = np.datetime64(f"{year:04}-{month:02}-01T00:00:00", "s")
    elif len(text) == 8:
        year, rest = divmod(d, 10000)
        month, day = divmod(rest, 100)
        calendar.monthrange(year, month)  # validates the month
        start = np.datetime64(f"{year:04}-{month:02}-{day:02}T00:00:00", "s")
        end = start + np.timedelta64(1, "D")
    else:
        raise ValueError(f"cannot read date {d!r}: use YYYY, YYYYMM or YYYYMMDD")
    return _round(end - delta if last else start, dates, up=not last)


def as_date(value: Any, dates: np.ndarray, last: bool) -> np.datetime64:
    """A start (last=False) or end (last=True) date, rounded to `dates`:
    partial dates cover their whole year, month or day ("2020" as an end is
    the last date of 2020); "25%" is a position in the dates."""
    delta = np.timedelta64(1, "s")
    if isinstance(value, (np.datetime64, datetime.datetime)):
        return _round(_to_datetime64(value), dates, up=not last)
    if isinstance(value, datetime.date):
        value = value.year * 10_000 + value.month * 100 + value.day
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return _from_digits(int(value), dates, last, delta)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+", text):
            return _from_digits(int(text), dates, last, delta)
        if text.endswith("%"):
            x = float(text[:-1])
            if not 0 <= x <= 100:
                raise ValueError(f"date {value!r}: a percentage must be within 0-100")
            at = x * len(dates) / 100
            eps = 2.0**-30
            index = int(at + eps) - 1 if last else int(at - eps)
            return dates[max(0, min(len(dates) - 1, index))]
        if "-" in text and ":" in text:
            return _round(_to_datetime64(text.replace(" ", "T")), dates, up=not last)
        if "-" in text:
            bits = [int(b) for b in text.split("-")]
            if len(bits) == 2:
                return _from_digits(bits[0] * 100 + bits[1], dates, last, delta)
            if len(bits) == 3:
                return _from_digits(bits[0] * 10000 + bits[1] * 100 + bits[2], dates, last, delta)
        m = re.fullmatch(r"(\d\d):00", text)
        if m and not last and len(dates):
            day = str(dates[0].astype("datetime64[D]"))
            return _round(np.datetime64(f"{day}T{m.group(1)}:00:00", "s"), dates, up=True)
    raise ValueError(f"cannot read date {value!r}")


def date_indices(dates: np.ndarray, start: Any, end: Any) -> np.ndarray:
    """Positions of the dates within [start, end], as open_dataset(start=, end=) picks them."""
    if dates.size == 0:
        return np.zeros(0, dtype=np.int64)
    lo = dates[0] if start is None else as_date(start, dates, last=False)
    hi = dates[-1] if end is None else as_date(end, dates, last=True)
    return np.flatnonzero((dates >= lo) & (dates <= hi)).astype(np.int64)
