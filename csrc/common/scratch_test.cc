#include "common/scratch.h"

#include <gtest/gtest.h>

namespace fastchunk {
namespace {

TEST(Scratch, AHugeBufferIsGivenBackOnceSmallerChunksFollow) {
  ByteBuffer& b = scratch(Scratch::kChunk);
  b.reserve(size_t(64) << 20);  // one rare 64 MiB chunk
  trim_scratch();
  EXPECT_GE(b.capacity(), size_t(64) << 20);  // kept while it may be needed again
  for (int i = 0; i < kScratchPatience; ++i) {
    b.reserve(size_t(1) << 20);  // then 1 MiB chunks
    trim_scratch();
  }
  EXPECT_EQ(b.capacity(), 0u);
  b.reserve(size_t(1) << 20);
  trim_scratch();
  EXPECT_EQ(b.capacity(), size_t(1) << 20);  // small buffers stay
}

TEST(Scratch, BuffersAboveTheHardLimitAreFreedAtOnce) {
  ByteBuffer& b = scratch(Scratch::kRead);
  b.reserve(kScratchHardLimit + 1);
  trim_scratch();
  EXPECT_EQ(b.capacity(), 0u);
}

TEST(Scratch, ABufferInSteadyUseStays) {
  ByteBuffer& b = scratch(Scratch::kCodecIn);
  for (int i = 0; i < 3 * kScratchPatience; ++i) {
    b.reserve(size_t(40) << 20);
    trim_scratch();
  }
  EXPECT_GE(b.capacity(), size_t(40) << 20);
  b.release();
}

}  // namespace
}  // namespace fastchunk
