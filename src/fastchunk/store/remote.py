"""Object stores: s3:// buckets (AWS, Ceph, MinIO, SeaweedFS, ...), gs://
buckets (Google Cloud Storage) and public http(s):// stores.

Requests go through the direct client by default (store/direct_client.py:
http.client, bodies received into the core's pooled buffers, fork-safe), or
through obstore (Rust, concurrent, retries with backoff), driven by one
asyncio event loop in a private thread per process, where the direct client
does not apply or the options ask for it. obstore's tokio runtime does not
survive fork(): in a process forked from one where that runtime was running
(a DataLoader worker whose parent already read from S3), every obstore call
hangs, whatever client it uses. Such processes read through botocore (S3),
google-auth + urllib3 (GCS) or urllib3 (plain HTTP) in a thread pool
instead. Everything is rebuilt lazily per process id, and a RemoteStore
pickles as its URL and options, so it works under fork, spawn and
forkserver.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from fastchunk.store.engine import Blob, Engine
from fastchunk.store.fetch_ahead import MISS, AheadBuffer
from fastchunk.store.options import RemoteOptions, RemoteStoreError
from fastchunk.store.protocol import SUFFIX, WHOLE, Answer, Request, StoreBase


def make_engine(opts: RemoteOptions, inherited: dict[str, str] | None = None) -> Engine:
    """This process's client (opts.client): by default the direct client
    for S3 and public http(s) stores, obstore for GCS where it can run, else
    a blocking one; behind the disk cache when the options name one. `inherited`: the
    versions a client of the parent process learned (copied)."""
    from fastchunk.store.direct_client import DirectEngine, direct_applies
    from fastchunk.store.obstore_client import ObstoreEngine, obstore_usable

    engine: Engine
    # obstore reads GCS through the XML API only: an emulator named by
    # STORAGE_EMULATOR_HOST is read through the JSON API (gcs_client).
    json_api = opts.scheme == "gs" and opts.gcs is not None and opts.gcs.json_api
    client = opts.client
    if client == "direct" and not direct_applies(opts):
        raise ValueError(f"client='direct' reads S3 (with botocore installed) and public "
                         f"http(s) stores, not {opts.location}")
    if client in ("auto", "direct") and direct_applies(opts):
        engine = DirectEngine(opts, inherited)
    elif obstore_usable() and not json_api and client != "botocore":
        engine = ObstoreEngine(opts, inherited)
    elif opts.scheme == "s3":
        from fastchunk.store.boto_client import BotoEngine

        engine = BotoEngine(opts, inherited)
    elif opts.scheme == "gs":
        from fastchunk.store.gcs_client import GCSEngine

        engine = GCSEngine(opts, inherited)
    else:
        from fastchunk.store.http_client import UrllibEngine

        engine = UrllibEngine(opts, inherited)
    if opts.cache_dir:
        from fastchunk.store.disk_cache import DiskCachedEngine, open_disk_cache

        files = open_disk_cache(opts.cache_dir, opts.cache_size)
        engine = DiskCachedEngine(engine, files, opts.store_id, opts.cache_check)
    return engine

__all__ = ["RemoteStore", "RemoteStoreError"]


class _Flight:
    """One request in flight that other threads wait for."""

    __slots__ = ("_done", "_answer", "_error")

    def __init__(self) -> None:
        self._done = threading.Event()
        self._answer: Any = None
        self._error: BaseException | None = None

    def land(self, answer: Any) -> None:
        self._answer = answer
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    def result(self) -> Any:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._answer


class RemoteStore(StoreBase):
    """A zarr store in an S3 or GCS bucket or behind a public http(s):// URL.
    Never written to.

    storage_options for s3:// (the s3fs names): endpoint_url, region, key,
    secret, token, anon, profile, client_kwargs, virtual_hosted_style; for
    gs:// (the gcsfs names, see gcs_options): token, project, endpoint_url;
    for all: client ("auto", "direct", "obstore", "botocore"; or
    FASTCHUNK_REMOTE_CLIENT), concurrency (requests in flight,
    default 32, or FASTCHUNK_S3_CONCURRENCY), max_retries, retry_timeout,
    connect_timeout, read_timeout (seconds), allow_invalid_certificates;
    cache_dir, cache_size and cache_check keep fetched objects on a local
    disk (store/disk_cache.py). Without credentials, each cloud's environment
    is used: for S3 the AWS variables, web identity, instance metadata and
    profiles; for GCS STORAGE_EMULATOR_HOST and Application Default Credentials."""

    local_root: str | None = None

    def __init__(self, location: str, storage_options: dict[str, Any] | None = None) -> None:
        self._location = location
        self._storage_options = dict(storage_options or {})
        self._opts = RemoteOptions(location, self._storage_options)
        self.name = self._opts.location
        self.store_id = self._opts.store_id
        # The client owns the versions (size:ETag) of the objects it has seen;
        # a client made in a forked child starts from its parent's.
        self._engine_obj: Engine | None = None
        self._engine_pid = -1
        self._ahead: AheadBuffer | None = None  # answers fetched ahead (fetch_ahead.py)
        self._ahead_pid = -1
        self._suffixes_in_flight: dict[tuple[str, int], _Flight] = {}
        self._flights_pid = os.getpid()
        self._lock = threading.Lock()

    # Pickled as URL + options: each process builds its own client.
    def __getstate__(self) -> dict[str, Any]:
        return {"location": self._location, "storage_options": self._storage_options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["location"], state["storage_options"])  # type: ignore[misc]

    @property
    def concurrency(self) -> int:
        return self._opts.concurrency

    @property
    def backend(self) -> str:
        """Which client this process uses: 'direct', 'obstore', or in a
        process forked from one running obstore 'botocore' (S3),
        'google-auth+urllib3' (GCS) or 'urllib3' (HTTP)."""
        return self._engine().name

    def _engine(self) -> Engine:
        pid = os.getpid()
        if self._engine_obj is not None and self._engine_pid == pid:
            return self._engine_obj
        with self._lock:
            if self._engine_obj is None or self._engine_pid != pid:
                # A client inherited through fork is dropped, never used or closed.
                inherited = self._engine_obj.versions if self._engine_obj else None
                self._engine_obj = make_engine(self._opts, inherited)
                self._engine_pid = pid
            return self._engine_obj

    def ahead_buffer(self) -> AheadBuffer:
        """This process's answers fetched ahead for reads to come
        (fastchunk.store.fetch_ahead); the Store methods below look there
        first."""
        pid = os.getpid()
        with self._lock:
            if self._ahead is None or self._ahead_pid != pid:
                self._ahead = AheadBuffer()
                self._ahead_pid = pid
            return self._ahead

    def _fetched_ahead(self) -> AheadBuffer | None:
        ahead = self._ahead
        return ahead if ahead and self._ahead_pid == os.getpid() else None

    def fetch_direct(self, requests: Sequence[tuple[str, int, int | None]]) -> list[Blob | None]:
        """Whole objects (key, 0, None) and ranges (key, offset, length) from
        the server (or the disk cache), concurrently, never from what was
        fetched ahead; None where the object does not exist."""
        whole = [i for i, (_, _, n) in enumerate(requests) if n is None]
        ranges = [i for i, (_, _, n) in enumerate(requests) if n is not None]
        out: list[Blob | None] = [None] * len(requests)
        engine = self._engine()
        if whole:
            for i, blob in zip(whole, engine.get_many([requests[i][0] for i in whole]),
                               strict=True):  # fmt: skip
                out[i] = blob
        if ranges:
            got = engine.get_ranges([requests[i] for i in ranges])  # type: ignore[misc]
            for i, blob in zip(ranges, got, strict=True):
                out[i] = blob
        return out

    def known_versions(self, keys: Sequence[str]) -> list[str]:
        """The version (size:ETag) of each object as this process last
        learned it, "" where it did not; the caches key on them. Read from
        the client (a forked child's inherited one until it makes its own)."""
        engine = self._engine_obj
        return engine.known_versions(keys) if engine is not None else [""] * len(keys)

    def explain_missing(self, keys: list[str]) -> Exception | None:
        """Why an open found none of `keys` when it is not that the store has
        nothing there (gs://: a missing bucket, or an endpoint whose XML API
        answers 404 for objects its JSON API holds); None otherwise."""
        if self._opts.scheme != "gs":
            return None
        engine = self._engine()
        if not hasattr(engine, "explain_missing"):
            from fastchunk.store.gcs_client import GCSEngine

            try:
                engine = GCSEngine(self._opts)
            except ImportError:  # google-auth missing for these credentials: no second look
                return None
        return engine.explain_missing(keys)

    def request_counts(self) -> dict[str, int]:
        """Requests this process made to the store, by kind (get, get_range,
        get_suffix, head, list), and `bytes`: the body bytes they brought."""
        return self._engine().requests.snapshot()

    @property
    def keeps_ranges(self) -> bool:
        """Whether a disk cache keeps the byte ranges read: then each inner
        chunk of a shard is asked for on its own (the cache coalesces what
        it lacks), so that its entry is the same whatever the batch."""
        return bool(self._opts.cache_dir)

    @property
    def disk_cache(self) -> Any:
        """The disk cache (a fastchunk._core.FileCache) or None."""
        return getattr(self._engine(), "files", None)

    # ------------------------------------------------------------ Store protocol
    def get(self, key: str) -> bytes | None:
        got = self._engine().get_many([key])[0]
        return None if got is None else bytes(got)

    def get_many(self, keys: Iterable[str]) -> dict[str, Blob | None]:
        """Every key fetched concurrently; a missing object reads as None."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        found: dict[str, Blob | None] = {}
        ahead = self._fetched_ahead()
        if ahead is not None:
            for key in unique:
                got = ahead.find(key, 0, None)
                if got is not MISS:
                    found[key] = got
            unique = [k for k in unique if k not in found]
        if unique:
            found.update(zip(unique, self._engine().get_many(unique), strict=True))
        return found

    def iter_many(self, keys: Iterable[str]) -> Iterator[tuple[str, Blob | None]]:
        """Every key fetched concurrently, yielded as (key, object) in the order
        the objects arrive, so that decoding can start before the last one."""
        unique = list(dict.fromkeys(keys))
        ahead = self._fetched_ahead()
        if ahead is not None:
            rest = []
            for key in unique:
                got = ahead.find(key, 0, None)
                if got is MISS:
                    rest.append(key)
                else:
                    yield key, got
            unique = rest
        if unique:
            yield from self._engine().iter_many(unique)

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Blob | None]:
        """Bytes [offset, offset + length) of each (key, offset, length), all
        fetched concurrently; None where the object does not exist."""
        if not requests:
            return []
        ahead = self._fetched_ahead()
        if ahead is None:
            return self._engine().get_ranges(list(requests))
        out: list[Blob | None] = [None] * len(requests)
        rest = []
        for i, (key, offset, length) in enumerate(requests):
            got = ahead.find(key, offset, length)
            if got is MISS:
                rest.append(i)
            else:
                out[i] = got
        if rest:
            got_rest = self._engine().get_ranges([requests[i] for i in rest])
            for i, blob in zip(rest, got_rest, strict=True):
                out[i] = blob
        return out

    def get_ranges_stamped(self, requests: Sequence[tuple[str, int, int]]) -> list[Any]:
        """get_ranges, each answer (bytes, Stamp): the ETag and Last-Modified
        of the response that carried it; None where the object does not exist."""
        if not requests:
            return []
        return self._engine().get_ranges_stamped(list(requests))

    def get_suffixes(self, requests: Sequence[tuple[str, int]]) -> list[tuple[Blob, int] | None]:
        """(last `length` bytes, object size) of each (key, length), concurrently;
        None where the object does not exist. length 0 asks for the size only."""
        if not requests:
            return []
        # One request for a suffix asked by several threads at once (the
        # shard index of a shard that reads fetched ahead all need).
        mine: list[tuple[str, int]] = []
        flights: list[_Flight] = []
        with self._lock:
            if self._flights_pid != os.getpid():  # a forked child waits for none of its parent's
                self._suffixes_in_flight = {}
                self._flights_pid = os.getpid()
            for r in requests:
                flight = self._suffixes_in_flight.get(r)
                if flight is None:
                    flight = self._suffixes_in_flight[r] = _Flight()
                    mine.append(r)
                flights.append(flight)
        if mine:
            try:
                got = self._engine().get_suffixes(mine)
                for r, answer in zip(mine, got, strict=True):
                    self._suffixes_in_flight[r].land(answer)
            except BaseException as exc:
                for r in mine:
                    self._suffixes_in_flight[r].fail(exc)
                raise
            finally:
                with self._lock:
                    for r in mine:
                        self._suffixes_in_flight.pop(r, None)
        return [flight.result() for flight in flights]

    def read(self, requests: Sequence[Request]) -> list[Answer | None]:
        """The answer to each request: from what was fetched ahead where it
        covers it, suffixes (shard indexes) once for threads asking at once,
        the rest through the client, whose answers carry the version of the
        response that brought them."""
        requests = [Request(*r) for r in requests]
        out: list[Answer | None] = [None] * len(requests)
        suffixes = [i for i, r in enumerate(requests) if r.kind == SUFFIX]
        if suffixes:  # first: they bring the versions a disk cache needs for ranges
            tails = self.get_suffixes([(requests[i].key, requests[i].length or 0)
                                       for i in suffixes])  # fmt: skip
            versions = self.known_versions([requests[i].key for i in suffixes])
            for i, tail, version in zip(suffixes, tails, versions, strict=True):
                out[i] = None if tail is None else Answer(tail[0], tail[1], version)
        direct = []
        ahead = self._fetched_ahead()
        for i, r in enumerate(requests):
            if r.kind == SUFFIX:
                continue
            got = MISS if ahead is None else ahead.find(r.key, r.offset or 0, r.length)
            if got is MISS:
                direct.append(i)
            elif got is not None:
                size = memoryview(got).nbytes if r.kind == WHOLE else None
                out[i] = Answer(got, size, self.known_versions([r.key])[0])
        if direct:
            answers = self._engine().read([requests[i] for i in direct])
            for i, answer in zip(direct, answers, strict=True):
                out[i] = answer
        return out

    def get_suffix(self, key: str, length: int) -> tuple[Blob, int] | None:
        return self.get_suffixes([(key, length)])[0]

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every object under `prefix` ('' for all)."""
        return self._engine().list_prefix(prefix)

    def list_dir(self, prefix: str) -> list[str]:
        """Names of the immediate children ("folders") under `prefix` ('' or 'a/b/')."""
        return self._engine().list_dir(prefix)

    def __repr__(self) -> str:
        return f"RemoteStore({self._opts.where!r})"
