"""The node-wide decoded-chunk cache with real processes: forked, spawned and
forkserver workers, torchrun ranks, and processes killed with SIGKILL at
random moments. Every test uses its own cache in /dev/shm and removes it."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

import fastchunk
from fastchunk import cache as shared
from tests import cache_worker  # noqa: E402

WORKER = str(Path(__file__).with_name("cache_worker.py"))


@pytest.fixture
def cache_name() -> Iterator[str]:
    """A fresh cache name; the cache is detached and deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    shared.remove_shared_cache(name)
    assert not os.path.exists(shared.shared_cache_dir(name))


def make_store(
    path: Path, shape: tuple[int, ...], chunks: tuple[int, ...], seed: int = 0
) -> np.ndarray:
    data = np.random.default_rng(seed).standard_normal(shape).astype("f4")
    z = zarr.create_array(str(path), shape=shape, chunks=chunks, dtype="f4")
    z[...] = data
    return data


def entries_bytes(name: str) -> int:
    d = os.path.join(shared.shared_cache_dir(name), "entries")
    return sum(e.stat().st_size for e in os.scandir(d))


# ---------------------------------------------------------------- one process


def test_hits_give_the_same_bytes_and_count(tmp_path: Path, cache_name: str) -> None:
    data = make_store(tmp_path / "a.zarr", (12, 5, 300), (1, 5, 300))
    a = fastchunk.open_array(tmp_path / "a.zarr")
    fastchunk.set_cache_size("8MB", shared=cache_name)
    assert fastchunk.get_cache_info()["shared"] == cache_name
    assert shared.shared_cache_setting() == (cache_name, 8_000_000)
    np.testing.assert_array_equal(a[...], data)
    info = fastchunk.get_cache_info(shared=cache_name)
    assert (info["entries"], info["inserts"], info["misses"], info["hits"]) == (12, 12, 12, 0)
    for sel in (np.s_[3:7, 1:4, ::-5], np.s_[[9, 2, 9], :, 100], np.s_[-1]):
        np.testing.assert_array_equal(a[sel], data[sel])
    info = fastchunk.get_cache_info(shared=cache_name)
    assert info["inserts"] == 12 and info["hits"] == 4 + 2 + 1
    assert info["used"] == entries_bytes(cache_name) <= info["budget"]
    fastchunk.set_cache_size(0, shared=cache_name)
    assert fastchunk.get_cache_info()["shared"] is None
    assert shared.shared_cache_setting() is None
    np.testing.assert_array_equal(a[...], data)
    assert fastchunk.get_cache_info(shared=cache_name)["hits"] == info["hits"]  # not used
    fastchunk.clear_cache(shared=cache_name)
    info = fastchunk.get_cache_info(shared=cache_name)
    assert (info["entries"], info["used"], info["hits"]) == (0, 0, 0)


def test_every_way_of_copying_a_hit(tmp_path: Path, cache_name: str) -> None:
    """Whole chunks, parts made of large blocks, parts made of small pieces and
    a few elements: each read of a hit gives the bytes numpy gives."""
    data = make_store(tmp_path / "a.zarr", (4, 4, 8192), (1, 4, 8192))  # 32 KB rows
    a = fastchunk.open_array(tmp_path / "a.zarr")
    fastchunk.set_cache_size("8MB", shared=cache_name)
    np.testing.assert_array_equal(a[...], data)
    selections = [
        np.s_[2],  # whole chunk: one read into place
        np.s_[1:3, :, 100:6000],  # 24 KB blocks: read one by one into place
        np.s_[3, ::-1, 8000:50:-1],  # reversed: pieces, from the chunk read whole
        np.s_[:, 1:3, ::3],  # strided: pieces
        np.s_[3, 2, [5, 9, 4000]],  # a few elements: from a mapping
        np.s_[0, 3, -1],
    ]
    for sel in selections:
        np.testing.assert_array_equal(a[sel], data[sel])
    info = fastchunk.get_cache_info(shared=cache_name)
    assert info["inserts"] == 4 and info["hits"] >= 10


def test_budget_holds_with_eviction(tmp_path: Path, cache_name: str) -> None:
    data = make_store(tmp_path / "a.zarr", (40, 4, 500), (1, 4, 500))  # 8 KB chunks
    a = fastchunk.open_array(tmp_path / "a.zarr")
    fastchunk.set_cache_size(10 * 8192, shared=cache_name)
    rng = np.random.default_rng(1)
    for _ in range(30):
        rows = rng.integers(0, 40, 5)
        np.testing.assert_array_equal(a.take(rows), data[rows])
        info = fastchunk.get_cache_info(shared=cache_name)
        assert info["used"] <= info["budget"]
        assert entries_bytes(cache_name) <= info["budget"]
    assert info["evictions"] > 0
    fastchunk.set_cache_size(3 * 8192, shared=cache_name)  # lowered: evicts at once
    assert entries_bytes(cache_name) <= 3 * 8192


def test_two_stores_with_the_same_keys_do_not_share(tmp_path: Path, cache_name: str) -> None:
    one = make_store(tmp_path / "one" / "a.zarr", (6, 100), (1, 100), seed=1)
    two = make_store(tmp_path / "two" / "a.zarr", (6, 100), (1, 100), seed=2)
    fastchunk.set_cache_size("4MB", shared=cache_name)
    a1 = fastchunk.open_array(tmp_path / "one" / "a.zarr")
    a2 = fastchunk.open_array(tmp_path / "two" / "a.zarr")
    for _ in range(2):
        np.testing.assert_array_equal(a1[...], one)
        np.testing.assert_array_equal(a2[...], two)
    info = fastchunk.get_cache_info(shared=cache_name)
    assert info["entries"] == 12 and info["hits"] == 12
    # The same directory reached through a symbolic link is the same store.
    os.symlink(tmp_path / "one", tmp_path / "link")
    np.testing.assert_array_equal(fastchunk.open_array(tmp_path / "link" / "a.zarr")[...], one)
    assert fastchunk.get_cache_info(shared=cache_name)["entries"] == 12


def test_rewritten_chunk_is_seen_on_the_next_read(tmp_path: Path, cache_name: str) -> None:
    data = make_store(tmp_path / "a.zarr", (6, 100), (1, 100))
    fastchunk.set_cache_size("4MB", shared=cache_name)
    a = fastchunk.open_array(tmp_path / "a.zarr")
    np.testing.assert_array_equal(a[...], data)
    z = zarr.open_array(str(tmp_path / "a.zarr"), mode="r+")
    z[2] = np.arange(100, dtype="f4")  # same size, new bytes: a new mtime
    data[2] = np.arange(100, dtype="f4")
    np.testing.assert_array_equal(a[...], data)
    np.testing.assert_array_equal(fastchunk.open_array(tmp_path / "a.zarr")[2], data[2])
    assert fastchunk.get_cache_info(shared=cache_name)["inserts"] == 7


def test_changed_byte_order_in_metadata_is_not_served_from_cache(
    tmp_path: Path, cache_name: str
) -> None:
    path = tmp_path / "a.zarr"
    z = zarr.open_array(
        str(path), mode="w", shape=(4, 50), chunks=(1, 50), dtype="<f4", zarr_format=2
    )
    z[...] = np.arange(200, dtype="f4").reshape(4, 50)
    fastchunk.set_cache_size("4MB", shared=cache_name)
    little = fastchunk.open_array(path)[...]
    meta = json.loads((path / ".zarray").read_text())
    meta["dtype"] = ">f4"
    (path / ".zarray").write_text(json.dumps(meta))
    big = fastchunk.open_array(path)[...]
    np.testing.assert_array_equal(big, little.byteswap().view(little.dtype))


def test_bad_names_and_environment(tmp_path: Path, cache_name: str) -> None:
    for bad in ("", "../x", "a/b", ".hidden", "x" * 101):
        with pytest.raises(ValueError, match="shared cache name"):
            fastchunk.set_cache_size("1MB", shared=bad)
    with pytest.raises(ValueError, match="NAME:SIZE"):
        shared.parse_env("era5")
    assert shared.parse_env("era5:32GB") == ("era5", 32 * 10**9)
    env = dict(os.environ, FASTCHUNK_SHARED_CACHE=f"{cache_name}:3MB")
    out = subprocess.run(
        [sys.executable, "-c", "import fastchunk; print(fastchunk.get_cache_info()['shared'])"],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == cache_name
    assert fastchunk.get_cache_info(shared=cache_name)["budget"] == 3 * 10**6
    with pytest.raises(FileNotFoundError):
        fastchunk.get_cache_info(shared=cache_name + "-none")


def test_someone_elses_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(shared.ENV_SHM_DIR, str(tmp_path))
    target = tmp_path / "fastchunk-x"
    target.write_text("not a directory")
    with pytest.raises(OSError, match="not a directory|cannot"):
        fastchunk.set_cache_size("1MB", shared="x")


def test_cli_shows_clears_and_removes_a_shared_cache(
    tmp_path: Path, cache_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from fastchunk.tools.cli import main

    data = make_store(tmp_path / "a.zarr", (5, 100), (1, 100))
    fastchunk.set_cache_size("2MB", shared=cache_name)
    a = fastchunk.open_array(tmp_path / "a.zarr")
    a[...]
    np.testing.assert_array_equal(a[...], data)
    assert main(["cache", "--json", cache_name]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["kind"] == "shared" and report["name"] == cache_name
    assert (report["entries"], report["hits"], report["misses"], report["inserts"]) == (5, 5, 5, 5)
    assert report["budget"] == 2 * 10**6 and 0 < report["used"] <= report["budget"]
    assert main(["cache"]) == 0  # every cache of the node, as text
    out = capsys.readouterr().out
    assert f"shared cache {cache_name!r}" in out and "hit rate 50.0%" in out
    assert main(["cache", "clear", cache_name]) == 0
    assert fastchunk.get_cache_info(shared=cache_name)["entries"] == 0
    np.testing.assert_array_equal(a[...], data)  # still in use after a clear
    assert main(["cache", "remove", cache_name]) == 0
    assert not os.path.exists(shared.shared_cache_dir(cache_name))
    assert fastchunk.get_cache_info()["shared"] is None
    assert main(["cache", "show", cache_name]) == 1
    assert "no shared cache named" in capsys.readouterr().err


# ---------------------------------------------------------------- processes


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_four_processes_decode_each_chunk_once(
    tmp_path: Path, cache_name: str, method: str
) -> None:
    store = tmp_path / "a.zarr"
    data = make_store(store, (24, 6, 2000), (1, 6, 2000))
    fastchunk.set_cache_size("32MB", shared=cache_name)
    # Forked workers inherit the setting; spawned and forkserver ones get it
    # with the pickled array.
    array = fastchunk.open_array(store)
    ctx = multiprocessing.get_context(method)
    barrier = ctx.Manager().Barrier(4)
    with ctx.Pool(4) as pool:
        results = pool.starmap(
            cache_worker.read_quarter, [(array, part, 4, barrier) for part in range(4)]
        )
    idx = cache_worker.dates(24)
    for part, r in enumerate(results):
        assert r["shared"] == cache_name
        expected = data[idx][..., cache_worker.grid_part(2000, part, 4)]
        np.testing.assert_array_equal(r["data"], expected)
    assert len({r["pid"] for r in results}) == 4
    info = fastchunk.get_cache_info(shared=cache_name)
    assert info["inserts"] == 24, info  # each chunk decoded once for the node
    assert info["misses"] == 24, info
    assert info["hits"] == 3 * 24, info


def test_torchrun_ranks_share_one_cache(tmp_path: Path, cache_name: str) -> None:
    pytest.importorskip("torch")
    store = tmp_path / "a.zarr"
    data = make_store(store, (16, 4, 2000), (1, 4, 2000))
    out = tmp_path / "out"
    out.mkdir()
    torchrun = shutil.which("torchrun")
    cmd = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    env = dict(os.environ, FASTCHUNK_SHARED_CACHE=f"{cache_name}:32MB", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [*cmd, "--standalone", "--nproc_per_node=4", WORKER, "rank", str(store), str(out)],
        capture_output=True, text=True, timeout=240, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    idx = cache_worker.dates(16)
    for r in range(4):
        assert (out / f"rank{r}.shared").read_text() == cache_name
        expected = data[idx][..., cache_worker.grid_part(2000, r, 4)]
        np.testing.assert_array_equal(np.load(out / f"rank{r}.npy"), expected)
    info = fastchunk.get_cache_info(shared=cache_name)
    assert (info["inserts"], info["misses"], info["hits"]) == (16, 16, 48), info


def test_dataloader_workers_use_the_shared_cache(tmp_path: Path, cache_name: str) -> None:
    torch = pytest.importorskip("torch")
    from fastchunk.torch import ArrayDataset

    store = tmp_path / "a.zarr"
    data = make_store(store, (16, 3, 500), (1, 3, 500))
    fastchunk.set_cache_size("16MB", shared=cache_name)
    ds = ArrayDataset(str(store))
    for method in ("fork", "spawn", "forkserver"):
        loader = torch.utils.data.DataLoader(
            ds, batch_size=4, num_workers=2, multiprocessing_context=method
        )
        got = torch.cat(list(loader)).numpy()
        np.testing.assert_array_equal(got, data)
    info = fastchunk.get_cache_info(shared=cache_name)
    assert info["inserts"] == 16 and info["hits"] == 32, info


def _dir_listing(name: str) -> list[str]:
    return sorted(os.listdir(os.path.join(shared.shared_cache_dir(name), "entries")))


def test_sigkill_at_random_moments_50_times(tmp_path: Path, cache_name: str) -> None:
    store = tmp_path / "a.zarr"
    data = make_store(store, (64, 4, 1024), (1, 4, 1024))  # 16 KB chunks
    np.save(tmp_path / "expected.npy", data)
    budget = 24 * 16 * 1024  # a third of the data: constant eviction
    fastchunk.set_cache_size(budget, shared=cache_name)
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, FASTCHUNK_SHARED_CACHE=f"{cache_name}:{budget}")
    rng = random.Random(13)
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        cmd = [sys.executable, WORKER, "churn", str(store), str(tmp_path / "expected.npy"),
               str(work), str(rng.randrange(1 << 30))]  # fmt: skip
        procs.append(subprocess.Popen(cmd, env=env))

    def beats(p: subprocess.Popen[bytes]) -> int:
        try:
            return int((work / f"beat.{p.pid}").read_text())
        except (OSError, ValueError):
            return 0

    for _ in range(3):
        start()
    kills = 0
    try:
        while kills < 50:
            victim = rng.choice(procs)
            # Once it reads, kill it at a random moment of its reads and inserts.
            deadline = time.monotonic() + 60
            while beats(victim) == 0:
                assert victim.poll() is None, f"worker exited with {victim.returncode}"
                assert time.monotonic() < deadline, "a worker made no progress in 60 s"
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.05))
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            kills += 1
            procs.remove(victim)
            info = fastchunk.get_cache_info(shared=cache_name)
            assert info["used"] <= budget, info
            for p in procs:
                assert p.poll() is None, f"worker exited with {p.returncode}"
            start()
        # The survivors go on reading correct data.
        before = {p.pid: beats(p) for p in procs}
        deadline = time.monotonic() + 60
        while any(beats(p) <= before[p.pid] + 3 for p in procs):
            assert time.monotonic() < deadline, "survivors stopped making progress (hang?)"
            assert all(p.poll() is None for p in procs)
            time.sleep(0.05)
    finally:
        (work / "stop").touch()
        codes = []
        for p in procs:
            try:
                codes.append(p.wait(timeout=60))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append("hung")
    wrong = [f.read_text() for f in work.glob("wrong.*")]
    assert codes == [0, 0, 0] and not wrong, (codes, wrong)
    # A new process reads everything correctly, and the budget holds.
    check = subprocess.run(
        [sys.executable, "-c",
         "import sys, numpy as np, fastchunk; a = fastchunk.open_array(sys.argv[1]);"
         "assert np.array_equal(a[...], np.load(sys.argv[2])); assert a[...].sum() == "
         "np.load(sys.argv[2]).sum()",
         str(store), str(tmp_path / "expected.npy")],
        env=env, timeout=120, capture_output=True, text=True,
    )  # fmt: skip
    assert check.returncode == 0, check.stderr[-2000:]
    files = _core_cache(cache_name)
    files.recount()  # what a process finding the accounting interrupted does
    info = files.stats()
    assert info["used"] == entries_bytes(cache_name) <= budget
    assert info["entries"] == len(_dir_listing(name=cache_name))
    assert not [n for n in _dir_listing(cache_name) if n.startswith(".tmp.")]
    assert info["inserts"] > 64 and info["evictions"] > 0


def _core_cache(name: str) -> Any:
    from fastchunk import _core

    return _core.FileCache(
        shared.shared_cache_dir(name), existing=True, mapped=True, checksum=False
    )


# ---------------------------------------------------------------- fork safety


def test_fork_while_threads_hit_the_caches(
    tmp_path: Path, cache_name: str, cache_off: None
) -> None:
    """Forks again and again while threads read through both chunk caches;
    every child reads correctly and exits (no lock inherited held)."""
    data = make_store(tmp_path / "a.zarr", (30, 3, 200), (1, 3, 200))
    a = fastchunk.open_array(tmp_path / "a.zarr")
    fastchunk.set_cache_size("64KB")  # the process LRU, small: constant eviction
    fastchunk.set_cache_size("128KB", shared=cache_name)
    stop = threading.Event()
    errors: list[BaseException] = []

    def hammer(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                rows = rng.integers(0, 30, 4)
                if not np.array_equal(a.take(rows), data[rows]):
                    raise AssertionError("wrong data in a reading thread")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=hammer, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(40):
            time.sleep(0.005)
            pid = os.fork()
            if pid == 0:  # the child: read through both caches, exit at once
                code = 1
                try:
                    rows = np.arange(i % 30, 30, 7)
                    ok = np.array_equal(a.take(rows), data[rows])
                    ok = ok and np.array_equal(a[...], data)
                    code = 0 if ok else 2
                finally:
                    os._exit(code)
            deadline = time.monotonic() + 30
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    pytest.fail(f"child {i} hung after fork")
                time.sleep(0.005)
            assert os.waitstatus_to_exitcode(status) == 0, f"child {i} read wrong data"
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors
