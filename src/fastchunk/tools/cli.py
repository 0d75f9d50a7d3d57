"""The `fastchunk` command: info, advise, bench, rechunk, cache and demo."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import fastchunk
from fastchunk.errors import FastchunkError
from fastchunk.tools import demo as _demo
from fastchunk.tools.rechunk import codec_usage

_EPILOG_INFO = """\
JSON keys of an array report: shape, dtype, chunks (the inner chunk shape when
sharded), shards, codecs, fill_value, nbytes (decoded), nbytes_stored (bytes of
all stored objects of the array, metadata included), nobjects, grid_unit
("chunk", or "shard" for sharded arrays: nchunks, nchunks_stored, nmissing and
missing_chunks then count shards, the stored objects), nchunks, nchunks_stored,
nmissing, missing_chunks (the first grid coordinates missing), ratio
(nbytes / nbytes_stored); with --axis: access; with --scan: nan_count, count,
min, max, mean, stdev (over the stored chunks: missing chunks are counted apart
as missing_values), corrupt_chunks (key, chunk, error: every chunk that cannot
be read; corrupt_values) and, with --var-axis, per_index.
A group prints {"totals": {bytes_on_disk, bytes_decoded, objects, arrays,
chunks_present, chunks_missing, corrupt_chunks}, "arrays": {path: report}};
an anemoi dataset adds "anemoi": {variables, start_date, end_date, frequency,
dates, missing_dates (ISO dates: declared or without data),
missing_dates_declared, missing_dates_undeclared, statistics_start_date,
statistics_end_date; with --scan: nan_count per variable, statistics_check}.
With --scan on an anemoi dataset, "data" is scanned per variable (--var-axis 1).

Exit status: 0, 1 on an error (nothing printed on stdout), 3 when the scan
found corrupt chunks (the report is printed, and each is named in it).
"""


def _storage_options(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ValueError(f"--storage-options must be a JSON object: {e}") from None
    if not isinstance(value, dict):
        raise ValueError("--storage-options must be a JSON object")
    return value


def _cmd_info(args: argparse.Namespace) -> int:
    from fastchunk.tools.info import corrupt_count, format_report, store_report

    if args.batch is not None and args.axis is None:
        raise ValueError("--batch needs --axis")
    if args.var_axis is not None and not args.scan:
        raise ValueError("--var-axis needs --scan")
    options = _storage_options(args.storage_options)
    node = fastchunk.open(args.store, args.path, options)
    location = args.store.rstrip("/") + ("/" + args.path.strip("/") if args.path else "")
    report = store_report(
        node,
        location=location,
        storage_options=options,
        axis=args.axis,
        batch=args.batch,
        scan=args.scan,
        var_axis=args.var_axis,
        progress=None,
    )
    if args.json:
        print(json.dumps(report, allow_nan=False))
    else:
        print(format_report(report))
    corrupt = corrupt_count(report)
    if corrupt:
        print(f"fastchunk info: {corrupt} corrupt chunks (listed in the report)", file=sys.stderr)
        return 3
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from fastchunk.tools.bench import format_bench, plot_bench, run_bench

    result = run_bench(
        args.store,
        path=args.path,
        axis=args.axis,
        batch=args.batch,
        threads=args.threads,
        batches=args.batches,
        readers=args.readers.split(",") if args.readers else None,
        storage_options=_storage_options(args.storage_options),
    )
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        print(format_bench(result))
    if args.plot:
        plot_bench(result, args.plot)
        if not args.json:
            print(f"chart written to {args.plot}")
    return 0


def _ints(text: str | None, what: str) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"{what} takes comma-separated integers, got {text!r}") from None


def _cmd_advise(args: argparse.Namespace) -> int:
    from fastchunk.tools.advise import advise, format_advice

    report = advise(
        args.store,
        path=args.path,
        storage_options=_storage_options(args.storage_options),
        axis=args.axis,
        batch=args.batch,
        window=_ints(args.window, "--window"),
        step_time=args.step_time,
        ranks=args.ranks,
        nodes=args.nodes,
        threads=args.threads,
        cold=args.cold,
        rounds=args.rounds,
        check=not args.no_check,
        progress=None,
    )
    if args.json:
        print(json.dumps(report, allow_nan=False))
    else:
        print(format_advice(report))
    return 0


def _cmd_rechunk(args: argparse.Namespace) -> int:
    from fastchunk.tools.rechunk import rechunk

    if args.threads:
        fastchunk.set_num_threads(args.threads)
    summary = rechunk(
        args.src,
        args.dst,
        chunks=args.chunks,
        shards=args.shards,
        codec=args.codec,
        zarr_format=args.format,
        memory=args.memory,
        dask=args.dask,
        path=args.path,
        storage_options=_storage_options(args.storage_options),
        progress=False if args.quiet else None,
        overwrite=args.overwrite,
    )
    if args.json:
        print(json.dumps(summary))
        return 0
    verb = "resumed" if summary["resumed"] else "wrote"
    print(f"{verb} {summary['destination']} in {summary['seconds']:.1f} s")
    for name, a in summary["arrays"].items():
        shards = f" shards {a['shards']}" if a["shards"] else ""
        print(
            f"  {name}: chunks {a['chunks']}{shards} {a['codec']} v{a['zarr_format']}: "
            f"{a['written']} objects written, {a['skipped']} already done "
            f"({a['groups']} groups)" + (f"  [{a['note']}]" if a["note"] else "")
        )
    return 0


def _cmd_cache(args: argparse.Namespace) -> int:
    from fastchunk.tools.cache import clear, collect, format_report

    words = list(args.words)
    action = words.pop(0) if words and words[0] in ("show", "clear", "remove") else "show"
    dirs = list(args.dir or [])
    if action != "show":
        for line in clear(words, dirs, remove=action == "remove"):
            print(line)
        return 0
    reports = collect(words, dirs)
    if args.json:
        print(json.dumps(reports))
    elif not reports:
        print("no fastchunk caches on this node (fastchunk.set_cache_size(SIZE, shared=NAME))")
    else:
        print("\n\n".join(format_report(r) for r in reports))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastchunk",
        description="Know your zarr dataset, benchmark readers on it, rechunk it, and "
        "look after the node's caches.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = sub.add_parser(
        "info",
        help="sizes, objects, missing chunks, access cost and statistics of a store",
        epilog=_EPILOG_INFO,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.add_argument("store", help="directory or s3:// URL of a zarr array or group")
    info.add_argument("--path", help="array or group inside the store")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.add_argument("--scan", action="store_true", help="read all data: NaNs, min, max, mean")
    info.add_argument("--var-axis", type=int, help="with --scan: statistics per index of this axis")
    info.add_argument("--axis", type=int, help="access pattern: one sample = one index of AXIS")
    info.add_argument("--batch", type=int, help="access pattern: samples per (shuffled) batch")
    info.add_argument("--storage-options", help="JSON object passed to the store (S3 options)")
    info.set_defaults(func=_cmd_info)

    bench = sub.add_parser(
        "bench", help="time fastchunk, zarr-python, tensorstore and zarrs on a store"
    )
    bench.add_argument("store", help="directory or s3:// URL of a zarr array or group")
    bench.add_argument("--path", help="array inside the store (default: the largest)")
    bench.add_argument("--axis", type=int, default=0, help="sample axis (default 0)")
    bench.add_argument("--batch", type=int, default=8, help="samples per batch (default 8)")
    bench.add_argument("--threads", type=int, help="threads for every reader")
    bench.add_argument("--batches", type=int, default=10, help="timed batches per reader")
    bench.add_argument(
        "--readers", help="comma-separated subset of fastchunk,zarr-python,zarrs,tensorstore"
    )
    bench.add_argument("--plot", metavar="FILE", help="write a PNG chart to FILE")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--storage-options", help="JSON object passed to the store (S3 options)")
    bench.set_defaults(func=_cmd_bench)

    adv = sub.add_parser(
        "advise",
        help="measure storage, decoding and the access pattern; predict the samples/s of "
        "the Loader for a process and a node; recommend; check with a real Loader run",
        description="Measures (storage bandwidth and latency, cold and warm; decoding on "
        "this machine's cores; the access pattern against the chunking), predicts the "
        "Loader's samples/s for one process and one node, says what limits it (storage, "
        "network, decode or the model) and what to change (threads, ranks, the node cache, "
        "a local disk cache, fastchunk rechunk), each with its predicted gain, then runs "
        "the Loader briefly and prints the prediction beside the measurement. The model: "
        "docs/advise.md.",
    )
    adv.add_argument("store", help="directory or s3:// URL of a zarr array or group")
    adv.add_argument("--path", help="array inside the store (default: 'data', else the largest)")
    adv.add_argument("--axis", type=int, default=0, help="sample axis (default 0)")
    adv.add_argument("--batch", type=int, default=8, help="samples per batch (default 8)")
    adv.add_argument("--window", help="offsets of a sample's window along the axis, e.g. -1,0,1")
    adv.add_argument("--step-time", type=float, help="seconds the model takes per batch")
    adv.add_argument("--ranks", type=int, default=1, help="processes per node (default 1)")
    adv.add_argument("--nodes", type=int, default=1, help="nodes (default 1)")
    adv.add_argument("--threads", type=int, help="threads per process (default: all cores)")
    adv.add_argument(
        "--cold",
        action="store_true",
        help="check a cold first epoch (local stores: the page cache emptied)",
    )
    adv.add_argument(
        "--rounds", type=int, default=2, help="measurement and check rounds, alternated"
    )
    adv.add_argument("--no-check", action="store_true", help="predict only: no Loader run")
    adv.add_argument("--json", action="store_true", help="print one JSON object")
    adv.add_argument("--storage-options", help="JSON object passed to the store (S3 options)")
    adv.set_defaults(func=_cmd_advise)

    rc = sub.add_parser(
        "rechunk",
        help="rewrite a store with new chunks, shards, codec or zarr format",
        description="Offline transposition and re-encoding. Resumable: rerun the same "
        "command after an interruption and finished objects are kept.",
    )
    rc.add_argument("src", help="source store (directory or s3:// URL)")
    rc.add_argument("dst", help="destination directory (created; a shared one with --dask)")
    rc.add_argument(
        "--chunks",
        help="chunk shape a,b,...; -1 = whole axis (in a group, arrays of another rank keep "
        "their chunks; a rank no array has is an error)",
    )
    rc.add_argument("--shards", help="shard shape (zarr v3): multiples of the chunks")
    rc.add_argument(
        "--codec",
        default="zstd:3",
        help=f"{codec_usage()} (default zstd:3)",
    )
    rc.add_argument("--format", type=int, choices=(2, 3), help="zarr format (default: source's)")
    rc.add_argument(
        "--memory",
        default="2GB",
        help="memory budget (default 2GB; with --dask: per worker thread)",
    )
    rc.add_argument("--threads", type=int, help="native threads (default: all cores)")
    rc.add_argument("--dask", metavar="ADDRESS", help="run on this Dask distributed scheduler")
    rc.add_argument("--path", help="rechunk only this array of the group (written at DST's root)")
    rc.add_argument(
        "--overwrite",
        action="store_true",
        help="replace DST if it exists (without it, only an unfinished run of the same "
        "parameters is resumed there)",
    )
    rc.add_argument("--quiet", action="store_true", help="no progress bar")
    rc.add_argument("--json", action="store_true", help="print the summary as JSON")
    rc.add_argument("--storage-options", help="JSON object passed to the source store")
    rc.set_defaults(func=_cmd_rechunk)

    cache = sub.add_parser(
        "cache",
        help="show or clear the node's shared chunk caches and disk caches; show the "
        "in-memory levels of running processes",
        usage="fastchunk cache [show|clear|remove] [NAME ...] [--dir PATH] [--json]",
        description="Shared decoded-chunk caches are named (fastchunk.set_cache_size(SIZE, "
        "shared=NAME) or FASTCHUNK_SHARED_CACHE=NAME:SIZE); disk caches of remote objects "
        "are directories (storage_options cache_dir or FASTCHUNK_CACHE_DIR). With no name "
        "and no --dir: every shared cache of this node and the disk cache of "
        "FASTCHUNK_CACHE_DIR, and the in-memory levels (decoded chunks, compressed bytes: "
        "fastchunk.set_cache_size(SIZE, compressed=True); the buffer pool of freed read "
        "outputs kept for reuse, FASTCHUNK_BUFFER_POOL_BYTES) of every running process that "
        "has one on or keeps 64 MiB or more in its pool. clear empties a cache and zeroes "
        "its counters while processes go on using it; remove deletes it.",
    )
    cache.add_argument("words", nargs="*", metavar="NAME", help=argparse.SUPPRESS)
    cache.add_argument("--dir", action="append", metavar="PATH", help="a disk cache directory")
    cache.add_argument("--json", action="store_true", help="print a JSON list of reports")
    cache.set_defaults(func=_cmd_cache)

    demo = sub.add_parser(
        "demo",
        help="write a small anemoi-like store with zarr-python, read it back with both "
        "readers, check they agree and print their speeds",
    )
    _demo.add_arguments(demo)
    demo.set_defaults(func=_demo.run)
    return parser


def _join_negative_values(argv: Sequence[str]) -> list[str]:
    """`--window -1,0,1` as `--window=-1,0,1` (argparse takes -1,0,1 for an option)."""
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        if args[i] == "--window" and i + 1 < len(args) and args[i + 1][:2].lstrip("-").isdigit():
            out.append(f"--window={args[i + 1]}")
            i += 2
            continue
        out.append(args[i])
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_join_negative_values(sys.argv[1:] if argv is None else argv))
    if args.version:
        print(f"fastchunk {fastchunk.__version__}")
        return 0
    if not args.command:
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FastchunkError, OSError, ValueError, MemoryError) as e:
        print(f"fastchunk {args.command}: error: {e}", file=sys.stderr)
        return 1
