"""The storage vocabulary: which bytes of an object a read asks for
(Request), what comes back (Answer: the bytes, the object's size and its
version), and the Store protocol, complete, with StoreBase's defaults: the
rest of fastchunk calls these methods and nothing else.

An object's version is one notion throughout: a string that changes whenever
the object is rewritten, "" where the store cannot tell (local files: size,
modification time and inode, taken by the core itself; object stores: size
and a strong validator, store/engine.py's version_string). Every Answer
carries the version of the object it was read from; a store also reports the
versions it learned before (known_versions), under which read plans look up
cached shard indexes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

# A buffer: bytes, or a read-only memoryview of bytes the store owns.
Blob = Any

WHOLE, RANGE, SUFFIX = "whole", "range", "suffix"


class Request(NamedTuple):
    """The bytes of object `key` a read asks for, of one of three kinds
    (csrc/io/byte_source.h's ByteRange): the whole object (key, 0, None), a
    range of `length` bytes from `offset` (key, offset, length), or the last
    `length` bytes with the object's size (key, None, length; length 0: the
    size alone). Make them with whole(), range_of() and suffix()."""

    key: str
    offset: int | None = 0
    length: int | None = None

    @classmethod
    def whole(cls, key: str) -> Request:
        return cls(key, 0, None)

    @classmethod
    def range_of(cls, key: str, offset: int, length: int) -> Request:
        if offset < 0 or length < 0:
            raise ValueError(f"bad request for {key!r}: offset {offset}, length {length}")
        return cls(key, offset, length)

    @classmethod
    def suffix(cls, key: str, length: int) -> Request:
        if length < 0:
            raise ValueError(f"bad request for {key!r}: the last {length} bytes")
        return cls(key, None, length)

    @property
    def kind(self) -> str:
        """WHOLE, RANGE or SUFFIX; ValueError for a tuple that is none of them."""
        if self.offset is None:
            if self.length is None or self.length < 0:
                raise ValueError(f"bad request {tuple(self)!r}")
            return SUFFIX
        if self.length is None:
            if self.offset != 0:
                raise ValueError(f"bad request {tuple(self)!r}")
            return WHOLE
        if self.offset < 0 or self.length < 0:
            raise ValueError(f"bad request {tuple(self)!r}")
        return RANGE

    def cut(self, blob: Blob, version: str = "") -> Answer:
        """The answer to this request from the whole object `blob`."""
        view = memoryview(blob).cast("B")
        kind = self.kind
        if kind == RANGE:
            assert self.offset is not None and self.length is not None
            data = view[self.offset : self.offset + self.length]
        elif kind == SUFFIX:
            assert self.length is not None
            data = view[max(0, len(view) - self.length) :]
        else:
            data = blob
        return Answer(data, len(view), version)


class Answer(NamedTuple):
    """What came back for a Request: the bytes asked for, the whole object's
    size (None where the response did not say; required for suffixes) and
    the version of the object they were read from ("" where unknown)."""

    data: Blob
    size: int | None = None
    version: str = ""


@runtime_checkable
class Store(Protocol):
    """What the rest of fastchunk needs from a store. StoreBase gives the
    defaults for a store that only fetches whole objects; open_store wraps an
    object that has no more than get/get_many/list_* (as_store)."""

    name: str  # for messages
    store_id: str  # names the store precisely (scheme, endpoint, bucket or root): cache keys
    local_root: str | None  # a directory the C++ core may read itself, or None
    concurrency: int  # requests worth having in flight at once

    def get(self, key: str) -> bytes | None: ...

    def get_many(self, keys: Iterable[str]) -> dict[str, Blob | None]:
        """Every object (None where it does not exist)."""
        ...

    def iter_many(self, keys: Iterable[str]) -> Iterator[tuple[str, Blob | None]]:
        """get_many as (key, object) pairs, in the order the objects arrive."""
        ...

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Blob | None]:
        """Bytes [offset, offset + length) of each (key, offset, length)."""
        ...

    def get_suffixes(self, requests: Sequence[tuple[str, int]]) -> list[tuple[Blob, int] | None]:
        """(last `length` bytes, object size) of each (key, length)."""
        ...

    def read(self, requests: Sequence[Request]) -> list[Answer | None]:
        """The answer to each request, in order; None where the object does
        not exist."""
        ...

    def known_versions(self, keys: Sequence[str]) -> list[str]:
        """The versions this process last learned for `keys` ("" unknown)."""
        ...

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every object under `prefix` ('' for all)."""
        ...

    def list_dir(self, prefix: str) -> list[str]:
        """Names of the immediate children under `prefix` ('' or 'a/b/')."""
        ...


class StoreBase:
    """The Store protocol's defaults, for stores that fetch whole objects
    (get_many): ranges and suffixes are cut from them, objects arrive in
    order, no version is known. Object stores override what they do better."""

    concurrency = 32

    def get_many(self, keys: Iterable[str]) -> dict[str, Blob | None]:
        raise NotImplementedError

    def iter_many(self, keys: Iterable[str]) -> Iterator[tuple[str, Blob | None]]:
        yield from self.get_many(keys).items()

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Blob | None]:
        objects = self.get_many(dict.fromkeys(k for k, _, _ in requests))
        out: list[Blob | None] = []
        for key, offset, length in requests:
            blob = objects.get(key)
            cut = None if blob is None else Request.range_of(key, offset, length).cut(blob)
            out.append(None if cut is None else cut.data)
        return out

    def get_suffixes(self, requests: Sequence[tuple[str, int]]) -> list[tuple[Blob, int] | None]:
        objects = self.get_many(dict.fromkeys(k for k, _ in requests))
        out: list[tuple[Blob, int] | None] = []
        for key, length in requests:
            blob = objects.get(key)
            if blob is None:
                out.append(None)
                continue
            answer = Request.suffix(key, length).cut(blob)
            out.append((answer.data, answer.size or 0))
        return out

    def known_versions(self, keys: Sequence[str]) -> list[str]:
        return [""] * len(keys)

    def read(self, requests: Sequence[Request]) -> list[Answer | None]:
        """Whole objects through get_many, ranges through get_ranges, suffixes
        through get_suffixes; each answer with the version the store knows
        once it has them."""
        return answer_requests(requests, self.get_many, self.get_ranges, self.get_suffixes,
                               self.known_versions)


def answer_requests(
    requests: Sequence[Request],
    get_many: Callable[[list[str]], dict[str, Blob | None]],
    get_ranges: Callable[[list[tuple[str, int, int]]], list[Blob | None]],
    get_suffixes: Callable[[list[tuple[str, int]]], list[tuple[Blob, int] | None]],
    known_versions: Callable[[list[str]], list[str]],
) -> list[Answer | None]:
    """The answers to `requests` through a store's whole-object, range and
    suffix reads (suffixes first: they bring the objects' versions, which a
    disk cache needs for the ranges), each with the version known after."""
    out: list[Answer | None] = [None] * len(requests)
    by_kind: dict[str, list[int]] = {WHOLE: [], RANGE: [], SUFFIX: []}
    for i, r in enumerate(requests):
        by_kind[Request(*r).kind].append(i)
    whole, ranges, suffixes = by_kind[WHOLE], by_kind[RANGE], by_kind[SUFFIX]
    got: dict[int, Any] = {}
    if suffixes:
        tails = get_suffixes([(requests[i][0], requests[i][2]) for i in suffixes])  # type: ignore[misc]
        for i, tail in zip(suffixes, tails, strict=True):
            got[i] = tail
    if whole:
        objects = get_many([requests[i][0] for i in whole])
        for i in whole:
            blob = objects.get(requests[i][0])
            got[i] = None if blob is None else (blob, memoryview(blob).nbytes)
    if ranges:
        blobs = get_ranges([tuple(requests[i]) for i in ranges])  # type: ignore[misc]
        for i, blob in zip(ranges, blobs, strict=True):
            got[i] = None if blob is None else (blob, None)
    present = [i for i, g in got.items() if g is not None]
    versions = known_versions([requests[i][0] for i in present])
    for i, version in zip(present, versions, strict=True):
        data, size = got[i]
        out[i] = Answer(data, size, version or "")
    return out


class _Adapted(StoreBase):
    """A store object that has only part of the protocol, completed by
    StoreBase's defaults."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.name = str(getattr(store, "name", repr(store)))
        self.local_root = getattr(store, "local_root", None)
        # None: caches key the store's arrays on a number never reused.
        self.store_id = getattr(store, "store_id", None)
        self.concurrency = int(getattr(store, "concurrency", StoreBase.concurrency))

    def __getattr__(self, name: str) -> Any:
        if name == "_store":  # not set yet (unpickling)
            raise AttributeError(name)
        return getattr(self._store, name)

    def get(self, key: str) -> bytes | None:
        return self._store.get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, Blob | None]:
        many = getattr(self._store, "get_many", None)
        if many is not None:
            return many(keys)
        return {k: self._store.get(k) for k in keys}

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        return self._store.list_prefix(prefix)

    def list_dir(self, prefix: str) -> list[str]:
        return self._store.list_dir(prefix)


_PROTOCOL = ("get", "get_many", "iter_many", "get_ranges", "get_suffixes", "read",
             "known_versions", "list_prefix", "list_dir")


def as_store(obj: Any) -> Any:
    """`obj` itself when it speaks the whole Store protocol, else `obj`
    completed by StoreBase's defaults."""
    if all(callable(getattr(obj, m, None)) for m in _PROTOCOL) and hasattr(obj, "concurrency"):
        return obj
    return _Adapted(obj)
