"""Values as zarr metadata writes them: fill values, v2 dtype strings and v3
data types (the inverse of dtypes.py)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastchunk.errors import UnsupportedError


def float_json(x: float) -> Any:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


def fill_json(fill: np.ndarray) -> Any:
    """A 0-d array's value as zarr metadata writes fill values."""
    dt = fill.dtype
    value = fill[()]
    if dt.kind == "f":
        return float_json(float(value))
    if dt.kind == "c":
        return [float_json(float(value.real)), float_json(float(value.imag))]
    if dt.kind == "b":
        return bool(value)
    if dt.kind in "iu":
        return int(value)
    if dt.kind in "mM":
        return int(fill.view("i8")[()])
    raise UnsupportedError(f"fill value of dtype {dt} cannot be written")


def v2_dtype_str(dt: np.dtype) -> str:
    return dt.newbyteorder("<").str if dt.itemsize > 1 and dt.kind != "V" else dt.str


def v3_data_type(dt: np.dtype) -> Any:
    if dt.kind == "b":
        return "bool"
    if dt.kind in "iufc":
        return dt.name
    if dt.kind in "mM":
        unit, count = np.datetime_data(dt)
        name = "numpy.datetime64" if dt.kind == "M" else "numpy.timedelta64"
        return {"name": name, "configuration": {"unit": unit, "scale_factor": int(count)}}
    raise UnsupportedError(f"dtype {dt} cannot be written as zarr v3")
