import numpy as np
import zarr

import fastchunk


def test_roundtrip_v3(tmp_path):
    data = np.arange(600, dtype="f4").reshape(20, 30)
    z = zarr.create_array(tmp_path / "a.zarr", shape=data.shape, chunks=(7, 11), dtype="f4")
    z[:] = data
    a = fastchunk.open(tmp_path / "a.zarr")
    np.testing.assert_array_equal(a[:], data)
    np.testing.assert_array_equal(a.take([3, -1, 3]), data[[3, -1, 3]])
