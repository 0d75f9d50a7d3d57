"""The direct client: HTTP/1.1 requests with the standard library's
http.client, each response body received straight into a buffer of the
core's pool (socket recv_into, no intermediate copy, no fresh pages once the
pool holds buffers of that size), S3 requests signed by botocore.

obstore collects every response into freshly allocated memory that the
fetch-ahead then holds: receiving a chunk cost more CPU than decoding it
(benchmarks/README.md, "Epoch 1 from an object store"). This client does the
least work per byte a Python client can: one kernel copy into reused memory.
It is a blocking client, fork-safe (connections are made per process), used
for S3 stores (credentials resolved by botocore), GCS stores (tokens, keys
and credential files through gcs_client's google-auth credentials) and
public http(s) stores; listings, and GCS's object metadata, go through the
blocking clients of those stores (botocore, gcs_client)."""

from __future__ import annotations

import http.client
import os
import random
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

from fastchunk.store.engine import ABSENT, Stamp, ThreadedEngine, total_size, version_string
from fastchunk.store.options import (
    RemoteOptions,
    RemoteStoreError,
    access_error,
    missing_bucket,
    missing_credentials,
    request_error,
)
from fastchunk.store.protocol import RANGE, WHOLE, Answer, Request

# Statuses an object store answers when busy or briefly failing: retried.
RETRIED_STATUSES = frozenset((408, 429, 500, 502, 503, 504))
# Bodies of error responses are read up to this (the S3 error XML is < 1 kB).
ERROR_BODY_LIMIT = 64 << 10
# No object body larger than this is ever allocated for (a lying header).
MAX_BODY_BYTES = 1 << 36
# Bodies smaller than this are plain bytes (the pool's buffers are for chunks).
SMALL_BODY = 64 << 10
# Bodies larger than this (no chunk is) are read in pieces of this size into
# memory grown as they arrive, not into a buffer of the announced length.
LARGE_BODY = 64 << 20


class _Failure(Exception):
    """A response that is final: no retry helps (carries the error to raise)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _Busy(Exception):
    """A status worth retrying (RETRIED_STATUSES)."""


class Endpoint:
    """Where the requests of a store go: scheme, host, port, and the path
    prefix of its objects (path-style: /bucket/prefix; virtual-hosted:
    /prefix; a public store: the URL's path)."""

    def __init__(self, opts: RemoteOptions) -> None:
        self.json_objects: str | None = None  # GCS's JSON API: the path before object names
        self._prefix = opts.prefix
        if opts.gcs is not None:
            url = urllib.parse.urlsplit(opts.gcs.endpoint)
            host = url.hostname or ""
            bucket = urllib.parse.quote(opts.bucket, safe="")
            path = f"{url.path.rstrip('/')}/{bucket}"
            if opts.gcs.json_api:
                self.json_objects = f"{url.path.rstrip('/')}/storage/v1/b/{bucket}/o/"
            elif opts.prefix:
                path = f"{path}/{opts.prefix}"
        elif opts.scheme == "s3":
            region = opts.region or os.environ.get("AWS_REGION") or "us-east-1"
            base = opts.endpoint or f"https://s3.{region}.amazonaws.com"
            url = urllib.parse.urlsplit(base)
            host = url.hostname or ""
            path = url.path.rstrip("/")
            if opts.virtual_hosted_style or (opts.endpoint is None and "." not in opts.bucket):
                host = f"{opts.bucket}.{host}"
            else:
                path = f"{path}/{opts.bucket}"
            if opts.prefix:
                path = f"{path}/{opts.prefix}"
        else:
            url = urllib.parse.urlsplit(opts.location)
            host = url.hostname or ""
            path = url.path.rstrip("/")
        if url.scheme not in ("http", "https") or not host:
            raise ValueError(f"cannot reach {opts.where}: not an http(s) endpoint")
        self.tls = url.scheme == "https"
        self.host = host
        self.port = url.port or (443 if self.tls else 80)
        default_port = 443 if self.tls else 80
        self.netloc = host if self.port == default_port else f"{host}:{self.port}"
        self.scheme = url.scheme
        self.path = path

    def path_of(self, key: str) -> str:
        if self.json_objects is not None:
            name = f"{self._prefix}/{key}" if self._prefix else key
            return f"{self.json_objects}{urllib.parse.quote(name, safe='')}?alt=media"
        return f"{self.path}/{urllib.parse.quote(key, safe='/~')}"

    def url_of(self, key: str) -> str:
        return f"{self.scheme}://{self.netloc}{self.path_of(key)}"


class _Signer:
    """Signs S3 requests with botocore's SigV4 (credentials resolved by
    botocore's own chain: storage_options, environment, profiles, web
    identity, instance metadata; refreshed when they expire)."""

    def __init__(self, opts: RemoteOptions) -> None:
        import botocore.auth
        import botocore.awsrequest
        import botocore.credentials
        import botocore.session

        self._request_cls = botocore.awsrequest.AWSRequest
        if opts.key is not None:
            creds: Any = botocore.credentials.Credentials(opts.key, opts.secret, opts.token)
            region = opts.region
        else:
            session = botocore.session.Session(profile=opts.profile)
            creds = session.get_credentials()
            region = opts.region or session.get_config_variable("region")
            if creds is None:
                raise missing_credentials(
                    opts, "", RuntimeError("Unable to locate credentials")
                )
        region = region or os.environ.get("AWS_REGION") or "us-east-1"
        self._auth = botocore.auth.S3SigV4Auth(creds, "s3", region)

    def headers(self, method: str, url: str, headers: dict[str, str]) -> dict[str, str]:
        request = self._request_cls(method, url, headers=headers)
        self._auth.add_auth(request)
        return dict(request.headers.items())


class ConnectionPool:
    """Idle keep-alive connections of one process to one endpoint."""

    def __init__(self, endpoint: Endpoint, opts: RemoteOptions) -> None:
        self._endpoint = endpoint
        self._connect_timeout = opts.connect_timeout
        self._read_timeout = opts.read_timeout
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None
        if endpoint.tls:
            self._tls = ssl.create_default_context()
            if opts.allow_invalid_certificates:
                self._tls.check_hostname = False
                self._tls.verify_mode = ssl.CERT_NONE

    def take(self) -> tuple[http.client.HTTPConnection, bool]:
        """A connection, and whether it was used before (a reused one may
        have been closed by the server meanwhile)."""
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        ep = self._endpoint
        conn: http.client.HTTPConnection
        if self._tls is not None:
            conn = http.client.HTTPSConnection(
                ep.host, ep.port, timeout=self._connect_timeout, context=self._tls
            )
        else:
            conn = http.client.HTTPConnection(ep.host, ep.port, timeout=self._connect_timeout)
        conn.connect()
        assert conn.sock is not None
        conn.sock.settimeout(self._read_timeout)
        if not self._tls:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, False

    def give(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.append(conn)


def _pooled(nbytes: int) -> Any:
    """A writable buffer of `nbytes` from the core's pool."""
    from fastchunk._core import PooledBuffer

    return PooledBuffer(nbytes)


def _receive(resp: http.client.HTTPResponse, expect: int | None, where: str) -> Any:
    """The body of a successful response, into a pooled buffer when its
    length is known; `expect`: the length a range request asked for."""
    length = resp.length  # Content-Length; None when chunked or read to close
    if length is None:  # read in pieces: nothing is allocated ahead of the bytes
        limit = MAX_BODY_BYTES if expect is None else expect
        parts, total = [], 0
        while piece := resp.read(1 << 20):
            total += len(piece)
            if total > limit:
                raise _Failure(ValueError(f"{where}: the response is longer than the {limit} "
                                          f"bytes asked for"))
            parts.append(piece)
        return b"".join(parts)
    if expect is not None and length > expect:  # shorter: the range ran past the end
        raise _Failure(ValueError(f"{where}: the server sends {length} bytes for a range of "
                                  f"{expect}"))
    if length > MAX_BODY_BYTES:
        raise _Failure(ValueError(f"{where}: the server announces {length} bytes, more than "
                                  f"any chunk fastchunk reads ({MAX_BODY_BYTES})"))
    if length < SMALL_BODY:
        return resp.read()
    if length > LARGE_BODY:  # grown as bytes arrive: a lying length allocates nothing ahead
        data = bytearray()
        while len(data) < length and (piece := resp.read(min(LARGE_BODY, length - len(data)))):
            data += piece
        if len(data) != length:
            raise http.client.IncompleteRead(b"", length - len(data))
        return memoryview(data).toreadonly()
    buf = _pooled(length)
    view = memoryview(buf)
    got = resp.readinto(view)  # raises IncompleteRead on a short body
    if got != length:
        raise http.client.IncompleteRead(b"", length - got)
    return view.toreadonly()


class DirectEngine(ThreadedEngine):
    """Blocking requests in a thread pool over keep-alive http.client
    connections; bodies received into the core's pooled buffers."""

    name = "direct"

    def __init__(self, opts: RemoteOptions, inherited: dict[str, str] | None = None) -> None:
        super().__init__(opts, inherited)
        self.endpoint = Endpoint(opts)
        self._signer = _Signer(opts) if opts.scheme == "s3" and not opts.anon else None
        self._pool = ConnectionPool(self.endpoint, opts)
        self._lister: Any = None
        self._lister_lock = threading.Lock()
        self._gcs: Any = None  # the Authorization of gs:// requests (gcs_client's)
        self._gcs_http: Any = None  # google-auth's transport for refreshing tokens
        if opts.gcs is not None:
            from fastchunk.store.gcs_client import GCSCredentials

            self._gcs = GCSCredentials(opts.gcs.auth)
            if opts.gcs.auth.kind not in ("anon", "bearer"):
                from fastchunk.store.engine import urllib3_pool

                self._gcs_http = urllib3_pool(opts)

    # -------------------------------------------------------------- requests
    def _headers(self, method: str, key: str, range_header: str | None) -> dict[str, str]:
        headers = {"Host": self.endpoint.netloc}
        if range_header:
            headers["Range"] = range_header
        if self._signer is not None:
            headers = self._signer.headers(method, self.endpoint.url_of(key), headers)
        elif self._gcs is not None:
            headers.update(self._gcs.headers(self._gcs_http))
        return headers

    def _exchange(self, method: str, key: str, range_header: str | None,
                  expect: int | None) -> tuple[int, str, Any, http.client.HTTPMessage]:
        """One request on a pooled connection: (status, status line, body,
        headers).
        The body of a 200/206 GET is received whole; other statuses bring
        their error text (bounded). Raises OSError/HTTPException on transport
        failures (the connection is then dropped), _Busy on a retried status."""
        conn, reused = self._pool.take()
        keep = False
        try:
            try:
                conn.request(method, self.endpoint.path_of(key),
                             headers=self._headers(method, key, range_header))
                resp = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                if not reused:
                    raise
                conn.close()  # the server closed an idle connection: once more, on a new one
                conn, reused = self._pool.take()
                conn.request(method, self.endpoint.path_of(key),
                             headers=self._headers(method, key, range_header))
                resp = conn.getresponse()
            status = resp.status
            where = self.opts.url_of(key)
            if method == "HEAD":
                body: Any = b""
                resp.read()
            elif status in (200, 206):
                body = _receive(resp, expect if status == 206 else None, where)
            else:
                body = resp.read(ERROR_BODY_LIMIT)
                if not resp.isclosed():  # an error body longer than any S3 error: drop it
                    raise _Failure(request_error(self.opts, key, RuntimeError(
                        f"{status} {resp.reason}: an error body over {ERROR_BODY_LIMIT} bytes")))
            keep = not resp.will_close
            if status in RETRIED_STATUSES:
                raise _Busy(f"{status} {resp.reason}")
            return status, f"{status} {resp.reason}", body, resp.headers
        finally:
            if keep:
                self._pool.give(conn)
            else:
                conn.close()

    def _request(self, method: str, key: str, range_header: str | None,
                 expect: int | None) -> tuple[int, str, Any, http.client.HTTPMessage]:
        """_exchange with retries (backoff with jitter) on transport failures
        and busy statuses, within max_retries and retry_timeout."""
        deadline = time.monotonic() + self.opts.retry_timeout
        attempt = 0
        while True:
            try:
                return self._exchange(method, key, range_header, expect)
            except _Failure as f:
                error = f.error
                if not isinstance(error, RemoteStoreError):
                    error = request_error(self.opts, key, error)
                raise error from None
            except (OSError, http.client.HTTPException, _Busy) as e:
                attempt += 1
                if attempt > self.opts.max_retries or time.monotonic() >= deadline:
                    raise request_error(self.opts, key, e) from None
                time.sleep(min(5.0, 0.1 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2))

    def _error(self, key: str, status: int, line: str, body: bytes) -> BaseException | None:
        """The exception for an error status (`line`: "404 Not Found"); None
        for an object that does not exist (a missing chunk)."""
        text = body[:ERROR_BODY_LIMIT].decode("utf-8", "replace")
        if status == 404:
            if "NoSuchBucket" in text:
                return missing_bucket(self.opts)
            return None
        if status in (401, 403):
            return access_error(self.opts, key, RuntimeError(f"{line} {text}"))
        return request_error(self.opts, key, RuntimeError(f"{line} {text}"))

    def _fetch(self, key: str, rng: tuple[int, int] | None, suffix: int | None) -> Any:
        if suffix == 0 and self.endpoint.json_objects is not None:
            got = self._listing_engine()._fetch(key, None, 0)  # the size: object metadata
            self._local.version = self.versions.get(key, "")
            return got
        self._count(rng, suffix)
        method = "HEAD" if suffix == 0 else "GET"
        range_header = expect = None
        if rng is not None:
            range_header, expect = f"bytes={rng[0]}-{rng[0] + rng[1] - 1}", rng[1]
        elif suffix:
            range_header = f"bytes=-{suffix}"
        status, line, body, headers = self._request(method, key, range_header, expect)
        if status == 416 and rng is not None:
            raise request_error(self.opts, key, RuntimeError(
                f"416 the range {rng[0]}..{rng[0] + rng[1]} lies beyond the object's end"))
        if status not in (200, 206):
            error = self._error(key, status, line, body if isinstance(body, bytes) else b"")
            if error is not None:
                raise error
            self.versions[key] = ABSENT
            return None
        if method == "HEAD":
            total = int(headers.get("Content-Length") or 0)
        else:
            total = total_size(headers.get("Content-Range"), memoryview(body).nbytes)
        etag = headers.get("ETag") or headers.get("x-goog-generation")
        modified = headers.get("Last-Modified")
        version = version_string(total, etag, modified, headers.get("Date"), self.opts.immutable)
        self.versions[key] = self._local.version = version
        self._stamp(etag, modified)
        if suffix == 0:
            return b"", total
        if status == 200 and rng is not None:  # the server ignored the range
            body = memoryview(body)[rng[0] : rng[0] + rng[1]]
        if rng is not None or suffix is not None:
            return body, total
        return body

    def read(self, requests: Sequence[Request]) -> list[Answer | None]:
        """Each request answered with the version of the very response that
        carried it."""
        def one(request: Request) -> Answer | None:
            key, offset, length = request
            kind = request.kind
            if kind == WHOLE:
                got = self._fetch_counted(key, None, None)
                if got is None:
                    return None
                return Answer(got, memoryview(got).nbytes, self._local.version)
            if kind == RANGE:
                assert offset is not None and length is not None
                got = self._fetch_counted(key, None, 0) if length == 0 else \
                    self._fetch_counted(key, (offset, length), None)
            else:
                got = self._fetch_counted(key, None, length)
            if got is None:
                return None
            return Answer(got[0], got[1], self._local.version)

        return self._map(one, [Request(*r) for r in requests])

    # -------------------------------------------------------------- listings
    def _listing_engine(self) -> Any:
        """The blocking client of this store's listings (and of GCS's object
        metadata): botocore, or gcs_client's."""
        if self.opts.gcs is not None:
            with self._lister_lock:
                if self._lister is None:
                    from fastchunk.store.gcs_client import GCSEngine

                    self._lister = GCSEngine(self.opts)
                    self._lister.requests = self.requests
                    self._lister.versions = self.versions
                return self._lister
        if self.opts.scheme != "s3":
            from fastchunk.errors import FastchunkError

            raise FastchunkError(
                f"cannot list {self.opts.location}: plain HTTP stores have no listing; "
                f"use consolidated metadata"
            )
        with self._lister_lock:
            if self._lister is None:
                from fastchunk.store.boto_client import BotoEngine

                self._lister = BotoEngine(self.opts)
                self._lister.requests = self.requests
            return self._lister

    def list_dir(self, prefix: str) -> list[str]:
        return self._listing_engine().list_dir(prefix)

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        return self._listing_engine().list_prefix(prefix)


def direct_applies(opts: RemoteOptions) -> bool:
    """Whether the direct client can read this store: S3 (botocore signs)
    or a public http(s) store, reached without an HTTP proxy (it speaks to
    the endpoint itself; obstore honours HTTP(S)_PROXY)."""
    if opts.scheme not in ("s3", "gs", "http", "https"):
        return False
    if opts.gcs is not None:  # credentials the client signs with itself, or google-auth's
        if opts.gcs.auth.kind == "default":
            return False  # Application Default Credentials: obstore's own chain
        if opts.gcs.auth.kind not in ("anon", "bearer"):
            try:
                import google.auth  # noqa: F401
                import urllib3  # noqa: F401
            except ImportError:
                return False
    elif opts.scheme == "s3":
        try:
            import botocore  # noqa: F401
        except ImportError:
            return False
    try:
        endpoint = Endpoint(opts)
    except ValueError:
        return False
    proxies = urllib.request.getproxies_environment()
    if endpoint.scheme in proxies and not urllib.request.proxy_bypass_environment(endpoint.host):
        return False
    return True


__all__ = ["DirectEngine", "Endpoint", "Stamp", "direct_applies"]
