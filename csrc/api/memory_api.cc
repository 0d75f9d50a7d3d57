#include "api/memory_api.h"

#include "common/buffer_pool.h"
#include "engine/output_pages.h"
#include "engine/thread_pool.h"

namespace fastchunk {

uint8_t* api_take_output_buffer(size_t n, size_t* capacity, int threads) {
  bool fresh = false;
  size_t cap = 0;
  uint8_t* p = take_buffer(n, cap, &fresh);
  *capacity = cap;
  if (!p || !fresh) return p;
  if (threads < 1) threads = num_threads();
  if (threads > 1 && populate_leaves_contents())
    note_unpopulated(p, cap);  // the read into it populates it alongside its decoding
  else
    populate_now(p, cap, threads);
  return p;
}

}  // namespace fastchunk
