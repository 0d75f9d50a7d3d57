// A read into an output fresh from the buffer pool (api/memory_api) populates
// the output's pages on idle pool threads while it decodes into them: the
// kernel's zeroing of fresh pages overlaps the decoding instead of preceding
// it or interrupting it one fault at a time. A single-chunk read (one thread
// decoding, the others idle) then costs about what it costs into reused memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/thread_pool.h"

namespace fastchunk {

// Populates [p, p + n) now, in pieces of 1 MiB on up to `threads` threads
// (< 1: the calling thread's count): for a fresh output no read will populate
// alongside (one thread, or a kernel whose populating writes).
void populate_now(uint8_t* p, size_t n, int threads);

class PopulateAlongside {
 public:
  // Starts populating whatever part of [out, out + n) is noted unpopulated
  // (threads < 1: the calling thread's count; with one thread, populated here
  // at once, before the read).
  PopulateAlongside(uint8_t* out, size_t n, int threads);
  ~PopulateAlongside();  // waits for the pages handed to other threads
  PopulateAlongside(const PopulateAlongside&) = delete;
  PopulateAlongside& operator=(const PopulateAlongside&) = delete;

 private:
  std::unique_ptr<BackgroundWork> work_;
};

}  // namespace fastchunk
