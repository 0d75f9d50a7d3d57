#include "transform/transform_api.h"

#include "common/error.h"

namespace fastchunk {

ErrorInfo api_transform_batch(const float* in, void* out, const TransformSpec& spec) {
  return guarded([&] { transform_batch(in, out, spec); });
}

}  // namespace fastchunk
