"""xarray's own zarr backend tests (xarray/tests/test_backends.py, shipped
with xarray) with every read going through engine="fastchunk".

xarray's ZarrBase subclasses write with engine="zarr" and read back. The
subclasses here redirect every open that picks engine="zarr" (self.open,
xr.open_zarr, xr.open_dataset(..., engine="zarr"), xr.open_datatree) to
fastchunk's backend whenever fastchunk can open the target (a path), and
record how many opens each test made through it. The originals are
collected alongside, so one run gives both engines' outcomes:

    bash scripts/run_suite.sh xarray-engine default    # then compares them

(tests/test_xarray_suite.py runs it; scripts/xarray_engine_report.py
compares). Not collected by the test suite itself (no test_ prefix).

Subclasses run: TestZarrDirectoryStore (zarr v2 and v3, each test's own
consolidated setting: mostly consolidated, as to_zarr writes by default),
through consolidated metadata and, in a second class, through each node's
own documents (consolidated=False). Left out: the in-memory stores
(TestZarrDictStore, TestZarrNoConsolidatedMetadataSupport: zarr-python
MemoryStore objects, which fastchunk does not read), TestZarrWriteEmpty
(tests of write_empty_chunks: zarr writing) and TestInstrumentedZarrStore
(counts zarr-python's store calls)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("xarray")
pytest.importorskip("zarr")

import xarray.backends.plugins as _plugins  # noqa: E402
from xarray.tests.test_backends import (
    TestZarrDirectoryStore,  # noqa: E402
    default_zarr_format,  # noqa: E402, F401 - fixture
)

from fastchunk.xarray import FastchunkBackendEntrypoint  # noqa: E402

# Tests that pass with engine="zarr" and are skipped with engine="fastchunk",
# by name (any parameters), with the reason.
SKIPS: dict[str, str] = {}

# Tests that assert that chunks={} gives dask chunks equal to the stored
# chunks (engine="zarr"'s preferred chunks). fastchunk prefers tasks of many
# stored chunks (fastchunk/xarray/chunking.py); these run with task_bytes=0,
# its setting for one task per stored chunk.
# test_warning_on_bad_chunks: xarray warns when requested chunks split the
# preferred ones (with fastchunk's, also chunks aligned to the stored chunks).
STORED_CHUNKS = {
    "test_chunk_auto_with_small_dask_chunks",
    "test_chunked_datetime64_or_timedelta64",
    "test_warning_on_bad_chunks",
}


def _fastchunk_can_open(target: Any) -> bool:
    return isinstance(target, (str, os.PathLike))


def _v3_consolidated(root: str) -> bool:
    try:
        with open(os.path.join(root, "zarr.json")) as f:
            return bool(json.load(f).get("consolidated_metadata"))
    except (OSError, ValueError, AttributeError):
        return False


class _Redirect(FastchunkBackendEntrypoint):
    """engine="zarr" opens of paths go to fastchunk; other targets (zarr
    store objects) stay zarr's. Counts the opens fastchunk served."""

    opens = 0
    task_bytes: int | None = None
    per_node_metadata = False

    def __init__(self, zarr_backend: Any) -> None:
        self._zarr = zarr_backend

    def open_dataset(self, filename_or_obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if not _fastchunk_can_open(filename_or_obj):
            return self._zarr.open_dataset(filename_or_obj, **kwargs)
        type(self).opens += 1
        self._per_node(filename_or_obj, kwargs)
        return super().open_dataset(filename_or_obj, task_bytes=self.task_bytes, **kwargs)

    def open_groups_as_dict(self, filename_or_obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if not _fastchunk_can_open(filename_or_obj):
            return self._zarr.open_groups_as_dict(filename_or_obj, **kwargs)
        type(self).opens += 1
        self._per_node(filename_or_obj, kwargs)
        return super().open_groups_as_dict(filename_or_obj, task_bytes=self.task_bytes, **kwargs)

    def _per_node(self, target: Any, kwargs: dict[str, Any]) -> None:
        if self.per_node_metadata and kwargs.get("consolidated") is None:
            root = os.fspath(target)
            if os.path.exists(os.path.join(root, ".zmetadata")) or _v3_consolidated(root):
                kwargs["consolidated"] = False

    def open_datatree(self, filename_or_obj: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if not _fastchunk_can_open(filename_or_obj):
            return self._zarr.open_datatree(filename_or_obj, **kwargs)
        return super().open_datatree(filename_or_obj, **kwargs)


class FastchunkReads:
    """Mixin for a ZarrBase subclass: reads through engine="fastchunk"."""

    version_kwargs: dict[str, Any]

    @pytest.fixture(autouse=True)
    def _reads_through_fastchunk(
        self, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[None]:
        reason = SKIPS.get(request.node.originalname)
        if reason:
            pytest.skip(f"engine='fastchunk': {reason}")
        get_backend = _plugins.get_backend

        def redirect(engine: Any) -> Any:
            backend = get_backend(engine)
            return _Redirect(backend) if engine == "zarr" else backend

        monkeypatch.setattr(_plugins, "get_backend", redirect)
        _Redirect.opens = 0
        _Redirect.task_bytes = 0 if request.node.originalname in STORED_CHUNKS else None
        _Redirect.per_node_metadata = getattr(self, "per_node_metadata", False)
        yield
        request.node.user_properties.append(("fastchunk_opens", _Redirect.opens))


class TestFastchunkDirectoryStore(FastchunkReads, TestZarrDirectoryStore):
    pass


class TestFastchunkDirectoryStoreNotConsolidated(FastchunkReads, TestZarrDirectoryStore):
    """The same tests, reading every node's own metadata documents where the
    store has consolidated metadata and the test leaves `consolidated` unset
    (consolidated=False): the stores are those of TestZarrDirectoryStore,
    so its outcomes are the baseline."""

    per_node_metadata = True

