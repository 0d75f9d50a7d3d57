// Buffers for cache entries read into memory, kept for reuse: a fresh
// allocation of a few MB costs more in page faults and zeroing than reading
// the file (measured 4x slower). Fork-safe.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastchunk {

// A buffer of at least n bytes; `capacity` receives its size (give it back
// with it). nullptr when memory is refused.
uint8_t* take_buffer(size_t n, size_t& capacity);
void give_buffer(uint8_t* p, size_t capacity);

}  // namespace fastchunk
