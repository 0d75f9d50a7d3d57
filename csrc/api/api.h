// The narrow C++ surface the Cython module calls. Every function catches
// exceptions and reports them as (kind, message): nothing is thrown across
// the language boundary.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "api/guarded.h"
#include "engine/array_spec.h"
#include "engine/reader.h"
#include "io/memory_source.h"

namespace fastchunk {

ErrorInfo api_verify_spec(const ArraySpec& spec);
ErrorInfo api_read_local(const ArraySpec& spec, const std::string& root, const Selection& sel,
                         uint8_t* out);
ErrorInfo api_read_memory(const ArraySpec& spec, MemorySource& source, const Selection& sel,
                          uint8_t* out, const std::unordered_set<std::string>* skip);
ErrorInfo api_needed_keys(const ArraySpec& spec, const Selection& sel, bool skip_cached,
                          std::vector<std::string>* keys);
ErrorInfo api_needed_chunks(const ArraySpec& spec, const Selection& sel,
                            std::vector<std::pair<std::string, int64_t>>* chunks);
// Decodes one chunk through a chain, for callers outside the selection path.
ErrorInfo api_decode_chunk(const ChainSpec& chain, const uint8_t* in, size_t in_size,
                           uint8_t* out, size_t out_size);
void cache_set_capacity(size_t bytes);
void cache_info(size_t* capacity, size_t* used, uint64_t* hits, uint64_t* misses,
                uint64_t* evictions);
void cache_clear();
ErrorInfo api_crc32c(const uint8_t* data, size_t size, uint32_t* crc);

}  // namespace fastchunk
