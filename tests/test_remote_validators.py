"""Remote objects in the caches shared with other processes (the disk cache,
the node-wide decoded cache) are named by a strong validator: a strong ETag,
or a Last-Modified at least one second before the response's Date (RFC 9110
8.8.2.2). Objects without one stay out of them, unless the store is declared
immutable (cache_check="never"). A loopback web server that sends what the
test says plays the object store."""

from __future__ import annotations

import email.utils
import functools
import http.server
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

import fastchunk
from fastchunk import cache as shared

pytest.importorskip("obstore")

SAME_SECOND = time.time() - 3600  # the one second every response claims in "same-second"


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory. mode "none": neither ETag nor Last-Modified;
    "same-second": Last-Modified and Date both in one second (a rewrite
    within that second keeps its Last-Modified); "old": the file's real
    Last-Modified, long before the Date."""

    def send_header(self, keyword: str, value: str) -> None:
        if self.server.mode == "none" and keyword == "Last-Modified":  # type: ignore[attr-defined]
            return
        super().send_header(keyword, value)

    def date_time_string(self, timestamp: float | None = None) -> str:
        if self.server.mode == "same-second":  # type: ignore[attr-defined]
            return email.utils.formatdate(SAME_SECOND, usegmt=True)
        return super().date_time_string(timestamp)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[Path, str, Any]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.mode = "old"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def node_cache() -> Iterator[str]:
    name = f"validators-{uuid.uuid4().hex[:10]}"
    fastchunk.set_cache_size("16MB", shared=name)
    yield name
    shared.remove_shared_cache(name)


def write(root: Path, value: float) -> None:
    """The same array with every element `value`: checksummed, not
    compressed, so a rewrite keeps every object's size (and the node cache,
    which keeps no chunk whose stored bytes are its decoded bytes, keeps them)."""
    z = zarr.create_array(root / "a.zarr", shape=(4, 256), chunks=(1, 256), dtype="f4",
                          compressors=[zarr.codecs.Crc32cCodec()], fill_value=-1,
                          overwrite=True)
    z[...] = np.full((4, 256), value, "f4")
    hour_ago = time.time() - 3600
    for p in (root / "a.zarr").rglob("*"):
        os.utime(p, (hour_ago, hour_ago))


def test_the_strong_validator_rules() -> None:
    from fastchunk.store.engine import strong_validator, version_string

    date = "Tue, 03 Jun 2025 10:00:05 GMT"
    assert strong_validator('"abc"') == '"abc"'
    assert strong_validator('W/"abc"') is None  # weak ETags say "equivalent", not "the same"
    assert strong_validator(None, "Tue, 03 Jun 2025 10:00:04 GMT", date) is not None
    assert strong_validator(None, "Tue, 03 Jun 2025 10:00:05 GMT", date) is None  # same second
    assert strong_validator(None, "Tue, 03 Jun 2025 10:00:04 GMT", None) is None  # no Date
    assert version_string(10, None) == ""
    assert version_string(10, None, immutable=True) == "10:immutable"
    assert version_string(10, '"e"') == '10:"e"'


@pytest.mark.parametrize("mode", ["none", "same-second"])
def test_a_same_size_rewrite_without_a_strong_validator_is_never_served_stale(
    web: tuple[Path, str, Any], tmp_path: Path, node_cache: str, mode: str
) -> None:
    """The server sends no validator, or a Last-Modified in the second of its
    Date: the object was named "SIZE:" (or by that Last-Modified), and a
    same-size rewrite was served from the disk cache and the node cache to
    stores opened after it (later processes too)."""
    root, url, server = web
    server.mode = mode
    write(root, 1.0)
    options = {"cache_dir": str(tmp_path / "disk")}
    first = fastchunk.open_array(f"{url}/a.zarr", storage_options=options)
    np.testing.assert_array_equal(first[...], 1.0)
    write(root, 2.0)  # same sizes, same second
    later = fastchunk.open_array(f"{url}/a.zarr", storage_options=options)
    np.testing.assert_array_equal(later[...], 2.0)
    assert later.store.request_counts()["get"] >= 4  # fetched again: nothing kept
    assert fastchunk.get_cache_info(shared=node_cache)["entries"] == 0


def test_a_last_modified_a_second_older_than_the_response_names_the_object(
    web: tuple[Path, str, Any], tmp_path: Path, node_cache: str
) -> None:
    root, url, _server = web
    write(root, 1.0)
    options = {"cache_dir": str(tmp_path / "disk")}
    first = fastchunk.open_array(f"{url}/a.zarr", storage_options=options)
    np.testing.assert_array_equal(first[...], 1.0)
    if first.store.backend == "obstore":
        # obstore hands over no Date: a Last-Modified alone proves nothing.
        assert fastchunk.get_cache_info(shared=node_cache)["entries"] == 0
        return
    later = fastchunk.open_array(f"{url}/a.zarr", storage_options=options)
    opened = later.store.request_counts()["get"]  # metadata documents: never kept
    np.testing.assert_array_equal(later[...], 1.0)
    assert later.store.request_counts()["get"] == opened  # every chunk from the disk


def test_an_immutable_store_keeps_objects_without_validators(
    web: tuple[Path, str, Any], tmp_path: Path, node_cache: str
) -> None:
    """cache_check="never": the user says the store never changes; its
    objects are kept by their sizes and a restart makes no request."""
    root, url, server = web
    server.mode = "none"
    write(root, 1.0)
    options = {"cache_dir": str(tmp_path / "disk"), "cache_check": "never"}
    first = fastchunk.open_array(f"{url}/a.zarr", storage_options=options)
    np.testing.assert_array_equal(first[...], 1.0)
    assert fastchunk.get_cache_info(shared=node_cache)["entries"] == 4
    later = fastchunk.open_array(f"{url}/a.zarr", storage_options=options)
    opened = later.store.request_counts()["get"]  # metadata documents: never kept
    np.testing.assert_array_equal(later[...], 1.0)
    assert later.store.request_counts()["get"] == opened  # every chunk from the disk


@pytest.mark.parametrize("mode", ["none", "same-second", "old"])
def test_the_blocking_client_applies_the_date_rule(web: tuple[Path, str, Any], mode: str) -> None:
    """The urllib3 client (forked DataLoader workers use it) sees the Date:
    a Last-Modified a second older names the object, one in the same second
    does not."""
    from fastchunk.store.http_client import UrllibEngine
    from fastchunk.store.options import RemoteOptions

    root, url, server = web
    server.mode = mode
    write(root, 1.0)
    engine = UrllibEngine(RemoteOptions(f"{url}/a.zarr", {}))
    (version,) = engine.head_many(["c/0/0"])
    if mode == "old":
        assert version and version.startswith("1028:modified ")
    else:
        assert not version
    engine.get_many(["c/1/0"])
    assert bool(engine.versions["c/1/0"]) == (mode == "old")
