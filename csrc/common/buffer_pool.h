// Large buffers kept for reuse: fresh memory costs page faults and zeroing
// (on this project's machines 1.3-4 GB/s for 4 KiB pages, far slower than
// decoding), reused memory costs nothing. Cache entries read into memory and
// the outputs Python allocates for reads (take(idx), a[...]) come from here.
//
// Buffers of at least kMappedMin bytes are mapped on 2 MiB boundaries with
// madvise(MADV_HUGEPAGE), so that where the OS offers transparent huge pages
// a first use faults once per 2 MiB instead of once per 4 KiB. Given-back
// buffers are kept up to a byte budget (FASTCHUNK_BUFFER_POOL_BYTES, default
// an eighth of the machine's memory, at most 4 GiB; 0 keeps none) and a
// count, least recently given back dropped first. Fork-safe.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastchunk {

constexpr size_t kMappedMin = size_t(1) << 20;
constexpr size_t kHugePage = size_t(2) << 20;

// A buffer of at least n bytes; `capacity` receives its size (give it back
// with it). nullptr when memory is refused. Its contents are undefined.
uint8_t* take_buffer(size_t n, size_t& capacity);
void give_buffer(uint8_t* p, size_t capacity);

struct BufferPoolStats {
  size_t budget = 0, kept_bytes = 0, kept_buffers = 0;
  uint64_t reused = 0, made = 0;
};
BufferPoolStats buffer_pool_stats();
void set_buffer_pool_budget(size_t bytes);  // drops kept buffers beyond it
void clear_buffer_pool();

}  // namespace fastchunk
