"""The direct HTTP client (store/direct_client.py): what it reads equals what
the server holds, bodies land in the core's pooled buffers, and a server that
lies, truncates, stalls or refuses gives a clear exception, never a hang, a
crash or an allocation the size of a lying header.

A scripted server on loopback answers each request with the bytes a test
gives (raw HTTP/1.1), so that every misbehaviour is real traffic; S3 signing
and key quoting are checked against SeaweedFS."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import fastchunk
from fastchunk.store.options import RemoteOptions
from tests import s3_server
from tests.s3_server import s3 as _s3_fixture  # noqa: F401 - fixture "s3"

pytest.importorskip("botocore")

Answer = Callable[[bytes], bytes | None]  # request head -> raw response (None: close)


def ok(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nETag: \"e1\"\r\n{extra}"
            f"\r\n").encode() + body


class ScriptedServer:
    """Answers requests on loopback from per-path scripts: each request for a
    path takes the next answer (the last one repeats)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.scripts: dict[str, list[Answer]] = {}
        self.requests: list[bytes] = []
        self.connections = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/store"

    def script(self, path: str, *answers: Answer) -> None:
        self.scripts[f"/store/{path}"] = list(answers)

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    try:
                        got = conn.recv(65536)
                    except OSError:
                        return
                    if not got:
                        return
                    buf += got
                head, buf = buf.split(b"\r\n\r\n", 1)
                self.requests.append(head)
                path = head.split(b" ")[1].decode()
                script = self.scripts.get(path) or [lambda h: ok(b"", "404 Not Found")]
                answer = script.pop(0) if len(script) > 1 else script[0]
                response = answer(head)
                if response is None:
                    return
                try:
                    conn.sendall(response)
                except OSError:
                    return

    def close(self) -> None:
        self._stop = True
        self.sock.close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    s = ScriptedServer()
    yield s
    s.close()


def engine(url: str, **options: Any) -> Any:
    from fastchunk.store.direct_client import DirectEngine

    opts = {"max_retries": 2, "retry_timeout": 10, "read_timeout": 2, **options}
    return DirectEngine(RemoteOptions(url, opts))


def test_bodies_land_in_pooled_buffers_and_equal_the_objects(server: ScriptedServer) -> None:
    from fastchunk._core import PooledBuffer

    big = np.random.default_rng(0).bytes(3 << 20)
    server.script("big", lambda h: ok(big))
    server.script("small", lambda h: ok(b"tiny"))
    eng = engine(server.url)
    got_big, got_small, missing = eng.get_many(["big", "small", "absent"])
    assert bytes(got_big) == big and isinstance(got_big.obj, PooledBuffer)
    assert bytes(got_small) == b"tiny"
    assert missing is None
    # Three requests, kept-alive connections (one per thread at most).
    assert len(server.requests) == 3 and server.connections <= 3
    assert eng.requests.snapshot()["bytes"] == len(big) + 4


def test_ranges_suffixes_and_a_server_that_ignores_ranges(server: ScriptedServer) -> None:
    body = bytes(range(256)) * 4

    def ranged(head: bytes) -> bytes:
        spec = [ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"range:")]
        assert spec, head
        first, last = spec[0].split(b"=")[1].split(b"-")
        if not first:  # suffix
            part = body[-int(last):]
            lo = len(body) - len(part)
        else:
            lo, hi = int(first), min(int(last), len(body) - 1)
            part = body[lo : hi + 1]
        return ok(part, "206 Partial Content",
                  f"Content-Range: bytes {lo}-{lo + len(part) - 1}/{len(body)}\r\n")

    server.script("r", ranged)
    server.script("ignores", lambda h: ok(body))
    eng = engine(server.url)
    assert bytes(eng.get_ranges([("r", 10, 20)])[0]) == body[10:30]
    tail, size = eng.get_suffixes([("r", 8)])[0]
    assert bytes(tail) == body[-8:] and size == len(body)
    assert bytes(eng.get_ranges([("ignores", 100, 50)])[0]) == body[100:150]
    # A range past the end of a (rewritten, shorter) object: what there is.
    assert bytes(eng.get_ranges([("r", 1000, 100)])[0]) == body[1000:]


def test_chunked_transfer_encoding(server: ScriptedServer) -> None:
    server.script("c", lambda h: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    assert bytes(engine(server.url).get_many(["c"])[0]) == b"hello world"


def test_busy_statuses_and_dropped_connections_are_retried(server: ScriptedServer) -> None:
    server.script("flaky", lambda h: ok(b"slow down", "503 Slow Down"), lambda h: None,
                  lambda h: ok(b"finally"))
    eng = engine(server.url)
    assert bytes(eng.get_many(["flaky"])[0]) == b"finally"
    assert len(server.requests) == 3


def test_an_idle_connection_closed_by_the_server_is_replaced(server: ScriptedServer) -> None:
    # The first answer says nothing of closing, then the server drops the
    # connection: the next request finds it dead and goes on a new one.
    server.script("a", lambda h: ok(b"one"), lambda h: None, lambda h: ok(b"two"))
    eng = engine(server.url, max_retries=0)
    assert bytes(eng.get_many(["a"])[0]) == b"one"
    assert bytes(eng.get_many(["a"])[0]) == b"two"


@pytest.mark.parametrize(
    "name, response, message",
    [
        ("truncated", b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nonly this", "failed"),
        ("lying-length", b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999\r\n\r\nx",
         "announces"),
        ("garbage", b"\x00\x01 not http at all\r\n\r\n", "failed"),
        ("endless-header", b"HTTP/1.1 200 OK\r\nX: " + b"a" * 200000 + b"\r\n\r\n", "failed"),
        ("bad-length", b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", "failed"),
        ("huge-error", b"HTTP/1.1 500 Oops\r\nContent-Length: 10000000\r\n\r\n"
         + b"e" * 10000000, "failed"),
    ],
)
def test_hostile_responses_are_clear_errors(
    server: ScriptedServer, name: str, response: bytes, message: str
) -> None:
    def answer(head: bytes) -> bytes | None:
        return response

    server.script(name, answer)
    eng = engine(server.url, max_retries=1)
    with pytest.raises(fastchunk.RemoteStoreError, match=message) as info:
        eng.get_many([name])
    assert server.url in str(info.value)


def test_a_lying_length_allocates_only_what_arrives(server: ScriptedServer) -> None:
    """3 GB announced, 1 MB sent, then the connection closes: a clear error,
    and the process grew by about what arrived, not by the announced size."""
    import resource

    server.script("lie", lambda h: b"HTTP/1.1 200 OK\r\nContent-Length: 3000000000\r\n\r\n"
                  + b"x" * (1 << 20))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(fastchunk.RemoteStoreError, match="failed"):
        engine(server.url, max_retries=1).get_many(["lie"])
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 300 << 10


def test_more_bytes_than_a_range_asked_for_is_refused(server: ScriptedServer) -> None:
    server.script("r", lambda h: ok(b"x" * 500, "206 Partial Content",
                                    "Content-Range: bytes 0-499/1000\r\n"))
    with pytest.raises(fastchunk.RemoteStoreError, match="range of 100"):
        engine(server.url).get_ranges([("r", 0, 100)])


def test_a_stalled_server_times_out(server: ScriptedServer) -> None:
    def stall(head: bytes) -> bytes:
        time.sleep(3)
        return ok(b"late")

    server.script("s", stall)
    t0 = time.monotonic()
    with pytest.raises(fastchunk.RemoteStoreError, match="timed out"):
        engine(server.url, read_timeout=0.3, max_retries=0).get_many(["s"])
    assert time.monotonic() - t0 < 2.5


def test_refusals(server: ScriptedServer) -> None:
    server.script("denied", lambda h: ok(b"<Code>AccessDenied</Code>", "403 Forbidden"))
    server.script("nobucket", lambda h: ok(b"<Code>NoSuchBucket</Code>", "404 Not Found"))
    eng = engine(server.url)
    with pytest.raises(fastchunk.RemoteAccessError, match="403"):
        eng.get_many(["denied"])
    with pytest.raises(fastchunk.MissingBucketError):
        eng.get_many(["nobucket"])


def test_a_proxy_in_the_environment_leaves_the_store_to_obstore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastchunk.store.direct_client import direct_applies

    opts = RemoteOptions("s3://bucket/x.zarr", {"endpoint_url": "http://10.1.2.3:9000"})
    assert direct_applies(opts)
    monkeypatch.setenv("http_proxy", "http://proxy.example:3128")
    assert not direct_applies(opts)
    monkeypatch.setenv("no_proxy", "10.1.2.3")
    assert direct_applies(opts)


def test_signed_requests_and_quoted_keys_on_s3(s3: s3_server.S3Server) -> None:
    """SigV4 through botocore, keys with characters that need quoting, and
    a path-style prefix: the bytes SeaweedFS holds."""
    import obstore

    store = s3.obstore()
    objects = {
        "direct/odd name+plus/é/a=b&c.bin": b"first" * 1000,
        "direct/plain/0.0": np.random.default_rng(1).bytes(1 << 20),
    }
    for key, blob in objects.items():
        obstore.put(store, key, blob)
    eng = engine(f"s3://{s3.bucket}/direct", **s3.storage_options())
    keys = [k.removeprefix("direct/") for k in objects]
    got = eng.get_many(keys)
    assert [bytes(g) for g in got] == list(objects.values())
    assert eng.get_many(["plain/absent"]) == [None]
    assert sorted(k for k, _ in eng.list_prefix("")) == sorted(keys)
    versions = eng.known_versions(keys)
    assert all(v.startswith(f"{len(b)}:") for v, b in zip(versions, objects.values(), strict=True))
    bad = engine(f"s3://{s3.bucket}/direct", **s3.storage_options(secret="wrong-secret-xyz"))
    with pytest.raises(fastchunk.RemoteAccessError):
        bad.get_many(keys[:1])
