"""Groups, opening, and consolidated metadata."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastchunk.array import Array
from fastchunk.errors import FastchunkError, MetadataError
from fastchunk.store import Store
from fastchunk.zarr.hierarchy import MetadataReader
from fastchunk.zarr.metadata import check_must_understand


def _join(path: str, name: str) -> str:
    path = path.strip("/")
    return f"{path}/{name}" if path else name


class Group:
    """A zarr group: a mapping of names to arrays and groups."""

    def __init__(self, md: MetadataReader, path: str, fmt: int, attrs: dict[str, Any]) -> None:
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

    def members(self) -> list[tuple[str, Array | Group | UnreadableNode]]:
        """Every member, by name. A member whose metadata fastchunk cannot read
        is listed as an UnreadableNode, which raises its error when used."""
        return [(k, self._member(k)) for k in self.keys()]

    def arrays(self) -> list[tuple[str, Array | UnreadableNode]]:
        return [(k, v) for k, v in self.members() if not isinstance(v, Group)]

    def groups(self) -> list[tuple[str, Group]]:
        return [(k, v) for k, v in self.members() if isinstance(v, Group)]

    def walk_arrays(self) -> Iterator[tuple[str, Array | UnreadableNode]]:
        """(path relative to this group, array) for every array below, depth
        first; members that cannot be read come as UnreadableNode."""
        for name, node in self.members():
            if isinstance(node, Group):
                for sub, arr in node.walk_arrays():
                    yield f"{name}/{sub}", arr
            else:
                yield name, node

    def open_array(self, path: str) -> Array:
        """The array at `path` below this group ("a" or "a/b"); MetadataError
        when it is a group, FileNotFoundError when there is nothing."""
        node = self[path]
        if not isinstance(node, Array):
            raise MetadataError(f"{node!r} is a group, not an array")
        return node

    def open_group(self, path: str) -> Group:
        """The group at `path` below this group; MetadataError when it is an
        array, FileNotFoundError when there is nothing."""
        node = self[path]
        if not isinstance(node, Group):
            raise MetadataError(f"{node!r} is an array, not a group")
        return node

    def _member(self, name: str) -> Array | Group | UnreadableNode:
        path = _join(self._path, name)
        try:
            return open_node(self._md, path)
        except (FastchunkError, OSError, ValueError) as e:
            return UnreadableNode(self._md.store.name, path, e)

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
        # One delimiter listing of this group's folders, then one batch of
        # metadata look-ups: a member is a folder holding a node document.
        children = self._md.store.list_dir(prefix)
        docs = [f"{prefix}{c}/{m}" for c in children for m in _NODE_DOCUMENTS]
        found = self._md.store.get_many(docs)
        return {key[len(prefix) :].split("/")[0] for key, doc in found.items() if doc is not None}

    def __repr__(self) -> str:
        return f"<fastchunk.Group {self._md.store.name}/{self._path}>"


_NODE_DOCUMENTS = ("zarr.json", ".zarray", ".zgroup")


class UnreadableNode:
    """A group member whose metadata fastchunk cannot read (an unsupported
    data type, broken JSON, ...). Listing it never fails; using it raises the
    error met when it was opened."""

    def __init__(self, store_name: str, path: str, error: BaseException) -> None:
        self.path = path
        self.error = error
        self._where = f"{store_name}/{path}"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise self.error

    def __getitem__(self, key: Any) -> Any:
        raise self.error

    def __repr__(self) -> str:
        error = f"{type(self.error).__name__}: {self.error}"
        return f"<fastchunk.UnreadableNode {self._where}: {error}>"


def open_node(md: MetadataReader, path: str) -> Array | Group:
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
