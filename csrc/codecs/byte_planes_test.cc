#include "codecs/byte_planes.h"

#include <gtest/gtest.h>

#include <vector>

namespace fastchunk {
namespace {

TEST(BytePlanes, MatchTheDefinitionForEverySizeAndTail) {
  for (size_t size = 1; size <= 17; ++size) {
    for (size_t count : {0, 1, 15, 16, 17, 33, 100, 1031}) {
      std::vector<uint8_t> elements(count * size);
      for (size_t k = 0; k < elements.size(); ++k) elements[k] = uint8_t(k * 131 + size * 7);
      std::vector<uint8_t> planes(elements.size()), back(elements.size(), 0xAB);
      to_byte_planes(elements.data(), planes.data(), count, size);
      for (size_t i = 0; i < count; ++i)
        for (size_t j = 0; j < size; ++j)
          ASSERT_EQ(planes[j * count + i], elements[i * size + j]) << size << " " << count;
      from_byte_planes(planes.data(), back.data(), count, size);
      ASSERT_EQ(back, elements) << "size " << size << ", count " << count;
    }
  }
}

}  // namespace
}  // namespace fastchunk
