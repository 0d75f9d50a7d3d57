"""Data types and fill values of zarr v2 and v3 metadata."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

import numpy as np

from fastchunk.errors import MetadataError, UnsupportedError

_V3_CORE = {
    "bool": "?",
    "int8": "i1",
    "int16": "i2",
    "int32": "i4",
    "int64": "i8",
    "uint8": "u1",
    "uint16": "u2",
    "uint32": "u4",
    "uint64": "u8",
    "float16": "f2",
    "float32": "f4",
    "float64": "f8",
    "complex64": "c8",
    "complex128": "c16",
}
_V3_VARIABLE = {"string", "variable_length_utf8", "bytes", "variable_length_bytes"}


def v2_dtype(descr: Any, filters: list | None) -> np.dtype:
    """The numpy dtype (byte order as stored) of a v2 `dtype` field."""
    if isinstance(descr, list):
        raise UnsupportedError(f"structured dtype {descr!r} is not supported")
    if not isinstance(descr, str):
        raise MetadataError(f"invalid dtype {descr!r}")
    try:
        dt = np.dtype(descr)
    except (TypeError, ValueError, SyntaxError) as e:  # "<,4": numpy parses commas as code
        raise MetadataError(f"invalid dtype {descr!r}: {e}") from None
    if dt.kind == "O":
        ids = [f.get("id") for f in filters or [] if isinstance(f, dict)]
        what = "variable-length strings" if any("vlen" in str(i) for i in ids) else "objects"
        raise UnsupportedError(f"dtype {descr!r} ({what}) is not supported")
    if dt.itemsize == 0:
        raise UnsupportedError(f"dtype {descr!r} has no fixed size")
    return dt


def v3_dtype(data_type: Any) -> np.dtype:
    """The numpy dtype (native byte order) of a v3 `data_type` field."""
    if isinstance(data_type, str):
        name, config = data_type, {}
    elif isinstance(data_type, dict) and isinstance(data_type.get("name"), str):
        name, config = data_type["name"], data_type.get("configuration") or {}
    else:
        raise MetadataError(f"invalid data_type {data_type!r}")
    if name in _V3_CORE:
        return np.dtype(_V3_CORE[name])
    if name in ("numpy.datetime64", "numpy.timedelta64"):
        unit = config.get("unit", "generic") if isinstance(config, dict) else None
        scale = config.get("scale_factor", 1) if isinstance(config, dict) else None
        if not isinstance(unit, str) or type(scale) is not int or scale < 1:
            raise MetadataError(f"invalid {name} configuration {config!r}")
        code = "M8" if name == "numpy.datetime64" else "m8"
        if unit == "generic":
            return np.dtype(code)
        try:
            return np.dtype(f"{code}[{scale if scale != 1 else ''}{unit}]")
        except TypeError as e:
            raise MetadataError(f"invalid {name} configuration {config!r}: {e}") from None
    if len(name) > 1 and name[0] == "r" and name[1:].isdigit():
        bits = int(name[1:])
        if bits % 8 or bits == 0:
            raise UnsupportedError(f"data type {name!r} is not a whole number of bytes")
        return np.dtype(f"V{bits // 8}")
    if name in ("fixed_length_utf32",):
        return np.dtype(f"<U{int(config.get('length_bytes', 4)) // 4}")
    if name in ("null_terminated_bytes", "raw_bytes"):  # numpy "S" / "V": zarr-python's names
        length = config.get("length_bytes") if isinstance(config, dict) else None
        if type(length) is not int or length < 1:
            raise MetadataError(f"invalid {name} configuration {config!r}")
        return np.dtype(f"{'S' if name == 'null_terminated_bytes' else 'V'}{length}")
    if name in _V3_VARIABLE or name.startswith("vlen"):
        raise UnsupportedError(f"data type {name!r} (variable length) is not supported")
    raise UnsupportedError(f"data type {name!r} is not supported")




def native(dt: np.dtype) -> np.dtype:
    return dt.newbyteorder("=") if dt.byteorder in ("<", ">") else dt


_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _float_from(value: Any, dt: np.dtype) -> Any:
    if isinstance(value, str):
        if value in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[value]
        if value.startswith("0x"):
            raw = int(value, 16).to_bytes(dt.itemsize, "big")
            return np.frombuffer(raw, dtype=dt.newbyteorder(">"))[0]
        raise MetadataError(f"invalid fill_value {value!r} for {dt}")
    return value


def fill_value(value: Any, dt: np.dtype, zarr_format: int) -> np.ndarray:
    """A 0-d array of native dtype holding the fill value (zero when null)."""
    ndt = native(dt)
    out = np.zeros((), dtype=ndt)
    if value is None:
        return out
    try:
        if ndt.kind == "f":
            out[()] = _float_from(value, ndt)
        elif ndt.kind == "c":
            if isinstance(value, (list, tuple)) and len(value) == 2:
                part = np.dtype(f"f{ndt.itemsize // 2}")
                out[()] = complex(_float_from(value[0], part), _float_from(value[1], part))
            else:
                out[()] = _float_from(value, ndt)
        elif ndt.kind in "Mm":
            if isinstance(value, str) and value == "NaT":
                out[()] = np.array("NaT", dtype=ndt)
            else:
                out.view("i8")[()] = int(value)
        elif ndt.kind == "b":
            out[()] = bool(value)
        elif ndt.kind in "iu":
            if isinstance(value, str) and value.startswith("0x"):
                raw = int(value, 16).to_bytes(ndt.itemsize, "big")
                out[()] = np.frombuffer(raw, dtype=ndt.newbyteorder(">"))[0]
            else:
                if isinstance(value, float) and not value.is_integer():
                    raise MetadataError(f"fill_value {value!r} is not an integer")
                out[()] = int(value)
        elif ndt.kind == "V":
            raw = base64.standard_b64decode(value) if isinstance(value, str) else bytes(value)
            out = np.frombuffer(raw.ljust(ndt.itemsize, b"\0")[: ndt.itemsize], dtype=ndt)[0]
            out = np.array(out, dtype=ndt)
        elif ndt.kind in "SU":
            if ndt.kind == "S" and isinstance(value, str):  # base64 in v2 and v3
                value = base64.standard_b64decode(value)
            out[()] = value
        else:
            raise UnsupportedError(f"fill_value for dtype {dt} is not supported")
    except (ValueError, TypeError, OverflowError, struct.error) as e:
        raise MetadataError(f"invalid fill_value {value!r} for dtype {dt}: {e}") from None
    return out
