"""Runs under anemoi-training's environment (.venv-anemoi, with fastchunk on
PYTHONPATH), as a subprocess of tests/test_anemoi_trajectories.py:

  python -m tests.anemoi_trajectory_training CASES OUT

For every case (JSON: {"id", "config", "start", "end"}), builds
anemoi-training 0.17.1's own TrajectoryDataset (data_reader.create_dataset
with a `trajectory` entry) twice: on anemoi-datasets' open_dataset, and on
fastchunk.anemoi.open_dataset put in its place (the name data_reader
imported). Compares what the reader gives: num_sequences, sequence_length,
missing_sequences, frequency, variables, name_to_index, statistics,
resolution, grid_size, metadata(), supporting_arrays() and get_sample for
every sequence that is not missing, with slices, lists and grid shards.
OUT (JSON) gets, per case, {"samples": n} or {"error": message}."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from typing import Any

import numpy as np


def _reader(case: dict[str, Any], opener: Any) -> Any:
    from anemoi.training.data import data_reader

    saved = data_reader.open_dataset
    data_reader.open_dataset = opener
    try:
        config = {"dataset_config": case["config"], "start": case.get("start"),
                  "end": case.get("end"), "trajectory": {"sampling": None}}  # fmt: skip
        return data_reader.create_dataset(config)
    finally:
        data_reader.open_dataset = saved


def _same(a: Any, b: Any, what: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (what, a, b)
        for k in a:
            _same(a[k], b[k], f"{what}[{k}]")
    elif isinstance(a, np.ndarray) or hasattr(a, "numpy"):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape and a.dtype == b.dtype, (what, a.shape, b.shape)
        np.testing.assert_array_equal(a, b, err_msg=what)
    else:
        assert a == b, (what, a, b)


def compare(case: dict[str, Any]) -> int:
    import anemoi.datasets

    import fastchunk.anemoi

    ours = _reader(case, fastchunk.anemoi.open_dataset)
    theirs = _reader(case, anemoi.datasets.open_dataset)
    assert type(ours).__name__ == type(theirs).__name__ == "TrajectoryDataset"
    assert type(ours.data).__module__.startswith("fastchunk")
    for name in ("num_sequences", "missing_sequences", "frequency", "variables",
                 "name_to_index", "statistics", "resolution", "grid_size"):  # fmt: skip
        _same(getattr(ours, name), getattr(theirs, name), name)
    _same(ours.sequence_length(), theirs.sequence_length(), "sequence_length")
    _same(ours.metadata, theirs.metadata, "metadata")
    _same(ours.supporting_arrays, theirs.supporting_arrays, "supporting_arrays")
    n, steps = theirs.num_sequences, theirs.sequence_length()
    shard = np.arange(3, 17, 2)
    samples = 0
    for sequence in range(n):
        if sequence in theirs.missing_sequences:
            continue
        for positions in (slice(None), slice(1, steps, 2), [0, steps - 1], np.array([steps - 1])):
            for grid in (None, shard):
                _same(ours.get_sample(sequence, positions, grid),
                      theirs.get_sample(sequence, positions, grid),
                      f"sample {sequence} {positions} {grid is not None}")  # fmt: skip
                samples += 1
    return samples


def main(cases_path: str, out_path: str) -> None:
    logging.disable(logging.WARNING)
    with open(cases_path) as f:
        cases = json.load(f)
    out: dict[str, Any] = {}
    for case in cases:
        try:
            out[case["id"]] = {"samples": compare(case)}
        except Exception:  # noqa: BLE001 - reported to the test
            out[case["id"]] = {"error": traceback.format_exc()[-3000:]}
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
