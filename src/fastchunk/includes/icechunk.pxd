# csrc/icechunk and csrc/api/icechunk_api.h: Icechunk repo info, snapshot and
# manifest files, chunk-reference tables, local reads and remote routes.
from libc.stdint cimport int32_t, uint8_t, uint32_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.memory cimport shared_ptr
from libcpp.string cimport string
from libcpp.vector cimport vector

from fastchunk.includes.common cimport ByteView, ErrorInfo
from fastchunk.includes.engine cimport ArraySpec, ByteRequest, Selection


cdef extern from "icechunk/object_id.h" namespace "fastchunk":
    cdef cppclass ObjectId12 "fastchunk::ObjectId12":
        const uint8_t* data()
        size_t size()

    cdef cppclass ObjectId8 "fastchunk::ObjectId8":
        const uint8_t* data()
        size_t size()

cdef extern from "<optional>" namespace "std" nogil:
    cdef cppclass optional[T]:
        cbool has_value()
        T& value()

cdef extern from "icechunk/repo_info.h" namespace "fastchunk":
    cdef cppclass RepoRef:
        string name
        ObjectId12 snapshot

    cdef cppclass RepoSnapshotInfo:
        ObjectId12 id
        int32_t parent
        uint64_t flushed_at
        string message

    cdef cppclass RepoInfo:
        uint8_t spec_version
        vector[RepoRef] branches
        vector[RepoRef] tags
        vector[string] deleted_tags
        vector[RepoSnapshotInfo] snapshots
        uint8_t availability
        string availability_reason

cdef extern from "icechunk/snapshot.h" namespace "fastchunk":
    cdef cppclass ManifestExtent:
        uint32_t start "from"
        uint32_t to

    cdef cppclass ManifestPointer:
        ObjectId12 id
        vector[ManifestExtent] extents

    cdef cppclass SnapshotNode:
        ObjectId8 id
        string path
        string user_data
        cbool is_array
        vector[uint64_t] shape
        vector[ManifestPointer] manifests

    cdef cppclass Snapshot:
        uint8_t spec_version
        ObjectId12 id
        optional[ObjectId12] parent
        uint64_t flushed_at
        string message
        vector[SnapshotNode] nodes

cdef extern from "icechunk/manifest.h" namespace "fastchunk":
    cdef cppclass IcechunkManifest "fastchunk::Manifest":
        const ObjectId12& id()
        uint8_t spec_version()
        size_t nbytes()
        uint64_t ref_count()

cdef extern from "icechunk/chunk_refs.h" namespace "fastchunk":
    cdef cppclass ChunkTarget:
        string location
        cbool is_virtual
        string etag
        uint32_t last_modified
        cbool allowed

    cdef enum class RefKind "fastchunk::ChunkRef::Kind":
        kInline "fastchunk::ChunkRef::Kind::kInline"
        kNative "fastchunk::ChunkRef::Kind::kNative"
        kVirtual "fastchunk::ChunkRef::Kind::kVirtual"

    cdef cppclass ChunkRef:
        RefKind kind
        uint32_t target
        uint64_t offset
        uint64_t length

    cdef cppclass ChunkRefTable:
        size_t ndim()
        size_t size()
        const uint32_t* coords_of(size_t i)
        const ChunkRef& ref(size_t i)
        vector[ChunkTarget]& targets()
        size_t nbytes()
        ByteView inline_data()

cdef extern from "icechunk/ref_routes.h" namespace "fastchunk":
    cdef enum class AnswerKind "fastchunk::RoutedAnswer::Kind":
        kMissing "fastchunk::RoutedAnswer::Kind::kMissing"
        kInline "fastchunk::RoutedAnswer::Kind::kInline"
        kFetched "fastchunk::RoutedAnswer::Kind::kFetched"

    cdef cppclass RoutedFetch:
        uint32_t target
        uint64_t offset
        uint64_t length

    cdef cppclass RoutedAnswer:
        AnswerKind kind
        uint32_t fetch
        uint64_t start
        uint64_t length
        uint64_t object_size

    cdef cppclass Routes:
        vector[RoutedFetch] fetches
        vector[RoutedAnswer] answers

cdef extern from "api/icechunk_api.h" namespace "fastchunk":
    ErrorInfo api_icechunk_parse_repo_info(const uint8_t* data, size_t size, const string& what,
                                           RepoInfo* out) nogil
    ErrorInfo api_icechunk_parse_snapshot(const uint8_t* data, size_t size, const string& what,
                                          Snapshot* out) nogil
    ErrorInfo api_icechunk_parse_manifest(const uint8_t* data, size_t size, const string& what,
                                          shared_ptr[const IcechunkManifest]* out) nogil
    ErrorInfo api_icechunk_new_refs(const vector[uint64_t]& grid,
                                    shared_ptr[ChunkRefTable]* out) nogil
    ErrorInfo api_icechunk_collect(const IcechunkManifest& manifest, const string& node_id,
                                   const vector[uint32_t]& extents, ChunkRefTable& refs,
                                   const string& what) nogil
    ErrorInfo api_icechunk_seal(ChunkRefTable& refs, const string& what) nogil
    ErrorInfo api_icechunk_decode_id(const string& name, string* bytes) nogil
    ErrorInfo api_icechunk_encode_id(const string& bytes, string* name) nogil
    ErrorInfo api_icechunk_read_local(const ArraySpec& spec, const ChunkRefTable& refs,
                                      const string& root, const Selection& sel, uint8_t* out,
                                      uint64_t out_nbytes, int num_threads) nogil
    ErrorInfo api_icechunk_route(const ArraySpec& spec, const ChunkRefTable& refs,
                                 const vector[ByteRequest]& requests, Routes* out) nogil
