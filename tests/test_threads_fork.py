"""Many Python threads reading one Array, reads after fork(), and the size of
the native thread pool."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

import fastchunk
from tests.common import SEED, random_data

SHAPE = (40, 30, 6)
CHILD_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    data = random_data(np.random.default_rng(SEED), SHAPE, "float64")
    path = tmp_path_factory.mktemp("threads") / "a.zarr"
    z = zarr.create_array(str(path), shape=SHAPE, chunks=(3, 7, 6), dtype="f8")
    z[...] = data
    return path, data


@pytest.fixture
def restore_threads() -> Any:
    before = fastchunk.get_num_threads()
    yield
    fastchunk.set_num_threads(before)


def selections(seed: int, n: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    out: list[Any] = []
    for _ in range(n):
        start = int(rng.integers(0, 30))
        rows = rng.integers(0, SHAPE[0], size=int(rng.integers(1, 12)))
        out.append(("take", rows))
        out.append(("slice", np.s_[start : start + 9 : 1 + start % 3, ::-1, int(rng.integers(6))]))
    return out


def run(a: fastchunk.Array, sel: tuple[str, Any]) -> np.ndarray:
    kind, key = sel
    return a.take(key, axis=0) if kind == "take" else a[key]


def test_eight_threads_read_one_array(
    stored: tuple[Path, np.ndarray], restore_threads: None
) -> None:
    path, data = stored
    fastchunk.set_num_threads(4)
    a = fastchunk.open_array(path)
    work = [selections(seed, 25) for seed in range(8)]
    single = [[run(a, s) for s in w] for w in work]
    results: list[list[np.ndarray] | None] = [None] * 8
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def reader(i: int) -> None:
        try:
            barrier.wait()
            results[i] = [run(a, s) for s in work[i] * 2]
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a reader thread hung"
    assert not errors, errors
    for i in range(8):
        got = results[i]
        assert got is not None
        expected = single[i] * 2
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e)
    # The single-threaded reads agree with numpy too.
    for (_kind, key), e in zip(work[0], single[0], strict=True):
        np.testing.assert_array_equal(e, data[key])


def test_threads_with_separate_arrays_and_outs(stored: tuple[Path, np.ndarray]) -> None:
    path, data = stored
    outs = [np.empty((5,) + SHAPE[1:]) for _ in range(8)]
    rows = [np.random.default_rng(i).integers(0, SHAPE[0], 5) for i in range(8)]
    errors: list[BaseException] = []

    def reader(i: int) -> None:
        try:
            a = fastchunk.open_array(path)
            for _ in range(10):
                a.take(rows[i], axis=0, out=outs[i])
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    for i in range(8):
        np.testing.assert_array_equal(outs[i], data[rows[i]])


def fork_and_read(child: Callable[[], Any]) -> Any:
    """Runs `child` in a forked process; returns what it returned (pickled
    through a pipe). Fails when the child hangs, crashes or raises."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        os.close(rfd)
        code = 0
        try:
            payload = pickle.dumps(("ok", child()))
        except BaseException as e:  # noqa: BLE001 - sent to the parent
            payload, code = pickle.dumps(("error", repr(e))), 1
        try:
            with os.fdopen(wfd, "wb") as f:
                f.write(payload)
        finally:
            os._exit(code)
    os.close(wfd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    os.set_blocking(rfd, False)
    status = None
    try:
        while True:
            try:
                block = os.read(rfd, 1 << 16)
                if block:
                    chunks.append(block)
            except BlockingIOError:
                pass
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"the forked child did not finish in {CHILD_TIMEOUT_S} s (hang)")
            time.sleep(0.01)
        while True:
            try:
                block = os.read(rfd, 1 << 16)
            except BlockingIOError:
                break
            if not block:
                break
            chunks.append(block)
    finally:
        os.close(rfd)
    assert os.WIFEXITED(status), f"child died: status {status}"
    kind, value = pickle.loads(b"".join(chunks))
    assert kind == "ok", value
    assert os.WEXITSTATUS(status) == 0
    return value


@pytest.mark.parametrize("threads", [1, 4])
def test_fork_after_reading(
    stored: tuple[Path, np.ndarray], restore_threads: None, threads: int
) -> None:
    path, data = stored
    fastchunk.set_num_threads(threads)
    a = fastchunk.open_array(path)
    rows = [7, 0, 39, 7, 22]
    parent = a.take(rows)  # the pool exists and has run before the fork
    np.testing.assert_array_equal(parent, data[rows])

    def child() -> tuple[np.ndarray, np.ndarray, int]:
        b = fastchunk.open_array(path)
        return a.take(rows), b[::-2, 3:20, 1], fastchunk.get_num_threads()

    got_a, got_b, n = fork_and_read(child)
    np.testing.assert_array_equal(got_a, parent)
    np.testing.assert_array_equal(got_b, data[::-2, 3:20, 1])
    assert n == threads
    # The parent still reads after its child is gone.
    np.testing.assert_array_equal(a[5:9], data[5:9])


def test_fork_while_another_thread_reads(
    stored: tuple[Path, np.ndarray], restore_threads: None
) -> None:
    """The child of a fork taken in the middle of reads (pool busy, its locks
    possibly held) must still read."""
    path, data = stored
    fastchunk.set_num_threads(4)
    a = fastchunk.open_array(path)
    stop = threading.Event()
    errors: list[BaseException] = []

    def busy() -> None:
        try:
            while not stop.is_set():
                a[...]
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=busy)
    t.start()
    try:
        for _ in range(5):
            time.sleep(0.01)
            got = fork_and_read(lambda: a[::3, ::2, 0])
            np.testing.assert_array_equal(got, data[::3, ::2, 0])
    finally:
        stop.set()
        t.join(timeout=60)
    assert not t.is_alive()
    assert not errors, errors


def test_fork_repeatedly_while_threads_hit_the_caches(
    stored: tuple[Path, np.ndarray], restore_threads: None, tmp_path: Path
) -> None:
    """The caches' locks are taken before fork() and released in parent and
    child (prepare/parent/child): a child forked while other threads are
    inside the decoded-chunk cache or the shard-index cache finds both free
    and consistent, and reads through them."""
    path, data = stored
    sharded_data = random_data(np.random.default_rng(SEED + 1), (24, 16), "int32")
    spath = tmp_path / "sharded.zarr"
    z = zarr.create_array(str(spath), shape=(24, 16), chunks=(2, 4), shards=(8, 8), dtype="i4")
    z[...] = sharded_data
    fastchunk.set_num_threads(2)
    fastchunk.set_cache_size(256 * 1024)  # small: inserts evict all the time
    a = fastchunk.open_array(path)
    s = fastchunk.open_array(spath)
    stop = threading.Event()
    errors: list[BaseException] = []

    def hammer(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                rows = rng.integers(0, SHAPE[0], size=6)
                a.take(rows)
                s[int(rng.integers(0, 24)) :, :: 1 + int(rng.integers(3))]
                fastchunk._core.clear_shard_index_cache()
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            errors.append(e)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(25):
            time.sleep(0.003 * (i % 4))
            got, got_s = fork_and_read(lambda: (a.take([1, 39, 1]), s[3:21, 5:]))
            np.testing.assert_array_equal(got, data[[1, 39, 1]])
            np.testing.assert_array_equal(got_s, sharded_data[3:21, 5:])
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        fastchunk.set_cache_size(0)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors


def test_child_sets_its_own_thread_count(
    stored: tuple[Path, np.ndarray], restore_threads: None
) -> None:
    path, data = stored
    fastchunk.set_num_threads(2)
    a = fastchunk.open_array(path)
    a[0]

    def child() -> tuple[int, np.ndarray]:
        fastchunk.set_num_threads(3)
        return fastchunk.get_num_threads(), a.take([1, 2, 1])

    n, got = fork_and_read(child)
    assert n == 3
    np.testing.assert_array_equal(got, data[[1, 2, 1]])
    assert fastchunk.get_num_threads() == 2


def test_set_and_get_num_threads(stored: tuple[Path, np.ndarray], restore_threads: None) -> None:
    path, data = stored
    a = fastchunk.open_array(path)
    for n in (1, 3, 8, 2):
        fastchunk.set_num_threads(n)
        assert fastchunk.get_num_threads() == n
        np.testing.assert_array_equal(a[::2, 1], data[::2, 1])
    fastchunk.set_num_threads(0)  # n < 1: every core this process may use
    assert fastchunk.get_num_threads() == len(os.sched_getaffinity(0))
    np.testing.assert_array_equal(a[...], data)


def python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "FASTCHUNK_NUM_THREADS"}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True,
                          text=True, timeout=60)


def test_num_threads_from_environment(stored: tuple[Path, np.ndarray]) -> None:
    path, data = stored
    code = (
        "import fastchunk, numpy as np\n"
        f"a = fastchunk.open_array({str(path)!r})\n"
        "print(fastchunk.get_num_threads(), float(a[...].sum()))\n"
    )
    out = python(code, FASTCHUNK_NUM_THREADS="5")
    assert out.returncode == 0, out.stderr
    n, total = out.stdout.split()
    assert int(n) == 5
    assert float(total) == pytest.approx(float(data.sum()))
    default = python("import fastchunk; print(fastchunk.get_num_threads())")
    assert default.returncode == 0, default.stderr
    assert int(default.stdout) == len(os.sched_getaffinity(0))


def test_bad_num_threads_environment() -> None:
    out = python("import fastchunk", FASTCHUNK_NUM_THREADS="many")
    assert out.returncode != 0
    assert "FASTCHUNK_NUM_THREADS" in out.stderr


def test_resizing_the_pool_does_not_leak_threads(tmp_path):
    # A resized pool is joined once no read uses it any more.
    data = np.arange(64 * 100, dtype="f4").reshape(64, 100)
    z = zarr.create_array(tmp_path / "r.zarr", shape=data.shape, chunks=(1, 100), dtype="f4")
    z[:] = data
    a = fastchunk.open(tmp_path / "r.zarr")
    before = fastchunk.get_num_threads()

    def os_threads() -> int:
        return len(os.listdir("/proc/self/task"))

    try:
        fastchunk.set_num_threads(2)
        np.testing.assert_array_equal(a[:], data)
        start = os_threads()
        for i in range(30):
            fastchunk.set_num_threads(2 + i % 3)
            np.testing.assert_array_equal(a[:], data)
        assert os_threads() <= start + 4
    finally:
        fastchunk.set_num_threads(before)
