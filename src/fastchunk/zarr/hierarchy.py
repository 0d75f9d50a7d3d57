"""Reading the metadata documents of a store's nodes: zarr.json, .zarray,
.zgroup, .zattrs, through consolidated metadata (v2 .zmetadata or v3 inline)
when the store has it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastchunk.errors import MetadataError, UnsupportedError
from fastchunk.store import Store
from fastchunk.zarr.metadata import ArrayMeta, load_json, parse_v2, parse_v3


class MetadataReader:
    """Reads metadata documents of one store, through consolidated metadata
    when present (and `use_consolidated`: False reads every node's own
    documents, as zarr-python's use_consolidated=False)."""

    def __init__(
        self,
        store: Store,
        use_consolidated: bool = True,
        prefetched: Mapping[str, Any] | None = None,
    ) -> None:
        """`prefetched`: documents the caller already fetched (".zmetadata",
        "zarr.json"; None where absent), not asked for again."""
        self.store = store
        self.use_consolidated = use_consolidated
        self.consolidated: dict[str, Any] | None = None
        self.v3_consolidated: dict[str, Any] | None = None
        if not use_consolidated:
            return
        known = prefetched or {}

        def get(key: str) -> Any:
            return known[key] if key in known else store.get(key)

        raw = get(".zmetadata")
        if raw is not None:
            doc = load_json(raw, f"{store.name}/.zmetadata")
            meta = doc.get("metadata")
            if isinstance(meta, dict):
                self.consolidated = meta
        else:
            # Inline v3 consolidated metadata lives in the root zarr.json: load it
            # even when a node below the root is opened first.
            root = get("zarr.json")
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
            if node_type == "group" and not path and self.use_consolidated:
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
        explain = getattr(self.store, "explain_missing", None)
        if explain is not None:  # a store that can tell "absent" from "asked wrongly"
            why = explain([prefix + name for name in ("zarr.json", ".zarray", ".zgroup")])
            if why is not None:
                raise why
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
