#pragma once
#include <cstddef>
#include <cstdint>

namespace fastchunk {

// CRC-32C (Castagnoli), as used by the zarr v3 crc32c codec.
uint32_t crc32c(const uint8_t* data, size_t size);

}  // namespace fastchunk
