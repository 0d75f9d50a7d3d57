#include "transform/batch_transform.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/thread_pool.h"
#include "transform/half_float.h"

namespace fastchunk {
namespace {

// Elements per task: large enough to amortize scheduling, small enough to
// spread a batch over every thread.
constexpr int64_t kMinTaskElements = 1 << 16;

struct Store32 {
  static float convert(float v) { return v; }
  using type = float;
};
struct Store16 {
  static uint16_t convert(float v) { return float_to_half(v); }
  using type = uint16_t;
};
struct StoreBF16 {
  static uint16_t convert(float v) { return float_to_bfloat16(v); }
  using type = uint16_t;
};

// One run of elements sharing a channel.
template <typename S>
void transform_run(const float* in, typename S::type* out, int64_t n, const TransformSpec& spec,
                   int64_t channel) {
  const bool normalize = spec.mean != nullptr;
  const float mean = normalize ? spec.mean[channel] : 0.0f;
  const float std = normalize ? spec.std[channel] : 1.0f;
  const float nan_value = spec.nan_value;
  if (normalize && spec.replace_nan) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = in[i];
      out[i] = S::convert(std::isnan(v) ? nan_value : (v - mean) / std);
    }
  } else if (normalize) {
    for (int64_t i = 0; i < n; ++i) out[i] = S::convert((in[i] - mean) / std);
  } else if (spec.replace_nan) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = in[i];
      out[i] = S::convert(std::isnan(v) ? nan_value : v);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = S::convert(in[i]);
  }
}

// (outer, channels, inner) in, (outer, inner, channels) out. A task is one
// block of inner positions of one outer index: each channel's run of the
// block is normalized and converted contiguously (vectorized) into a small
// buffer, then the buffer is written out position by position, all channels
// of a position together: the output is written in order, the buffer reads
// stay in L1.
template <typename S>
void transform_channels_last(const float* in, typename S::type* out, const TransformSpec& spec) {
  using T = typename S::type;
  constexpr int64_t kBlock = 64;
  const int64_t channels = spec.channels, inner = spec.inner;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  parallel_for(spec.outer * blocks, [&](int64_t t) {
    const int64_t o = t / blocks;
    const int64_t lo = (t % blocks) * kBlock;
    const int64_t n = std::min(inner, lo + kBlock) - lo;
    const float* src = in + o * channels * inner + lo;
    T* dst = out + (o * inner + lo) * channels;
    thread_local std::vector<T> runs;
    runs.resize(static_cast<size_t>(channels * kBlock));
    T* __restrict buf = runs.data();
    for (int64_t c = 0; c < channels; ++c) {
      transform_run<S>(src + c * inner, buf + c * kBlock, n, spec, c);
    }
    for (int64_t i = 0; i < n; ++i) {
      T* __restrict to = dst + i * channels;
      const T* from = buf + i;
      for (int64_t c = 0; c < channels; ++c) to[c] = from[c * kBlock];
    }
  });
}

template <typename S>
void transform_all(const float* in, void* out_raw, const TransformSpec& spec) {
  auto* out = static_cast<typename S::type*>(out_raw);
  const int64_t total = spec.outer * spec.channels * spec.inner;
  if (total == 0) return;
  if (spec.channels_last && spec.channels > 1 && spec.inner > 1) {
    return transform_channels_last<S>(in, out, spec);
  }
  const int64_t threads = std::max(1, num_threads());
  const int64_t task = std::max(kMinTaskElements, (total + threads * 4 - 1) / (threads * 4));
  const int64_t ntasks = (total + task - 1) / task;
  parallel_for(ntasks, [&](int64_t t) {
    const int64_t end = std::min(total, (t + 1) * task);
    for (int64_t p = t * task; p < end;) {
      const int64_t segment = p / spec.inner;
      const int64_t run_end = std::min(end, (segment + 1) * spec.inner);
      transform_run<S>(in + p, out + p, run_end - p, spec, segment % spec.channels);
      p = run_end;
    }
  });
}

}  // namespace

void transform_batch(const float* in, void* out, const TransformSpec& spec) {
  if (spec.outer < 0 || spec.channels < 1 || spec.inner < 0) {
    throw Error(ErrorKind::kInternal, "transform_batch: bad batch layout");
  }
  if (spec.mean != nullptr && spec.std == nullptr) {
    throw Error(ErrorKind::kInternal, "transform_batch: mean given without std");
  }
  switch (spec.out_type) {
    case OutType::kFloat32:
      return transform_all<Store32>(in, out, spec);
    case OutType::kFloat16:
      return transform_all<Store16>(in, out, spec);
    case OutType::kBFloat16:
      return transform_all<StoreBF16>(in, out, spec);
  }
  throw Error(ErrorKind::kUnsupported,
              "transform_batch: unknown output type " + std::to_string(int(spec.out_type)));
}

}  // namespace fastchunk
