// The Cython-facing surface of the encoders: nothing is thrown across it.
#pragma once
#include <string>
#include <vector>

#include "api/api.h"
#include "encode/object_encoder.h"

namespace fastchunk {

ErrorInfo api_encode_objects(const EncodeRequest& req, const uint8_t* slab,
                             std::vector<std::string>* objects);
ErrorInfo api_encode_chunk(const EncodeChain& chain, uint8_t* data, size_t size,
                           std::string* out);

}  // namespace fastchunk
