"""Object stores: s3:// buckets (AWS, Ceph, MinIO, SeaweedFS, ...) and public
http(s):// stores.

Requests go through obstore (Rust, concurrent, retries with backoff), driven by
one asyncio event loop in a private thread per process. obstore's tokio runtime
does not survive fork(): in a process forked from one where that runtime was
running (a DataLoader worker whose parent already read from S3), every obstore
call hangs, whatever client it uses. Such processes read through botocore (or
urllib3 for plain HTTP) in a thread pool instead. Everything is rebuilt lazily
per process id, and a RemoteStore pickles as its URL and options, so it works
under fork, spawn and forkserver.
"""

from __future__ import annotations

import asyncio
import glob
import os
import queue
import re
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta
from typing import Any

from fastchunk.errors import FastchunkError

DEFAULT_CONCURRENCY = 32
DEFAULT_MAX_RETRIES = 10
DEFAULT_RETRY_TIMEOUT_S = 60.0
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_READ_TIMEOUT_S = 60.0

# A buffer: bytes, or a read-only memoryview of bytes owned by the client.
Blob = Any

_KNOWN_OPTIONS = {
    "endpoint_url", "region", "key", "secret", "token", "anon", "profile",
    "client_kwargs", "concurrency", "max_retries", "retry_timeout",
    "connect_timeout", "read_timeout", "virtual_hosted_style", "allow_invalid_certificates",
}  # fmt: skip


class RemoteStoreError(FastchunkError, OSError):
    """A request to an object store failed after its retries (server down,
    connection refused, timeouts, 5xx). The message names the object."""


# ---------------------------------------------------------------- fork state
_tokio_poisoned = False  # this process was forked while a tokio runtime ran
_poisoned_for_child = False


def _tokio_threads_running() -> bool:
    """Whether this process has tokio runtime threads (obstore's runtime)."""
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
    _poisoned_for_child = _tokio_poisoned or _tokio_threads_running()


def _after_fork_in_child() -> None:
    global _tokio_poisoned
    _tokio_poisoned = _poisoned_for_child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def obstore_usable() -> bool:
    """False in a process forked from one running obstore's tokio runtime."""
    return not _tokio_poisoned


# ---------------------------------------------------------------- options
class _Options:
    """Parsed URL and storage_options; no client objects (picklable, per process)."""

    def __init__(self, location: str, storage_options: dict[str, Any]) -> None:
        opts = dict(storage_options)
        client_kwargs = opts.pop("client_kwargs", None) or {}
        unknown = set(opts) - _KNOWN_OPTIONS
        if unknown:
            raise ValueError(
                f"unknown storage_options {sorted(unknown)}; known: {sorted(_KNOWN_OPTIONS)}"
            )
        parsed = urllib.parse.urlparse(location)
        self.scheme = parsed.scheme
        self.location = location.rstrip("/")
        if self.scheme == "s3":
            self.bucket = parsed.netloc
            if not self.bucket:
                raise ValueError(f"no bucket in {location!r}")
            self.prefix = parsed.path.strip("/")
        else:
            self.bucket = ""
            self.prefix = ""
        self.endpoint: str | None = (
            opts.get("endpoint_url")
            or client_kwargs.get("endpoint_url")
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )
        self.region: str | None = opts.get("region") or client_kwargs.get("region_name")
        self.key: str | None = opts.get("key") or client_kwargs.get("aws_access_key_id")
        self.secret: str | None = opts.get("secret") or client_kwargs.get("aws_secret_access_key")
        self.token: str | None = opts.get("token") or client_kwargs.get("aws_session_token")
        self.anon = bool(opts.get("anon", False))
        self.profile: str | None = opts.get("profile")
        self.virtual_hosted_style = bool(opts.get("virtual_hosted_style", False))
        self.allow_invalid_certificates = bool(opts.get("allow_invalid_certificates", False))
        self.concurrency = int(
            opts.get("concurrency")
            or os.environ.get("FASTCHUNK_S3_CONCURRENCY")
            or DEFAULT_CONCURRENCY
        )
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        self.max_retries = int(opts.get("max_retries", DEFAULT_MAX_RETRIES))
        self.retry_timeout = float(opts.get("retry_timeout", DEFAULT_RETRY_TIMEOUT_S))
        self.connect_timeout = float(opts.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT_S))
        self.read_timeout = float(opts.get("read_timeout", DEFAULT_READ_TIMEOUT_S))
        if (self.key is None) != (self.secret is None):
            raise ValueError("storage_options 'key' and 'secret' must be given together")

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.secret, self.token) if s]

    @property
    def where(self) -> str:
        """For messages: the URL and endpoint, never a credential."""
        if self.scheme == "s3" and self.endpoint:
            return f"{self.location} (endpoint {self.endpoint})"
        return self.location

    def url_of(self, key: str) -> str:
        return f"{self.location}/{key}"

    def full_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def profile_credentials(self) -> tuple[str, str, str | None, str | None] | None:
        """(key, secret, token, region) from an AWS profile, when one applies:
        a `profile` option or AWS_PROFILE, or shared config files without
        credentials in the environment. obstore reads the environment itself."""
        if self.key or self.anon or os.environ.get("AWS_ACCESS_KEY_ID"):
            return None
        profile = self.profile or os.environ.get("AWS_PROFILE")
        files = [
            os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
            os.environ.get("AWS_CONFIG_FILE", "~/.aws/config"),
        ]
        if profile is None and not any(os.path.exists(os.path.expanduser(f)) for f in files):
            return None
        try:
            import botocore.session
        except ImportError:
            return None
        session = botocore.session.Session(profile=profile)
        try:
            creds = session.get_credentials()
        except Exception:  # noqa: BLE001 - a broken profile: let the store report access errors
            return None
        if creds is None:
            return None
        frozen = creds.get_frozen_credentials()
        return (
            frozen.access_key,
            frozen.secret_key,
            frozen.token,
            session.get_config_variable("region"),
        )


# ---------------------------------------------------------------- errors
_CODE = re.compile(r"<Code>([^<]{1,64})</Code>")
_STATUS = re.compile(r"\b([45]\d\d) [A-Z][A-Za-z ]{1,40}")


def _reason(exc: BaseException, opts: _Options) -> str:
    """A short, secret-free reason: HTTP status and S3 error code when present."""
    text = str(exc)
    for s in opts.secrets:
        text = text.replace(s, "***")
    code = _CODE.search(text)
    status = _STATUS.search(text)
    if status or code:
        parts = [p for p in (status and status.group(0), code and code.group(1)) if p]
        return " ".join(parts)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    first = re.sub(r"Debug source:.*", "", first)
    return first[:300]


def _access_error(opts: _Options, key: str, exc: BaseException) -> PermissionError:
    return PermissionError(
        f"access denied reading {opts.url_of(key)} (bucket {opts.bucket!r}, key "
        f"{opts.full_key(key)!r}): {_reason(exc, opts)}; check the key/secret/token in "
        f"storage_options or the AWS environment"
        + (f", endpoint {opts.endpoint}" if opts.endpoint else "")
    )


def _missing_bucket(opts: _Options) -> FileNotFoundError:
    return FileNotFoundError(
        f"bucket {opts.bucket!r} does not exist"
        + (f" at {opts.endpoint}" if opts.endpoint else "")
        + f" (reading {opts.location})"
    )


def _request_error(opts: _Options, key: str, exc: BaseException) -> RemoteStoreError:
    return RemoteStoreError(f"reading {opts.url_of(key)} failed: {_reason(exc, opts)}")


# ---------------------------------------------------------------- engines
class _Engine:
    """One process's client for one store."""

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


class _ObstoreEngine(_Engine):
    def __init__(self, opts: _Options) -> None:
        import obstore
        from obstore.exceptions import NotFoundError, PermissionDeniedError, UnauthenticatedError

        self._obs = obstore
        self._not_found = (NotFoundError, FileNotFoundError)
        self._denied = (PermissionDeniedError, UnauthenticatedError)
        self.opts = opts
        self.store = self._make_store(opts)
        self.loop = _event_loop()

    @staticmethod
    def _make_store(opts: _Options) -> Any:
        from obstore.store import HTTPStore, S3Store

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
            return _access_error(self.opts, key, exc)
        if isinstance(exc, self._not_found):
            return _missing_bucket(self.opts)
        return _request_error(self.opts, key, exc)

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

    async def _get(self, key: str) -> Blob | None:
        try:
            result = await self._obs.get_async(self.store, key)
            return memoryview(await result.bytes_async())
        except Exception as e:
            if self._missing(e):
                return None
            raise self._fail(key, e) from None

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

    async def _ranges_of(self, item: tuple[str, list[int], list[int]]) -> list[Blob] | None:
        key, starts, lengths = item
        try:
            got = await self._obs.get_ranges_async(self.store, key, starts=starts, lengths=lengths)
        except Exception as e:
            if self._missing(e):
                return None
            raise self._fail(key, e) from None
        return [memoryview(b) for b in got]

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Blob | None]:
        by_key: dict[str, list[int]] = {}
        for i, (key, _o, _n) in enumerate(requests):
            by_key.setdefault(key, []).append(i)
        items = [
            (k, [requests[i][1] for i in ix], [requests[i][2] for i in ix])
            for k, ix in by_key.items()
        ]
        results = self.loop.run(self._gather(self._ranges_of, items))
        out: list[Blob | None] = [None] * len(requests)
        for (_k, ix), got in zip(by_key.items(), results, strict=True):
            if got is not None:
                for i, blob in zip(ix, got, strict=True):
                    out[i] = blob
        return out

    async def _suffix(self, item: tuple[str, int]) -> tuple[Blob, int] | None:
        key, length = item
        try:
            options: dict[str, Any] = {"range": {"suffix": length}} if length else {"head": True}
            if length:
                result = await self._obs.get_async(self.store, key, options=options)
                return memoryview(await result.bytes_async()), int(result.meta["size"])
            meta = await self._obs.head_async(self.store, key)
            return b"", int(meta["size"])
        except Exception as e:
            if self._missing(e):
                return None
            raise self._fail(key, e) from None

    def get_suffixes(self, requests: Sequence[tuple[str, int]]) -> list[tuple[Blob, int] | None]:
        return self.loop.run(self._gather(self._suffix, list(requests)))

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        if self.opts.scheme != "s3":
            raise FastchunkError(
                f"cannot list {self.opts.location}: plain HTTP stores have no listing; "
                f"use consolidated metadata"
            )
        try:
            for batch in self._obs.list(self.store, prefix or None):
                for meta in batch:
                    yield meta["path"], int(meta["size"])
        except Exception as e:
            if self._missing(e):
                raise _missing_bucket(self.opts) from None
            raise self._fail(prefix, e) from None


class _ThreadedEngine(_Engine):
    """Blocking requests in a thread pool; for processes where obstore cannot run."""

    def __init__(self, opts: _Options) -> None:
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


class _BotoEngine(_ThreadedEngine):
    def __init__(self, opts: _Options) -> None:
        super().__init__(opts)
        import botocore.config
        import botocore.session
        from botocore import UNSIGNED

        session = botocore.session.Session(profile=opts.profile)
        config = botocore.config.Config(
            max_pool_connections=opts.concurrency,
            connect_timeout=opts.connect_timeout,
            read_timeout=opts.read_timeout,
            retries={"mode": "standard", "max_attempts": opts.max_retries + 1},
            signature_version=UNSIGNED if opts.anon else None,
            s3={"addressing_style": "virtual" if opts.virtual_hosted_style else "path"},
        )
        self.client = session.create_client(
            "s3",
            endpoint_url=opts.endpoint,
            region_name=opts.region or os.environ.get("AWS_REGION") or "us-east-1",
            aws_access_key_id=opts.key,
            aws_secret_access_key=opts.secret,
            aws_session_token=opts.token,
            config=config,
            verify=not opts.allow_invalid_certificates,
        )
        from botocore.exceptions import BotoCoreError, ClientError

        self._errors = (BotoCoreError, ClientError)

    def _handle(self, key: str, exc: Any) -> Any:
        response = getattr(exc, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            raise _missing_bucket(self.opts) from None
        if code in ("NoSuchKey", "404", "NotFound") or status == 404:
            return None
        if status in (401, 403) or code in (
            "AccessDenied",
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId",
            "ExpiredToken",
        ):
            raise _access_error(self.opts, key, RuntimeError(f"{status} {code}")) from None
        raise _request_error(self.opts, key, exc) from None

    def _fetch(self, key: str, rng: tuple[int, int] | None, suffix: int | None) -> Any:
        full = self.opts.full_key(key)
        kwargs: dict[str, Any] = {"Bucket": self.opts.bucket, "Key": full}
        try:
            if suffix == 0:
                head = self.client.head_object(**kwargs)
                return b"", int(head["ContentLength"])
            if rng is not None:
                kwargs["Range"] = f"bytes={rng[0]}-{rng[0] + rng[1] - 1}"
            elif suffix is not None:
                kwargs["Range"] = f"bytes=-{suffix}"
            resp = self.client.get_object(**kwargs)
            data = resp["Body"].read()
        except self._errors as e:
            return self._handle(key, e)
        if suffix is not None or rng is not None:
            total = _total_size(resp.get("ContentRange"), len(data))
            return data, total
        return data

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        base = self.opts.prefix + "/" if self.opts.prefix else ""
        full = self.opts.full_key(prefix) if prefix else base
        strip = len(self.opts.prefix) + 1 if self.opts.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.opts.bucket, Prefix=full):
                for obj in page.get("Contents", []):
                    yield obj["Key"][strip:], int(obj["Size"])
        except self._errors as e:
            self._handle(prefix, e)
            raise _request_error(self.opts, prefix, e) from None


class _UrllibEngine(_ThreadedEngine):
    """Plain HTTP(S) GETs with urllib3, for public stores in forked workers."""

    def __init__(self, opts: _Options) -> None:
        super().__init__(opts)
        import urllib3

        retries = urllib3.Retry(
            total=opts.max_retries,
            backoff_factor=0.1,
            backoff_max=5,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=("GET", "HEAD"),
            raise_on_status=False,
        )
        self.http = urllib3.PoolManager(
            maxsize=opts.concurrency,
            retries=retries,
            timeout=urllib3.Timeout(connect=opts.connect_timeout, read=opts.read_timeout),
            cert_reqs="CERT_NONE" if opts.allow_invalid_certificates else "CERT_REQUIRED",
        )

    def _fetch(self, key: str, rng: tuple[int, int] | None, suffix: int | None) -> Any:
        import urllib3

        url = self.opts.url_of(key)
        headers = {}
        if rng is not None:
            headers["Range"] = f"bytes={rng[0]}-{rng[0] + rng[1] - 1}"
        elif suffix:
            headers["Range"] = f"bytes=-{suffix}"
        method = "HEAD" if suffix == 0 else "GET"
        try:
            resp = self.http.request(method, url, headers=headers)
        except urllib3.exceptions.HTTPError as e:
            raise _request_error(self.opts, key, e) from None
        if resp.status == 404:
            return None
        if resp.status in (401, 403):
            raise _access_error(self.opts, key, RuntimeError(f"{resp.status} Forbidden"))
        if resp.status >= 300:
            raise _request_error(self.opts, key, RuntimeError(f"{resp.status} {resp.reason}"))
        data = resp.data
        if suffix == 0:
            return b"", int(resp.headers.get("Content-Length", 0))
        if rng is not None or suffix is not None:
            return data, _total_size(resp.headers.get("Content-Range"), len(data))
        return data

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        raise FastchunkError(
            f"cannot list {self.opts.location}: plain HTTP stores have no listing; "
            f"use consolidated metadata"
        )


def _total_size(content_range: str | None, fallback: int) -> int:
    """The object size from a `Content-Range: bytes a-b/size` header."""
    if content_range and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1].strip()
        if tail.isdigit():
            return int(tail)
    return fallback


# ---------------------------------------------------------------- the store
class RemoteStore:
    """A zarr store in an S3 bucket or behind a public http(s):// URL. Never written to.

    storage_options (the fsspec/s3fs names): endpoint_url, region, key, secret,
    token, anon, profile, client_kwargs; and concurrency (requests in flight,
    default 32, or FASTCHUNK_S3_CONCURRENCY), max_retries, retry_timeout,
    connect_timeout, read_timeout (seconds), virtual_hosted_style,
    allow_invalid_certificates. Without credentials, the AWS environment
    variables, web identity, instance metadata and profiles are used."""

    local_root: str | None = None

    def __init__(self, location: str, storage_options: dict[str, Any] | None = None) -> None:
        self._location = location
        self._storage_options = dict(storage_options or {})
        self._opts = _Options(location, self._storage_options)
        self.name = self._opts.location
        self._engine_obj: _Engine | None = None
        self._engine_pid = -1
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
        """Which client this process uses: 'obstore', 'botocore' or 'urllib3'."""
        engine = self._engine()
        return {_ObstoreEngine: "obstore", _BotoEngine: "botocore"}.get(type(engine), "urllib3")

    def _engine(self) -> _Engine:
        pid = os.getpid()
        if self._engine_obj is not None and self._engine_pid == pid:
            return self._engine_obj
        with self._lock:
            if self._engine_obj is None or self._engine_pid != pid:
                # A client inherited through fork is dropped, never used or closed.
                if obstore_usable():
                    self._engine_obj = _ObstoreEngine(self._opts)
                elif self._opts.scheme == "s3":
                    self._engine_obj = _BotoEngine(self._opts)
                else:
                    self._engine_obj = _UrllibEngine(self._opts)
                self._engine_pid = pid
            return self._engine_obj

    # ------------------------------------------------------------ Store protocol
    def get(self, key: str) -> bytes | None:
        got = self._engine().get_many([key])[0]
        return None if got is None else bytes(got)

    def get_many(self, keys: Iterable[str]) -> dict[str, Blob | None]:
        """Every key fetched concurrently; a missing object reads as None."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        return dict(zip(unique, self._engine().get_many(unique), strict=True))

    def iter_many(self, keys: Iterable[str]) -> Iterator[tuple[str, Blob | None]]:
        """Every key fetched concurrently, yielded as (key, object) in the order
        the objects arrive, so that decoding can start before the last one."""
        unique = list(dict.fromkeys(keys))
        if unique:
            yield from self._engine().iter_many(unique)

    def get_ranges(self, requests: Sequence[tuple[str, int, int]]) -> list[Blob | None]:
        """Bytes [offset, offset + length) of each (key, offset, length), all
        fetched concurrently; None where the object does not exist."""
        if not requests:
            return []
        return self._engine().get_ranges(list(requests))

    def get_suffixes(self, requests: Sequence[tuple[str, int]]) -> list[tuple[Blob, int] | None]:
        """(last `length` bytes, object size) of each (key, length), concurrently;
        None where the object does not exist. length 0 asks for the size only."""
        if not requests:
            return []
        return self._engine().get_suffixes(list(requests))

    def get_suffix(self, key: str, length: int) -> tuple[Blob, int] | None:
        return self.get_suffixes([(key, length)])[0]

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of every object under `prefix` ('' for all)."""
        return self._engine().list_prefix(prefix)

    def __repr__(self) -> str:
        return f"RemoteStore({self._opts.where!r})"
