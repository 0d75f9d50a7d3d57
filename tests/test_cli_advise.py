"""`fastchunk advise` on small stores, one test per recommendation path: a
read-amplified layout gets the exact `fastchunk rechunk` command (which
runs, and whose result reads each sample whole), a slow object store (a real
SeaweedFS behind a 20 ms-per-request proxy) gets a local disk cache, a
working set that fits gets the node cache. Timings are not asserted (the
benchmark checks the predictions: benchmarks/bench_advise.py); the figures
that follow from the layout are."""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fastchunk.tools.cli import main
from tests import s3_server
from tests.s3_server import s3 as _s3_fixture  # noqa: F401 - fixture "s3"

zarr = pytest.importorskip("zarr")

SHAPE = (32, 4, 1, 16384)  # dates, variables, ensembles, gridpoints


def _data() -> np.ndarray:
    rng = np.random.default_rng(5)
    base = np.sin(np.linspace(0, 30, math.prod(SHAPE[1:]))).reshape(SHAPE[1:])
    return (base + rng.standard_normal(SHAPE) * 0.01).astype("f4")


def _store(path: Path, chunks: tuple[int, ...], compressor: Any) -> Path:
    z = zarr.create_array(path, shape=SHAPE, chunks=chunks, dtype="f4",
                          compressors=compressor)  # fmt: skip
    z[:] = _data()
    return path


def _advise(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["advise", *args, "--json", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def _by_action(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every action that applies (recommended or not: whether its gain is
    worth it is a timing, not asserted here)."""
    return {r["action"]: r for r in report["recommendations"]}


def _check_contract(r: dict[str, Any]) -> None:
    """The names scripts rely on (the issue's contract)."""
    assert r["predicted_samples_per_s"] > 0
    assert r["measured_samples_per_s"] is None or r["measured_samples_per_s"] > 0
    assert r["bottleneck"] in ("storage", "network", "decode", "model")
    for rec in r["recommendations"]:
        assert {"action", "command", "predicted_gain", "recommended"} <= set(rec)
        assert rec["predicted_gain"] > 0


def test_read_amplified_layout_gets_the_rechunk_command(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 8 dates x 2 variables x a quarter of the grid per chunk: one date
    # decodes 8 dates' worth of its chunks.
    src = _store(tmp_path / "amp.zarr", (8, 2, 1, 4096), zarr.codecs.ZstdCodec(level=3))
    r = _advise(capsys, str(src), "--batch", "4", "--window", "0,1")
    _check_contract(r)
    assert r["geometry"]["amplification"] > 2
    rec = _by_action(r)["rechunk"]
    assert rec["chunks"] == [1, 4, 1, 16384] and rec["codec"] == "zstd:3"
    assert rec["geometry_after"]["amplification"] <= 1.0
    # The command runs as printed, and the store it writes reads each date whole.
    words = shlex.split(rec["command"])
    assert words[:4] == ["fastchunk", "rechunk", str(src), "amp-by-axis0.zarr"]
    monkeypatch.chdir(tmp_path)
    assert main(words[1:] + ["--quiet"]) == 0
    capsys.readouterr()
    after = _advise(capsys, str(tmp_path / "amp-by-axis0.zarr"), "--batch", "4",
                    "--window", "0,1", "--no-check")  # fmt: skip
    assert after["chunks"] == [1, 4, 1, 16384]
    assert after["geometry"]["amplification"] <= 1.0
    assert "rechunk" not in _by_action(after)  # nothing left to rechunk
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "amp-by-axis0.zarr")[:], _data())


def test_working_set_that_fits_gets_the_node_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # gzip decodes far slower than a copy from shared memory.
    src = _store(tmp_path / "gz.zarr", (1, 4, 1, 16384), zarr.codecs.GzipCodec(level=6))
    r = _advise(capsys, str(src), "--batch", "4")
    _check_contract(r)
    assert r["regime"] == "warm" and r["bottleneck"] == "decode"
    rec = _by_action(r)["node_cache"]
    ws = math.prod(SHAPE) * 4
    assert rec["working_set_bytes"] == ws
    assert rec["cache_bytes"] >= ws and rec["share_held"] == 1.0
    assert rec["command"].startswith("FASTCHUNK_SHARED_CACHE=gz:")
    assert r["check"]["regime"] == "warm" and r["measured_samples_per_s"] > 0
    # The temporary cache of the measurement is gone.
    assert main(["cache", "--json"]) == 0
    caches = json.loads(capsys.readouterr().out)
    assert not [c for c in caches if "advise-" in json.dumps(c)]


@pytest.fixture
def slow_s3(s3: s3_server.S3Server) -> Iterator[dict[str, Any]]:
    proxy = s3_server.ProxyProcess(int(s3.endpoint.rsplit(":", 1)[1]), 0.02)
    try:
        yield s3.storage_options(endpoint_url=proxy.endpoint)
    finally:
        proxy.stop()


def test_slow_object_store_gets_a_local_disk_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture, s3: s3_server.S3Server, slow_s3: dict
) -> None:
    src = _store(tmp_path / "remote.zarr", (1, 4, 1, 16384), zarr.codecs.ZstdCodec(level=3))
    s3.upload_dir(src, "advise/remote.zarr")
    url = f"s3://{s3.bucket}/advise/remote.zarr"
    r = _advise(capsys, url, "--storage-options", json.dumps(slow_s3), "--batch", "4")
    _check_contract(r)
    assert r["regime"] == "remote" and r["bottleneck"] in ("network", "decode")
    assert r["costs"]["latency"] >= 0.02  # every request waits 20 ms in the proxy
    assert r["costs"]["fetch_ahead"] > 1  # the Loader fetches batches ahead
    rec = _by_action(r)["disk_cache"]
    stored = sum(p.stat().st_size for p in (src / "c").rglob("*") if p.is_file())
    assert rec["working_set_bytes"] == pytest.approx(stored, rel=0.01)
    assert "cache_dir" in rec["command"]
    # Batches of 4 dates: 4 requests; the network's time measured through
    # the Loader's fetching ahead.
    assert r["geometry"]["requests"] == 4
    ahead = r["measured"]["storage"]["fetch_ahead"]
    assert ahead["s_per_byte"] > 0 and ahead["timed_bytes"] > 0
    assert r["batch_seconds"]["network"] > 0
    # Single dates: no batch of an epoch holds another's, all is fetched.
    assert r["measured"]["storage"]["epoch_fetched_share"] == 1.0
    # The server listens on loopback: its CPU shares this machine's cores,
    # so it is measured while fetching and counted in the batch's CPU time.
    assert "server_cpu_per_byte" in ahead
    assert r["costs"]["server_cpu_per_byte"] > 0
    assert r["batch_seconds"]["server_cpu_seconds"] > 0


def test_only_a_loopback_object_store_shares_the_cores() -> None:
    from fastchunk.tools.advise_model import Costs, Geometry, batch_time
    from fastchunk.tools.advise_probe import server_on_this_machine

    assert server_on_this_machine("s3://b/x.zarr", {"endpoint_url": "http://127.0.0.1:9000"})
    assert server_on_this_machine("http://localhost:8080/x.zarr", None)
    assert not server_on_this_machine("s3://b/x.zarr", {"endpoint_url": "http://10.1.2.3:9000"})
    assert not server_on_this_machine("s3://b/x.zarr", None)
    geo = Geometry(chunks=8, requests=8, stored_bytes=8e6, decoded_bytes=1e7,
                   output_bytes=10**7, sample_bytes=10**6, working_set_decoded=10**8,
                   working_set_stored=10**8)  # fmt: skip
    costs = Costs(threads=2, cores=2, cpu_s=0.01, cpu_s_1=0.02, efficiency=1.0,
                  efficiency_1=1.0, available=2.0, probe_decoded_bytes=1e7, remote=True,
                  fetch_ahead=4, fetch_ahead_s_per_byte=1e-9, fetch_cpu_per_byte=0.0)  # fmt: skip
    alone = batch_time(geo, costs)
    assert alone["total"] == pytest.approx(0.008)  # the link; decoding takes 5 ms on 2 cores
    shared = batch_time(geo, dataclasses.replace(costs, server_cpu_per_byte=2e-9))
    assert shared["total"] == pytest.approx((0.01 + 0.016) / 2)  # the cores, shared
    # Windows that overlap: a third of the bytes is fetched, the rest is held.
    overlap = batch_time(geo, dataclasses.replace(costs, fetched_share=1 / 3))
    assert overlap["network"] == pytest.approx(0.008 / 3)
    assert overlap["total"] == pytest.approx(0.005)  # now decoding sets the pace


def test_fetched_share_follows_the_fetch_ahead_rules() -> None:
    from fastchunk.tools.advise_model import fetched_share

    def batches(*dates: tuple[int, ...]) -> list[list[tuple[int, int]]]:
        return [[(d, 100) for d in b] for b in dates]

    # No date twice: everything is fetched.
    assert fetched_share(batches((0, 1), (2, 3), (4, 5)), budget=10_000) == 1.0
    # Windows of consecutive dates, each overlapping the one before by 2 of 3:
    # within the budget each new batch fetches one date (3 + 1 + 1 of 9).
    assert fetched_share(batches((0, 1, 2), (1, 2, 3), (2, 3, 4)), budget=10_000) == 5 / 9
    # A budget of one batch: the next batch is named only once the one
    # before is read, and what it held is dropped by then; all fetched again.
    assert fetched_share(batches((0, 1, 2), (1, 2, 3), (2, 3, 4)), budget=300) == 1.0
    # A date named again by a batch still ahead stays held until that one.
    assert fetched_share(batches((0, 9), (1, 2), (0, 3)), budget=10_000) == 5 / 6
    assert fetched_share([], budget=100) == 1.0


def test_a_first_epoch_reads_each_chunk_from_the_disk_once() -> None:
    """Chunks of 16 dates read by random batches of 8: a cold first epoch
    reads each chunk from the disk once (a 16th of what its batches ask
    for), the rest from the page cache when it holds the working set; one
    date per chunk: everything cold."""
    from fastchunk.tools.advise_model import Costs, batch_geometry, batch_time

    anchors = np.arange(512)
    wide = batch_geometry((512, 4, 100), (16, 4, 100), None, 4, 0, [0], 8, anchors, 1e5)
    one = batch_geometry((512, 4, 100), (1, 4, 100), None, 4, 0, [0], 8, anchors, 1e5)
    assert wide.epoch_batches == one.epoch_batches == 64
    assert one.first_read_share == pytest.approx(1.0)
    assert wide.first_read_share == pytest.approx(32 / (wide.chunks * 64))
    assert wide.cold_share(0.0, 1.0) == pytest.approx(wide.first_read_share)
    # a page cache holding half the working set: half the re-reads miss
    first = wide.first_read_share
    assert wide.cold_share(0.0, 0.5) == pytest.approx(first + (1 - first) / 2)
    assert wide.cold_share(0.25, 0.5) == pytest.approx(0.75)  # a later epoch: what is not held
    costs = Costs(threads=2, cores=2, cpu_s=1e-6, cpu_s_1=2e-6, efficiency=1.0,
                  efficiency_1=1.0, available=2.0, probe_decoded_bytes=1e7, remote=False,
                  disk_bandwidth=1e8, cached_fraction=0.0, page_cache_share=1.0)  # fmt: skip
    assert batch_time(wide, costs)["storage"] == pytest.approx(
        wide.stored_bytes * first / 1e8)
    assert batch_time(one, costs)["storage"] == pytest.approx(one.stored_bytes / 1e8)


def test_model_bound_and_text(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = _store(tmp_path / "m.zarr", (1, 4, 1, 16384), zarr.codecs.ZstdCodec(level=1))
    r = _advise(capsys, str(src), "--batch", "2", "--step-time", "0.5", "--ranks", "2",
                "--nodes", "3", "--no-check")  # fmt: skip
    assert r["bottleneck"] == "model" and r["keeps_ahead_of_model"] is True
    assert r["predicted_samples_per_s"] == pytest.approx(2 / 0.5)
    assert r["measured_samples_per_s"] is None
    assert r["node"]["ranks"] == 2
    assert r["nodes"]["samples_per_s"] == pytest.approx(3 * r["node"]["samples_per_s"])
    assert main(["advise", str(src), "--batch", "2", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "bottleneck" in out and "recommendations" in out and "measured" in out


def test_bad_arguments_are_clean(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = _store(tmp_path / "b.zarr", (1, 4, 1, 16384), zarr.codecs.ZstdCodec(level=1))
    assert main(["advise", str(src), "--axis", "4"]) == 1
    assert "out of range" in capsys.readouterr().err
    assert main(["advise", str(src), "--window", "a,b"]) == 1
    assert "--window" in capsys.readouterr().err
    assert main(["advise", str(src), "--window", "0,40"]) == 1
    assert "no sample" in capsys.readouterr().err
    assert main(["advise", str(tmp_path / "none.zarr")]) == 1
