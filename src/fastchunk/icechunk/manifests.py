"""Chunk references of an array: its manifests fetched (concurrently),
parsed and verified by the core once per process (an LRU of parsed manifests,
keyed by repository and manifest id: manifests are never rewritten), and the
references inside each manifest's extents collected into one table."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from fastchunk import _core
from fastchunk.errors import MetadataError

MANIFEST_CACHE_BYTES = 512 << 20


class _ManifestCache:
    """Parsed manifests by (repository store id, manifest id), within a byte budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._items: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], manifest: Any) -> None:
        with self._lock:
            if key in self._items or manifest.nbytes > self.budget:
                return
            self._items[key] = manifest
            self.used += manifest.nbytes
            while self.used > self.budget:
                _, old = self._items.popitem(last=False)
                self.used -= old.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.used = 0


manifest_cache = _ManifestCache(MANIFEST_CACHE_BYTES)


def manifests(repo: Any, ids: list[str]) -> dict[str, Any]:
    """The parsed manifests `ids` of `repo`, from the cache or fetched together."""
    sid = repo.store.store_id
    out = {}
    missing = []
    for mid in dict.fromkeys(ids):
        found = manifest_cache.get((sid, mid))
        if found is None:
            missing.append(mid)
        else:
            out[mid] = found
    if missing:
        got = repo.store.get_many([f"manifests/{m}" for m in missing])
        for mid in missing:
            key = f"manifests/{mid}"
            raw = got.get(key)
            if raw is None:
                raise MetadataError(f"{repo.name}: manifest {mid} is missing ({key})")
            manifest = _core.IcechunkManifestFile(raw, f"{repo.name}/{key}")
            if manifest.id != mid:
                raise MetadataError(f"{repo.name}/{key} holds manifest {manifest.id}")
            manifest_cache.put((sid, mid), manifest)
            out[mid] = manifest
    return out


def load_refs(store: Any, path: str, meta: Any) -> Any:
    """The ChunkRefs of the array at `path` of snapshot store `store`, whose
    zarr metadata is `meta`: one reference per stored object (chunk, or
    shard when sharded), virtual locations marked allowed or not."""
    node = store.nodes[path]
    stored = meta.shard.shard_shape if meta.shard is not None else meta.chunks
    grid = tuple(-(-s // c) if c else 0 for s, c in zip(meta.shape, stored, strict=True))
    refs = _core.ChunkRefs(grid)
    where = f"{store.name}: array '/{path}'"
    pointers = node["manifests"]
    found = manifests(store.repo, [mid for mid, _extents in pointers])
    for mid, extents in pointers:
        if len(extents) != len(grid):
            raise MetadataError(
                f"{where}: manifest {mid} has {len(extents)} extents for {len(grid)} axes"
            )
        refs.collect(found[mid], node["node_id"], extents, f"{where}: manifest {mid}")
    refs.seal(where)
    refs.set_allowed(
        [
            not virtual or store.virtual.allowed(location)
            for location, virtual, _etag, _modified in refs.targets()
        ]
    )
    return refs
