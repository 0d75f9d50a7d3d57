// The Cython module's entry to the variable-length framing parser.
#pragma once
#include <cstdint>

#include "api/guarded.h"
#include "strings/vlen_frame.h"

namespace fastchunk {

ErrorInfo api_parse_vlen(const uint8_t* data, size_t size, int64_t items, int64_t* starts,
                         int64_t* lengths);

}  // namespace fastchunk
