"""gs:// reads in DataLoader worker processes through the shipped
fastchunk.torch.ArrayDataset, with the endpoint and credentials given only
through storage_options, under fork (after the parent has read: obstore
cannot run there), spawn and forkserver; and the obstore fork check on a
platform without /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np
import pytest

import fastchunk
from tests import (
    gcs_server,  # noqa: E402
    s3_server,  # noqa: E402
)
from tests.gcs_server import gcs as _gcs_fixture  # noqa: E402, F401 - fixture "gcs"
from tests.gcs_server import gcs_stores as _gcs_stores_fixture  # noqa: E402, F401 - fixture "gcs_stores"

torch = pytest.importorskip("torch")
from fastchunk.torch import ArrayDataset  # noqa: E402

BLOCKING = "google-auth+urllib3"
# The default client (direct: fork-safe, in every process) and obstore, whose
# runtime does not survive fork: forked workers then read through the
# blocking client.
CLIENTS = {"auto": ("direct", "direct"), "obstore": ("obstore", BLOCKING)}

# The other tests are of obstore's fork check and its fallback: their stores
# name obstore in their storage_options, which travel to every worker (an
# environment variable would not reach a forkserver started earlier).
OBSTORE = {"client": "obstore"}


def collate_with_backend(samples: list[Any]) -> tuple[Any, int, str]:
    """The batch, and the worker's pid and client (runs in the worker)."""
    info = torch.utils.data.get_worker_info()
    backend = info.dataset.array.store.backend if info is not None else "main"
    return torch.stack(samples), os.getpid(), backend


def _load(ds: ArrayDataset, context: str, workers: int, shuffle: bool = False) -> list[Any]:
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=4,
        shuffle=shuffle,
        num_workers=workers,
        multiprocessing_context=context,
        collate_fn=collate_with_backend,
        timeout=120,  # a hung worker fails the test instead of hanging it
    )
    return list(loader)


def _windows(expected: np.ndarray, ds: ArrayDataset) -> np.ndarray:
    return np.stack([expected[a - 1 : a + 2] for a in ds.anchors])


def _token(gcs: gcs_server.GCSServer, kind: str) -> Any:
    if kind == "access_token":
        return gcs_server.ACCESS_TOKEN
    account = gcs_server.make_service_account("loader@fastchunk-test.iam.gserviceaccount.com")
    assert gcs.gate is not None
    gcs.gate.allow_service_account(account)
    return account


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize("token", ["access_token", "service_account"])
@pytest.mark.parametrize("name", ["v2", "v3_sharded"])
def test_fork_workers_after_parent_read(
    gcs: gcs_server.GCSServer, gcs_stores: dict, name: str, token: str, client: str
) -> None:
    _path, url = gcs_stores[name]
    parent, child = CLIENTS[client]
    opts = gcs.storage_options(token=_token(gcs, token), client=client)
    array = fastchunk.open_array(url, storage_options=opts)
    expected = array[...]  # the parent reads first: its obstore runtime is live
    np.testing.assert_array_equal(expected, s3_server.test_data())
    ds = ArrayDataset(array, offsets=[-1, 0, 1])
    batches = _load(ds, "fork", 2)
    got = torch.cat([b[0] for b in batches]).numpy()
    np.testing.assert_array_equal(got, _windows(expected, ds))
    pids = {b[1] for b in batches}
    assert len(pids) == 2 and os.getpid() not in pids
    assert {b[2] for b in batches} == {child}
    np.testing.assert_array_equal(array[...], expected)  # the parent's client still works
    assert array.store.backend == parent


@pytest.mark.parametrize("context", ["spawn", "forkserver"])
def test_spawned_workers_read_with_obstore(
    gcs: gcs_server.GCSServer, gcs_stores: dict, context: str
) -> None:
    _path, url = gcs_stores["v3"]
    array = fastchunk.open_array(url, storage_options=gcs.storage_options(**OBSTORE))
    expected = array[...]
    ds = ArrayDataset(array, offsets=[-1, 0, 1])
    batches = _load(ds, context, 1)
    got = torch.cat([b[0] for b in batches]).numpy()
    np.testing.assert_array_equal(got, _windows(expected, ds))
    assert {b[2] for b in batches} == {"obstore"}


def test_fork_workers_three_epochs_shuffled(gcs: gcs_server.GCSServer, gcs_stores: dict) -> None:
    _path, url = gcs_stores["v3"]
    array = fastchunk.open_array(url, storage_options=gcs.storage_options(**OBSTORE))
    expected = array[...]
    ds = ArrayDataset(array, offsets=[-1, 0, 1])
    want = sorted(w.tobytes() for w in _windows(expected, ds))
    for epoch in range(3):
        np.testing.assert_array_equal(array[epoch : epoch + 5], expected[epoch : epoch + 5])
        batches = _load(ds, "fork", 2, shuffle=True)
        got = np.concatenate([b[0].numpy() for b in batches])
        assert sorted(w.tobytes() for w in got) == want
        assert {b[2] for b in batches} == {BLOCKING}


_FORK_CHECK = """
import os, select, signal, sys
import fastchunk
from fastchunk.store import obstore_client

if {no_proc}:
    obstore_client._tokio_threads_running = lambda: False  # as on macOS
if {parent_reads}:
    fastchunk.open_array({url!r}, storage_options={opts!r})[...]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    try:
        array = fastchunk.open_array({url!r}, storage_options={opts!r})
        value = float(array[1, 2, 3])
        message = f"{{array.store.backend}} {{value!r}}"
    except BaseException as e:
        message = f"error {{e!r}}"
    os.write(w, message.encode())
    os._exit(0)
os.close(w)
if select.select([r], [], [], 60)[0]:
    print(os.read(r, 4096).decode())
else:  # a child that uses obstore after such a fork hangs
    os.kill(pid, signal.SIGKILL)
    print("hung -")
os.waitpid(pid, 0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("no_proc", [False, True])
@pytest.mark.parametrize("parent_reads", [True, False])
def test_fork_check_without_proc(
    gcs: gcs_server.GCSServer, gcs_stores: dict, no_proc: bool, parent_reads: bool
) -> None:
    """A child forked after the parent read through obstore uses the blocking
    client, also where /proc cannot show tokio's threads; a child of a parent
    that never started obstore's runtime uses obstore."""
    _path, url = gcs_stores["v3"]
    script = _FORK_CHECK.format(
        no_proc=no_proc, parent_reads=parent_reads, url=url, opts=gcs.storage_options(**OBSTORE)
    )
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    backend, value = done.stdout.split()
    assert backend == (BLOCKING if parent_reads else "obstore")
    assert float(value) == float(s3_server.test_data()[1, 2, 3])
