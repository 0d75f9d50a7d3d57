"""What every remote client implements, and the thread-pool base of the
blocking clients (botocore, urllib3).

Every client records the version of each object it sees (size and a strong
validator: version_string) in `versions`, the one table of them a store has
(a client made after a fork starts from a copy of its parent's), answers
`known_versions` from it, and counts its requests by kind in `requests`."""

from __future__ import annotations

import datetime
import email.utils
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, NamedTuple

from fastchunk.store.options import RemoteOptions
from fastchunk.store.protocol import Answer, Request, answer_requests

# A buffer: bytes, or a read-only memoryview of bytes owned by the client.
Blob = Any

# The version recorded for an object the store says does not exist.
ABSENT = "-"


# The mark of an object without a strong validator in a store declared
# immutable (cache_check="never"): its size alone names it.
IMMUTABLE = "immutable"


def _seconds(value: Any) -> float | None:
    """Seconds since the epoch of a datetime or an HTTP date; None otherwise."""
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, str) and value:
        try:
            return email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None
    return None


def strong_validator(etag: Any, modified: Any = None, date: Any = None) -> str | None:
    """What tells one content of an object from any other, or None (RFC 9110
    8.8): a strong ETag (not W/"..."), else a Last-Modified at least one second
    before the response's Date (8.8.2.2: a rewrite within the same second
    keeps the same Last-Modified; without a Date nothing says it cannot)."""
    if etag and not str(etag).startswith("W/"):
        return str(etag)
    last, now = _seconds(modified), _seconds(date)
    if last is not None and now is not None and now - last >= 1:
        mark = modified.isoformat() if isinstance(modified, datetime.datetime) else modified
        return f"modified {mark}"
    return None


def version_string(
    size: Any, etag: Any, modified: Any = None, date: Any = None, immutable: bool = False
) -> str:
    """The version the caches key an object on: its size and a strong
    validator; "" when the server gave none, so that no cache shared with
    other processes keeps it (a same-size rewrite would be served stale),
    unless the store is declared immutable (`immutable`: size alone)."""
    mark = strong_validator(etag, modified, date)
    if mark is None:
        if not immutable:
            return ""
        mark = IMMUTABLE
    return f"{int(size)}:{mark}"


class Stamp(NamedTuple):
    """What the answer to one request said of the object it came from."""

    etag: str | None
    last_modified: float | None  # seconds since the epoch


def stamp_of(etag: Any, modified: Any) -> Stamp:
    """A Stamp from an ETag and a Last-Modified (a datetime, an HTTP date or None)."""
    return Stamp(str(etag) if etag else None, _seconds(modified))


class RequestCounts:
    """Requests a client made, by kind: get (whole object), get_range,
    get_suffix, head, list; and `bytes`, the body bytes they brought.
    Thread-safe."""

    KINDS = ("get", "get_range", "get_suffix", "head", "list")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys((*self.KINDS, "bytes"), 0)

    def add(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._counts[kind] += n

    def received(self, blob: Any) -> None:
        """Counts the bytes of an answer: a buffer, or (buffer, object size)."""
        if isinstance(blob, tuple):
            blob = blob[0]
        if blob is not None:
            self.add("bytes", memoryview(blob).nbytes)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class Engine:
    """One process's client for one store."""

    name = ""

    def __init__(self, inherited: dict[str, str] | None = None) -> None:
        self.versions: dict[str, str] = dict(inherited or {})
        self.requests = RequestCounts()

    def known_versions(self, keys: Sequence[str]) -> list[str]:
        """The version of each object as this client learned it, "" where it
        did not (or learned that the object does not exist)."""
        versions = self.versions
        return [v if (v := versions.get(k)) and v != ABSENT else "" for k in keys]

    def get_many(self, keys: Sequence[str]) -> list[Blob | None]:
        raise NotImplementedError

    def read(self, requests: Sequence[Request]) -> list[Answer | None]:
        """The answer to each request (store/protocol.py), in order; None where
        the object does not exist. Here through get_many, get_ranges and
        get_suffixes, versions from `versions` once they are in; a client
        whose responses say the object's version answers with that instead."""
        def many(keys: list[str]) -> dict[str, Blob | None]:
            unique = list(dict.fromkeys(keys))
            return dict(zip(unique, self.get_many(unique), strict=True))

        return answer_requests(
            requests, many, self.get_ranges, self.get_suffixes, self.known_versions
        )

    def head_many(self, keys: Sequence[str]) -> list[str | None]:
        """The version of each object (None where it does not exist), with
        no body transferred; recorded in `versions` too."""
        raise NotImplementedError

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Blob | None]:
        raise NotImplementedError

    def get_ranges_stamped(
        self, requests: Sequence[tuple[str, int, int]]
    ) -> list[tuple[Blob, Stamp] | None]:
        """get_ranges, each answer with the Stamp of the very response that
        carried it (the condition of a virtual chunk is checked on it)."""
        raise NotImplementedError

    def iter_many(self, keys: Sequence[str]) -> Iterator[tuple[str, Blob | None]]:
        """(key, object) pairs in the order the objects arrive."""
        yield from zip(keys, self.get_many(keys), strict=True)

    def get_suffixes(self, requests: Sequence[tuple[str, int]]) -> list[tuple[Blob, int] | None]:
        raise NotImplementedError

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        raise NotImplementedError

    def list_dir(self, prefix: str) -> list[str]:
        """Names of the immediate children ("folders") under `prefix` ('' or 'a/b/').
        Clients with a delimiter listing override this full listing."""
        names = set()
        for key, _size in self.list_prefix(prefix):
            parts = key[len(prefix) :].split("/")
            if len(parts) > 1:
                names.add(parts[0])
        return sorted(names)


class ThreadedEngine(Engine):
    """Blocking requests in a thread pool; for processes where obstore cannot run."""

    def __init__(self, opts: RemoteOptions, inherited: dict[str, str] | None = None) -> None:
        super().__init__(inherited)
        self.opts = opts
        self.pool = ThreadPoolExecutor(opts.concurrency, thread_name_prefix="fastchunk-remote")
        self._local = threading.local()  # the Stamp of this thread's last response

    def _fetch(self, key: str, rng: tuple[int, int] | None, suffix: int | None) -> Any:
        """One request: the whole object, a range, a suffix (suffix 0: HEAD).
        Returns the bytes (a range or suffix: (bytes, object size)), or None
        when the object does not exist; records its version and counts it."""
        raise NotImplementedError

    def _fetch_counted(self, key: str, rng: tuple[int, int] | None, suffix: int | None) -> Any:
        got = self._fetch(key, rng, suffix)
        self.requests.received(got)
        return got

    def _stamp(self, etag: Any, modified: Any) -> None:
        """Called by _fetch with what the response said of its object."""
        self._local.stamp = stamp_of(etag, modified)

    def get_ranges_stamped(
        self, requests: Sequence[tuple[str, int, int]]
    ) -> list[tuple[Blob, Stamp] | None]:
        def one(req: tuple[str, int, int]) -> tuple[Blob, Stamp] | None:
            key, offset, length = req
            self._local.stamp = Stamp(None, None)
            got = self._fetch_counted(key, (offset, length), None)
            return None if got is None else (got[0], self._local.stamp)

        return self._map(one, requests)

    def _count(self, rng: tuple[int, int] | None, suffix: int | None) -> None:
        kind = "head" if suffix == 0 else "get_range" if rng else "get_suffix" if suffix else "get"
        self.requests.add(kind)

    def head_many(self, keys: Sequence[str]) -> list[str | None]:
        got = self._map(lambda k: self._fetch_counted(k, None, 0), keys)
        return [None if g is None else self.versions.get(k) for k, g in zip(keys, got, strict=True)]

    def _map(self, fn: Any, items: Sequence[Any]) -> list[Any]:
        if len(items) == 1:
            return [fn(items[0])]
        return list(self.pool.map(fn, items))

    def get_many(self, keys: Sequence[str]) -> list[Blob | None]:
        return self._map(lambda k: self._fetch_counted(k, None, None), keys)

    def iter_many(self, keys: Sequence[str]) -> Iterator[tuple[str, Blob | None]]:
        futures = {self.pool.submit(self._fetch_counted, k, None, None): k for k in keys}
        try:
            for done in as_completed(futures):
                yield futures[done], done.result()
        finally:
            for f in futures:
                f.cancel()

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Blob | None]:
        def one(req: tuple[str, int, int]) -> Blob | None:
            key, offset, length = req
            if length == 0:
                return b"" if self._fetch_counted(key, None, 0) is not None else None
            got = self._fetch_counted(key, (offset, length), None)
            return None if got is None else got[0]

        return self._map(one, requests)

    def get_suffixes(self, requests: Sequence[tuple[str, int]]) -> list[tuple[Blob, int] | None]:
        return self._map(lambda r: self._fetch_counted(r[0], None, r[1]), requests)


def total_size(content_range: str | None, fallback: int) -> int:
    """The object size from a `Content-Range: bytes a-b/size` header."""
    if content_range and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1].strip()
        if tail.isdigit():
            return int(tail)
    return fallback


def urllib3_pool(opts: RemoteOptions) -> Any:
    """A urllib3 connection pool for the blocking HTTP clients: `concurrency`
    connections, the store's timeouts, and retries with backoff on the
    statuses object stores answer when busy."""
    import urllib3

    retries = urllib3.Retry(
        total=opts.max_retries,
        backoff_factor=0.1,
        backoff_max=5,
        status_forcelist=(408, 429, 500, 502, 503, 504),
        allowed_methods=("GET", "HEAD"),
        raise_on_status=False,
    )
    return urllib3.PoolManager(
        maxsize=opts.concurrency,
        retries=retries,
        timeout=urllib3.Timeout(connect=opts.connect_timeout, read=opts.read_timeout),
        cert_reqs="CERT_NONE" if opts.allow_invalid_certificates else "CERT_REQUIRED",
    )
