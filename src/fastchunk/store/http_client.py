"""The urllib3 client: plain HTTP(S) GETs for public stores, in processes
where obstore cannot run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastchunk.errors import FastchunkError
from fastchunk.store.engine import ABSENT, ThreadedEngine, total_size, urllib3_pool, version_string
from fastchunk.store.options import RemoteOptions, access_error, request_error


class UrllibEngine(ThreadedEngine):
    """Plain HTTP(S) GETs with urllib3, for public stores in forked workers."""

    name = "urllib3"

    def __init__(self, opts: RemoteOptions, inherited: dict[str, str] | None = None) -> None:
        super().__init__(opts, inherited)
        self.http = urllib3_pool(opts)

    def _fetch(self, key: str, rng: tuple[int, int] | None, suffix: int | None) -> Any:
        import urllib3

        url = self.opts.url_of(key)
        headers = {}
        if rng is not None:
            headers["Range"] = f"bytes={rng[0]}-{rng[0] + rng[1] - 1}"
        elif suffix:
            headers["Range"] = f"bytes=-{suffix}"
        method = "HEAD" if suffix == 0 else "GET"
        self._count(rng, suffix)
        try:
            resp = self.http.request(method, url, headers=headers)
        except urllib3.exceptions.HTTPError as e:
            raise request_error(self.opts, key, e) from None
        if resp.status == 404:
            self.versions[key] = ABSENT
            return None
        if resp.status in (401, 403):
            raise access_error(self.opts, key, RuntimeError(f"{resp.status} Forbidden"))
        if resp.status >= 300:
            raise request_error(self.opts, key, RuntimeError(f"{resp.status} {resp.reason}"))
        data = resp.data
        if suffix == 0:
            total = int(resp.headers.get("Content-Length", 0))
        else:
            total = total_size(resp.headers.get("Content-Range"), len(data))
        etag, modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
        self.versions[key] = version_string(total, etag, modified, resp.headers.get("Date"),
                                            self.opts.immutable)
        self._stamp(etag, modified)
        if suffix == 0:
            return b"", total
        if rng is not None or suffix is not None:
            return data, total
        return data

    def list_dir(self, prefix: str) -> list[str]:
        return list(self.list_prefix(prefix))  # raises: no listing over plain HTTP

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        raise FastchunkError(
            f"cannot list {self.opts.location}: plain HTTP stores have no listing; "
            f"use consolidated metadata"
        )
