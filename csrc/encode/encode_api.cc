#include "encode/encode_api.h"

#include "common/error.h"

namespace fastchunk {
ErrorInfo api_encode_objects(const EncodeRequest& req, const uint8_t* slab,
                             std::vector<std::string>* objects) {
  return guarded([&] { encode_objects(req, slab, objects); });
}

ErrorInfo api_encode_chunk(const EncodeChain& chain, uint8_t* data, size_t size,
                           std::string* out) {
  return guarded([&] { encode_chunk(chain, data, size, out); });
}

}  // namespace fastchunk
