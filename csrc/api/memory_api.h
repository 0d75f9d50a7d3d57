// Memory the Cython module hands to Python as read outputs: buffers from the
// pool (common/buffer_pool.h), fresh ones populated on the read threads.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastchunk {

// A buffer of at least n bytes from the pool (capacity: its size, to give
// back with give_buffer); a fresh one has its pages populated by up to
// `threads` native threads (< 1: the calling thread's count), in pieces of
// at least 1 MiB, before it is returned. nullptr when memory is refused.
uint8_t* api_take_output_buffer(size_t n, size_t* capacity, int threads);

}  // namespace fastchunk
