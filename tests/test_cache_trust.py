"""What the caches trust, tried as an attacker and as a clumsy user would
(docs/caches.md keeps the threat model). A second Unix user is made for the
tests that need one (tests/other_user.py): CI runs as root."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

import fastchunk
from fastchunk import cache as shared
from tests.other_user import OtherUser, other_user, shared_scratch_dir

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def attacker() -> Iterator[OtherUser]:
    with other_user() as user:
        yield user


@pytest.fixture
def scratch() -> Iterator[Path]:
    d = shared_scratch_dir("fastchunk-trust-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def cache_name() -> Iterator[str]:
    name = f"trust-{uuid.uuid4().hex[:12]}"
    yield name
    shared.remove_shared_cache(name)


def write_ones(path: Path) -> None:
    z = zarr.create_array(str(path), shape=(4, 1000), chunks=(1, 1000), dtype="f4")
    z[...] = np.ones((4, 1000), "f4")


def forge(entry: Path, value: float) -> bytes:
    """An entry file like `entry` whose chunk holds `value` everywhere: what
    anyone who can read fastchunk's source can compute (the name, the
    header's hash and, for disk caches, the CRC)."""
    raw = entry.read_bytes()
    data_size, data_offset = struct.unpack_from("<QQ", raw, 24)
    assert data_offset + data_size == len(raw)
    return raw[:data_offset] + np.full(data_size // 4, value, "f4").tobytes()


# ---------------------------------------------------------------- directories


def test_a_shared_cache_under_a_directory_another_user_owns_is_refused(
    tmp_path: Path, scratch: Path, attacker: OtherUser, cache_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The other user owns FASTCHUNK_SHM_DIR: they could rename the cache away
    and plant a forged entry under the name (666.0 read where the disk holds
    1.0). The cache is refused, with a message naming the directory."""
    write_ones(tmp_path / "a.zarr")
    theirs = scratch / "theirs"
    theirs.mkdir(mode=0o755)
    attacker.own(theirs)
    monkeypatch.setenv(shared.ENV_SHM_DIR, str(theirs))
    a = fastchunk.open_array(tmp_path / "a.zarr")
    try:
        fastchunk.set_cache_size("1MB", shared=cache_name)
    except OSError as e:
        assert str(theirs) in str(e) and "another user" in str(e)
        return
    # Not refused: the attack as the issue tried it must at least fail.
    try:
        np.testing.assert_array_equal(a[...], 1.0)
        cache_dir = Path(shared.shared_cache_dir(cache_name))
        entry = next((cache_dir / "entries").iterdir())
        forged = scratch / "forged"
        forged.write_bytes(forge(entry, 666.0))
        forged.chmod(0o644)
        attacker.run("sh", "-c", f"""set -e
            mv '{cache_dir}' '{theirs}/moved'
            mkdir -p '{cache_dir}/entries' '{cache_dir}/claims'
            cp '{forged}' '{cache_dir}/entries/{entry.name}'
        """)
        assert a[0, 0] == 1.0, "a forged entry was served"
    finally:
        fastchunk.set_cache_size(0, shared=cache_name)
    pytest.fail("a cache under a directory another user owns was used")


def test_a_disk_cache_under_a_directory_others_can_write_is_refused(
    scratch: Path, attacker: OtherUser
) -> None:
    from fastchunk import _core

    theirs = scratch / "theirs"
    theirs.mkdir(mode=0o755)
    attacker.own(theirs)
    with pytest.raises(OSError, match="another user"):
        _core.FileCache(str(theirs / "cache"), 1 << 20)
    group_writable = scratch / "group"
    group_writable.mkdir()
    group_writable.chmod(0o775)
    with pytest.raises(OSError, match="others can write it"):
        _core.FileCache(str(group_writable / "cache"), 1 << 20)
    # Sticky directories everyone can write (/tmp, /dev/shm) are fine.
    sticky = scratch / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    assert _core.FileCache(str(sticky / "cache"), 1 << 20).stats()["entries"] == 0


def test_a_cache_reached_through_a_link_another_user_controls_is_refused(
    scratch: Path, attacker: OtherUser, tmp_path: Path
) -> None:
    """A symlink is resolved first, then every directory it leads to is
    checked: a link to a directory another user owns is refused too."""
    from fastchunk import _core

    theirs = scratch / "theirs"
    theirs.mkdir(mode=0o755)
    attacker.own(theirs)
    link = scratch / "link"
    link.symlink_to(theirs)
    with pytest.raises(OSError, match="another user"):
        _core.FileCache(str(link / "cache"), 1 << 20)
    mine = tmp_path / "mine"
    mine.mkdir()
    (scratch / "mylink").symlink_to(mine)
    assert _core.FileCache(str(scratch / "mylink" / "cache"), 1 << 20).stats()["used"] == 0


def test_an_entry_that_is_not_this_users_own_file_is_never_served(
    tmp_path: Path, attacker: OtherUser, cache_name: str
) -> None:
    """An entry file owned by another user, or one others may write, is
    dropped, not read: the header's hash and a CRC anyone can compute
    prove nothing about who wrote the bytes."""
    write_ones(tmp_path / "a.zarr")
    a = fastchunk.open_array(tmp_path / "a.zarr")
    fastchunk.set_cache_size("1MB", shared=cache_name)
    try:
        np.testing.assert_array_equal(a[...], 1.0)
        entries = Path(shared.shared_cache_dir(cache_name)) / "entries"
        files = sorted(entries.iterdir())
        assert len(files) == 4
        for f in files:
            f.write_bytes(forge(f, 666.0))
        attacker.own(files[0], files[1])
        files[2].chmod(0o666)
        files[3].chmod(0o620)
        np.testing.assert_array_equal(a[...], 1.0)
        info = fastchunk.get_cache_info(shared=cache_name)
        assert info["dropped"] >= 4
    finally:
        fastchunk.set_cache_size(0, shared=cache_name)


def test_a_symlink_planted_as_an_entry_is_not_followed(tmp_path: Path, cache_name: str) -> None:
    write_ones(tmp_path / "a.zarr")
    a = fastchunk.open_array(tmp_path / "a.zarr")
    fastchunk.set_cache_size("1MB", shared=cache_name)
    try:
        np.testing.assert_array_equal(a[...], 1.0)
        entries = Path(shared.shared_cache_dir(cache_name)) / "entries"
        for f in sorted(entries.iterdir()):
            target = tmp_path / f"forged-{f.name}"
            target.write_bytes(forge(f, 666.0))
            f.unlink()
            f.symlink_to(target)
        np.testing.assert_array_equal(a[...], 1.0)
    finally:
        fastchunk.set_cache_size(0, shared=cache_name)


# ---------------------------------------------------------------- cut short under a reader

CUT_SHORT = r"""
import os, sys, threading, time
import numpy as np
import fastchunk
from fastchunk import cache as shared

path, name = sys.argv[1], sys.argv[2]
a = fastchunk.open_array(path)
fastchunk.set_cache_size("64MB", shared=name)
expected = a[...]
entries = os.path.join(shared.shared_cache_dir(name), "entries")
stop = time.monotonic() + 4
def cut():
    # Another process of the same user (here: a thread) cuts entry files short.
    while time.monotonic() < stop:
        for e in os.scandir(entries):
            if not e.name.startswith("."):
                try:
                    os.truncate(e.path, 4096)
                except OSError:
                    pass
threading.Thread(target=cut, daemon=True).start()
reads = 0
while time.monotonic() < stop:
    # A few elements of each chunk: copied through a mapping of the entry.
    np.testing.assert_array_equal(a[:, ::97, 5], expected[:, ::97, 5])
    np.testing.assert_array_equal(a[1:3], expected[1:3])
    reads += 1
print("reads", reads)
"""


def test_entries_cut_short_under_a_reader_never_kill_it(tmp_path: Path, cache_name: str) -> None:
    """A same-user process truncating entry files while they are read: the
    reader decodes the chunk again instead (no SIGBUS, no wrong value)."""
    z = zarr.create_array(str(tmp_path / "a.zarr"), shape=(6, 256, 512), chunks=(1, 256, 512),
                          dtype="f4")
    z[...] = np.random.default_rng(0).standard_normal((6, 256, 512)).astype("f4")
    got = subprocess.run(
        [sys.executable, "-c", CUT_SHORT, str(tmp_path / "a.zarr"), cache_name],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert got.returncode == 0, (got.returncode, got.stderr[-2000:])
    assert "reads" in got.stdout


# ---------------------------------------------------------------- the stats page

VICTIM = r"""
import sys
import fastchunk
a = fastchunk.open_array(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
try:
    fastchunk.set_cache_size("64MB")  # publishes this process's stats page
except OSError as e:
    print("refused", e, flush=True)
    sys.exit(0)
a[...]
print("cached", flush=True)
sys.stdin.readline()
for _ in range(3):
    a[...]
fastchunk.set_cache_size("32MB")
print("done", flush=True)
"""


class Victim:
    """A process that turns its decoded cache on when told to."""

    def __init__(self, store: Path, shm_dir: Path) -> None:
        env = dict(os.environ, FASTCHUNK_SHM_DIR=str(shm_dir))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", VICTIM, str(store)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
        )
        assert self.expect() == "ready"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def expect(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self) -> tuple[int, str]:
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


def sticky_shm(scratch: Path) -> Path:
    """A directory like /dev/shm: root's, everyone may write, sticky."""
    d = scratch / "shm"
    d.mkdir()
    d.chmod(0o1777)
    return d


def test_a_link_planted_under_the_stats_pages_name_is_never_written_through(
    tmp_path: Path, scratch: Path, attacker: OtherUser
) -> None:
    """The page's name was predictable (fastchunk-process-PID.stats) and was
    opened with O_CREAT|O_TRUNC, following links: another user's link there
    had the victim truncate and overwrite a file only it could write."""
    write_ones(tmp_path / "a.zarr")
    precious = scratch / "precious"
    precious.write_text("root's data")
    precious.chmod(0o600)
    for shm in (sticky_shm(scratch), scratch / "theirs"):
        if shm.name == "theirs":
            shm.mkdir(mode=0o755)
            attacker.own(shm)
        victim = Victim(tmp_path / "a.zarr", shm)
        attacker.run("ln", "-s", str(precious), str(shm / f"fastchunk-process-{victim.pid}.stats"))
        victim.go()
        line = victim.expect()
        if line == "cached":
            victim.go()
        code, err = victim.finish()
        assert code == 0, err
        assert precious.read_text() == "root's data", f"written through a link in {shm}"
        if shm.name == "theirs":  # the caches work; the process is not shown, and says why
            assert line == "cached" and "another user" in err


def test_a_stats_page_another_user_made_and_cuts_short_never_kills_the_process(
    tmp_path: Path, scratch: Path, attacker: OtherUser
) -> None:
    """Another user made the page's file first (0666) and cut it short after
    the victim had mapped it: the victim died of SIGBUS at its next update."""
    write_ones(tmp_path / "a.zarr")
    shm = sticky_shm(scratch)
    victim = Victim(tmp_path / "a.zarr", shm)
    planted = shm / f"fastchunk-process-{victim.pid}.stats"
    attacker.python(
        "import os, sys; fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o666); "
        "os.fchmod(fd, 0o666); os.ftruncate(fd, 4096)", str(planted))
    victim.go()
    assert victim.expect() == "cached"
    attacker.run("truncate", "-s", "0", str(planted))
    victim.go()
    code, err = victim.finish()
    assert code == 0, f"the victim died ({code}): {err[-1000:]}"
    assert planted.stat().st_size == 0  # never the victim's page
    from fastchunk import _core

    assert _core.published_processes(str(shm)) == []  # its page went with it


# ---------------------------------------------------------------- what a key names


class DictStore:
    """A minimal store of another library: objects in a dict, no store_id."""

    local_root = None

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.name = "dict"

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def get_many(self, keys: Any) -> dict[str, bytes | None]:
        return {k: self.objects.get(k) for k in keys}

    def list_prefix(self, prefix: str) -> Any:
        return iter([(k, len(v)) for k, v in self.objects.items() if k.startswith(prefix)])

    def list_dir(self, prefix: str) -> list[str]:
        return []


def test_stores_without_an_id_share_nothing_when_their_address_is_reused(
    tmp_path: Path, cache_off: None
) -> None:
    """id(store) named such stores in cache keys, and CPython reuses a freed
    object's address: 282 of 300 reads were of another store's chunk."""
    write_ones(tmp_path / "a.zarr")
    objects = {p.relative_to(tmp_path / "a.zarr").as_posix(): p.read_bytes()
               for p in (tmp_path / "a.zarr").rglob("*") if p.is_file()}
    chunk_keys = [k for k in objects if k.startswith("c/")]
    fastchunk.set_cache_size("8MB")
    wrong = 0
    for i in range(300):
        z = zarr.create_array(zarr.storage.MemoryStore(), shape=(4, 1000), chunks=(1, 1000),
                              dtype="f4")
        z[...] = float(i + 1)
        mine = dict(objects)
        for k in chunk_keys:
            mine[k] = z.store._store_dict[k].to_bytes()
        a = fastchunk.open(DictStore(mine))
        wrong += int(a[2, 7] != float(i + 1))
        del a
    assert wrong == 0, f"{wrong} of 300 reads were of another store"


def test_the_process_cache_names_the_version_and_the_decoding(
    tmp_path: Path, cache_off: None
) -> None:
    """The process's decoded-chunk cache keyed chunks by store, key, size and
    inner index only: an array rewritten on disk and reopened read its old
    values, and one whose metadata now says big-endian (same chunk files)
    read the little-endian values."""
    fastchunk.set_cache_size("8MB")
    path = tmp_path / "a.zarr"
    z = zarr.create_array(str(path), shape=(4, 1000), chunks=(1, 1000), dtype="<f4")
    z[...] = np.ones((4, 1000), "<f4")
    np.testing.assert_array_equal(fastchunk.open(path)[...], 1.0)
    assert fastchunk.get_cache_info()["used"] > 0
    z = zarr.create_array(str(path), shape=(4, 1000), chunks=(1, 1000), dtype="<f4",
                          overwrite=True)
    z[...] = np.full((4, 1000), 2.0, "<f4")
    np.testing.assert_array_equal(fastchunk.open(path)[...], 2.0)
    # The same chunk files, read as big-endian: another decoding.
    doc = json.loads((path / "zarr.json").read_text())
    for codec in doc["codecs"]:
        if codec["name"] == "bytes":
            codec["configuration"] = {"endian": "big"}
    (path / "zarr.json").write_text(json.dumps(doc))
    expected = np.full((4, 1000), 2.0, "<f4").view(">f4")
    got = fastchunk.open(path)[...]
    np.testing.assert_array_equal(got, expected)
