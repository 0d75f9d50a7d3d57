#include "transform/batch_transform.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
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

// K channels of one position, written together: with K known at compile
// time the loop is unrolled into strided loads and one contiguous store.
template <typename S, int K>
inline void channel_group(const float* from, typename S::type* __restrict to, int64_t stride,
                          const float* mean, const float* std, bool replace_nan, float nan_value) {
  for (int c = 0; c < K; ++c) {
    const float v = from[c * stride];
    const float r = (v - mean[c]) / std[c];
    to[c] = S::convert(replace_nan && std::isnan(v) ? nan_value : r);
  }
}

// (outer, channels, inner) in, (outer, inner, channels) out. A task is one
// block of inner positions of one outer index; within it, channels go by
// groups that fill a cache line of output (16 floats, 32 halves), then 8,
// then one: each output line is written whole, in order, while the group's
// input rows stream through the cache (measured near the plain pass).
template <typename S>
void transform_channels_last(const float* in, typename S::type* out, const TransformSpec& spec) {
  using T = typename S::type;
  constexpr int64_t kBlock = 64;
  const int64_t channels = spec.channels, inner = spec.inner;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  // (v - 0) / 1 is v exactly, so one formula serves both cases.
  std::vector<float> zeros, ones;
  const float* mean = spec.mean;
  const float* std = spec.std;
  if (mean == nullptr) {
    zeros.assign(size_t(channels), 0.0f);
    ones.assign(size_t(channels), 1.0f);
    mean = zeros.data();
    std = ones.data();
  }
  const bool replace_nan = spec.replace_nan;
  const float nan_value = spec.nan_value;
  parallel_for(spec.outer * blocks, [&](int64_t t) {
    const int64_t o = t / blocks;
    const int64_t lo = (t % blocks) * kBlock;
    const int64_t hi = std::min(inner, lo + kBlock);
    const float* src = in + o * channels * inner;
    T* dst = out + o * channels * inner;
    int64_t c = 0;
    auto groups = [&](auto width) {
      constexpr int K = decltype(width)::value;
      for (; c + K <= channels; c += K) {
        for (int64_t i = lo; i < hi; ++i) {
          channel_group<S, K>(src + c * inner + i, dst + i * channels + c, inner, mean + c,
                              std + c, replace_nan, nan_value);
        }
      }
    };
    if (sizeof(T) == 2) groups(std::integral_constant<int, 32>{});
    groups(std::integral_constant<int, 16>{});
    groups(std::integral_constant<int, 8>{});
    groups(std::integral_constant<int, 1>{});
  });
}

// n elements against per-element mean and std (the channels' values
// repeated along a tile of whole rows): a flat loop the compiler vectorizes.
// In place, `to` is `from` itself: one pointer, so that no aliasing check
// sends the loop down its scalar path.
template <typename S>
void transform_flat(const float* from, typename S::type* to, int64_t n, const float* mean,
                    const float* std, bool replace_nan, float nan_value) {
  if (replace_nan) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = from[i];
      to[i] = S::convert(std::isnan(v) ? nan_value : (v - mean[i]) / std[i]);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) to[i] = S::convert((from[i] - mean[i]) / std[i]);
  }
}

void normalize_in_place(float* p, int64_t n, const float* mean, const float* std,
                        bool replace_nan, float nan_value) {
  if (replace_nan) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = p[i];
      p[i] = std::isnan(v) ? nan_value : (v - mean[i]) / std[i];
    }
  } else {
    for (int64_t i = 0; i < n; ++i) p[i] = (p[i] - mean[i]) / std[i];
  }
}

// (outer, channels) with the channels innermost (a batch already laid out
// channels last): tiles of whole rows, each one flat pass with the channels'
// mean and std repeated along the tile (a row of a few channels alone is too
// short a loop to vectorize well: 4x slower, measured).
template <typename S>
void transform_rows(const float* in, typename S::type* out, const TransformSpec& spec) {
  const int64_t channels = spec.channels;
  const int64_t tile_rows = std::max<int64_t>(1, 1024 / channels);
  const int64_t tile = tile_rows * channels;
  std::vector<float> mean(size_t(tile), 0.0f), std(size_t(tile), 1.0f);
  if (spec.mean != nullptr) {
    for (int64_t i = 0; i < tile; ++i) {
      mean[size_t(i)] = spec.mean[i % channels];
      std[size_t(i)] = spec.std[i % channels];
    }
  }
  const bool replace_nan = spec.replace_nan;
  const float nan_value = spec.nan_value;
  const bool in_place =
      std::is_same<typename S::type, float>::value && static_cast<const void*>(in) == out;
  const int64_t total = spec.outer * channels;
  const int64_t threads = std::max(1, num_threads());
  const int64_t tiles = (spec.outer + tile_rows - 1) / tile_rows;
  const int64_t tiles_per_task = std::max<int64_t>(
      std::max<int64_t>(1, kMinTaskElements / tile), tiles / (threads * 4));
  const int64_t ntasks = (tiles + tiles_per_task - 1) / tiles_per_task;
  parallel_for(ntasks, [&](int64_t t) {
    const int64_t lo = t * tiles_per_task * tile;
    const int64_t hi = std::min(total, lo + tiles_per_task * tile);
    for (int64_t p = lo; p < hi; p += tile) {
      const int64_t n = std::min(tile, hi - p);
      if (in_place) {
        normalize_in_place(reinterpret_cast<float*>(out) + p, n, mean.data(), std.data(),
                           replace_nan, nan_value);
      } else {
        transform_flat<S>(in + p, out + p, n, mean.data(), std.data(), replace_nan, nan_value);
      }
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
  if (spec.inner == 1 && spec.channels > 1) return transform_rows<S>(in, out, spec);
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
