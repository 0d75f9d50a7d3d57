"""S3 reads in DataLoader worker processes, after the parent has already read
from the same store (whose client must then not be reused in the child)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

import fastchunk
from tests import s3_server  # noqa: E402
from tests.s3_server import s3 as _s3_fixture  # noqa: E402, F401 - fixture "s3"
from tests.s3_server import s3_stores as _s3_stores_fixture  # noqa: E402, F401 - fixture "s3_stores"

torch = pytest.importorskip("torch")


class WindowDataset(torch.utils.data.Dataset):
    """Sample i: rows [i, i + 2) of an S3 array, and the client this process used.
    Pickles as URL and options (spawn/forkserver); under fork the parent's
    opened Array is inherited as it is."""

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        self.url = url
        self.options = options
        self.array = fastchunk.open(url, storage_options=options)

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "options": self.options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], state["options"])  # type: ignore[misc]

    def __len__(self) -> int:
        return self.array.shape[0] - 1

    def __getitem__(self, i: int) -> tuple[np.ndarray, int, str]:
        return self.array[i : i + 2], os.getpid(), self.array.store.backend


def _load_all(ds: WindowDataset, context: str | None, workers: int) -> list[Any]:
    loader = torch.utils.data.DataLoader(
        ds,
        batch_size=4,
        shuffle=False,
        num_workers=workers,
        multiprocessing_context=context,
        timeout=120,  # a hung worker fails the test instead of hanging it
    )
    return list(loader)


# The default client (direct: fork-safe, in every process) and obstore, whose
# runtime does not survive fork: forked workers then read through botocore.
CLIENTS = {"auto": ("direct", "direct"), "obstore": ("obstore", "botocore")}


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize("name", ["v2", "v3_sharded"])
def test_fork_workers_after_parent_read(
    s3: s3_server.S3Server, s3_stores: dict, name: str, client: str
) -> None:
    _path, url = s3_stores[name]
    parent, child = CLIENTS[client]
    ds = WindowDataset(url, s3.storage_options(client=client))
    expected = ds.array[...]  # the parent reads first: its client is now live
    np.testing.assert_array_equal(expected, s3_server.test_data())
    batches = _load_all(ds, "fork", 2)
    got = torch.cat([b[0] for b in batches]).numpy()
    want = np.stack([expected[i : i + 2] for i in range(len(ds))])
    np.testing.assert_array_equal(got, want)
    pids = {int(p) for b in batches for p in b[1]}
    assert len(pids) == 2 and os.getpid() not in pids
    assert {s for b in batches for s in b[2]} == {child}
    # The parent's own client still works after its children have come and gone.
    np.testing.assert_array_equal(ds.array[...], expected)
    assert ds.array.store.backend == parent


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize("context", ["spawn", "forkserver"])
def test_spawned_workers_read_with_the_parents_client(
    s3: s3_server.S3Server, s3_stores: dict, context: str, client: str
) -> None:
    _path, url = s3_stores["v3"]
    ds = WindowDataset(url, s3.storage_options(client=client))
    expected = ds.array[...]
    batches = _load_all(ds, context, 1)
    got = torch.cat([b[0] for b in batches]).numpy()
    np.testing.assert_array_equal(got, np.stack([expected[i : i + 2] for i in range(len(ds))]))
    assert {s for b in batches for s in b[2]} == {CLIENTS[client][0]}


def test_four_fork_workers_three_epochs_after_parent_read(
    s3: s3_server.S3Server, s3_stores: dict
) -> None:
    # The hardening issue's stress case over S3: fresh fork workers every
    # epoch, each after the parent has read again, no deadlock, no difference.
    _path, url = s3_stores["v3"]
    ds = WindowDataset(url, s3.storage_options())
    expected = ds.array[...]
    want = np.stack([expected[i : i + 2] for i in range(len(ds))])
    for epoch in range(3):
        np.testing.assert_array_equal(ds.array[epoch : epoch + 5], expected[epoch : epoch + 5])
        order = torch.Generator().manual_seed(epoch)
        loader = torch.utils.data.DataLoader(
            ds,
            batch_size=4,
            shuffle=True,
            generator=order,
            num_workers=4,
            multiprocessing_context="fork",
            timeout=120,
        )
        seen = []
        for windows, pids, _backend in loader:
            seen.append(windows.numpy())
            assert os.getpid() not in {int(p) for p in pids}
        got = np.concatenate(seen)
        assert got.shape == want.shape
        assert sorted(w.tobytes() for w in got) == sorted(w.tobytes() for w in want)
