"""One zarr group seen by xarray: its arrays as variables (dimension names,
attributes, encoding as engine="zarr" gives them, data as lazily indexed
FastchunkBackendArrays), its attributes and dimensions. Read-only."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from xarray.backends.common import AbstractDataStore
from xarray.core import indexing
from xarray.core.utils import FrozenDict, emit_user_level_warning
from xarray.core.variable import Variable

import fastchunk
from fastchunk.array import Array
from fastchunk.group import Group, open_node
from fastchunk.xarray.backend_array import FastchunkBackendArray
from fastchunk.xarray.chunking import preferred_chunks
from fastchunk.xarray.encoding import (
    codec_encoding,
    decode_fill_attribute,
    dims_and_attrs,
    zarr_fill_value,
)
from fastchunk.zarr.hierarchy import MetadataReader


def _join(group: str, name: str) -> str:
    return f"{group}/{name}" if group else name


def open_group(
    location: Any,
    group: str | None = None,
    storage_options: dict[str, Any] | None = None,
    consolidated: bool | None = None,
    zarr_format: int | None = None,
    **open_kwargs: Any,
) -> Group:
    """The group at `group` inside `location` (anything fastchunk.open
    takes, with its keywords `open_kwargs`: an Icechunk repository's branch,
    tag, snapshot, ...; or a fastchunk.Group). consolidated: None uses
    consolidated metadata when the store has it, True requires it, False
    ignores it."""
    path = (group or "").strip("/")
    if isinstance(location, Group):
        node: Array | Group = location[path] if path else location
    else:
        if isinstance(location, os.PathLike):
            location = os.fspath(location)
        given = {k: v for k, v in open_kwargs.items() if v is not None}
        try:
            node = fastchunk.open(location, path or None, storage_options, **given)
        except FileNotFoundError as e:  # zarr's wording, which xarray users match on
            raise FileNotFoundError(f"No such file or directory: {location!r} ({e})") from None
    if isinstance(node, Array):
        raise ValueError(
            f"{node.store.name}/{node.path} is a zarr array, not a group: xarray opens "
            "groups (fastchunk.open reads single arrays)"
        )
    md: MetadataReader = node._md
    has_consolidated = md.consolidated is not None or md.v3_consolidated is not None
    if consolidated and not has_consolidated:
        raise ValueError(f"{md.store.name} has no consolidated metadata (consolidated=True)")
    if consolidated is None and not has_consolidated:
        emit_user_level_warning(
            "Failed to open Zarr store with consolidated metadata, but successfully read "
            "with non-consolidated metadata. This is typically much slower for opening a "
            "dataset. To silence this warning, consider:\n"
            "1. Consolidating metadata in this existing store with zarr.consolidate_metadata().\n"
            "2. Explicitly setting consolidated=False, to avoid trying to read consolidate "
            "metadata, or\n"
            "3. Explicitly setting consolidated=True, to raise an error in this case instead "
            "of falling back to try reading non-consolidated metadata.",
            RuntimeWarning,
        )
    if consolidated is False and has_consolidated:
        md = MetadataReader(md.store, use_consolidated=False)
        node = open_node(md, node.path)
    if zarr_format is not None and node.zarr_format != zarr_format:
        raise FileNotFoundError(
            f"{md.store.name}/{node.path}: a zarr v{node.zarr_format} group, "
            f"not v{zarr_format} (zarr_format={zarr_format})"
        )
    assert isinstance(node, Group)
    return node


class FastchunkDataStore(AbstractDataStore):
    """A zarr group for xarray's decoders (xarray's StoreBackendEntrypoint
    turns it into a Dataset, with CF decoding as for engine="zarr")."""

    def __init__(self, group: Group, task_bytes: int | str | None = None) -> None:
        self._group = group
        self._md: MetadataReader = group._md
        # As engine="zarr" opens datasets: the zarr fill value masks data in
        # v2 stores, not in v3 (its use_zarr_fill_value_as_mask is accepted
        # and not used by xr.open_dataset / xr.open_zarr).
        self._mask = group.zarr_format == 2
        self._task_bytes = task_bytes
        self._members: dict[str, tuple[Array, dict[str, Any], dict[str, Any]]] | None = None
        self._children: list[str] | None = None

    @property
    def group(self) -> Group:
        return self._group

    def _scan(self) -> dict[str, tuple[Array, dict[str, Any], dict[str, Any]]]:
        """(array, metadata document, attributes) of each array of the group,
        by name; the names of its subgroups go to self._children."""
        if self._members is not None:
            return self._members
        members: dict[str, tuple[Array, dict[str, Any], dict[str, Any]]] = {}
        children: list[str] = []
        for name in self._group.keys():
            path = _join(self._group.path, name)
            kind, fmt, doc, attrs = self._md.node(path)
            if kind == "array":
                members[name] = (Array(self._md.store, self._md.array_meta(path, doc, fmt, attrs)),
                                 doc, attrs)
            else:
                children.append(name)
        self._members, self._children = members, children
        return members

    def subgroups(self) -> list[str]:
        """Names of the groups directly below this one."""
        self._scan()
        assert self._children is not None
        return list(self._children)

    def child(self, name: str) -> FastchunkDataStore:
        node = self._group[name]
        assert isinstance(node, Group)
        return FastchunkDataStore(node, self._task_bytes)

    def walk(self, prefix: str = "/") -> Iterator[tuple[str, FastchunkDataStore]]:
        """(path, store) of this group and every group below it, parents first."""
        yield prefix, self
        for name in self.subgroups():
            yield from self.child(name).walk(f"{prefix.rstrip('/')}/{name}")

    def open_store_variable(self, name: str) -> Variable:
        array, doc, attrs = self._scan()[name]
        meta = array.metadata
        where = f"{self._md.store.name}/{array.path}"
        dims, attributes = dims_and_attrs(meta, doc, attrs, where)
        dtype = meta.dtype
        if meta.vlen == "utf8" and dtype.kind == "O":  # numpy < 2: object strings
            from xarray.coding.strings import create_vlen_dtype

            dtype = create_vlen_dtype(str)
        data = indexing.LazilyIndexedArray(FastchunkBackendArray(array, dtype))
        chunks = tuple(meta.chunks)
        item = 8 if meta.vlen else max(1, meta.dtype.itemsize)
        preferred = preferred_chunks(meta.shape, chunks, item, self._task_bytes)
        encoding: dict[str, Any] = {
            "chunks": chunks,
            "preferred_chunks": dict(zip(dims, preferred, strict=True)),
        }
        if dtype.kind == "T":
            encoding["dtype"] = dtype
        encoding.update(codec_encoding(meta, doc, attrs))
        fill = zarr_fill_value(meta, doc)
        if self._mask:
            if fill is not None:
                attributes["_FillValue"] = fill
        else:
            if self._group.zarr_format == 3:
                encoding["fill_value"] = fill
            if "_FillValue" in attributes:
                attributes["_FillValue"] = decode_fill_attribute(attributes["_FillValue"], meta)
        return Variable(dims, data, attributes, encoding)

    def get_variables(self) -> FrozenDict:
        return FrozenDict((k, self.open_store_variable(k)) for k in self._scan())

    def get_attrs(self) -> dict[str, Any]:
        return {k: v for k, v in self._group.attrs.items() if not k.lower().startswith("_nc")}

    def get_dimensions(self) -> dict[str, int]:
        dimensions: dict[str, int] = {}
        for name, (array, doc, attrs) in self._scan().items():
            dims, _ = dims_and_attrs(array.metadata, doc, attrs, _join(self._group.path, name))
            for d, n in zip(dims, array.shape, strict=True):
                if d in dimensions and dimensions[d] != n:
                    raise ValueError(
                        f"found conflicting lengths for dimension {d} ({n} != {dimensions[d]})"
                    )
                dimensions[d] = n
        return dimensions

    def close(self) -> None:
        pass
