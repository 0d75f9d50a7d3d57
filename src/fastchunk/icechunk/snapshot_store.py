"""One snapshot of an Icechunk repository as a read-only zarr store.

Node documents (zarr.json) come from the snapshot file; chunk keys resolve
through the array's chunk references (manifests.py): inline bytes, byte
ranges of the repository's chunk objects, or virtual byte ranges elsewhere
(virtual.py). Local repositories are read by the core in one call
(read_local); remote ones through the read plans, whose requests are routed
to the objects the references name, coalesced per object.

The store is named by its snapshot: every cache keys on store_id, which
holds the snapshot id, so a chunk cached from one snapshot is never served
for another."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastchunk.errors import ChunkDecodeError
from fastchunk.icechunk.manifests import load_refs
from fastchunk.icechunk.repository import Repository
from fastchunk.icechunk.virtual import VirtualAccess
from fastchunk.store.protocol import StoreBase

Request = tuple[str, "int | None", "int | None"]  # the read plans' (key, offset, length)


@dataclass(frozen=True)
class _ArrayEntry:
    """An array of the snapshot, its references loaded: what every read needs."""

    native: Any  # _core.NativeArray
    refs: Any  # _core.ChunkRefs
    keys: Any  # zarr.chunk_keys.ChunkKeys
    targets: list[tuple[str, bool, str, int]]  # refs.targets(), listed once
    remote_virtual: bool  # virtual references to anything but local files
    shareable: bool  # every stored byte pinned by the snapshot (node-wide cache)


class SnapshotStore(StoreBase):
    """Snapshot `snapshot_id` of `repo`, read-only."""

    local_root: str | None = None  # chunk keys are no files: see read_local

    def __init__(
        self,
        repo: Repository,
        snapshot_id: str,
        location: Any,
        storage_options: dict[str, Any] | None,
        virtual: VirtualAccess,
    ) -> None:
        self.repo = repo
        self.snapshot_id = snapshot_id
        self.virtual = virtual
        self._location = location
        self._storage_options = dict(storage_options or {})
        snap = repo.snapshot(snapshot_id)
        self.message: str = snap["message"]
        self.flushed_at: int = snap["flushed_at"]
        self.format_version: int = snap["spec_version"]
        self.name = f"{repo.name}@{snapshot_id}"
        self.store_id = f"icechunk:{repo.store.store_id}@{snapshot_id}"
        # Node path without the leading '/' ("" for the root) -> node.
        self._nodes = {n["path"].strip("/"): n for n in snap["nodes"]}
        self._arrays: dict[
            str, tuple[Any, Any, Any]
        ] = {}  # path -> (NativeArray, ChunkRefs, ChunkKeys)
        self._lock = threading.Lock()

    # A snapshot store pickles as where it came from; each process reopens it.
    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (_reopen, (self._location, self._storage_options, self.snapshot_id, self.virtual))

    def __repr__(self) -> str:
        return f"SnapshotStore({self.name!r})"

    @property
    def concurrency(self) -> int:
        return int(self.repo.store.concurrency)

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        return self._nodes

    # ------------------------------------------------------------ documents
    def _document(self, key: str) -> bytes | None:
        if key == "zarr.json":
            node = self._nodes.get("")
        elif key.endswith("/zarr.json"):
            node = self._nodes.get(key[: -len("/zarr.json")])
        else:
            return None
        return None if node is None else node["user_data"]

    def _array_of(self, key: str) -> tuple[str, Any] | None:
        """(array path, node) of the array whose chunk `key` is, or None."""
        parts = key.split("/")
        for n in range(len(parts) - 1, -1, -1):
            path = "/".join(parts[:n])
            node = self._nodes.get(path)
            if node is not None:
                return (path, node) if node["is_array"] else None
        return None

    def get(self, key: str) -> bytes | None:
        found = self.get_many([key])[key]
        return None if found is None else bytes(found)

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        chunks: list[str] = []
        for key in dict.fromkeys(keys):
            doc = self._document(key)
            if doc is not None or key.endswith("zarr.json") or self._array_of(key) is None:
                out[key] = doc
            else:
                chunks.append(key)
        if chunks:
            # Views of what was fetched, as RemoteStore.get_many gives: no copy.
            out.update(zip(chunks, self.fetch([(k, 0, None) for k in chunks]), strict=True))
        return out

    def iter_many(self, keys: Iterable[str]) -> Iterator[tuple[str, Any]]:
        """get_many as (key, object) pairs, one round of requests after the
        other fetched by a thread of its own while the caller decodes what
        came (serve.py streams reads of more objects than one round)."""
        unique = list(dict.fromkeys(keys))
        step = max(1, self.concurrency)
        if len(unique) <= step:
            yield from self.get_many(unique).items()
            return
        rounds: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=2)
        stop = threading.Event()

        def fetch_rounds() -> None:
            try:
                for i in range(0, len(unique), step):
                    if stop.is_set():
                        return
                    rounds.put(("round", self.get_many(unique[i : i + step])))
            except BaseException as e:  # handed to the consumer
                rounds.put(("error", e))
            rounds.put(("end", None))

        worker = threading.Thread(target=fetch_rounds, name="fastchunk-icechunk", daemon=True)
        worker.start()
        try:
            while True:
                kind, value = rounds.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise value
                yield from value.items()
        finally:
            stop.set()
            while worker.is_alive():  # let it finish its round, never leave it blocked
                try:
                    rounds.get(timeout=0.05)
                except queue.Empty:
                    pass

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Any]:
        return self.fetch([(k, o, n) for k, o, n in requests])

    def get_suffixes(self, requests: Sequence[tuple[str, int]]) -> list[Any]:
        return self.fetch([(k, None, n) for k, n in requests])

    def list_dir(self, prefix: str) -> list[str]:
        """The child nodes of the group `prefix` ('' or 'a/b/')."""
        base = prefix.strip("/")
        start = base + "/" if base else ""
        return sorted(
            {
                p[len(start) :].split("/")[0]
                for p in self._nodes
                if p and p.startswith(start) and p != base
            }
        )

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of the node documents and stored chunks under `prefix`."""
        for path, node in sorted(self._nodes.items()):
            key = f"{path}/zarr.json" if path else "zarr.json"
            if key.startswith(prefix):
                yield key, len(node["user_data"])
            if node["is_array"] and (path + "/").startswith(
                prefix.rstrip("/") + "/" if prefix else ""
            ):
                yield from self._chunk_listing(path, prefix)

    def _chunk_listing(self, path: str, prefix: str) -> Iterator[tuple[str, int]]:
        entry = self._entry(path)
        coords, _kinds, _targets, lengths = entry.refs.entries()
        for c, n in zip(coords.tolist(), lengths.tolist(), strict=True):
            key = entry.keys.key(c)
            if key.startswith(prefix):
                yield key, int(n)

    def known_versions(self, keys: Sequence[str]) -> list[str]:
        """What the node-wide cache keys a chunk's stored bytes on: the
        snapshot pins them (chunk objects are never rewritten), but for
        virtual references without a condition nothing does ("")."""
        out = []
        for key in keys:
            found = self._array_of(key)
            out.append("snapshot" if found is not None and self._entry(found[0]).shareable
                       else "")
        return out

    # ------------------------------------------------------------ chunk references
    def array_refs(self, path: str) -> tuple[Any, Any]:
        """(NativeArray, ChunkRefs) of the array at `path`, loaded once."""
        entry = self._entry(path)
        return entry.native, entry.refs

    def _entry(self, path: str) -> _ArrayEntry:
        with self._lock:
            found = self._arrays.get(path)
        if found is not None:
            return found
        from fastchunk.group import open_node
        from fastchunk.zarr.chunk_keys import ChunkKeys
        from fastchunk.zarr.hierarchy import MetadataReader

        array = open_node(MetadataReader(self), path)
        refs = load_refs(self, path, array.metadata)
        targets = refs.targets()
        entry = _ArrayEntry(
            native=array._native,
            refs=refs,
            keys=ChunkKeys.of(array.metadata),
            targets=targets,
            remote_virtual=any(v and not loc.startswith("file://") for loc, v, _e, _m in targets),
            shareable=not any(v and not etag and not mod for _l, v, etag, mod in targets),
        )
        with self._lock:
            return self._arrays.setdefault(path, entry)

    def read_local(
        self, array: Any, indices: list[Any], out: Any, num_threads: int, strides: Any = None
    ) -> bool:
        """Reads a selection of `array` (its output laid out by `strides`, as
        NativeArray.read) in one call of the core when the repository and
        every virtual file it references are local; False when the read must
        go through a read plan instead."""
        root = self.repo.store.local_root
        if root is None:
            return False
        entry = self._entry(array.path)
        if entry.remote_virtual:
            return False
        entry.refs.read(array._native, root, indices, out, num_threads, strides)
        return True

    # ------------------------------------------------------------ remote reads
    def fetch_requests_of(self, array: Any, indices: Sequence[Any]) -> list[tuple[Any, list[Any]]]:
        """What a read of `array` will ask of the repository's store: its
        chunk objects' byte ranges, routed and coalesced as the read will
        route them, for fetching ahead (fastchunk.store.fetch_ahead: the
        read then finds them in the repository store's ahead buffer).
        Virtual chunks are left to the read, which checks their condition."""
        store = self.repo.store
        if store.local_root is not None or not hasattr(store, "ahead_buffer"):
            return []
        entry = self._entry(array.path)
        requests = array.planned_requests(indices)
        if not requests:
            return []
        fetches, _answers = entry.refs.route(entry.native, requests)
        native = [(entry.targets[t][0], offset, length) for t, offset, length in fetches
                  if not entry.targets[t][1]]  # fmt: skip
        return [(store, native)] if native else []

    def fetch(self, requests: Sequence[Request]) -> list[Any]:
        """The answers to read-plan requests of chunk keys (see
        fastchunk._core.ReadPlan), in order: None where no chunk is stored."""
        results: list[Any] = [None] * len(requests)
        by_array: dict[str, list[int]] = {}
        for i, (key, _o, _n) in enumerate(requests):
            found = self._array_of(key)
            if found is not None:
                by_array.setdefault(found[0], []).append(i)
        for path, items in by_array.items():
            entry = self._entry(path)
            items = [i for i in items if entry.keys.coords(requests[i][0]) is not None]
            mine = [requests[i] for i in items]
            fetches, answers = entry.refs.route(entry.native, mine)
            blobs = self._fetch_targets(entry.targets, fetches)
            for i, request, answer in zip(items, mine, answers, strict=True):
                if answer is None:
                    continue
                suffix = request[1] is None
                if len(answer) == 2:  # inline bytes (or the size alone)
                    data, size = answer
                else:
                    f, start, length, size = answer
                    data = memoryview(blobs[f]).cast("B")[start : start + length]
                results[i] = (data, size) if suffix else data
        return results

    def _fetch_targets(
        self, targets: list[tuple[str, bool, str, int]], fetches: list[tuple[int, int, int]]
    ) -> list[Any]:
        """The bytes of each (target, offset, length): native objects from the
        repository's store, virtual ones through the authorized stores."""
        out: list[Any] = [None] * len(fetches)
        native = [i for i, f in enumerate(fetches) if not targets[f[0]][1]]
        virtual = [i for i, f in enumerate(fetches) if targets[f[0]][1]]
        if native:
            reqs = [(targets[fetches[i][0]][0], fetches[i][1], fetches[i][2]) for i in native]
            got = self.repo.store.get_ranges(reqs)
            for i, blob in zip(native, got, strict=True):
                if blob is not None and memoryview(blob).nbytes != fetches[i][2]:
                    raise ChunkDecodeError(
                        f"{self.repo.name}: chunk object {targets[fetches[i][0]][0]} is shorter "
                        f"than its references say (bytes [{fetches[i][1]}, +{fetches[i][2]}))"
                    )
                if blob is None:
                    raise ChunkDecodeError(
                        f"{self.repo.name}: chunk object "
                        f"{targets[fetches[i][0]][0]} does not exist "
                        f"(snapshot {self.snapshot_id} references it)"
                    )
                out[i] = blob
        if virtual:
            ranges = [
                (
                    targets[fetches[i][0]][0],
                    fetches[i][1],
                    fetches[i][2],
                    targets[fetches[i][0]][2],
                    targets[fetches[i][0]][3],
                )
                for i in virtual
            ]
            for i, blob in zip(virtual, self.virtual.read(ranges), strict=True):
                out[i] = blob
        return out


def _reopen(
    location: Any, storage_options: dict[str, Any], snapshot_id: str, virtual: VirtualAccess
) -> SnapshotStore:
    from fastchunk.store import open_store

    store = open_store(location, storage_options or None)
    return SnapshotStore(Repository(store), snapshot_id, location, storage_options, virtual)


def open_snapshot(
    location: Any,
    storage_options: dict[str, Any] | None,
    repo: Repository,
    branch: str | None,
    tag: str | None,
    snapshot: str | None,
    authorize: Any,
) -> SnapshotStore:
    """The snapshot store the arguments of fastchunk.open name."""
    virtual = authorize if isinstance(authorize, VirtualAccess) else VirtualAccess(authorize)
    snapshot_id = repo.resolve(branch=branch, tag=tag, snapshot=snapshot)
    return SnapshotStore(repo, snapshot_id, location, storage_options, virtual)


__all__ = ["SnapshotStore", "open_snapshot"]
