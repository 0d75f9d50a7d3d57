"""Corrupt and hostile Icechunk repositories: a clear exception, never a
crash, hang or unbounded allocation. Hand-made cases (bad refs, ids that
try to leave the repository, chunk objects missing or short, virtual
locations outside what was authorized), then mutations of real metadata
files: their flatbuffer payloads with bytes changed, stored uncompressed so
that every mutation reaches the parsers. (tests/fuzz/fuzz_icechunk.cc is
the libFuzzer target of the same parsers.)"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastchunk
from tests.icechunk_repos import FIXTURES, icechunk

icechunk()

# What a corrupt repository may raise: fastchunk's errors (MetadataError,
# ChunkDecodeError, UnsupportedError, ...), OSError (missing objects,
# unauthorized locations) and KeyError (a ref that is not there).
DOCUMENTED = (fastchunk.FastchunkError, OSError, KeyError)


def _copy(name: str, tmp_path: Path) -> Path:
    path = tmp_path / name
    shutil.copytree(FIXTURES / name, path)
    return path


def _read_everything(path: Path, **ref: Any) -> None:
    node = fastchunk.open(path, **ref)
    if isinstance(node, fastchunk.Array):
        node[...]
        return
    for _name, array in node.walk_arrays():
        try:
            np.asarray(array[...])
        except OSError as e:
            if "not authorized" not in str(e):
                raise


def test_bad_refs(tmp_path: Path) -> None:
    path = _copy("test-repo-v1", tmp_path)
    ref = path / "refs" / "branch.main" / "ref.json"
    for content, match in [
        (b"not json", "not valid JSON"),
        (b'{"snapshot": 3}', "snapshot"),
        (b'{"snapshot": "../../../../etc/passwd"}', "not an Icechunk object id"),
        (b'{"snapshot": "' + b"Z" * 20 + b'"}', "not an Icechunk object id|padding"),
        (b" " * 70000, "not a ref file"),
    ]:
        ref.write_bytes(content)
        with pytest.raises(fastchunk.MetadataError, match=match):
            fastchunk.open(path)


def test_files_that_lie_about_their_ids(tmp_path: Path) -> None:
    path = _copy("test-repo-v1", tmp_path)
    snaps = sorted((path / "snapshots").iterdir())
    main = json.loads((path / "refs" / "branch.main" / "ref.json").read_text())["snapshot"]
    other = next(s for s in snaps if s.name != main)
    shutil.copy(other, path / "snapshots" / main)
    with pytest.raises(fastchunk.MetadataError, match=f"holds snapshot {other.name}"):
        fastchunk.open(path)
    path = _copy("test-repo-v2", tmp_path / "v2")
    manifests = sorted((path / "manifests").iterdir())
    for m in manifests[1:]:
        shutil.copy(manifests[0], m)
    with pytest.raises(fastchunk.MetadataError, match="holds manifest"):
        _read_everything(path, branch="my-branch")


def test_missing_and_short_chunk_objects(tmp_path: Path) -> None:
    path = _copy("test-repo-v2", tmp_path)
    for p in (path / "chunks").iterdir():
        p.write_bytes(p.read_bytes()[:5])  # truncated
    with pytest.raises(fastchunk.ChunkDecodeError, match="outside"):
        fastchunk.open(path, branch="my-branch")["group1/big_chunks"][5:, :]
    for p in (path / "chunks").iterdir():
        p.unlink()
    with pytest.raises(fastchunk.ChunkDecodeError, match="does not exist"):
        fastchunk.open(path, branch="my-branch")["group1/big_chunks"][5:, :]


def test_missing_metadata_files(tmp_path: Path) -> None:
    path = _copy("test-repo-v2", tmp_path)
    for p in (path / "manifests").iterdir():
        p.unlink()
    with pytest.raises(fastchunk.MetadataError, match="manifest .* is missing"):
        fastchunk.open(path)["group1/small_chunks"][...]
    shutil.rmtree(path / "snapshots")
    with pytest.raises(FileNotFoundError, match="no snapshot"):
        fastchunk.open(path)
    (path / "repo").write_bytes(b"ICE\xf0\x9f\xa7\x8aCHUNK")  # the magic alone
    with pytest.raises(fastchunk.MetadataError, match="truncated header"):
        fastchunk.open(path)
    (path / "repo").write_bytes(b"not icechunk")  # a stray file: not a repository
    with pytest.raises(FileNotFoundError):
        fastchunk.open(path)


def _plain(raw: bytes) -> bytearray:
    """An Icechunk metadata file with its payload decompressed (compression 0)."""
    import numcodecs

    if raw[38] == 0:
        return bytearray(raw)
    return bytearray(raw[:38] + b"\x00" + bytes(numcodecs.Zstd().decode(raw[39:])))


@pytest.mark.parametrize("name", ["test-repo-v1", "test-repo-v2"])
def test_mutated_metadata_files(name: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(2026)
    base = _copy(name, tmp_path / "base")
    files = [p for p in sorted(base.rglob("*")) if p.is_file() and
             p.parent.name in ("snapshots", "manifests") or p.name == "repo"]  # fmt: skip
    plain = {p.relative_to(base): _plain(p.read_bytes()) for p in files}
    refs = [{"branch": "my-branch"}, {"tag": "it works!"}, {}]
    outcomes: dict[str, int] = {}
    for i in range(100):
        rel = list(plain)[int(rng.integers(len(plain)))]
        data = bytearray(plain[rel])
        for _ in range(int(rng.integers(1, 4))):
            at = int(rng.integers(39, len(data)))
            if rng.random() < 0.7:
                data[at] = int(rng.integers(256))
            else:
                del data[at : at + int(rng.integers(1, 9))]
        work = tmp_path / f"m{i}"  # a path of its own: nothing cached from another
        shutil.copytree(base, work, copy_function=os.link)
        (work / rel).unlink()  # never written through the link
        (work / rel).write_bytes(bytes(data))
        try:
            _read_everything(work, **refs[i % len(refs)])
            outcomes["read"] = outcomes.get("read", 0) + 1
        except DOCUMENTED as e:
            outcomes[type(e).__name__] = outcomes.get(type(e).__name__, 0) + 1
        shutil.rmtree(work)
    assert outcomes.get("MetadataError", 0) > 10, outcomes
