"""Does `fastchunk advise` predict right, and does its advice pay?

For each benchmark store (make_stores.py: zstd, blosc, sharded; and a
read-amplified layout of the same data), local and in S3 behind a proxy that
adds 20 ms to every request (a real SeaweedFS, tests/s3_server.py), and for
each access pattern, `advise` measures, predicts the Loader's samples/s and
checks with a real Loader run: the prediction must be within 25% of the
measurement. Then the advice it recommends is followed (the node cache, a
local disk cache, the rechunk command) and the Loader measured again, before
and after alternated in the same conditions: the measured gain must be at
least the predicted one. Each case (store, where, pattern: advise, then its
advice followed) runs in a fresh process, as a user runs `fastchunk advise`
and then a training job (--same-process: all in this one).

    python benchmarks/bench_advise.py                     # 512 x 16 x 40320 local, 128 dates in S3
    python benchmarks/bench_advise.py --quick              # small stores, a smoke run
    flock /tmp/fastchunk-bench.lock python benchmarks/bench_advise.py

Results: benchmarks/results/advise.json (every report), and a table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import DATA_DIR, RESULTS_DIR, StoreSize  # noqa: E402
from make_stores import FieldMaker, add_size_args, parse_size, write_store  # noqa: E402

import fastchunk  # noqa: E402
from fastchunk.tools.advise import Advisor, advise  # noqa: E402
from fastchunk.tools.cli import main as cli  # noqa: E402

PATTERNS = {
    "gather": {"batch": 8, "window": None},
    "windows": {"batch": 4, "window": [-1, 0, 1]},
    # a first epoch of a local store: the check's chunks evicted from the page cache
    "gather-cold": {"batch": 8, "window": None, "cold": True},
}
TOLERANCE = 0.25


def amplified_store(size: StoreSize) -> Path:
    """The benchmark data in a layout that does not suit reading by date:
    chunks of 16 dates x a quarter of the variables x a quarter of the grid."""
    import zarr
    from zarr.codecs import ZstdCodec

    path = DATA_DIR / f"amplified-{size.tag()}.zarr"
    done = path / "zarr.json"
    if done.exists() and json.loads(done.read_text()).get("attributes", {}).get("complete"):
        return path
    chunks = (16, max(1, size.variables // 4), 1, -(-size.points // 4))
    z = zarr.create_array(str(path), shape=size.shape, chunks=chunks, dtype="float32",
                          compressors=ZstdCodec(level=3), overwrite=True)  # fmt: skip
    maker = FieldMaker(size)
    for start in range(0, size.dates, 32):
        stop = min(size.dates, start + 32)
        z[start:stop] = maker.dates(start, stop)
    z.attrs["complete"] = True
    return path


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def alternate(runs: list[tuple[str, Any]], rounds: int) -> dict[str, float]:
    """Samples/s of each (name, run), the runs alternated `rounds` times:
    geometric means (their ratio is that of the rounds' paired ratios)."""
    got: dict[str, list[float]] = {name: [] for name, _ in runs}
    for _ in range(rounds):
        for name, run in runs:
            got[name].append(run())
    return {name: statistics.geometric_mean(v) for name, v in got.items()}


def _node_cache(before: Advisor, rec: dict[str, Any], nb: int, regime: str,
                rounds: int) -> dict[str, float]:  # fmt: skip
    name = f"bench-advise-{os.getpid()}"

    def cached() -> float:
        fastchunk.set_cache_size(rec["cache_bytes"], shared=name)
        try:
            before.loader_run(nb, regime)  # the first epoch fills it
            return before.loader_run(nb, regime)
        finally:
            fastchunk.set_cache_size(0, shared=name)

    try:
        return alternate([("before", lambda: before.loader_run(nb, regime)),
                          ("after", cached)], rounds)  # fmt: skip
    finally:
        from fastchunk.cache import remove_shared_cache

        remove_shared_cache(name)


def _disk_cache(before: Advisor, rec: dict[str, Any], nb: int, regime: str, rounds: int,
                location: str, options: dict[str, Any] | None, pattern: dict[str, Any],
                work: Path) -> dict[str, float]:  # fmt: skip
    where = tempfile.mkdtemp(prefix="bench-advise-cache-", dir=work)
    opts = dict(options or {}, cache_dir=where, cache_size=rec["cache_bytes"])
    after = Advisor(location, storage_options=opts, **pattern)

    def from_disk() -> float:
        after.loader_run(nb, regime)  # the first epoch fills it
        return after.loader_run(nb, regime)

    try:
        return alternate([("before", lambda: before.loader_run(nb, regime)),
                          ("after", from_disk)], rounds)  # fmt: skip
    finally:
        shutil.rmtree(where, ignore_errors=True)


def _rechunk(before: Advisor, rec: dict[str, Any], nb: int, regime: str, rounds: int,
             options: dict[str, Any] | None, pattern: dict[str, Any], work: Path,
             row: dict[str, Any]) -> dict[str, float]:  # fmt: skip
    """Runs the command as printed (into `work`; with the storage options
    for a source in S3), then the Loader on the result, which is local."""
    words = shlex.split(rec["command"].replace("--storage-options '...'", ""))
    dst = work / words[3]
    shutil.rmtree(dst, ignore_errors=True)
    words[3] = str(dst)
    if options:
        words += ["--storage-options", json.dumps(options)]
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli(words[1:] + ["--quiet"]) == 0
    row["rechunk_seconds"] = time.perf_counter() - t0
    after = Advisor(str(dst), **pattern)
    after_regime = "warm" if regime == "remote" else regime
    try:
        return alternate([("before", lambda: before.loader_run(nb, regime)),
                          ("after", lambda: after.loader_run(nb, after_regime))],
                         rounds)  # fmt: skip
    finally:
        shutil.rmtree(dst, ignore_errors=True)


def follow(report: dict[str, Any], location: str, options: dict[str, Any] | None,
           pattern: dict[str, Any], rounds: int, work: Path) -> list[dict[str, Any]]:  # fmt: skip
    """Follows each recommended cache or rechunk and measures its gain: the
    Loader before and after, alternated."""
    out = []
    nb = report["check"]["batches_per_run"] or 8
    regime = report["regime"]
    for rec in report["recommendations"]:
        if not rec["recommended"] or rec["action"] not in ("node_cache", "disk_cache", "rechunk"):
            continue
        before = Advisor(location, storage_options=options, **pattern)
        row: dict[str, Any] = {"action": rec["action"], "predicted_gain": rec["predicted_gain"]}
        if rec["action"] == "node_cache":
            got = _node_cache(before, rec, nb, regime, rounds)
        elif rec["action"] == "disk_cache":
            got = _disk_cache(before, rec, nb, regime, rounds, location, options, pattern, work)
        else:
            got = _rechunk(before, rec, nb, regime, rounds, options, pattern, work, row)
        row.update(before=got["before"], after=got["after"],
                   measured_gain=got["after"] / got["before"])  # fmt: skip
        row["ok"] = row["measured_gain"] >= row["predicted_gain"]
        out.append(row)
    return out


def run_case_here(label: str, where: str, location: str, options: dict[str, Any] | None,
                  pname: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:  # fmt: skip
    pattern = dict(PATTERNS[pname])
    t0 = time.perf_counter()
    report = advise(location, storage_options=options, rounds=args.rounds, **pattern)
    report["bench"] = {"store": label, "where": where, "pattern": pname,
                       "advise_seconds": time.perf_counter() - t0, "load": load()}  # fmt: skip
    err = report["prediction_error"]
    report["bench"]["ok"] = abs(err) <= TOLERANCE
    if not args.no_follow:
        report["bench"]["followed"] = follow(report, location, options, pattern,
                                             args.rounds, work)  # fmt: skip
    recs = ", ".join(f"{r['action']} x{r['predicted_gain']:.2f}"
                     for r in report["recommendations"] if r["recommended"])  # fmt: skip
    print(f"| {label} | {where} | {pname} | {report['predicted_samples_per_s']:.1f} | "
          f"{report['measured_samples_per_s']:.1f} | {err:+.0%} | "
          f"{'ok' if report['bench']['ok'] else 'OFF'} | {report['bottleneck']} | {recs} |",
          flush=True)  # fmt: skip
    for f in report["bench"].get("followed", []):
        print(f"|   | followed | {f['action']} | {f['before']:.1f} -> {f['after']:.1f} "
              f"samples/s | measured x{f['measured_gain']:.2f} | predicted "
              f"x{f['predicted_gain']:.2f} | {'ok' if f['ok'] else 'BELOW'} | | |",
              flush=True)  # fmt: skip
    return report


def run_case_fresh(label: str, where: str, location: str, options: dict[str, Any] | None,
                   pname: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:  # fmt: skip
    """run_case_here in a fresh process, as a user runs `fastchunk advise`
    and then their training: nothing of the cases before (buffers kept by
    the pool, mappings of other stores, caches) is in the measurements."""
    out = work / "case.json"
    case = {"label": label, "where": where, "location": location, "options": options,
            "pattern": pname, "work": str(work), "out": str(out)}  # fmt: skip
    cmd = [sys.executable, str(Path(__file__).resolve()), "--case", json.dumps(case),
           "--rounds", str(args.rounds)] + (["--no-follow"] if args.no_follow else [])  # fmt: skip
    subprocess.run(cmd, check=True)
    report = json.loads(out.read_text())
    out.unlink()
    return report


def run_case(label: str, where: str, location: str, options: dict[str, Any] | None,
             pname: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:  # fmt: skip
    if args.same_process:
        return run_case_here(label, where, location, options, pname, args, work)
    return run_case_fresh(label, where, location, options, pname, args, work)


def run_fresh_case(args: argparse.Namespace) -> None:
    case = json.loads(args.case)
    report = run_case_here(case["label"], case["where"], case["location"], case["options"],
                           case["pattern"], args, Path(case["work"]))  # fmt: skip
    Path(case["out"]).write_text(json.dumps(report))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_size_args(p)
    p.add_argument("--encodings", default="zstd,blosc,sharded,amplified")
    p.add_argument("--patterns", default=",".join(PATTERNS))
    p.add_argument("--where", default="local,s3")
    p.add_argument("--s3-dates", type=int, default=128, help="dates of the stores put in S3")
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--rounds", type=int, default=3, help="measure/check rounds, alternated")
    p.add_argument("--no-follow", action="store_true", help="do not follow the advice")
    p.add_argument("--json", type=Path, default=RESULTS_DIR / "advise.json")
    p.add_argument("--same-process", action="store_true",
                   help="run every case in this process (default: each in a fresh one)")
    p.add_argument("--case", help=argparse.SUPPRESS)  # a fresh process's case, as JSON
    args = p.parse_args()
    if args.case:
        run_fresh_case(args)
        return
    size = parse_size(args)
    s3_size = StoreSize(min(args.s3_dates, size.dates), size.variables, size.points)
    encodings = args.encodings.split(",")
    patterns = args.patterns.split(",")
    print(f"load before: {load()}", flush=True)
    print(f"fastchunk {fastchunk.__version__}, threads {fastchunk.get_num_threads()}, "
          f"cores {len(os.sched_getaffinity(0))}; local {size.tag()}, S3 {s3_size.tag()} "
          f"with {args.latency_ms:g} ms per request; {args.rounds} rounds", flush=True)  # fmt: skip
    print("| store | where | pattern | predicted samples/s | measured | error | within 25% "
          "| bottleneck | recommended |")
    print("|---|---|---|---|---|---|---|---|---|")

    def path_of(enc: str, sz: StoreSize) -> Path:
        return amplified_store(sz) if enc == "amplified" else write_store(enc, sz)

    reports = []
    with tempfile.TemporaryDirectory(prefix="bench-advise-", dir=DATA_DIR.parent) as tmp:
        work = Path(tmp)
        if "local" in args.where:
            for enc in encodings:
                path = path_of(enc, size)
                for pname in patterns:
                    reports.append(run_case(enc, "local", str(path), None, pname, args, work))
        if "s3" in args.where:
            from tests import s3_server

            server = s3_server.start_server(work / "s3")
            proxy = None
            try:
                proxy = s3_server.ProxyProcess(int(server.endpoint.rsplit(":", 1)[1]),
                                               args.latency_ms / 1000)  # fmt: skip
                options = server.storage_options(endpoint_url=proxy.endpoint)
                for enc in encodings:
                    path = path_of(enc, s3_size)
                    server.upload_dir(path, path.name)
                    url = f"s3://{server.bucket}/{path.name}"
                    for pname in [p for p in patterns if not p.endswith("-cold")]:
                        reports.append(run_case(enc, f"s3 {args.latency_ms:g} ms", url,
                                                options, pname, args, work))  # fmt: skip
            finally:
                if proxy is not None:
                    proxy.stop()
                server.stop()
    bad = [r["bench"] for r in reports if not r["bench"]["ok"]]
    below = [f for r in reports for f in r["bench"].get("followed", []) if not f["ok"]]
    print(f"load after: {load()}")
    print(f"{len(reports) - len(bad)} of {len(reports)} predictions within 25%; "
          f"{sum(len(r['bench'].get('followed', [])) for r in reports) - len(below)} of "
          f"{sum(len(r['bench'].get('followed', [])) for r in reports)} followed advices "
          "gave at least the predicted gain")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"command": " ".join(sys.argv), "reports": reports},
                                    indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
