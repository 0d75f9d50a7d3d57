// Helpers shared by the libFuzzer targets: reading fixed-size fields from the
// front of a fuzz input, and telling expected rejections from real failures.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/buffer.h"
#include "common/error.h"

namespace fuzz {

// Fields read past the end of the input read as zero.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), left_(size) {}
  uint8_t u8() {
    if (left_ == 0) return 0;
    --left_;
    return *p_++;
  }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(u8()) << (8 * i);
    return v;
  }
  fastchunk::ByteView rest() const { return fastchunk::ByteView{p_, left_}; }

 private:
  const uint8_t* p_;
  size_t left_;
};

// Decoded sizes the harnesses allow: big enough for real chunks, small enough
// that every run stays fast.
constexpr size_t kMaxOut = size_t(1) << 22;

// A fastchunk::Error is the documented answer to bad bytes. Anything else
// (another exception, a sanitizer report, a crash) escapes and fails the run.
template <typename F>
void expect_rejection_or_success(F&& f) {
  try {
    f();
  } catch (const fastchunk::Error& e) {
    if (e.kind() == fastchunk::ErrorKind::kInternal) __builtin_trap();
  }
}

}  // namespace fuzz
