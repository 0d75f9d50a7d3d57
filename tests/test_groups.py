"""Groups of zarr v2 and v3 stores: members, attributes, paths, consolidated
metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

import fastchunk
from tests.common import assert_same, random_data

# zarr-python warns that consolidated metadata is not in the v3 spec yet.
pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


def build(path: Path, zarr_format: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """root{t}/ x, meta{m}/ y, meta/deep/ z, empty/"""
    root = zarr.open_group(str(path), mode="w", zarr_format=zarr_format,
                           attributes={"title": "root"})
    arrays = {
        "x": random_data(rng, (9, 4), "float32"),
        "meta/y": random_data(rng, (5,), "int64"),
        "meta/deep/z": random_data(rng, (2, 3, 4), "uint8"),
    }
    meta = root.create_group("meta", attributes={"m": [1, 2]})
    deep = meta.create_group("deep")
    root.create_group("empty")
    for parent, name in ((root, "x"), (meta, "meta/y"), (deep, "meta/deep/z")):
        data = arrays[name]
        z = parent.create_array(name.rsplit("/", 1)[-1], shape=data.shape, dtype=data.dtype,
                                chunks=tuple(max(1, s // 2) for s in data.shape),
                                attributes={"name": name})
        z[...] = data
    return arrays


@pytest.mark.parametrize("consolidated", [False, True])
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_group_tree(
    tmp_path: Path, rng: np.random.Generator, zarr_format: int, consolidated: bool
) -> None:
    path = tmp_path / "g.zarr"
    arrays = build(path, zarr_format, rng)
    if consolidated:
        zarr.consolidate_metadata(str(path))
    g = fastchunk.open(path)
    assert isinstance(g, fastchunk.Group)
    assert g.zarr_format == zarr_format
    assert g.attrs == {"title": "root"}
    assert g.keys() == ["empty", "meta", "x"]
    assert list(g) == g.keys()
    assert "x" in g and "meta" in g and "nope" not in g
    assert [name for name, _ in g.arrays()] == ["x"]
    assert [name for name, _ in g.groups()] == ["empty", "meta"]
    meta = g["meta"]
    assert isinstance(meta, fastchunk.Group)
    assert meta.attrs == {"m": [1, 2]}
    assert meta.path == "meta"
    assert meta.keys() == ["deep", "y"]
    assert g["empty"].keys() == []
    walked = dict(g.walk_arrays())
    assert sorted(walked) == sorted(arrays)
    for name, data in arrays.items():
        for a in (walked[name], g[name], fastchunk.open(path, path=name),
                  fastchunk.open_array(str(path), path="/" + name + "/")):
            assert isinstance(a, fastchunk.Array)
            assert a.attrs == {"name": name}
            assert a.path == name
            assert_same(a[...], data)
    z = fastchunk.open_group(path, path="meta/deep")["z"]
    assert_same(z[1, ::-1], arrays["meta/deep/z"][1, ::-1])


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_group_errors(tmp_path: Path, rng: np.random.Generator, zarr_format: int) -> None:
    path = tmp_path / "g.zarr"
    build(path, zarr_format, rng)
    g = fastchunk.open_group(path)
    with pytest.raises(FileNotFoundError):
        g["missing"]
    with pytest.raises(FileNotFoundError):
        g["meta/missing"]
    with pytest.raises(fastchunk.MetadataError):
        fastchunk.open_array(path, path="meta")
    with pytest.raises(fastchunk.MetadataError):
        fastchunk.open_group(path, path="x")


def test_v2_group_without_attrs(tmp_path: Path) -> None:
    root = zarr.open_group(str(tmp_path / "g.zarr"), mode="w", zarr_format=2)
    root.create_array("a", shape=(3,), dtype="int16")[:] = [1, 2, 3]
    (tmp_path / "g.zarr" / ".zattrs").unlink(missing_ok=True)
    (tmp_path / "g.zarr" / "a" / ".zattrs").unlink(missing_ok=True)
    g = fastchunk.open_group(tmp_path / "g.zarr")
    assert g.attrs == {}
    assert g["a"].attrs == {}
    assert_same(g["a"][:], np.array([1, 2, 3], dtype="int16"))


def test_consolidated_v3_member_opened_first(tmp_path: Path, rng: np.random.Generator) -> None:
    """A member opened by path reads its metadata from the root's inline
    consolidated metadata even when its own zarr.json is gone."""
    path = tmp_path / "g.zarr"
    arrays = build(path, 3, rng)
    zarr.consolidate_metadata(str(path))
    (path / "meta" / "deep" / "z" / "zarr.json").unlink()
    a = fastchunk.open(path, path="meta/deep/z")
    assert_same(a[...], arrays["meta/deep/z"])


def test_consolidated_v2_member_opened_first(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "g.zarr"
    arrays = build(path, 2, rng)
    zarr.consolidate_metadata(str(path))
    (path / "meta" / "y" / ".zarray").unlink()
    a = fastchunk.open(path, path="meta/y")
    assert_same(a[...], arrays["meta/y"])
    assert a.attrs == {"name": "meta/y"}


def test_repr_names_the_node(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "g.zarr"
    build(path, 3, rng)
    g = fastchunk.open_group(path)
    assert "meta" in repr(g["meta"])
    assert "x" in repr(g["x"]) and "(9, 4)" in repr(g["x"])


def _add_unreadable_members(root: Path) -> None:
    """Two v2 array members fastchunk cannot read: a structured dtype
    (unsupported) and a .zarray that is not JSON."""
    for name, doc in (
        ("structured", b'{"zarr_format": 2, "shape": [3], "chunks": [3], '
                       b'"dtype": [["a", "<i4"]], "compressor": null, "fill_value": null, '
                       b'"order": "C", "filters": null}'),
        ("broken", b"{not json"),
    ):
        (root / name).mkdir()
        (root / name / ".zarray").write_bytes(doc)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_members_listed_when_one_cannot_be_read(
    tmp_path: Path, rng: np.random.Generator, zarr_format: int
) -> None:
    """walk_arrays() and arrays() list every member; only using an unreadable
    one raises (they used to stop at the first)."""
    path = tmp_path / "g.zarr"
    arrays = build(path, zarr_format, rng)
    _add_unreadable_members(path / "meta")
    g = fastchunk.open_group(path)
    walked = dict(g.walk_arrays())
    assert sorted(walked) == sorted([*arrays, "meta/broken", "meta/structured"])
    for name in arrays:
        assert_same(walked[name][...], arrays[name])
    bad = walked["meta/structured"]
    assert isinstance(bad, fastchunk.group.UnreadableNode)
    with pytest.raises(fastchunk.UnsupportedError, match="structured"):
        bad.shape  # noqa: B018 - using it raises the error met at opening
    with pytest.raises(fastchunk.MetadataError, match="not valid JSON"):
        walked["meta/broken"][0]
    assert [n for n, _ in g["meta"].arrays()] == ["broken", "structured", "y"]
    with pytest.raises(fastchunk.UnsupportedError):
        g["meta/structured"]


class _NoFullListing(fastchunk.store.LocalStore):
    """A local store whose full recursive listing must not be used."""

    def list_prefix(self, prefix: str):  # type: ignore[override]
        raise AssertionError(f"Group.keys() walked every object under {prefix!r}")


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_keys_use_a_folder_listing_not_a_full_walk(
    tmp_path: Path, rng: np.random.Generator, zarr_format: int
) -> None:
    path = tmp_path / "g.zarr"
    build(path, zarr_format, rng)
    (path / "not-a-node").mkdir()  # a folder without metadata is no member
    g = fastchunk.open_group(_NoFullListing(path))
    assert g.keys() == ["empty", "meta", "x"]
    assert g["meta"].keys() == ["deep", "y"]


def test_info_reports_an_unreadable_member_and_goes_on(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    from fastchunk.tools.info import format_report, store_report

    path = tmp_path / "g.zarr"
    build(path, 2, rng)
    _add_unreadable_members(path)
    report = store_report(fastchunk.open_group(path))
    assert "UnsupportedError" in report["arrays"]["structured"]["error"]
    assert "MetadataError" in report["arrays"]["broken"]["error"]
    assert report["arrays"]["x"]["shape"] == [9, 4]
    assert "cannot be read" in format_report(report)


def test_group_open_array_and_open_group_check_the_kind(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    root = zarr.open_group(str(tmp_path / "g.zarr"), mode="w", zarr_format=3)
    sub = root.create_group("sub")
    x = sub.create_array("x", shape=(4,), chunks=(2,), dtype="i4")
    x[:] = np.arange(4)
    g = fastchunk.open_group(tmp_path / "g.zarr")
    np.testing.assert_array_equal(g.open_array("sub/x")[...], np.arange(4))
    assert g.open_group("sub").keys() == ["x"]
    with pytest.raises(fastchunk.MetadataError, match="is a group"):
        g.open_array("sub")
    with pytest.raises(fastchunk.MetadataError, match="is an array"):
        g.open_group("sub/x")
    with pytest.raises(FileNotFoundError):
        g.open_array("nothing")


def test_the_readme_documents_every_public_group_method() -> None:
    """The Group API is documented (it was not): every public method and
    property of Group is named in the README's Groups section."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### Groups", 1)[1].split("\n#", 1)[0]
    public = [n for n in dir(fastchunk.Group) if not n.startswith("_")]
    missing = [n for n in public if f"g.{n}" not in section and f".{n}(" not in section]
    assert not missing, missing
