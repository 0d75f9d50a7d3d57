#include "common/scratch.h"

namespace fastchunk {
namespace {

struct ThreadScratch {
  ByteBuffer buffers[int(Scratch::kCount)];
  int oversized_runs[int(Scratch::kCount)] = {};
};

ThreadScratch& this_thread() {
  thread_local ThreadScratch s;
  return s;
}

}  // namespace

ByteBuffer& scratch(Scratch which) { return this_thread().buffers[int(which)]; }

void trim_scratch() {
  ThreadScratch& s = this_thread();
  for (int i = 0; i < int(Scratch::kCount); ++i) {
    ByteBuffer& b = s.buffers[i];
    const size_t capacity = b.capacity();
    if (capacity <= kScratchKeepBytes) {
      s.oversized_runs[i] = 0;
      continue;
    }
    const bool oversized = b.size() < capacity / 4;
    s.oversized_runs[i] = oversized ? s.oversized_runs[i] + 1 : 0;
    if (capacity > kScratchHardLimit || s.oversized_runs[i] >= kScratchPatience) {
      b.release();
      s.oversized_runs[i] = 0;
    } else if (!oversized) {
      b.set_size(0);  // the next unit's use is measured afresh
    }
  }
}

}  // namespace fastchunk
