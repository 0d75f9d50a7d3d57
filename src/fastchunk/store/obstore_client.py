"""The obstore client (Rust, async, concurrent), driven by one asyncio event
loop in a private thread per process.

obstore's tokio runtime does not survive fork(): in a process forked from one
where that runtime was running (a DataLoader worker whose parent already read
from S3), every obstore call hangs, whatever client it uses. obstore_usable()
tells; such processes use a blocking client instead.
"""

from __future__ import annotations

import asyncio
import glob
import os
import queue
import threading
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from fastchunk.errors import FastchunkError
from fastchunk.store.engine import ABSENT, Blob, Engine, Stamp, stamp_of, version_string
from fastchunk.store.options import (
    RemoteOptions,
    access_error,
    credentials_missing,
    missing_bucket,
    missing_credentials,
    request_error,
)
from fastchunk.store.protocol import RANGE, WHOLE, Answer, Request

# ---------------------------------------------------------------- fork state
# Whether this process has started obstore's runtime, as far as it can tell:
# set before fastchunk's first obstore call; on Linux, tokio threads started
# by anyone else count too. A child forked from such a process inherits
# "poisoned" through the at-fork handlers, on every platform.
_runtime_started = False
_tokio_poisoned = False  # this process was forked after obstore's runtime ran
_poisoned_for_child = False


def _tokio_threads_running() -> bool:
    """Whether /proc (Linux) shows tokio runtime threads in this process;
    False where there is no /proc."""
    for path in glob.glob("/proc/self/task/*/comm"):
        try:
            with open(path) as f:
                if f.read().startswith("tokio"):
                    return True
        except OSError:
            continue
    return False


def _before_fork() -> None:
    global _poisoned_for_child
    _poisoned_for_child = _tokio_poisoned or _runtime_started or _tokio_threads_running()


def _after_fork_in_child() -> None:
    global _tokio_poisoned, _runtime_started
    _tokio_poisoned = _poisoned_for_child
    _runtime_started = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def obstore_usable() -> bool:
    """False in a process forked from one running obstore's tokio runtime."""
    return not _tokio_poisoned


def _note_runtime_started() -> None:
    global _runtime_started
    _runtime_started = True


class _LoopThread:
    """An asyncio loop running in a daemon thread of this process."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="fastchunk-remote", daemon=True
        )
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


_loop: _LoopThread | None = None
_loop_pid = -1
_loop_lock = threading.Lock()


def _event_loop() -> _LoopThread:
    global _loop, _loop_pid
    with _loop_lock:
        if _loop is None or _loop_pid != os.getpid():
            _loop = _LoopThread()
            _loop_pid = os.getpid()
        return _loop


class ObstoreEngine(Engine):
    name = "obstore"

    def __init__(self, opts: RemoteOptions, inherited: dict[str, str] | None = None) -> None:
        super().__init__(inherited)
        import obstore
        from obstore.exceptions import NotFoundError, PermissionDeniedError, UnauthenticatedError

        self._obs = obstore
        self._not_found = (NotFoundError, FileNotFoundError)
        self._denied = (PermissionDeniedError, UnauthenticatedError)
        self.opts = opts
        _note_runtime_started()
        self.store = self._make_store(opts)
        self.loop = _event_loop()

    @staticmethod
    def _make_store(opts: RemoteOptions) -> Any:
        from obstore.store import GCSStore, HTTPStore, S3Store

        client: dict[str, Any] = {
            "connect_timeout": timedelta(seconds=opts.connect_timeout),
            "read_timeout": timedelta(seconds=opts.read_timeout),
            "pool_max_idle_per_host": str(max(opts.concurrency, 8)),
        }
        if opts.allow_invalid_certificates:
            client["allow_invalid_certificates"] = True
        retry: dict[str, Any] = {
            "max_retries": opts.max_retries,
            "retry_timeout": timedelta(seconds=opts.retry_timeout),
            "backoff": {
                "init_backoff": timedelta(milliseconds=100),
                "max_backoff": timedelta(seconds=5),
                "base": 2,
            },
        }
        if opts.gcs is not None:
            if opts.gcs.endpoint.startswith("http://"):
                client["allow_http"] = True
            return GCSStore(
                opts.bucket,
                prefix=opts.prefix or None,
                config=_gcs_config(opts),
                client_options=client,
                retry_config=retry,
            )
        if opts.scheme != "s3":
            if opts.location.startswith("http://"):
                client["allow_http"] = True
            return HTTPStore(opts.location, client_options=client, retry_config=retry)
        config: dict[str, Any] = {}
        if opts.endpoint:
            config["endpoint"] = opts.endpoint
            if opts.endpoint.startswith("http://"):
                client["allow_http"] = True
        if opts.virtual_hosted_style:
            config["virtual_hosted_style_request"] = True
        if opts.anon:
            config["skip_signature"] = True
        key, secret, token, region = opts.key, opts.secret, opts.token, opts.region
        if key is None and not opts.anon:
            found = opts.profile_credentials()
            if found is not None:
                key, secret, token, profile_region = found
                region = region or profile_region
        if key is not None:
            config["access_key_id"] = key
            config["secret_access_key"] = secret
            if token:
                config["session_token"] = token
        if region:
            config["region"] = region
        return S3Store(
            opts.bucket,
            prefix=opts.prefix or None,
            config=config,
            client_options=client,
            retry_config=retry,
        )

    def _fail(self, key: str, exc: BaseException) -> BaseException:
        if isinstance(exc, self._denied):
            return access_error(self.opts, key, exc)
        if credentials_missing(self.opts, exc):
            return missing_credentials(self.opts, key, exc)
        if isinstance(exc, self._not_found):
            return missing_bucket(self.opts)
        return request_error(self.opts, key, exc)

    def _missing(self, exc: BaseException) -> bool:
        """A 404 for the object (a missing chunk), not for the bucket."""
        return isinstance(exc, self._not_found) and "NoSuchBucket" not in str(exc)

    async def _gather(self, make: Any, items: Sequence[Any]) -> list[Any]:
        sem = asyncio.Semaphore(self.opts.concurrency)

        async def one(item: Any) -> Any:
            async with sem:
                return await make(item)

        tasks = [asyncio.ensure_future(one(it)) for it in items]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for t in tasks:
                t.cancel()
            raise

    def _note(self, key: str, meta: Any) -> str:
        # obstore gives no Date: a Last-Modified alone is never a strong validator.
        version = version_string(meta["size"], meta.get("e_tag"), meta.get("last_modified"),
                                 None, self.opts.immutable)
        self.versions[key] = version
        return version

    async def _answer(self, request: Request) -> Answer | None:
        """One request, answered with the version of the very response that
        carried it (a rewrite between two requests of one read is told)."""
        key, offset, length = request
        kind = request.kind
        try:
            if kind != WHOLE and length == 0:  # the size alone
                self.requests.add("head")
                meta = await self._obs.head_async(self.store, key)
                return Answer(b"", int(meta["size"]), self._note(key, meta))
            if kind == WHOLE:
                self.requests.add("get")
                result = await self._obs.get_async(self.store, key)
            elif kind == RANGE:
                self.requests.add("get_range")
                assert offset is not None and length is not None
                result = await self._obs.get_async(
                    self.store, key, options={"range": (offset, offset + length)}
                )
            else:
                self.requests.add("get_suffix")
                result = await self._obs.get_async(
                    self.store, key, options={"range": {"suffix": length}}
                )
            version = self._note(key, result.meta)
            data = memoryview(await result.bytes_async())
            self.requests.received(data)
            return Answer(data, int(result.meta["size"]), version)
        except Exception as e:
            if self._missing(e):
                self.versions[key] = ABSENT
                return None
            raise self._fail(key, e) from None

    def read(self, requests: Sequence[Request]) -> list[Answer | None]:
        return self.loop.run(self._gather(self._answer, [Request(*r) for r in requests]))

    async def _get(self, key: str) -> Blob | None:
        self.requests.add("get")
        try:
            result = await self._obs.get_async(self.store, key)
            self._note(key, result.meta)
            blob = memoryview(await result.bytes_async())
            self.requests.received(blob)
            return blob
        except Exception as e:
            if self._missing(e):
                self.versions[key] = ABSENT
                return None
            raise self._fail(key, e) from None

    async def _head(self, key: str) -> str | None:
        self.requests.add("head")
        try:
            self._note(key, await self._obs.head_async(self.store, key))
            return self.versions[key]
        except Exception as e:
            if self._missing(e):
                self.versions[key] = ABSENT
                return None
            raise self._fail(key, e) from None

    def head_many(self, keys: Sequence[str]) -> list[str | None]:
        return self.loop.run(self._gather(self._head, list(keys)))

    def get_many(self, keys: Sequence[str]) -> list[Blob | None]:
        return self.loop.run(self._gather(self._get, keys))

    def iter_many(self, keys: Sequence[str]) -> Iterator[tuple[str, Blob | None]]:
        arrived: queue.Queue[tuple[str, Any, BaseException | None]] = queue.Queue()

        async def fetch_all() -> None:
            sem = asyncio.Semaphore(self.opts.concurrency)

            async def one(key: str) -> None:
                async with sem:
                    try:
                        arrived.put((key, await self._get(key), None))
                    except BaseException as e:  # handed to the consumer
                        arrived.put((key, None, e))

            await asyncio.gather(*(one(k) for k in keys))

        future = asyncio.run_coroutine_threadsafe(fetch_all(), self.loop.loop)
        try:
            for _ in range(len(keys)):
                key, blob, error = arrived.get()
                if error is not None:
                    raise error
                yield key, blob
        finally:
            future.cancel()

    async def _range(self, item: tuple[str, int, int]) -> Blob | None:
        # One request per range (the core coalesced neighbours already), so
        # that each answer brings the object's version: a shard rewritten
        # since its index was read is told from the one the index describes.
        if item[2] == 0:
            return b"" if await self._head(item[0]) is not None else None
        got = await self._range_stamped(item)
        return None if got is None else got[0]

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Blob | None]:
        return self.loop.run(self._gather(self._range, list(requests)))

    async def _range_stamped(self, item: tuple[str, int, int]) -> tuple[Blob, Stamp] | None:
        key, offset, length = item
        self.requests.add("get_range")
        try:
            result = await self._obs.get_async(
                self.store, key, options={"range": (offset, offset + length)}
            )
            self._note(key, result.meta)
            data = memoryview(await result.bytes_async())
            self.requests.received(data)
        except Exception as e:
            if self._missing(e):
                self.versions[key] = ABSENT
                return None
            raise self._fail(key, e) from None
        return data, stamp_of(result.meta.get("e_tag"), result.meta.get("last_modified"))

    def get_ranges_stamped(
        self, requests: Sequence[tuple[str, int, int]]
    ) -> list[tuple[Blob, Stamp] | None]:
        return self.loop.run(self._gather(self._range_stamped, list(requests)))

    async def _suffix(self, item: tuple[str, int]) -> tuple[Blob, int] | None:
        key, length = item
        self.requests.add("get_suffix" if length else "head")
        try:
            options: dict[str, Any] = {"range": {"suffix": length}} if length else {"head": True}
            if length:
                result = await self._obs.get_async(self.store, key, options=options)
                self._note(key, result.meta)
                blob = memoryview(await result.bytes_async())
                self.requests.received(blob)
                return blob, int(result.meta["size"])
            meta = await self._obs.head_async(self.store, key)
            self._note(key, meta)
            return b"", int(meta["size"])
        except Exception as e:
            if self._missing(e):
                self.versions[key] = ABSENT
                return None
            raise self._fail(key, e) from None

    def get_suffixes(self, requests: Sequence[tuple[str, int]]) -> list[tuple[Blob, int] | None]:
        return self.loop.run(self._gather(self._suffix, list(requests)))

    def _check_listable(self) -> None:
        self.requests.add("list")
        if self.opts.scheme not in ("s3", "gs"):
            raise FastchunkError(
                f"cannot list {self.opts.location}: plain HTTP stores have no listing; "
                f"use consolidated metadata"
            )

    def list_dir(self, prefix: str) -> list[str]:
        self._check_listable()
        try:
            result = self._obs.list_with_delimiter(self.store, prefix.rstrip("/") or None)
        except Exception as e:
            if self._missing(e):
                raise missing_bucket(self.opts) from None
            raise self._fail(prefix, e) from None
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in result["common_prefixes"])

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        self._check_listable()
        try:
            for batch in self._obs.list(self.store, prefix or None):
                for meta in batch:
                    yield meta["path"], int(meta["size"])
        except Exception as e:
            if self._missing(e):
                raise missing_bucket(self.opts) from None
            raise self._fail(prefix, e) from None


def _gcs_config(opts: RemoteOptions) -> dict[str, Any]:
    """GCSStore config for the resolved GCS credentials; "default" leaves the
    environment to obstore (GOOGLE_APPLICATION_CREDENTIALS, gcloud's
    credentials, the metadata server)."""
    assert opts.gcs is not None
    gcs = opts.gcs
    config: dict[str, Any] = {}
    if gcs.custom_endpoint:
        config["base_url"] = gcs.endpoint
    auth = gcs.auth
    if auth.kind == "anon":
        config["skip_signature"] = True
    elif auth.kind == "bearer":
        config["bearer_token"] = auth.value
    elif auth.kind == "service_account":
        config["service_account_key"] = auth.value
    elif auth.kind == "file":
        config["application_credentials"] = auth.value
    return config
