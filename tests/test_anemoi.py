"""fastchunk.anemoi against anemoi-datasets: datasets made by `anemoi-datasets
create` (NetCDF written here plus computed forcings, with missing dates),
opened with the same options by both; every property and every read compared."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastchunk
import fastchunk.anemoi as fa
from tests.anemoi_support import build_datasets, index, reference, substitute

VARS = ["cos_julian_day", "cos_latitude", "insolation", "msl", "sin_longitude", "t2m"]
READS = [
    ["slice", 0, 4],
    ["slice", 2, 12, 3],
    ["slice", 8, 11],
    ["tuple", ["slice", 3, 5], [1, 0], ["slice", None], ["slice", 5, 20, 2]],
    ["tuple", ["slice", 0, 3], 1, 0, ["slice", None]],
    ["tuple", ["slice", 6, 8], ["slice", None], ["slice", None], [3, 1, 30]],
    ["tuple", 2, ["slice", None], 0, ["slice", 0, 9]],
]

# (id, positional datasets, options): "@name" is the path of dataset `name`.
CASES: list[tuple[str, list[Any], dict[str, Any]]] = [
    ("plain", ["@base"], {}),
    ("select", ["@base"], {"select": ["t2m", "insolation", "msl"]}),
    ("select_one", ["@base"], {"select": "msl"}),
    ("drop", ["@base"], {"drop": ["insolation", "cos_julian_day"]}),
    ("reorder_sort", ["@base"], {"reorder": "sort"}),
    ("reorder_list", ["@base"], {"reorder": VARS[::-1]}),
    ("reorder_dict", ["@base"], {"reorder": {v: (i * 5) % 6 for i, v in enumerate(VARS)}}),
    ("rename", ["@base"], {"rename": {"t2m": "2t"}}),
    ("select_rename", ["@base"], {"select": ["t2m", "msl"], "rename": {"msl": "mslp"}}),
    ("year", ["@base"], {"start": 2020, "end": 2020}),
    ("days", ["@base"], {"start": "2020-01-02", "end": 20200103}),
    ("datetimes", ["@base"], {"start": "2020-01-01T12:00:00", "end": "2020-01-03 06:00:00"}),
    ("month_end", ["@base"], {"end": "2020-01"}),
    ("percent", ["@base"], {"start": "25%", "end": "75%"}),
    ("round_up", ["@base"], {"start": "2020-01-01T07:00:00"}),
    ("round_down", ["@base"], {"end": "2020-01-02T05:00:00"}),
    ("freq_12h", ["@base"], {"frequency": "12h"}),
    ("freq_1d", ["@base"], {"frequency": "1d"}),
    ("freq_18", ["@base"], {"frequency": 18}),
    ("freq_bad", ["@base"], {"frequency": "9h"}),
    ("combo", ["@base"],
     {"select": ["msl", "t2m"], "start": "2020-01-01T06:00:00", "end": "2020-01-04",
      "frequency": "12h"}),
    ("join", [], {"join": ["@base", "@other"]}),
    ("join_dicts", [],
     {"join": [{"dataset": "@base", "select": ["t2m", "msl"]},
               {"dataset": "@other", "drop": ["t2m"]}]}),
    ("join_subset", [], {"join": ["@other", "@base"], "start": "2020-01-02", "frequency": "12h",
                         "select": ["t2m", "tp", "insolation"]}),
    ("join_one_side", [], {"join": ["@base", "@other"], "select": ["tp", "t2m"]}),
    ("concat", [], {"concat": ["@base", "@later"]}),
    ("concat_subset", [], {"concat": ["@base", "@later"], "frequency": "12h",
                           "start": "2020-01-03", "end": "2020-01-05T12:00:00"}),
    ("concat_select", [], {"concat": ["@base", "@later"], "select": ["msl", "insolation"]}),
    ("auto_concat", ["@base", "@later"], {}),
    ("auto_join", ["@base", "@other"], {"end": "2020-01-03"}),
    ("nested", [{"dataset": "@base", "select": ["t2m", "msl"]}], {"frequency": "12h"}),
    ("fill_closest", ["@base"], {"fill_missing_dates": "closest"}),
    ("fill_interpolate", ["@base"], {"fill_missing_dates": "interpolate"}),
    ("fill_nan", ["@base"], {"fill_missing_dates": "nan"}),
    ("fill_mean", ["@base"], {"fill_missing_dates": "mean", "select": ["t2m", "msl"]}),
    ("fill_subset", ["@base"],
     {"fill_missing_dates": "closest", "frequency": "12h", "start": "2020-01-01T18:00:00"}),
    ("fill_concat", [], {"concat": ["@base", "@later"], "fill_missing_dates": "nan"}),
    ("set_missing", ["@base"],
     {"set_missing_dates": ["2020-01-01T06:00:00", "2020-01-04T00:00:00"]}),
    ("statistics", ["@base"], {"statistics": "@later"}),
    ("members", ["@base"], {"members": [0]}),
    ("thinning", ["@base"], {"thinning": 2}),
    ("thinning_nth", ["@base"], {"thinning": 3, "method": "every-nth", "select": ["t2m", "msl"],
                                 "frequency": "12h"}),
    ("thinning_join", [], {"join": ["@base", "@other"], "thinning": 2}),
    ("number", ["@base"], {"number": 1, "select": ["t2m"]}),
    # members of two datasets side by side (the same variables, dates, grid)
    ("ensemble", [], {"ensemble": [{"dataset": "@base", "select": ["t2m", "insolation"]},
                                   {"dataset": "@other", "select": ["t2m", "insolation"]}]}),
    ("ensemble_options", [],
     {"ensemble": [{"dataset": "@base", "select": ["t2m", "msl"]},
                   {"dataset": "@other", "select": ["t2m", "msl"]},
                   {"dataset": "@base", "select": ["t2m", "msl"], "frequency": "6h"}],
      "start": "2020-01-01T12:00:00", "frequency": "12h", "members": [2, 1],
      "select": ["msl", "t2m"]}),
    ("ensemble_fill", [], {"ensemble": ["@base", "@base"], "fill_missing_dates": "closest",
                           "number": 2}),
    # a limited-area grid inside a global one: the global points under it go
    ("cutout", [], {"cutout": ["@lam", "@base"]}),
    ("cutout_options", [],
     {"cutout": [{"dataset": "@lam", "select": ["t2m", "msl"]},
                 {"dataset": "@base", "select": ["t2m", "msl"]}],
      "min_distance_km": 1000, "cropping_distance": 10.0, "neighbours": 4, "frequency": "12h"}),
    ("cutout_max_distance", [], {"cutout": ["@lam", "@base"], "max_distance_km": 2000,
                                 "select": ["msl", "t2m"], "start": "2020-01-02"}),
    ("cutout_adjust", [],
     {"cutout": [{"dataset": "@lam", "end": "2020-01-03", "select": ["insolation", "msl", "t2m"]},
                 "@base"], "adjust": "all"}),
    # two areas, the second under the first (its points on the first's border)
    ("cutout_two_lams", [],
     {"cutout": [{"dataset": "@lam", "thinning": 2}, "@lam", "@base"], "select": ["t2m"]}),
    ("cutout_fill", [], {"cutout": ["@lam", "@base"], "fill_missing_dates": "closest",
                         "rename": {"t2m": "2t"}}),
    # grids one after the other along the gridpoints
    ("grids", [], {"grids": ["@base", "@lam"]}),
    ("grids_options", [],
     {"grids": [{"dataset": "@lam", "thinning": 2, "select": ["t2m", "insolation"]},
                {"dataset": "@other", "select": ["t2m", "insolation"], "name": "other"}],
      "frequency": "12h", "members": [0]}),
    ("grids_adjust", [],
     {"grids": [{"dataset": "@lam", "start": "2020-01-02"},
                {"dataset": "@base", "select": ["msl", "t2m"]}], "adjust": ["dates", "variables"]}),
    ("grids_of_cutout", [],
     {"grids": [{"cutout": ["@lam", "@base"]}, "@base"], "select": ["t2m", "msl"]}),
]  # fmt: skip


@pytest.fixture(scope="session")
def anemoi_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict]:
    work = tmp_path_factory.mktemp("anemoi")
    paths = build_datasets(tmp_path_factory.getbasetemp() / "anemoi-datasets")
    cases = [
        {"id": cid, "args": substitute(args, paths), "kwargs": substitute(kw, paths),
         "reads": READS}
        for cid, args, kw in CASES
    ]  # fmt: skip
    return paths, reference(cases, work)


def _open(paths: dict[str, str], args: list[Any], kw: dict[str, Any]) -> fa.Dataset:
    return fa.open_dataset(*substitute(args, paths), **substitute(kw, paths))


def _date_of(message: str) -> str:
    m = re.search(r"Date (\S+) is missing", message)
    assert m, message
    return str(np.datetime64(m.group(1), "s"))


def check_properties(view: fa.Dataset, props: dict[str, Any]) -> None:
    assert len(view) == props["len"]
    assert view.shape == props["shape"]
    assert str(view.dtype) == props["dtype"]
    assert view.variables == props["variables"]
    assert view.name_to_index == props["name_to_index"]
    np.testing.assert_array_equal(view.dates, props["dates"])
    assert view.dates.dtype == props["dates"].dtype
    if isinstance(props["frequency"], tuple):
        with pytest.raises(ValueError):
            view.frequency  # noqa: B018
    else:
        assert int(view.frequency.total_seconds()) == props["frequency"]
    assert sorted(view.missing) == props["missing"]
    stats = view.statistics
    assert set(stats) == set(props["statistics"])
    for k, v in props["statistics"].items():
        np.testing.assert_array_equal(stats[k], v)
        assert stats[k].dtype == v.dtype
    np.testing.assert_array_equal(view.latitudes, props["latitudes"])
    np.testing.assert_array_equal(view.longitudes, props["longitudes"])
    assert view.field_shape == props["field_shape"]
    assert view.resolution == props["resolution"]
    assert view.variables_metadata == props["variables_metadata"]
    assert view.constant_fields == props["constant_fields"]
    assert view.grids == props["grids"]
    arrays = view.supporting_arrays()
    assert set(arrays) == set(props["supporting_arrays"])
    for k, v in props["supporting_arrays"].items():
        np.testing.assert_array_equal(arrays[k], v)
    check_metadata(view, props["metadata"])
    tendencies = props["statistics_tendencies"]
    if isinstance(tendencies, tuple):
        with pytest.raises(KeyError):
            view.statistics_tendencies()
    else:
        got = view.statistics_tendencies()
        assert set(got) == set(tendencies)
        for k, v in tendencies.items():
            np.testing.assert_array_equal(got[k], v)


def check_metadata(view: fa.Dataset, expected: Any) -> None:
    """metadata() is anemoi's dict, key by key (what checkpoints store)."""
    if isinstance(expected, tuple):
        with pytest.raises(Exception) as err:
            view.metadata()
        assert type(err.value).__name__ == expected[1] or isinstance(err.value, ValueError)
        return
    got = view.metadata()
    for key in expected:
        assert got.get(key) == expected[key], (key, got.get(key), expected[key])
    assert got == expected


def check_reads(view: fa.Dataset, reads: dict[str, Any], interpolated: bool) -> int:
    compared = 0
    nvars = view.shape[1]
    for key, (kind, value) in reads.items():
        spec = index(json.loads(key))
        if kind == "error":  # anemoi itself cannot read this one
            continue
        if isinstance(spec, tuple) and (
            (isinstance(spec[1], list) and max(spec[1]) >= nvars)
            or (len(spec) > 3 and isinstance(spec[3], list) and max(spec[3]) >= view.shape[3])
        ):
            # anemoi returns what it finds for a variable (or, thinned, a
            # gridpoint) out of range; numpy raises
            with pytest.raises(IndexError):
                view[spec]
            continue
        if kind == "missing":
            with pytest.raises(fa.MissingDateError) as err:
                view[spec]
            assert _date_of(str(err.value)) == _date_of(value), (key, value)
            continue
        got = view[spec]
        assert np.shape(got) == np.shape(value), key
        assert np.asarray(got).dtype == np.asarray(value).dtype, key
        if interpolated:
            np.testing.assert_allclose(got, value, rtol=1e-6, err_msg=key)
        else:
            np.testing.assert_array_equal(got, value, err_msg=key)
        compared += 1
    return compared


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_view_matches_anemoi(anemoi_env, case) -> None:
    paths, ref = anemoi_env
    cid, args, kw = case
    expected = ref[cid]
    if "error" in expected:
        kind, message = expected["error"]
        with pytest.raises(Exception) as err:
            _open(paths, args, kw)
        assert type(err.value).__name__ == kind or isinstance(err.value, ValueError), message
        return
    view = _open(paths, args, kw)
    check_properties(view, expected["properties"])
    assert check_reads(view, expected["reads"], "interpolate" in str(kw)) >= len(view) // 2


def test_datasets_have_missing_dates_and_forcings(anemoi_env) -> None:
    paths, ref = anemoi_env
    base = fa.open_dataset(paths["base"])
    assert base.variables == VARS
    assert sorted(base.missing) == [5, 10]
    assert ref["plain"]["properties"]["missing"] == [5, 10]
    with pytest.raises(fa.MissingDateError, match="2020-01-02T06:00:00"):
        base[5]
    assert base.constant_fields == ["cos_latitude", "sin_longitude"]


def test_the_same_view_however_the_path_is_spelled(anemoi_env) -> None:
    paths, _ = anemoi_env
    a = fa.open_dataset(paths["base"], select=["t2m"])
    b = fa.open_dataset(paths["base"] + "/", select=["t2m"])
    c = fa.open_dataset(Path(paths["base"]) / "data", select=["t2m"])
    for other in (b, c):
        assert other.missing == a.missing
        np.testing.assert_array_equal(other[0:4], a[0:4])


def test_negative_dates_and_closest_down(anemoi_env) -> None:
    # Two things anemoi-datasets 0.5.47 gets wrong, checked on their own:
    # ds[-1] of a concat is the last date of its first dataset there, and
    # open_dataset(closest="down") fails ("Unsupported arguments: closest").
    paths, _ = anemoi_env
    view = fa.open_dataset(concat=[paths["base"], paths["later"]])
    np.testing.assert_array_equal(view[-1], view[len(view) - 1])
    np.testing.assert_array_equal(view[-3:], view[len(view) - 3 :])
    full = fa.open_dataset(paths["base"])
    down = fa.open_dataset(paths["base"], fill_missing_dates="closest", closest="down")
    up = fa.open_dataset(paths["base"], fill_missing_dates="closest")
    assert down.missing == up.missing == set()
    for m in sorted(full.missing):  # 5 and 10: neighbours 4 and 6, 9 and 11
        np.testing.assert_array_equal(down[m], full[m - 1])
        np.testing.assert_array_equal(up[m], full[m + 1])


def test_set_of_names_keeps_dataset_order(anemoi_env) -> None:
    paths, _ = anemoi_env
    view = fa.open_dataset(paths["base"], select={"t2m", "cos_latitude"})
    assert view.variables == ["cos_latitude", "t2m"]


def test_skip_policy_leaves_missing_dates_out(anemoi_env) -> None:
    paths, _ = anemoi_env
    full = fa.open_dataset(paths["base"])
    skip = fa.open_dataset(paths["base"], missing_dates="skip")
    keep = [i for i in range(len(full)) if i not in full.missing]
    assert len(skip) == len(keep) and skip.missing == set()
    np.testing.assert_array_equal(skip.dates, full.dates[keep])
    np.testing.assert_array_equal(skip[:], np.stack([full[i] for i in keep]))
    assert skip.frequency == full.frequency
    with pytest.raises(ValueError, match="missing_dates"):
        fa.open_dataset(paths["base"], missing_dates="ignore")


@pytest.mark.parametrize(
    "option",
    ["interpolate_frequency", "area", "rescale",
     "shuffle", "merge", "complement", "skip_missing_dates", "adjust", "extend_end"],
)  # fmt: skip
def test_options_not_built_are_refused_by_name(anemoi_env, option) -> None:
    paths, _ = anemoi_env
    with pytest.raises(fastchunk.UnsupportedError, match=option):
        fa.open_dataset(paths["base"], **{option: 1})


def test_unknown_option_and_bad_names(anemoi_env) -> None:
    paths, _ = anemoi_env
    with pytest.raises(TypeError, match="selekt"):
        fa.open_dataset(paths["base"], selekt=["t2m"])
    with pytest.raises(ValueError, match="unknown variable"):
        fa.open_dataset(paths["base"], select=["t3m"])
    with pytest.raises(ValueError, match="incompatible dates|no gaps|overlapping"):
        fa.open_dataset(concat=[paths["later"], paths["base"]])
    with pytest.raises(FileNotFoundError):
        fa.open_dataset(paths["base"] + "-nowhere.zarr")


def test_view_pickles_by_location(anemoi_env) -> None:
    paths, _ = anemoi_env
    view = fa.open_dataset(join=[paths["base"], paths["other"]], frequency="12h")
    clone = pickle.loads(pickle.dumps(view))
    assert clone.variables == view.variables and clone.missing == view.missing
    np.testing.assert_array_equal(clone[1:4], view[1:4])


def test_broken_datasets_name_the_problem(tmp_path) -> None:
    import zarr

    g = zarr.open_group(tmp_path / "a.zarr", mode="w", zarr_format=2)
    g.attrs.update({"variables": ["a", "b"], "frequency": "6h"})
    g.create_array("data", shape=(4, 2, 1, 3), chunks=(1, 2, 1, 3), dtype="f4")
    with pytest.raises(fastchunk.MetadataError, match="'dates'"):
        fa.open_dataset(tmp_path / "a.zarr")
    g.create_array("dates", shape=(4,), dtype="M8[s]")[:] = np.arange(
        np.datetime64("2020-01-01T00"), np.datetime64("2020-01-02T00"), np.timedelta64(6, "h")
    ).astype("M8[s]")
    g.attrs["missing_dates"] = ["2021-01-01T00:00:00"]
    with pytest.raises(fastchunk.MetadataError, match="missing_dates"):
        fa.open_dataset(tmp_path / "a.zarr")
    g.attrs["missing_dates"] = []
    g.attrs["variables"] = ["a"]
    with pytest.raises(fastchunk.MetadataError, match="1 variable names for 2 columns"):
        fa.open_dataset(tmp_path / "a.zarr")
    g.attrs["variables"] = ["a", "b"]
    view = fa.open_dataset(tmp_path / "a.zarr")
    with pytest.raises(fastchunk.MetadataError, match="'mean'"):
        view.statistics  # noqa: B018
    flat = zarr.create_array(tmp_path / "flat.zarr", shape=(3,), dtype="f4")
    del flat
    with pytest.raises(fastchunk.MetadataError, match="not an anemoi dataset"):
        fa.open_dataset(tmp_path / "flat.zarr")


def test_one_duration_parser_reads_both_grammars() -> None:
    import datetime

    from fastchunk._units import parse_timedelta
    from fastchunk.torch import dataset

    assert fa.as_timedelta("30min") == parse_timedelta("30m") == datetime.timedelta(minutes=30)
    assert fa.as_timedelta("PT6H") == parse_timedelta(6) == datetime.timedelta(hours=6)
    assert parse_timedelta("1 day, 0:00:00") == parse_timedelta("1d")
    assert not hasattr(dataset, "_frequency")
    with pytest.raises(ValueError, match="duration"):
        parse_timedelta("6 fortnights")


def test_views_are_frozen_states(anemoi_env) -> None:
    import dataclasses

    paths, _ = anemoi_env
    view = fa.open_dataset(paths["base"], name="x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        view._s.name = "y"  # type: ignore[misc]
    assert view.name == "x" and pickle.loads(pickle.dumps(view)).name == "x"
    assert view.select(["t2m"]).name == "x"


def test_cutout_and_grids_refuse_what_they_cannot_reproduce(anemoi_env) -> None:
    paths, _ = anemoi_env
    both = [paths["lam"], paths["base"]]
    with pytest.raises(fastchunk.UnsupportedError, match="plot"):
        fa.open_dataset(cutout=both, plot=True)
    with pytest.raises(fastchunk.UnsupportedError, match="cache"):
        fa.open_dataset(cutout=both, cache="masks.npz")
    with pytest.raises(fastchunk.UnsupportedError, match="axis"):
        fa.open_dataset(grids=both, axis=1)
    with pytest.raises(fastchunk.UnsupportedError, match="thinning"):
        fa.open_dataset(cutout=both, thinning=2)
    with pytest.raises(fastchunk.UnsupportedError, match="adjust"):
        fa.open_dataset(join=[paths["base"], paths["other"]], adjust="all")
    with pytest.raises(ValueError, match="neighbours"):
        fa.open_dataset(cutout=both, neighbours=2)
    with pytest.raises(TypeError, match="min_distance_km"):
        fa.open_dataset(cutout=both, min_distance_km="lam")
    with pytest.raises(ValueError, match="at least two"):
        fa.open_dataset(cutout=[paths["lam"]])
    with pytest.raises(ValueError, match="Invalid adjust"):
        fa.open_dataset(grids=both, adjust="members")
    with pytest.raises(ValueError, match="variables"):
        fa.open_dataset(grids=[paths["lam"], paths["other"]])


def test_cutout_reads_only_the_grids_it_is_asked_for(anemoi_env) -> None:
    # base misses 2020-01-03T12 (index 10), lam does not: a read of lam's
    # points alone gets it, as anemoi's does; one of base's raises
    paths, _ = anemoi_env
    view = fa.open_dataset(cutout=[paths["lam"], paths["base"]])
    lam = fa.open_dataset(paths["lam"])
    inner = view.grids[0]
    assert 10 in view.missing and 10 not in lam.missing
    np.testing.assert_array_equal(view[9:12, :, :, :inner], lam[9:12])
    with pytest.raises(fa.MissingDateError, match="2020-01-03T12:00:00"):
        view[9:12, :, :, inner - 1 : inner + 1]
    clone = pickle.loads(pickle.dumps(view))
    assert clone.grids == view.grids
    np.testing.assert_array_equal(clone[0:3], view[0:3])
