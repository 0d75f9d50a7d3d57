"""engine="fastchunk": the xarray backend registered through the
`xarray.backends` entry point.

    xr.open_dataset("era5.zarr", engine="fastchunk")
    xr.open_dataset("s3://bucket/era5.zarr", engine="fastchunk",
                    storage_options={"endpoint_url": ...}, chunks={})
    xr.open_datatree("tree.zarr", engine="fastchunk")

Keywords are engine="zarr"'s where they mean the same (group, consolidated,
storage_options, zarr_format; mode="r" only; use_zarr_fill_value_as_mask is
accepted and, as by engine="zarr", not used: the zarr fill value masks data
in v2 stores, not in v3),
plus `task_bytes`: how much one dask task reads at most (chunking.py; 0 for
one task per stored chunk), and fastchunk.open's for Icechunk repositories
(branch, tag, snapshot, authorize_virtual_chunk_access). CF decoding is
xarray's own, as for engine="zarr"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from xarray.backends.common import BackendEntrypoint, datatree_from_dict_with_io_cleanup
from xarray.backends.store import StoreBackendEntrypoint
from xarray.core.dataset import Dataset
from xarray.core.datatree import DataTree

from fastchunk.xarray.datastore import FastchunkDataStore, open_group

# fastchunk.open's keywords for Icechunk repositories, passed through.
_OPEN_KEYWORDS = ("branch", "tag", "snapshot", "authorize_virtual_chunk_access")


def _check_mode(mode: str | None) -> None:
    if mode not in (None, "r"):
        raise ValueError(f"engine='fastchunk' only reads (mode='r'), got mode={mode!r}: "
                         "write with engine='zarr' / Dataset.to_zarr")


class FastchunkBackendEntrypoint(BackendEntrypoint):
    """Open zarr v2/v3 stores (local, s3://, gs://, http(s)://) with fastchunk's
    native reader: every load of a variable is one native read."""

    description = "Open zarr stores with fastchunk's native multithreaded reader"
    url = "https://github.com/fastchunk/fastchunk#xarray-users"
    supports_groups: ClassVar[bool] = True
    open_dataset_parameters = (
        "filename_or_obj", "mask_and_scale", "decode_times", "concat_characters",
        "decode_coords", "drop_variables", "use_cftime", "decode_timedelta", "group",
        "mode", "consolidated", "storage_options", "zarr_format",
        "use_zarr_fill_value_as_mask", "task_bytes", *_OPEN_KEYWORDS,
    )

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        # Never chosen without engine="fastchunk": .zarr paths stay engine="zarr"'s.
        return False

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: Any,
        *,
        mask_and_scale: Any = True,
        decode_times: Any = True,
        concat_characters: Any = True,
        decode_coords: Any = True,
        drop_variables: str | Iterable[str] | None = None,
        use_cftime: Any = None,
        decode_timedelta: Any = None,
        group: str | None = None,
        mode: str | None = "r",
        consolidated: bool | None = None,
        storage_options: dict[str, Any] | None = None,
        zarr_format: int | None = None,
        use_zarr_fill_value_as_mask: bool | None = None,
        task_bytes: int | str | None = None,
        branch: str | None = None,
        tag: str | None = None,
        snapshot: str | None = None,
        authorize_virtual_chunk_access: dict[str, Any] | None = None,
        **zarr_only: Any,
    ) -> Dataset:
        _check_zarr_only(zarr_only)
        _check_mode(mode)
        store = FastchunkDataStore(
            open_group(filename_or_obj, group, storage_options, consolidated, zarr_format,
                       branch=branch, tag=tag, snapshot=snapshot,
                       authorize_virtual_chunk_access=authorize_virtual_chunk_access),
            task_bytes,
        )
        return StoreBackendEntrypoint().open_dataset(
            store,
            mask_and_scale=mask_and_scale,
            decode_times=decode_times,
            concat_characters=concat_characters,
            decode_coords=decode_coords,
            drop_variables=drop_variables,
            use_cftime=use_cftime,
            decode_timedelta=decode_timedelta,
        )

    def open_groups_as_dict(  # type: ignore[override]
        self,
        filename_or_obj: Any,
        *,
        mask_and_scale: Any = True,
        decode_times: Any = True,
        concat_characters: Any = True,
        decode_coords: Any = True,
        drop_variables: str | Iterable[str] | None = None,
        use_cftime: Any = None,
        decode_timedelta: Any = None,
        group: str | None = None,
        mode: str | None = "r",
        consolidated: bool | None = None,
        storage_options: dict[str, Any] | None = None,
        zarr_format: int | None = None,
        use_zarr_fill_value_as_mask: bool | None = None,
        task_bytes: int | str | None = None,
        branch: str | None = None,
        tag: str | None = None,
        snapshot: str | None = None,
        authorize_virtual_chunk_access: dict[str, Any] | None = None,
        **zarr_only: Any,
    ) -> dict[str, Dataset]:
        _check_zarr_only(zarr_only)
        _check_mode(mode)
        root = FastchunkDataStore(
            open_group(filename_or_obj, group, storage_options, consolidated, zarr_format,
                       branch=branch, tag=tag, snapshot=snapshot,
                       authorize_virtual_chunk_access=authorize_virtual_chunk_access),
            task_bytes,
        )
        decoder = StoreBackendEntrypoint()
        return {
            path: decoder.open_dataset(
                store,
                mask_and_scale=mask_and_scale,
                decode_times=decode_times,
                concat_characters=concat_characters,
                decode_coords=decode_coords,
                drop_variables=drop_variables,
                use_cftime=use_cftime,
                decode_timedelta=decode_timedelta,
            )
            for path, store in root.walk()
        }

    def open_datatree(  # type: ignore[override]
        self, filename_or_obj: Any, **kwargs: Any
    ) -> DataTree:
        return datatree_from_dict_with_io_cleanup(
            self.open_groups_as_dict(filename_or_obj, **kwargs)
        )


def _check_zarr_only(kwargs: dict[str, Any]) -> None:
    """engine="zarr"'s keywords that mean nothing here: `engine`, and
    `cache_members` (the member list is read once, at open); `store` only
    unset. Anything else is a TypeError, as for any backend."""
    for key, value in kwargs.items():
        if key in ("engine", "cache_members") or (key == "store" and value is None):
            continue
        if key == "store":
            raise ValueError("engine='fastchunk' opens filename_or_obj, not store=")
        raise TypeError(f"engine='fastchunk' got an unexpected keyword argument {key!r}")
