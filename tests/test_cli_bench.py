"""`fastchunk bench` on a tiny store: its table, its JSON and its PNG chart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fastchunk.tools.cli import main

zarr = pytest.importorskip("zarr")
pytest.importorskip("matplotlib")


@pytest.fixture
def tiny_store(tmp_path: Path) -> Path:
    root = tmp_path / "g.zarr"
    g = zarr.open_group(root, mode="w", zarr_format=3)
    big = g.create_array("big", shape=(16, 3, 200), chunks=(1, 3, 200), dtype="f4")
    big[:] = np.arange(16 * 3 * 200, dtype="f4").reshape(16, 3, 200)
    small = g.create_array("small", shape=(16,), chunks=(4,), dtype="i8")
    small[:] = np.arange(16)
    return root


def test_bench_json_table_and_png(tiny_store: Path, tmp_path: Path, capsys) -> None:
    png = tmp_path / "chart.png"
    args = [
        "bench",
        str(tiny_store),
        "--axis",
        "0",
        "--batch",
        "4",
        "--batches",
        "2",
        "--threads",
        "2",
        "--plot",
        str(png),
    ]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["array"] == "big"  # the largest array of the group
    assert result["batch"] == 4 and result["axis"] == 0 and result["threads"] == 2
    assert result["batch_nbytes"] == 4 * 3 * 200 * 4
    rows = {r["reader"]: r for r in result["results"]}
    assert set(rows) == {"fastchunk", "zarr-python", "zarrs", "tensorstore"}
    for name in ("fastchunk", "zarr-python"):
        assert rows[name]["check"] == "ok"
        assert rows[name]["seconds_per_batch"] > 0
    for r in rows.values():  # every reader ran and agreed, or says why it could not
        assert r.get("check") == "ok" or r.get("error")
    assert rows["zarr-python"]["speedup_vs_zarr"] == pytest.approx(1.0)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.pyplot as plt

    image = plt.imread(png)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100

    png.unlink()
    assert main([*args, "--readers", "fastchunk,zarr-python"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"store {tiny_store}  array big  shape (16, 3, 200)")
    header = next(i for i, line in enumerate(lines) if line.startswith("reader"))
    table = [line.split() for line in lines[header + 1 : header + 3]]
    assert [row[0] for row in table] == ["fastchunk", "zarr-python"]
    assert all(row[4] == "ok" for row in table)
    assert lines[header + 3] == f"chart written to {png}" and png.exists()


def test_bench_reports_a_broken_reader_and_bad_axis(tiny_store: Path, capsys) -> None:
    assert (
        main(
            [
                "bench",
                str(tiny_store),
                "--readers",
                "fastchunk,nonsense",
                "--batches",
                "1",
                "--json",
            ]
        )
        == 0
    )
    rows = {r["reader"]: r for r in json.loads(capsys.readouterr().out)["results"]}
    assert rows["fastchunk"]["check"] == "ok"
    assert "unknown reader" in rows["nonsense"]["error"]
    assert main(["bench", str(tiny_store), "--axis", "5"]) == 1
    assert "out of range" in capsys.readouterr().err


def test_the_zarrs_reader_is_strict(tiny_store: Path) -> None:
    """`fastchunk bench` and benchmarks/ share tools/readers.py; its zarrs row
    is zarrs' own pipeline, never zarr-python's under zarrs' name."""
    pytest.importorskip("zarrs")
    from fastchunk.tools.readers import open_reader

    reader = open_reader("zarrs", tiny_store, "big", threads=2)
    pipeline = reader.a._async_array.codec_pipeline
    assert type(pipeline).__name__ == "ZarrsCodecPipeline"
    assert pipeline.python_impl is None  # strict: no zarr-python fallback to hide behind
    data = np.arange(16 * 3 * 200, dtype="f4").reshape(16, 3, 200)
    idx = np.array([9, 2, 3, 4, 15])
    np.testing.assert_array_equal(reader.take(idx, 0), data[idx])
    np.testing.assert_array_equal(reader.oindex((idx, slice(None), slice(5, 50))),
                                  data[idx, :, 5:50])  # fmt: skip
    for name in ("fastchunk", "zarr-python", "tensorstore"):
        r = open_reader(name, tiny_store, "big")
        np.testing.assert_array_equal(r.take(idx, 0), data[idx])
        np.testing.assert_array_equal(r.element((3, 1, 7)), data[3, 1, 7])
