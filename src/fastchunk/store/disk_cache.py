"""Remote objects on a local disk: the level of the cascade below the
object store. Chunk objects, shard byte ranges and shard-index suffixes that a
RemoteStore fetches are kept in a directory shared by every process of the
node, across restarts, within a byte budget (oldest evicted first). Reads
through it ask for each inner chunk of a shard on its own (RemoteStore.
keeps_ranges), so a chunk's entry is the same whatever batch reads it; the
ranges it lacks are coalesced into requests here.

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

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from fastchunk import _core
from fastchunk.store.engine import ABSENT, IMMUTABLE, Blob, Engine

# Documents fastchunk must always see fresh; everything else is data. An
# Icechunk repository's mutable files are among them: its repo info file and
# its refs (snapshots, manifests and chunks never change under their ids).
METADATA_NAMES = frozenset({".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json",
                            "repo", "ref.json", "ref.json.deleted"})  # fmt: skip
# Ranges of one object asked for together and missing from the cache are
# fetched as one request by the read plans' rule: at most COALESCE_GAP bytes
# between them, up to MAX_REQUEST bytes in all.
COALESCE_GAP = _core.COALESCE_GAP
MAX_REQUEST = _core.MAX_REQUEST


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
            spans = coalesce([requests[i] for i in todo])
            got = self.inner.get_ranges([span for span, _ in spans])
            for (_, parts), blob in zip(spans, got, strict=True):
                for j, (start, size) in parts:
                    i = todo[j]
                    piece = None if blob is None else memoryview(blob)[start : start + size]
                    out[i] = piece
                    if piece is not None and len(piece) == size:
                        self._keep(entries[i][1], requests[i][0], piece)
        return out

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


def coalesce(
    requests: Sequence[tuple[str, int, int]],
) -> list[tuple[tuple[str, int, int], list[tuple[int, tuple[int, int]]]]]:
    """Neighbouring ranges of one object as one request: [(request, [(index
    in `requests`, (start within the request's answer, size))])]."""
    order = sorted(range(len(requests)), key=lambda i: (requests[i][0], requests[i][1]))
    spans: list[tuple[tuple[str, int, int], list[tuple[int, tuple[int, int]]]]] = []
    key, first, end = "", 0, -1
    members: list[tuple[int, int, int]] = []

    def close() -> None:
        if members:
            spans.append(((key, first, end - first),
                          [(j, (o - first, n)) for j, o, n in members]))  # fmt: skip

    for j in order:
        k, o, n = requests[j]
        if (k == key and members and o <= end + COALESCE_GAP
                and max(end, o + n) - first <= MAX_REQUEST):  # fmt: skip
            end = max(end, o + n)
            members.append((j, o, n))
            continue
        close()
        key, first, end, members = k, o, o + n, [(j, o, n)]
    close()
    return spans
