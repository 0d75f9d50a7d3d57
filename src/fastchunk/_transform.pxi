# Bindings for fused batch preprocessing (normalize, NaN replacement, casts); included by _core.pyx.

# Output type codes of transform_batch, by numpy-style name.
TRANSFORM_OUT_TYPES = {"float32": 0, "float16": 1, "bfloat16": 2}
_TRANSFORM_OUT_SIZES = {0: 4, 1: 2, 2: 2}


def transform_batch(src, dst, Py_ssize_t outer, Py_ssize_t channels, Py_ssize_t inner,
                    mean=None, std=None, nan_value=None, int out_type=0,
                    cbool channels_last=False):
    """Writes the float32 batch `src` (C-contiguous, viewed as (outer, channels,
    inner)) into `dst` (any C-contiguous writable buffer of the output type's
    size): (x - mean[c]) / std[c] when mean/std are given, NaN -> nan_value
    when nan_value is not None, then the cast; laid out (outer, inner,
    channels) with channels_last. The GIL is released."""
    if out_type not in _TRANSFORM_OUT_SIZES:
        raise ValueError(f"unknown output type code {out_type}")
    if outer < 0 or channels < 1 or inner < 0:
        raise ValueError(f"bad batch layout ({outer}, {channels}, {inner})")
    total = int(outer) * int(channels) * int(inner)  # Python ints: no overflow
    src_arr = np.ascontiguousarray(src, dtype=np.float32).reshape(-1)
    if src_arr.shape[0] != total:
        raise ValueError(f"src has {src_arr.shape[0]} elements, layout needs {total}")
    cdef const float[::1] src_view = src_arr
    cdef uint8_t[::1] dst_view = writable_bytes(dst, total * _TRANSFORM_OUT_SIZES[out_type], "dst")
    cdef TransformSpec spec
    spec.outer = outer
    spec.channels = channels
    spec.inner = inner
    spec.out_type = <OutType>out_type
    spec.channels_last = channels_last
    cdef const float[::1] mean_view
    cdef const float[::1] std_view
    if (mean is None) != (std is None):
        raise ValueError("normalization needs both mean and std")
    if mean is not None:
        mean_arr = np.ascontiguousarray(mean, dtype=np.float32).reshape(-1)
        std_arr = np.ascontiguousarray(std, dtype=np.float32).reshape(-1)
        if mean_arr.shape[0] != channels or std_arr.shape[0] != channels:
            raise ValueError(
                f"mean and std need {channels} values each, got "
                f"{mean_arr.shape[0]} and {std_arr.shape[0]}"
            )
        mean_view = mean_arr
        std_view = std_arr
        spec.mean = &mean_view[0]
        spec.std = &std_view[0]
    if nan_value is not None:
        spec.replace_nan = True
        spec.nan_value = float(nan_value)
    if total == 0:
        return
    if channels_last and <const void*>&src_view[0] == <const void*>&dst_view[0]:
        raise ValueError("a channels-last transform cannot write over its input")
    with nogil:
        check(api_transform_batch(&src_view[0], <void*>&dst_view[0], spec))
