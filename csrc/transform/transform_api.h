// The Cython-facing entry for batch preprocessing: errors come back as an
// ErrorInfo, never as a C++ exception.
#pragma once
#include "api/guarded.h"
#include "transform/batch_transform.h"

namespace fastchunk {

ErrorInfo api_transform_batch(const float* in, void* out, const TransformSpec& spec);

}  // namespace fastchunk
