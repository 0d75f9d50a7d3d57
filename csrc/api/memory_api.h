// Memory the Cython module hands to Python as read outputs: buffers from the
// pool (common/buffer_pool.h), fresh ones populated on the read threads.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastchunk {

// A buffer of at least n bytes from the pool (capacity: its size, to give
// back with give_buffer). A fresh one is left for the read that fills it to
// populate alongside its decoding (engine/output_pages.h) where the kernel
// can populate pages without writing them and `threads` (< 1: the calling
// thread's count) is above 1; otherwise its pages are populated here
// (populate_now). nullptr when memory is refused.
uint8_t* api_take_output_buffer(size_t n, size_t* capacity, int threads);

}  // namespace fastchunk
