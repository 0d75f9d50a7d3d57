"""Groups, opening, and consolidated metadata."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastchunk._metadata import (
    ArrayMeta,
    check_must_understand,
    load_json,
    parse_v2,
    parse_v3,
)
from fastchunk._store import Store
from fastchunk.array import Array
from fastchunk.errors import MetadataError, UnsupportedError


def _join(path: str, name: str) -> str:
    path = path.strip("/")
    return f"{path}/{name}" if path else name


class _Metadata:
    """Reads metadata documents of one store, through consolidated metadata when present."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.consolidated: dict[str, Any] | None = None
        self.v3_consolidated: dict[str, Any] | None = None
        raw = store.get(".zmetadata")
        if raw is not None:
            doc = load_json(raw, f"{store.name}/.zmetadata")
            meta = doc.get("metadata")
            if isinstance(meta, dict):
                self.consolidated = meta
        else:
            # Inline v3 consolidated metadata lives in the root zarr.json: load it
            # even when a node below the root is opened first.
            root = store.get("zarr.json")
            if root is not None:
                doc = load_json(root, f"{store.name}/zarr.json")
                cm = doc.get("consolidated_metadata")
                if doc.get("node_type") == "group" and isinstance(cm, dict):
                    if isinstance(cm.get("metadata"), dict):
                        self.v3_consolidated = cm["metadata"]

    def doc(self, key: str) -> bytes | None:
        if self.consolidated is not None and key in self.consolidated:
            return json.dumps(self.consolidated[key]).encode()
        return self.store.get(key)

    def node(self, path: str) -> tuple[str, int, dict[str, Any], dict[str, Any]]:
        """(kind, zarr_format, document, attrs) of the node at `path`."""
        path = path.strip("/")
        prefix = path + "/" if path else ""
        if self.v3_consolidated is not None and path in self.v3_consolidated:
            doc = self.v3_consolidated[path]
            if not isinstance(doc, dict):
                raise MetadataError(f"{self.store.name}: consolidated metadata of {path!r} "
                                    "is not a JSON object")
            return doc.get("node_type", ""), 3, doc, doc.get("attributes") or {}
        raw = self.doc(prefix + "zarr.json")
        if raw is not None:
            doc = load_json(raw, f"{self.store.name}/{prefix}zarr.json")
            if doc.get("zarr_format") != 3:
                raise MetadataError(f"{self.store.name}/{prefix}zarr.json: zarr_format is not 3")
            node_type = doc.get("node_type")
            if node_type not in ("array", "group"):
                raise MetadataError(f"{self.store.name}/{prefix}zarr.json: bad node_type")
            if node_type == "group" and not path:
                cm = doc.get("consolidated_metadata")
                if isinstance(cm, dict) and isinstance(cm.get("metadata"), dict):
                    self.v3_consolidated = cm["metadata"]
            return node_type, 3, doc, doc.get("attributes") or {}
        attrs_raw = self.doc(prefix + ".zattrs")
        attrs = load_json(attrs_raw, prefix + ".zattrs") if attrs_raw is not None else {}
        raw = self.doc(prefix + ".zarray")
        if raw is not None:
            return "array", 2, load_json(raw, f"{self.store.name}/{prefix}.zarray"), attrs
        raw = self.doc(prefix + ".zgroup")
        if raw is not None:
            return "group", 2, load_json(raw, f"{self.store.name}/{prefix}.zgroup"), attrs
        where = f"{self.store.name}/{path}" if path else self.store.name
        raise FileNotFoundError(f"no zarr array or group at {where!r}")

    def array_meta(self, path: str, doc: dict[str, Any], fmt: int, attrs: dict) -> ArrayMeta:
        path = path.strip("/")
        prefix = path + "/" if path else ""
        where = f"{self.store.name}/{prefix}"
        try:
            if fmt == 2:
                return parse_v2(doc, attrs, prefix)
            return parse_v3(doc, prefix, what=where + "zarr.json")
        except (MetadataError, UnsupportedError) as e:
            if str(e).startswith(self.store.name):
                raise
            doc_name = ".zarray" if fmt == 2 else "zarr.json"
            raise type(e)(f"{where}{doc_name}: {e}") from None


class Group:
    """A zarr group: a mapping of names to arrays and groups."""

    def __init__(self, md: _Metadata, path: str, fmt: int, attrs: dict[str, Any]) -> None:
        self._md = md
        self._path = path.strip("/")
        self._format = fmt
        self._attrs = attrs

    @property
    def attrs(self) -> dict[str, Any]:
        return self._attrs

    @property
    def path(self) -> str:
        return self._path

    @property
    def store(self) -> Store:
        return self._md.store

    @property
    def zarr_format(self) -> int:
        return self._format

    def __getitem__(self, name: str) -> Array | Group:
        return open_node(self._md, _join(self._path, name))

    def __contains__(self, name: str) -> bool:
        try:
            self[name]
        except (FileNotFoundError, KeyError):
            return False
        return True

    def keys(self) -> list[str]:
        return sorted(self._child_names())

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def members(self) -> list[tuple[str, Array | Group]]:
        return [(k, self[k]) for k in self.keys()]

    def arrays(self) -> list[tuple[str, Array]]:
        return [(k, v) for k, v in self.members() if isinstance(v, Array)]

    def groups(self) -> list[tuple[str, Group]]:
        return [(k, v) for k, v in self.members() if isinstance(v, Group)]

    def walk_arrays(self) -> Iterator[tuple[str, Array]]:
        """(path relative to this group, array) for every array below, depth first."""
        for name, node in self.members():
            if isinstance(node, Array):
                yield name, node
            else:
                for sub, arr in node.walk_arrays():
                    yield f"{name}/{sub}", arr

    def _child_names(self) -> set[str]:
        prefix = self._path + "/" if self._path else ""
        names: set[str] = set()
        for table in (self._md.v3_consolidated, self._md.consolidated):
            if table is None:
                continue
            for key in table:
                key = key.strip("/")
                if table is self._md.consolidated:
                    for suffix in ("/.zarray", "/.zgroup", "/.zattrs"):
                        if key.endswith(suffix):
                            key = key[: -len(suffix)]
                            break
                    else:
                        continue
                if key.startswith(prefix) and key != self._path:
                    rest = key[len(prefix) :]
                    if rest and "/" not in rest:
                        names.add(rest)
        if names:
            return names
        marker = {"zarr.json", ".zarray", ".zgroup"}
        for key, _size in self._md.store.list_prefix(prefix):
            rest = key[len(prefix) :]
            parts = rest.split("/")
            if len(parts) == 2 and parts[1] in marker:
                names.add(parts[0])
        return names

    def __repr__(self) -> str:
        return f"<fastchunk.Group {self._md.store.name}/{self._path}>"


def open_node(md: _Metadata, path: str) -> Array | Group:
    kind, fmt, doc, attrs = md.node(path)
    if kind == "array":
        return Array(md.store, md.array_meta(path, doc, fmt, attrs))
    if fmt == 3:
        check_must_understand(
            doc,
            {"zarr_format", "node_type", "attributes", "consolidated_metadata"},
            f"{md.store.name}/{path}/zarr.json",
        )
    return Group(md, path, fmt, attrs)
