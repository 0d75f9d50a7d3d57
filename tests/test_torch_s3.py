"""The shipped torch classes (ArrayDataset, Loader) and anemoi views over S3
in DataLoader workers started by spawn and forkserver (Python 3.14's Linux
default), with credentials and a non-default endpoint given only through
storage_options: the workers must get both from the pickled dataset."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from tests import s3_server  # noqa: E402
from tests.s3_server import s3 as _s3_fixture  # noqa: E402, F401 - fixture "s3"
from tests.s3_server import s3_stores as _s3_stores_fixture  # noqa: E402, F401 - fixture "s3_stores"

torch = pytest.importorskip("torch")

import fastchunk.anemoi as fa  # noqa: E402
from fastchunk.torch import ArrayDataset, Loader  # noqa: E402

METHODS = [m for m in ("spawn", "forkserver") if m in multiprocessing.get_all_start_methods()]


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing but storage_options names the server or the keys (workers
    inherit this environment)."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.mark.parametrize("method", METHODS)
def test_array_dataset_over_s3_in_workers(s3: s3_server.S3Server, s3_stores: dict, method: str):
    _path, url = s3_stores["v3_sharded"]
    ds = ArrayDataset(url, offsets=[0, 1], storage_options=s3.storage_options())
    data = s3_server.test_data()
    want = torch.from_numpy(np.stack([data[a : a + 2] for a in ds.anchors]))
    fast = ds.dataloader(8, shuffle=False, num_workers=2, multiprocessing_context=method,
                         timeout=120)  # fmt: skip
    assert torch.equal(torch.cat(list(fast)), want)
    plain = torch.utils.data.DataLoader(
        ds, batch_size=8, num_workers=1, multiprocessing_context=method, timeout=120
    )
    assert torch.equal(torch.cat(list(plain)), want)


@pytest.mark.parametrize("method", METHODS)
def test_loader_dataset_over_s3_in_workers(s3: s3_server.S3Server, s3_stores: dict, method: str):
    _path, url = s3_stores["v2"]
    loader = Loader(url, batch_size=6, shuffle=False, dtype="float16",
                    storage_options=s3.storage_options())  # fmt: skip
    want = torch.cat([b.clone() for b in loader])
    np.testing.assert_array_equal(want.float().numpy(), s3_server.test_data().astype("f2"))
    workers = loader.dataset.dataloader(6, shuffle=False, num_workers=2,
                                        multiprocessing_context=method, timeout=120)  # fmt: skip
    assert torch.equal(torch.cat(list(workers)), want)


@pytest.fixture(scope="module")
def s3_anemoi(s3: s3_server.S3Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from tests.anemoi_support import build_datasets

    local = build_datasets(tmp_path_factory.getbasetemp() / "anemoi-datasets")
    out = {}
    for name, path in local.items():
        s3.upload_dir(path, f"anemoi/{name}.zarr")
        out[name] = f"s3://{s3.bucket}/anemoi/{name}.zarr"
    return {"local": local, "s3": out}


def test_anemoi_view_over_s3_matches_local(s3: s3_server.S3Server, s3_anemoi) -> None:
    opts = s3.storage_options()
    kw = {"select": ["t2m", "msl"], "frequency": "12h", "start": "2020-01-01T12:00:00"}
    local = fa.open_dataset(s3_anemoi["local"]["base"], **kw)
    remote = fa.open_dataset(s3_anemoi["s3"]["base"], storage_options=opts, **kw)
    assert remote.variables == local.variables and remote.missing == local.missing
    np.testing.assert_array_equal(remote.dates, local.dates)
    for k, v in local.statistics.items():
        np.testing.assert_array_equal(remote.statistics[k], v)
    ok = [i for i in range(len(local)) if i not in local.missing]
    np.testing.assert_array_equal(remote[ok], local[ok])
    joined = fa.open_dataset(join=[s3_anemoi["s3"]["base"], s3_anemoi["s3"]["other"]],
                             storage_options=opts)  # fmt: skip
    assert joined.missing == {3, 5, 10}
    # the data array named in the URL finds the group's missing dates too
    ds = ArrayDataset(s3_anemoi["s3"]["base"] + "/data", storage_options=opts)
    np.testing.assert_array_equal(ds.missing, [5, 10])


@pytest.mark.parametrize("method", METHODS)
def test_anemoi_view_over_s3_in_workers(s3: s3_server.S3Server, s3_anemoi, method: str) -> None:
    view = fa.open_dataset(s3_anemoi["s3"]["base"], storage_options=s3.storage_options(),
                           select=["t2m", "insolation"])  # fmt: skip
    loader = Loader(view, batch_size=4, offsets=[-1, 0], normalize="statistics",
                    layout="anemoi", shuffle=False)  # fmt: skip
    want = torch.cat([b.clone() for b in loader])
    workers = loader.dataset.dataloader(4, shuffle=False, num_workers=2,
                                        multiprocessing_context=method, timeout=120)  # fmt: skip
    assert torch.equal(torch.cat(list(workers)), want)
