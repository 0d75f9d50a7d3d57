// The byte shuffle of numcodecs' Shuffle and of blosc: byte j of every
// element gathered in plane j, planes[j * count + i] == elements[i * size + j].
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastchunk {

void to_byte_planes(const uint8_t* elements, uint8_t* planes, size_t count, size_t size);
void from_byte_planes(const uint8_t* planes, uint8_t* elements, size_t count, size_t size);
// The same with plane j at planes[j], anywhere in memory.
void from_byte_planes(const uint8_t* const* planes, uint8_t* elements, size_t count, size_t size);

}  // namespace fastchunk
