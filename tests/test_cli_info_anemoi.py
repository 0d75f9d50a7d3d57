"""`fastchunk info` on datasets made by `anemoi-datasets create`: variables,
dates and missing dates as anemoi.datasets.open_dataset gives them, the store
totals as anemoi-datasets recorded them, NaNs per variable apart from missing
dates, and the stored statistics checked against the data."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fastchunk.tools.cli import main
from tests import s3_server
from tests.anemoi_support import build_datasets, reference
from tests.s3_server import s3 as _s3_fixture  # noqa: F401 - fixture "s3"

zarr = pytest.importorskip("zarr")


def _iso(values: Any) -> list[str]:
    return [str(np.datetime64(v, "s")) for v in values]


def _info(capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> dict[str, Any]:
    assert main(["info", *args, "--json"]) == code
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """anemoi's own view of the dataset "base" (two missing dates), and a copy
    of it to change."""
    paths = build_datasets(tmp_path_factory.getbasetemp() / "anemoi-datasets")
    work = tmp_path_factory.mktemp("info-anemoi")
    case = {"id": "base", "args": [paths["base"]], "kwargs": {}, "reads": []}
    ref = reference([case], work)["base"]["properties"]
    return {"path": Path(paths["base"]), "ref": ref, "work": work}


def test_anemoi_section_is_anemoi_s_view(base: dict, capsys: pytest.CaptureFixture) -> None:
    ref, path = base["ref"], base["path"]
    r = _info(capsys, str(path))
    a = r["anemoi"]
    assert a["variables"] == ref["variables"]
    assert a["start_date"] == _iso(ref["dates"][:1])[0]
    assert a["end_date"] == _iso(ref["dates"][-1:])[0]
    assert a["dates"] == ref["len"]
    assert a["frequency"] == "6h" and ref["frequency"] == 6 * 3600
    assert a["missing_dates"] == _iso(ref["dates"][ref["missing"]]) and len(ref["missing"]) == 2
    assert a["missing_dates_undeclared"] == []
    # anemoi-datasets create recorded the size and the number of files it wrote.
    attrs = json.loads((path / ".zattrs").read_text())
    assert r["totals"]["bytes_on_disk"] == attrs["total_size"]
    assert r["totals"]["objects"] == attrs["total_number_of_files"]
    assert r["totals"]["chunks_missing"] == len(ref["missing"])
    assert r["totals"]["bytes_decoded"] == sum(a["nbytes"] for a in r["arrays"].values())


def test_scan_checks_statistics_and_counts_nans(
    base: dict, capsys: pytest.CaptureFixture
) -> None:
    ref = base["ref"]
    path = base["work"] / "changed.zarr"
    shutil.copytree(base["path"], path)
    names = ref["variables"]
    dates = ref["dates"]
    msl, t2m = names.index("msl"), names.index("t2m")
    data = zarr.open_array(path / "data", mode="r+")
    # msl raised by 1000 Pa on one date the statistics cover: they disagree now
    data[3, msl] = data[3, msl] + 1000.0
    # NaNs in t2m on the last date, after the statistics' end: they still agree
    row = np.asarray(data[15, t2m, 0])
    row[:5] = np.nan
    data[15, t2m, 0] = row
    # one more date without data, not declared missing (after the statistics' end)
    os.remove(path / "data" / "13.0.0.0")
    r = _info(capsys, str(path), "--scan")
    a = r["anemoi"]
    undeclared = _iso(dates[[13]])
    assert a["missing_dates_undeclared"] == undeclared
    assert a["missing_dates"] == sorted(_iso(dates[ref["missing"]]) + undeclared)
    assert a["nan_count"] == {n: (5 if n == "t2m" else 0) for n in names}
    assert a["statistics_end_date"] == _iso(dates[11:12])[0]  # the recipe's 80 %
    check = a["statistics_check"]
    assert not check["agree"]
    assert {d["variable"] for d in check["disagree"]} == {"msl"}
    assert {d["statistic"] for d in check["disagree"]} >= {"mean", "maximum"}
    for n in names:
        if n != "msl":
            assert check["per_variable"][n]["agree"], n
    # The per-variable rows of "data" are named, and exclude the missing dates.
    d = r["arrays"]["data"]
    assert [s["name"] for s in d["per_index"]] == names
    assert d["missing_values"] == 3 * 40 * len(names)
    assert d["nan_count"] == 5
    # ... as the text says.
    assert main(["info", str(path), "--scan"]) == 0
    out = capsys.readouterr().out
    assert "DISAGREE msl" in out
    assert "t2m 5" in out
    assert undeclared[0] in out


def test_anemoi_info_over_s3_matches_local(
    s3: s3_server.S3Server, base: dict, capsys: pytest.CaptureFixture
) -> None:
    s3.upload_dir(base["path"], "info-anemoi/base.zarr")
    url = f"s3://{s3.bucket}/info-anemoi/base.zarr"
    options = json.dumps(s3.storage_options())
    remote = _info(capsys, url, "--storage-options", options, "--scan")
    local = _info(capsys, str(base["path"]), "--scan")
    assert remote == local
    assert remote["anemoi"]["statistics_check"]["agree"]
