// Fused batch preprocessing: per-channel normalization, NaN replacement and
// the cast to the output dtype, in the one pass that copies a decoded float32
// batch into the buffer handed to the training loop.
#pragma once
#include <cstdint>

namespace fastchunk {

enum class OutType : int { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };

// The batch is viewed as (outer, channels, inner), C order: channel c of an
// element at flat position p is (p / inner) % channels. With channels_last
// the output is written as (outer, inner, channels) instead: the transpose
// anemoi-training wants (dates, ensembles, gridpoints, variables), done in
// the same pass as the normalization and the cast.
struct TransformSpec {
  int64_t outer = 1;
  int64_t channels = 1;
  int64_t inner = 1;
  const float* mean = nullptr;  // `channels` values, or null: no normalization
  const float* std = nullptr;   // `channels` values, set when mean is
  bool replace_nan = false;
  float nan_value = 0.0f;  // written for NaN inputs, as is (not normalized)
  OutType out_type = OutType::kFloat32;
  bool channels_last = false;
};

// `out` may alias `in` only when out_type is kFloat32 and channels_last is
// false. Runs on the native
// thread pool; throws fastchunk::Error on a bad spec.
void transform_batch(const float* in, void* out, const TransformSpec& spec);

}  // namespace fastchunk
