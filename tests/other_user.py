"""A second Unix user for the tests of what the caches trust: made for the
test with useradd, removed afterwards. It needs root (CI runs as root); where
every test must run (FASTCHUNK_REQUIRE_ALL_TESTS) a test without it fails
instead of being skipped."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class OtherUser:
    name: str
    uid: int
    gid: int

    def run(self, *argv: str, check: bool = True, timeout: float = 60) -> Any:
        """Runs argv as this user (runuser), output captured."""
        got = subprocess.run(["runuser", "-u", self.name, "--", *argv], capture_output=True,
                             text=True, timeout=timeout)
        if check and got.returncode != 0:
            raise AssertionError(f"{argv} as {self.name} failed ({got.returncode}): {got.stderr}")
        return got

    def python(self, code: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Python code run as this user (the standard library only: the
        system's interpreter, which any user may run)."""
        python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
        return self.run(python, "-I", "-c", code, *args, check=check)

    def own(self, *paths: Path) -> None:
        for p in paths:
            os.chown(p, self.uid, self.gid)


def _require_root() -> None:
    import pytest

    if os.geteuid() == 0:
        return
    if os.environ.get("FASTCHUNK_REQUIRE_ALL_TESTS"):
        pytest.fail("this test makes a second Unix user: run the suite as root (CI does)")
    pytest.skip("needs root to make a second Unix user")


def _tool(*argv: str) -> None:
    # useradd and userdel lock /etc/passwd: retry while another one holds it.
    for attempt in range(50):
        got = subprocess.run(list(argv), capture_output=True, text=True)
        if got.returncode == 0:
            return
        if "lock" not in got.stderr.lower() or attempt == 49:
            raise RuntimeError(f"{' '.join(argv)}: {got.stderr.strip()}")
        time.sleep(0.1)


@contextmanager
def other_user() -> Iterator[OtherUser]:
    """A fresh user (no home, no login shell), removed on exit."""
    _require_root()
    name = "fct" + secrets.token_hex(5)
    _tool("useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name)
    try:
        entry = pwd.getpwnam(name)
        yield OtherUser(name, entry.pw_uid, entry.pw_gid)
    finally:
        _tool("userdel", name)


def shared_scratch_dir(prefix: str) -> Path:
    """A directory under /tmp that every user can reach (0755, root's): the
    place where the tests set up what another user owns."""
    import tempfile

    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    d.chmod(0o755)
    return d
