# csrc/engine, csrc/io and csrc/api/read_api.h: array specs, selections, read
# plans, chunk keys and the native thread pool.
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.memory cimport unique_ptr
from libcpp.string cimport string
from libcpp.vector cimport vector

from fastchunk.includes.codecs cimport ChainSpec
from fastchunk.includes.common cimport ErrorInfo


cdef extern from "engine/chunk_keys.h" namespace "fastchunk":
    cdef cppclass KeySpec:
        string prefix
        char separator
        string zero_dim_key
        cbool nested_fallback


cdef extern from "engine/array_spec.h" namespace "fastchunk":
    cdef cppclass ShardSpec:
        vector[int64_t] chunks_per_shard
        ChainSpec index_chain
        cbool index_at_start

    cdef cppclass ArraySpec:
        string store_name
        string store_id
        string decoding
        string array_path
        vector[int64_t] shape
        vector[int64_t] chunk_shape
        int64_t itemsize
        vector[uint8_t] fill
        ChainSpec chain
        vector[int] stored_axes
        cbool sharded
        ShardSpec shard
        KeySpec keys

cdef extern from "plan/positions.h" namespace "fastchunk":
    cdef cppclass Positions:
        const int64_t* table
        int64_t first
        int64_t step

cdef extern from "plan/axis_plan.h" namespace "fastchunk":
    cdef cppclass AxisSelection:
        Positions positions
        int64_t count

cdef extern from "engine/task_grid.h" namespace "fastchunk":
    cdef cppclass Selection:
        vector[AxisSelection] axes
        vector[int64_t] out_strides

cdef extern from "io/byte_source.h" namespace "fastchunk":
    const uint64_t kUnknownObjectSize

    cdef enum class RangeKind "fastchunk::ByteRange::Kind":
        kWhole "fastchunk::ByteRange::Kind::kWhole"
        kSlice "fastchunk::ByteRange::Kind::kSlice"
        kSuffix "fastchunk::ByteRange::Kind::kSuffix"

    cdef cppclass ByteRange:
        RangeKind kind
        uint64_t offset
        uint64_t length

    cdef cppclass ByteRequest:
        string key
        ByteRange range

cdef extern from "engine/read_plan.h" namespace "fastchunk":
    void set_read_ahead_c "fastchunk::set_read_ahead"(cbool on) nogil
    cbool read_ahead_c "fastchunk::read_ahead"() nogil

    cdef cppclass CReadPlan "fastchunk::ReadPlan":
        uint64_t output_nbytes()
        int64_t ntasks()

cdef extern from "engine/read_plan.h" namespace "fastchunk::ReadPlan":
    const uint64_t kCoalesceGap
    const uint64_t kMaxRequest

cdef extern from "engine/thread_pool.h" namespace "fastchunk":
    void set_num_threads_c "fastchunk::set_num_threads"(int n) nogil
    void set_thread_num_threads_c "fastchunk::set_thread_num_threads"(int n) nogil
    int num_threads() nogil

cdef extern from "api/read_api.h" namespace "fastchunk":
    ErrorInfo api_verify_spec(const ArraySpec& spec) nogil
    ErrorInfo api_read_local(const ArraySpec& spec, const string& root, const Selection& sel,
                             uint8_t* out, uint64_t out_nbytes, int num_threads) nogil
    ErrorInfo api_plan_make(const ArraySpec& spec, const Selection& sel, int num_threads,
                            cbool skip_cached, unique_ptr[CReadPlan]* plan) nogil
    ErrorInfo api_plan_know_versions(CReadPlan& plan, const vector[string]& keys,
                                     const vector[string]& versions) nogil
    ErrorInfo api_plan_set_coalesce(CReadPlan& plan, cbool on) nogil
    ErrorInfo api_plan_pending(CReadPlan& plan, vector[ByteRequest]* requests) nogil
    ErrorInfo api_plan_provide(CReadPlan& plan, const ByteRequest& request, const uint8_t* data,
                               size_t size, uint64_t object_size, const string& version) nogil
    ErrorInfo api_plan_decode_ready(CReadPlan& plan, uint8_t* out, int64_t* left) nogil
    ErrorInfo api_plan_finish(CReadPlan& plan, uint8_t* out) nogil
    ErrorInfo api_plan_object_keys(CReadPlan& plan, vector[string]* keys) nogil
    ErrorInfo api_plan_take_released(CReadPlan& plan, vector[string]* keys) nogil
    ErrorInfo api_decode_shard_index(const ShardSpec& shard, const uint8_t* data, size_t size,
                                     vector[uint64_t]* entries) nogil
    ErrorInfo api_read_shard_index_file(const ShardSpec& shard, const string& path,
                                        vector[uint64_t]* entries, string* version,
                                        cbool* found) nogil
    ErrorInfo api_chunk_key(const string& array_path, const KeySpec& keys,
                            const vector[int64_t]& coords, char separator, string* key) nogil
    ErrorInfo api_parse_chunk_key(const string& array_path, const KeySpec& keys, size_t ndim,
                                  const string& key, vector[int64_t]* coords,
                                  cbool* parsed) nogil

