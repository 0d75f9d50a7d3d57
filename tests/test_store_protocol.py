"""The storage vocabulary: Requests of three kinds, Answers with the object's
size and version, and the Store protocol, complete for every store fastchunk
makes and completed by StoreBase's defaults for a store object that has only
part of it."""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zarr

import fastchunk
from fastchunk.store import Answer, LocalStore, Request, Store, StoreBase, as_store, open_store
from fastchunk.store import serve as serve_module
from fastchunk.store.protocol import RANGE, SUFFIX, WHOLE
from tests import s3_server
from tests.common import random_data
from tests.s3_server import s3 as _s3_fixture  # noqa: F401 - fixture "s3"


def test_requests_have_three_kinds_and_cut_whole_objects() -> None:
    blob = bytes(range(10))
    whole, part, tail = Request.whole("k"), Request.range_of("k", 2, 3), Request.suffix("k", 4)
    assert (whole.kind, part.kind, tail.kind) == (WHOLE, RANGE, SUFFIX)
    assert tuple(part) == ("k", 2, 3)  # still the plan's (key, offset, length)
    assert bytes(part.cut(blob).data) == blob[2:5]
    assert tail.cut(blob, "v") == Answer(tail.cut(blob).data, 10, "v")
    assert bytes(tail.cut(blob).data) == blob[-4:]
    assert Request.suffix("k", 0).cut(blob).size == 10  # the size alone
    for bad in (("k", 3, None), ("k", None, None), ("k", -1, 2)):
        with pytest.raises(ValueError, match="bad request"):
            _ = Request(*bad).kind
    with pytest.raises(ValueError):
        Request.range_of("k", -1, 2)


def test_every_store_speaks_the_whole_protocol(tmp_path: Path) -> None:
    zarr.create_array(str(tmp_path / "a.zarr"), shape=(4,), chunks=(2,), dtype="i4")[...] = 1
    local = open_store(str(tmp_path / "a.zarr"))
    assert isinstance(local, LocalStore) and isinstance(local, Store)
    assert as_store(local) is local
    members = [n for n, _ in inspect.getmembers(Store) if not n.startswith("_")]
    for name in members:
        assert hasattr(local, name), name
    from fastchunk.store.remote import RemoteStore

    remote = RemoteStore("s3://bucket/x.zarr", {"anon": True})
    assert isinstance(remote, Store) and isinstance(remote, StoreBase)


def test_serve_asks_nothing_but_the_protocol() -> None:
    source = inspect.getsource(serve_module)
    assert "hasattr" not in source and "getattr" not in source


class DictStore:
    """A store object of a user: get and the listings, nothing more."""

    local_root = None

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.name = "dict-store"
        self.gets = 0

    def get(self, key: str) -> bytes | None:
        self.gets += 1
        return self.objects.get(key)

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]:
        for k, v in self.objects.items():
            if k.startswith(prefix):
                yield k, len(v)

    def list_dir(self, prefix: str) -> list[str]:
        return sorted({k[len(prefix):].split("/")[0] for k in self.objects
                       if k.startswith(prefix) and "/" in k[len(prefix):]})


@pytest.mark.parametrize("sharded", [False, True])
def test_a_partial_store_object_is_completed(tmp_path: Path, rng: np.random.Generator,
                                            sharded: bool) -> None:
    """A foreign store with only get() reads whole chunks and shards (their
    indexes and inner chunks cut from whole objects by StoreBase)."""
    data = random_data(rng, (8, 12), "float32")
    path = tmp_path / "a.zarr"
    z = zarr.create_array(str(path), shape=data.shape, chunks=(4, 6), dtype="f4",
                          shards=(8, 12) if sharded else None)
    z[...] = data
    objects = {}
    for root, _dirs, files in os.walk(path):
        for f in files:
            full = Path(root) / f
            objects[full.relative_to(path).as_posix()] = full.read_bytes()
    store = DictStore(objects)
    completed = open_store(store)
    assert isinstance(completed, Store) and completed is not store
    a = fastchunk.open(store)
    np.testing.assert_array_equal(a[...], data)
    np.testing.assert_array_equal(a[1:7, 2:11], data[1:7, 2:11])
    answers = completed.read([Request.whole("zarr.json"), Request.range_of("zarr.json", 1, 3),
                              Request.suffix("zarr.json", 2), Request.whole("nothing")])
    doc = objects["zarr.json"]
    assert answers[0] is not None and bytes(answers[0].data) == doc
    assert answers[1] is not None and bytes(answers[1].data) == doc[1:4]
    assert answers[2] is not None and (bytes(answers[2].data), answers[2].size) == (doc[-2:],
                                                                                    len(doc))
    assert answers[3] is None


def test_remote_answers_carry_the_version_of_their_response(s3: s3_server.S3Server,
                                                             tmp_path: Path) -> None:
    """Every Answer from an object store names the version the response that
    brought it said: a rewrite between two reads gives two versions."""
    import uuid

    import obstore

    key = f"versions/{uuid.uuid4().hex}/obj"
    client = s3.obstore()
    obstore.put(client, key, b"0123456789")
    store = open_store(f"s3://{s3.bucket}", s3.storage_options())
    first = store.read([Request.whole(key), Request.range_of(key, 2, 3), Request.suffix(key, 0)])
    assert all(a is not None for a in first)
    versions = {a.version for a in first if a is not None}
    assert len(versions) == 1 and versions.pop().startswith("10:")
    assert bytes(first[1].data) == b"234" and first[2].size == 10  # type: ignore[union-attr]
    obstore.put(client, key, b"abcdefghijk")
    again = store.read([Request.range_of(key, 2, 3)])[0]
    assert again is not None and bytes(again.data) == b"cde"
    assert again.version.startswith("11:") and again.version != first[0].version  # type: ignore[union-attr]
    assert store.known_versions([key]) == [again.version]
    assert store.read([Request.whole(f"versions/{uuid.uuid4().hex}/none")]) == [None]
