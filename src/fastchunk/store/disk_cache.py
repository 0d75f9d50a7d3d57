"""Remote objects on a local disk: the level of the cascade below the
object store. Chunk objects, shard byte ranges and shard-index suffixes that a
RemoteStore fetches are kept in a directory shared by every process of the
node, across restarts, within a byte budget (oldest evicted first). A range
asked for is answered from the kept ranges of its object that cover it, with
only the gaps fetched (store/range_pieces.py), so batches that coalesce a
shard's inner chunks differently still hit.

    fastchunk.open("s3://bucket/era5.zarr",
                   storage_options={"cache_dir": "/scratch/fastchunk", "cache_size": "500GB"})

or FASTCHUNK_CACHE_DIR / FASTCHUNK_CACHE_DIR_SIZE. Files are written under a
temporary name and renamed, carry a CRC-32 of their bytes (checked when a
process first reads a file and whenever the file changes: a damaged or
truncated file is dropped and fetched again) and the version of the object
they came from (size and a strong validator: the ETag, or a Last-Modified at
least a second older than the response, RFC 9110 8.8.2.2). Objects without
one are not kept (a same-size rewrite could not be told apart), unless
cache_check is "never". Metadata documents are never cached.

Which version is current is the policy `cache_check` (storage option, or
FASTCHUNK_CACHE_CHECK):
- "once" (default): a process learns each object's version once, from the
  request that fetched it or, when the object is already on disk, from one
  HEAD request (no body), and trusts it from then on. A second epoch in the
  same process makes no request; a restarted job makes one HEAD per object and
  no GET; a rewritten object is seen by stores opened in processes started
  after the rewrite (forked children inherit what their parent learned).
- "always": a HEAD before every use of a cached object: a rewrite is seen on
  the next read.
- "never": cached objects are trusted as they are (immutable data): a
  restarted job makes no request at all for what is on disk.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from fastchunk import _core
from fastchunk.store import range_pieces
from fastchunk.store.engine import ABSENT, IMMUTABLE, Blob, Engine

# Documents fastchunk must always see fresh; everything else is data. An
# Icechunk repository's mutable files are among them: its repo info file and
# its refs (snapshots, manifests and chunks never change under their ids).
METADATA_NAMES = frozenset({".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json",
                            "repo", "ref.json", "ref.json.deleted"})  # fmt: skip
# A request whose cached pieces leave more gaps than this is fetched whole.
MAX_GAPS = 8


def is_metadata(key: str) -> bool:
    return key.rsplit("/", 1)[-1] in METADATA_NAMES


def open_disk_cache(directory: str, budget: int) -> Any:
    """The file cache in `directory` (created when missing); `budget` becomes
    the budget of every process using it."""
    return _core.FileCache(directory, budget, mapped=False, checksum=True)


class DiskCachedEngine(Engine):
    """A client whose fetches go through the disk cache first. Same interface
    as the client it wraps; shares its versions table and request counts."""

    def __init__(self, inner: Engine, files: Any, store_id: str, check: str) -> None:
        self.inner = inner
        self.files = files
        self.store_id = store_id
        self.check = check
        self.name = inner.name
        self.versions = inner.versions
        self.requests = inner.requests
        self.stale = 0  # cached copies dropped because the object changed
        self._index_lock = threading.Lock()

    # ------------------------------------------------------------ policy
    def _entry(self, kind: str, key: str, a: int = 0, b: int = 0) -> str:
        return f"obj1\n{self.store_id}\n{kind}\n{key}\n{a}\n{b}"

    def _validate(self, keys: Iterable[str], cached: bool = True) -> None:
        """Learns the current version of `keys` (one HEAD each) where the
        policy asks: "once" those not known yet, "always" those with a cached
        copy (cached=True), "never" none."""
        if self.check == "never":
            return
        todo = [
            k
            for k in dict.fromkeys(keys)
            if k not in self.versions or (self.check == "always" and cached)
        ]
        if todo:
            self.inner.head_many(todo)

    def _fresh(self, key: str, entry: Any) -> bool:
        if self.check == "never":
            self.versions.setdefault(key, entry.tag)  # names the object for the decoded cache
            return True
        # A copy kept without a strong validator (older releases kept "size:")
        # proves nothing about the object now.
        if not entry.tag or entry.tag.endswith(":") or entry.tag.endswith(":" + IMMUTABLE):
            return False
        return self.versions.get(key) == entry.tag

    def _lookup(self, entries: dict[Any, tuple[str, str]]) -> dict[Any, Any]:
        """{id: (object key, entry key)} -> {id: cached entry} for the fresh
        ones; stale ones are removed."""
        found = {}
        got = self.files.get_many([entry_key for _, entry_key in entries.values()])
        for (ident, (key, entry_key)), e in zip(entries.items(), got, strict=True):
            if e is not None:
                found[ident] = (key, entry_key, e)
        self._validate(key for key, _, _ in found.values())
        fresh = {}
        for ident, (key, entry_key, e) in found.items():
            if self._fresh(key, e):
                fresh[ident] = e
            else:
                self.files.remove(entry_key)
                self.stale += 1
        return fresh

    def _keep(self, entry_key: str, key: str, blob: Blob | None) -> None:
        tag = ABSENT if blob is None else self.versions.get(key, "")
        if not tag:  # no strong validator: a later process could not tell a rewrite
            return
        self.files.put(entry_key, b"" if blob is None else blob, tag, True)

    # ------------------------------------------------------------ Engine
    def get_many(self, keys: Sequence[str]) -> list[Blob | None]:
        data = {k: self._entry("object", k) for k in keys if not is_metadata(k)}
        hits = self._lookup({k: (k, e) for k, e in data.items()})
        out: dict[str, Blob | None] = {
            k: None if e.tag == ABSENT else memoryview(e) for k, e in hits.items()
        }
        todo = [k for k in keys if k not in out]
        if todo:
            for k, blob in zip(todo, self.inner.get_many(todo), strict=True):
                out[k] = blob
                if k in data:
                    self._keep(data[k], k, blob)
        return [out[k] for k in keys]

    def iter_many(self, keys: Sequence[str]) -> Iterator[tuple[str, Blob | None]]:
        data = {k: self._entry("object", k) for k in keys if not is_metadata(k)}
        hits = self._lookup({k: (k, e) for k, e in data.items()})
        for k, e in hits.items():
            yield k, None if e.tag == ABSENT else memoryview(e)
        todo = [k for k in keys if k not in hits]
        if todo:
            for k, blob in self.inner.iter_many(todo):
                if k in data:
                    self._keep(data[k], k, blob)
                yield k, blob

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Blob | None]:
        entries = {i: (k, self._entry("range", k, o, n)) for i, (k, o, n) in enumerate(requests)}
        hits = self._lookup(entries)
        out: list[Blob | None] = [None] * len(requests)
        for i, e in hits.items():
            out[i] = None if e.tag == ABSENT else memoryview(e)
        todo = [i for i in range(len(requests)) if i not in hits]
        if todo:
            # Ranged responses may not carry the version: learn it first.
            self._validate((requests[i][0] for i in todo), cached=False)
            self._ranges_from_pieces([requests[i] for i in todo], todo, out)
        return out

    def _ranges_from_pieces(
        self, requests: list[tuple[str, int, int]], slots: list[int], out: list[Blob | None]
    ) -> None:
        """Answers `requests` (into out[slots]) from the cached pieces of their
        objects where those cover them, fetching only the gaps; every fetched
        range is kept as a new piece."""
        listed = self._piece_lists({k for k, _, _ in requests})
        plans = [range_pieces.cover(o, n, listed.get(k, ())) for k, o, n in requests]
        wanted = {(k, p) for (k, _, _), plan in zip(requests, plans, strict=True)
                  for p, _, _ in plan if p is not None}  # fmt: skip
        held = self._pieces(wanted)
        fetch: list[tuple[str, int, int]] = []
        for r, ((k, o, n), plan) in enumerate(zip(requests, plans, strict=True)):
            gaps = [s for s in plan if s[0] is None or (k, s[0]) not in held]
            if len(gaps) > MAX_GAPS or len(gaps) == len(plan):
                plans[r] = [(None, o, n)]  # fetched whole, as asked
                fetch.append((k, o, n))
            else:
                fetch.extend((k, start, size) for _, start, size in gaps)
        got = dict(zip(fetch, self.inner.get_ranges(fetch), strict=True)) if fetch else {}
        added: dict[str, list[range_pieces.Piece]] = {}
        for slot, (k, o, n), plan in zip(slots, requests, plans, strict=True):
            out[slot] = self._assemble(k, o, n, plan, held, got)
        for (k, start, size), blob in got.items():
            if blob is not None and len(blob) == size:
                self._keep(self._entry("range", k, start, size), k, blob)
                added.setdefault(k, []).append((start, size))
        if added:
            self._add_pieces(added)

    def _assemble(
        self, key: str, offset: int, length: int, plan: list[Any], held: dict[Any, memoryview],
        got: dict[tuple[str, int, int], Blob | None],
    ) -> Blob | None:  # fmt: skip
        if len(plan) == 1 and plan[0][0] is None:
            return got[(key, offset, length)]
        buf = bytearray(length)
        for piece, start, size in plan:
            if piece is not None and (key, piece) in held:
                src = held[(key, piece)][start - piece[0] : start - piece[0] + size]
            else:
                src = got[(key, start, size)]
                if src is None:  # the object is gone since its pieces were kept
                    return None
            if len(src) != size:
                return memoryview(buf)[: start - offset + len(src)]  # short: the object ends
            buf[start - offset : start - offset + size] = src
        return memoryview(buf)

    # ------------------------------------------------------------ pieces
    def _piece_lists(self, keys: Iterable[str]) -> dict[str, list[range_pieces.Piece]]:
        """The cached pieces listed for each object of its current version."""
        entries = {k: (k, self._entry("pieces", k)) for k in keys}
        return {k: range_pieces.decode_index(e) for k, e in self._lookup(entries).items()}

    def _pieces(self, wanted: set[tuple[str, range_pieces.Piece]]) -> dict[Any, memoryview]:
        """The fresh cached bytes of each (key, piece), those still held."""
        entries = {(k, p): (k, self._entry("range", k, p[0], p[1])) for k, p in wanted}
        held = {}
        for (k, p), e in self._lookup(entries).items():
            if e.tag != ABSENT and len(e) == p[1]:
                held[(k, p)] = memoryview(e)
        return held

    def _add_pieces(self, added: dict[str, list[range_pieces.Piece]]) -> None:
        with self._index_lock:  # processes may still race: a lost piece is only a miss
            listed = self._piece_lists(added)
            for k, new in added.items():
                tag = self.versions.get(k, "")
                if tag and tag != ABSENT:
                    index = range_pieces.merge_index(listed.get(k, []), new)
                    self.files.put(self._entry("pieces", k), range_pieces.encode_index(index),
                                   tag, True)  # fmt: skip

    def get_ranges_stamped(self, requests: Sequence[tuple[str, int, int]]) -> list[Any]:
        """Not through the cache: the answer must carry the response's Stamp."""
        return self.inner.get_ranges_stamped(requests)

    def get_suffixes(self, requests: Sequence[tuple[str, int]]) -> list[tuple[Blob, int] | None]:
        entries = {i: (k, self._entry("suffix", k, n)) for i, (k, n) in enumerate(requests)}
        hits = self._lookup(entries)
        out: list[tuple[Blob, int] | None] = [None] * len(requests)
        todo = []
        for i in range(len(requests)):
            e = hits.get(i)
            size = _size_of(e.tag) if e is not None else None
            if e is not None and e.tag == ABSENT:
                continue
            if size is None:
                todo.append(i)
            else:
                out[i] = (memoryview(e), size)
        if todo:
            got = self.inner.get_suffixes([requests[i] for i in todo])
            for i, item in zip(todo, got, strict=True):
                out[i] = item
                self._keep(entries[i][1], requests[i][0], None if item is None else item[0])
        return out

    def head_many(self, keys: Sequence[str]) -> list[str | None]:
        return self.inner.head_many(keys)

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        return self.inner.list_prefix(prefix)

    def list_dir(self, prefix: str) -> list[str]:
        return self.inner.list_dir(prefix)


def _size_of(version: str) -> int | None:
    """The object size recorded in a version string ("size:etag")."""
    head = version.split(":", 1)[0]
    return int(head) if head.isdigit() else None
