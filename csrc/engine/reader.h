// Reads an orthogonal selection of an array into a C-contiguous buffer:
// one planning pass, then one task per chunk on the native thread pool.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/array_spec.h"
#include "io/chunk_source.h"

namespace fastchunk {

struct Selection {
  std::vector<const int64_t*> indices;  // per axis: source positions, in output order
  std::vector<int64_t> counts;          // per axis: output extent
};

// `out` holds prod(counts) * itemsize bytes, C order. Every byte of it is
// written exactly once (decoded data or fill value). Chunks stored under a
// key in `skip` are left for another call (remote objects still in flight).
void read_selection(const ArraySpec& spec, ChunkSource& source, const Selection& sel,
                    uint8_t* out, const std::unordered_set<std::string>* skip = nullptr);

// (stored object key, inner chunk number in C order within the shard; 0 when
// not sharded) of every chunk a selection touches, each once.
std::vector<std::pair<std::string, int64_t>> needed_chunks(const ArraySpec& spec,
                                                           const Selection& sel);

// The stored objects (chunk or shard keys) a selection needs, each once;
// with skip_cached, leaving out those whose chunks are all in the decoded-chunk cache.
std::vector<std::string> needed_keys(const ArraySpec& spec, const Selection& sel,
                                     bool skip_cached);

}  // namespace fastchunk
