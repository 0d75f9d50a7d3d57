"""Codec chains and which codecs the C++ core runs. The core's registry
(`fastchunk._core.codecs()`) is the one list of native codecs: a name the
metadata uses is native when the registry holds it under that name (numcodecs
ids in v2, "numcodecs.<id>" and zarr v3 names in v3)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastchunk import _core
from fastchunk.errors import FastchunkError, UnsupportedError

NUMCODECS_PREFIX = "numcodecs."
# The registered codec of byte order: the zarr v3 `bytes` codec, which v2
# expresses in the dtype.
BYTE_ORDER = "bytes"

Step = tuple[str, dict[str, Any]]

# Configuration keys whose values are numpy data types (numcodecs' Delta,
# AsType, FixedScaleOffset, ...). Writers give them as type strings ("<f4")
# or names ("float32"); the core takes type strings.
_DTYPE_KEYS = ("dtype", "astype")


def core_configuration(config: dict[str, Any]) -> dict[str, Any]:
    """A metadata configuration as the core's registry takes it: without the
    numcodecs "id", data types as numpy type strings."""
    out = {k: v for k, v in config.items() if k != "id"}
    for key in _DTYPE_KEYS:
        value = out.get(key)
        if isinstance(value, str):
            try:
                out[key] = np.dtype(value).str
            except TypeError:
                pass  # the core reports the invalid type
    return out


@dataclass(frozen=True)
class NativeCodec:
    """One codec of the core's registry."""

    name: str
    kind: str  # array_to_array, array_to_bytes, bytes_to_bytes
    numcodecs: bool  # the name is a numcodecs id (v2 id, v3 "numcodecs.<id>")
    zarr_v3: bool  # the name is a codec of the zarr v3 specification
    fixed_size: bool  # encoded size follows from the decoded one: not a compressor
    positional_keys: tuple[str, ...]  # what `--codec NAME:V1:V2` sets

    @property
    def v3_name(self) -> str:
        """The name zarr v3 metadata gives this codec."""
        return self.name if self.zarr_v3 else NUMCODECS_PREFIX + self.name


@dataclass(frozen=True)
class CodecChain:
    """A chain of registered codecs, as the core builds it (fill_chain)."""

    zarr_format: int
    dtype: str  # numpy type string of the array's items: the first codec's decoded side
    steps: tuple[Step, ...]  # (registered name, configuration), in encode order

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.steps]


@functools.cache
def registry() -> dict[str, NativeCodec]:
    return {
        row["name"]: NativeCodec(
            name=row["name"],
            kind=row["kind"],
            numcodecs=row["numcodecs"],
            zarr_v3=row["zarr_v3"],
            fixed_size=row["fixed_size"],
            positional_keys=tuple(row["positional_keys"]),
        )
        for row in _core.codecs()
    }


def native_codec(zarr_format: int, name: str) -> NativeCodec | None:
    """The registered codec a metadata name means, or None when the core
    does not implement it."""
    reg = registry()
    if zarr_format == 2:
        codec = reg.get(name)
        return codec if codec is not None and codec.numcodecs else None
    if name.startswith(NUMCODECS_PREFIX):
        codec = reg.get(name[len(NUMCODECS_PREFIX) :])
        return codec if codec is not None and codec.numcodecs else None
    codec = reg.get(name)
    return codec if codec is not None and codec.zarr_v3 else None


def native_chain(
    zarr_format: int, dtype: str, steps: list[Step], endian: str | None = None
) -> CodecChain | None:
    """The chain the core runs for `steps` (metadata names and
    configurations, encode order) over items of numpy type `dtype`, with the
    byte order `endian` first when given (v2 dtypes carry it); None when a
    codec or its configuration needs numcodecs. Raises MetadataError for an
    invalid configuration."""
    resolved: list[Step] = []
    if endian is not None:
        resolved.append((BYTE_ORDER, {"endian": endian}))
    for name, config in steps:
        codec = native_codec(zarr_format, name)
        if codec is None:
            return None
        resolved.append((codec.name, core_configuration(config)))
    chain = CodecChain(zarr_format, dtype, tuple(resolved))
    try:
        _core.check_chain(chain)
    except UnsupportedError:
        return None
    return chain


def needs_numcodecs(zarr_format: int, dtype: str, name: str, config: dict[str, Any]) -> bool:
    """Whether the core lacks codec `name` or this configuration of it."""
    codec = native_codec(zarr_format, name)
    if codec is None:
        return True
    step = (codec.name, core_configuration(config))
    try:
        _core.check_chain(CodecChain(zarr_format, dtype, (step,)))
    except FastchunkError:
        return True
    return False
