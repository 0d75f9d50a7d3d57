"""What every remote client implements, and the thread-pool base of the
blocking clients (botocore, urllib3)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from fastchunk.store.options import RemoteOptions

# A buffer: bytes, or a read-only memoryview of bytes owned by the client.
Blob = Any


class Engine:
    """One process's client for one store."""

    name = ""

    def get_many(self, keys: Sequence[str]) -> list[Blob | None]:
        raise NotImplementedError

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Blob | None]:
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

    def __init__(self, opts: RemoteOptions) -> None:
        self.opts = opts
        self.pool = ThreadPoolExecutor(opts.concurrency, thread_name_prefix="fastchunk-remote")

    def _fetch(self, key: str, rng: tuple[int, int] | None, suffix: int | None) -> Any:
        raise NotImplementedError

    def _map(self, fn: Any, items: Sequence[Any]) -> list[Any]:
        if len(items) == 1:
            return [fn(items[0])]
        return list(self.pool.map(fn, items))

    def get_many(self, keys: Sequence[str]) -> list[Blob | None]:
        return self._map(lambda k: self._fetch(k, None, None), keys)

    def iter_many(self, keys: Sequence[str]) -> Iterator[tuple[str, Blob | None]]:
        futures = {self.pool.submit(self._fetch, k, None, None): k for k in keys}
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
                return b"" if self._fetch(key, None, 0) is not None else None
            got = self._fetch(key, (offset, length), None)
            return None if got is None else got[0]

        return self._map(one, requests)

    def get_suffixes(self, requests: Sequence[tuple[str, int]]) -> list[tuple[Blob, int] | None]:
        return self._map(lambda r: self._fetch(r[0], None, r[1]), requests)


def total_size(content_range: str | None, fallback: int) -> int:
    """The object size from a `Content-Range: bytes a-b/size` header."""
    if content_range and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1].strip()
        if tail.isdigit():
            return int(tail)
    return fallback
