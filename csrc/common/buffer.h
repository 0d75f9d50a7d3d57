// Growable byte buffer that never zero-fills (std::vector would).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <new>

namespace fastchunk {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ByteBuffer(ByteBuffer&& o) noexcept : data_(o.data_), size_(o.size_), capacity_(o.capacity_) {
    o.data_ = nullptr;
    o.size_ = o.capacity_ = 0;
  }
  ~ByteBuffer() { std::free(data_); }

  // Makes room for n bytes; previous contents are not kept.
  uint8_t* reserve(size_t n) {
    if (n > capacity_) {
      std::free(data_);
      data_ = nullptr;
      capacity_ = 0;
      data_ = static_cast<uint8_t*>(std::malloc(n ? n : 1));
      if (!data_) throw std::bad_alloc();
      capacity_ = n;
    }
    size_ = n;
    return data_;
  }
  void set_size(size_t n) { size_ = n; }
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // Gives the memory back when a rare huge chunk inflated the buffer.
  void shrink_if_above(size_t limit) {
    if (capacity_ > limit) release();
  }
  // Gives the memory back.
  void release() {
    std::free(data_);
    data_ = nullptr;
    capacity_ = size_ = 0;
  }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// A read-only view of bytes.
struct ByteView {
  const uint8_t* data = nullptr;
  size_t size = 0;
};

}  // namespace fastchunk
