// Unit tests of memory: how many pages of a range are resident (mincore).
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastchunk::testing {

inline size_t resident_pages(const uint8_t* p, size_t n) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> v((n + page - 1) / page);
  if (mincore(const_cast<uint8_t*>(p), n, v.data()) != 0) return 0;
  size_t count = 0;
  for (unsigned char c : v) count += c & 1;
  return count;
}

}  // namespace fastchunk::testing
