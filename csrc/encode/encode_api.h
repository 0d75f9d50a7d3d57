// The Cython-facing surface of the object encoder: nothing is thrown across it.
#pragma once
#include <string>
#include <vector>

#include "api/guarded.h"
#include "encode/object_encoder.h"

namespace fastchunk {

ErrorInfo api_encode_objects(const EncodeRequest& req, const uint8_t* slab,
                             std::vector<std::string>* objects);

}  // namespace fastchunk
