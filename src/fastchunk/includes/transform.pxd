# csrc/transform: fused batch preprocessing.
from libc.stdint cimport int64_t
from libcpp cimport bool as cbool

from fastchunk.includes.common cimport ErrorInfo


cdef extern from "transform/batch_transform.h" namespace "fastchunk":
    cdef enum class OutType "fastchunk::OutType":
        kFloat32 "fastchunk::OutType::kFloat32"
        kFloat16 "fastchunk::OutType::kFloat16"
        kBFloat16 "fastchunk::OutType::kBFloat16"

    cdef cppclass TransformSpec:
        int64_t outer
        int64_t channels
        int64_t inner
        const float* mean
        const float* std
        cbool replace_nan
        float nan_value
        OutType out_type
        cbool channels_last

cdef extern from "transform/transform_api.h" namespace "fastchunk":
    ErrorInfo api_transform_batch(const float* inp, void* out, const TransformSpec& spec) nogil
