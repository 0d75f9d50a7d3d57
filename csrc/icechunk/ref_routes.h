// Remote reads of an Icechunk array: a ReadPlan names what it needs by chunk
// key and byte range (engine/read_plan.h); this turns those requests into
// fetches of the objects the references point to (native objects of the
// repository, virtual objects elsewhere), coalesced per object as the plan
// coalesces inside a shard, and says how to cut each answer out of them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/array_spec.h"
#include "icechunk/chunk_refs.h"
#include "io/byte_source.h"

namespace fastchunk {

// One request to an object store: bytes [offset, offset + length) of target.
struct RoutedFetch {
  uint32_t target = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// How to answer one of the plan's requests.
struct RoutedAnswer {
  enum class Kind : uint8_t {
    kMissing,   // no reference: the chunk reads as the fill value
    kInline,    // bytes [start, start + length) of the inline bytes
    kFetched,   // bytes [start, start + length) of fetches[fetch]
  };
  Kind kind = Kind::kMissing;
  uint32_t fetch = 0;
  uint64_t start = 0;
  uint64_t length = 0;
  uint64_t object_size = 0;  // the reference's length: the stored object's size
};

struct Routes {
  std::vector<RoutedFetch> fetches;
  std::vector<RoutedAnswer> answers;  // one per request, in order
};

// Routes `requests` (chunk keys of the array `spec` describes). Ranges of one
// target closer than `gap` bytes share a fetch of at most `max_fetch` bytes.
// A request outside its reference is an Error(kDecode), a virtual location
// the reader was not authorized to read an Error(kIO), both naming the key.
Routes route_requests(const ArraySpec& spec, const ChunkRefTable& refs,
                      const std::vector<ByteRequest>& requests, uint64_t gap,
                      uint64_t max_fetch);

}  // namespace fastchunk
