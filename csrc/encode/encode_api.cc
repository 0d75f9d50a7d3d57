#include "encode/encode_api.h"

namespace fastchunk {

ErrorInfo api_encode_objects(const EncodeRequest& req, const uint8_t* slab,
                             std::vector<std::string>* objects) {
  return guarded([&] { encode_objects(req, slab, objects); });
}

}  // namespace fastchunk
