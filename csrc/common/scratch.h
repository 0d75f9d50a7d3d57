// Per-thread scratch buffers, reused from chunk to chunk, and given back when
// they stay much larger than what the thread's recent chunks needed (one rare
// huge chunk must not pin its memory for the thread's lifetime).
#pragma once
#include <cstddef>

#include "common/buffer.h"

namespace fastchunk {

enum class Scratch : int {
  kRead,      // stored bytes read from a file
  kChunk,     // a decoded chunk the output takes only part of
  kCodecIn,   // intermediate streams of a multi-codec chain
  kCodecOut,
  kCount,
};

// This thread's buffer `which`.
ByteBuffer& scratch(Scratch which);

// Called after each unit of work (a chunk task): frees every buffer of this
// thread that is above kScratchHardLimit, or that has stayed more than four
// times larger than its use for kScratchPatience units in a row.
void trim_scratch();

constexpr size_t kScratchKeepBytes = size_t(16) << 20;   // never trimmed below this
constexpr size_t kScratchHardLimit = size_t(512) << 20;  // always freed above this
constexpr int kScratchPatience = 8;

}  // namespace fastchunk
