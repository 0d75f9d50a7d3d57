#include "scan/scan_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "common/error.h"
#include "engine/thread_pool.h"

namespace fastchunk {
namespace {

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

struct Partial {
  int64_t nan_count = 0;
  int64_t count = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0;
  double sum_squares = 0;
};

template <typename T>
void reduce_row(const uint8_t* p, int64_t n, Partial* acc) {
  const T* v = reinterpret_cast<const T*>(p);
  int64_t nan = 0;
  T lo = std::numeric_limits<T>::max();
  T hi = std::numeric_limits<T>::lowest();
  double sum = 0;
  double sum_squares = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T x = v[i];
    if constexpr (std::is_floating_point<T>::value) {
      if (std::isnan(x)) {
        ++nan;
        continue;
      }
    }
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    sum += double(x);
    sum_squares += double(x) * double(x);
  }
  const int64_t valid = n - nan;
  acc->nan_count += nan;
  acc->count += valid;
  if (valid > 0) {
    acc->min = std::min(acc->min, double(lo));
    acc->max = std::max(acc->max, double(hi));
  }
  acc->sum += sum;
  acc->sum_squares += sum_squares;
}

void reduce_half_row(const uint8_t* p, int64_t n, Partial* acc) {
  float buf[256];
  for (int64_t i = 0; i < n; i += 256) {
    const int64_t m = std::min<int64_t>(256, n - i);
    for (int64_t j = 0; j < m; ++j) {
      uint16_t h;
      std::memcpy(&h, p + 2 * (i + j), 2);
      buf[j] = half_to_float(h);
    }
    reduce_row<float>(reinterpret_cast<const uint8_t*>(buf), m, acc);
  }
}

using RowFn = void (*)(const uint8_t*, int64_t, Partial*);

RowFn row_function(char kind, int itemsize) {
  switch (kind) {
    case 'f':
      if (itemsize == 2) return reduce_half_row;
      if (itemsize == 4) return reduce_row<float>;
      if (itemsize == 8) return reduce_row<double>;
      break;
    case 'i':
      if (itemsize == 1) return reduce_row<int8_t>;
      if (itemsize == 2) return reduce_row<int16_t>;
      if (itemsize == 4) return reduce_row<int32_t>;
      if (itemsize == 8) return reduce_row<int64_t>;
      break;
    case 'u':
    case 'b':
      if (itemsize == 1) return reduce_row<uint8_t>;
      if (kind == 'b') break;
      if (itemsize == 2) return reduce_row<uint16_t>;
      if (itemsize == 4) return reduce_row<uint32_t>;
      if (itemsize == 8) return reduce_row<uint64_t>;
      break;
    default:
      break;
  }
  throw Error(ErrorKind::kUnsupported, std::string("scan: numeric type '") + kind +
                                           std::to_string(itemsize) + "' is not supported");
}

}  // namespace

void scan_stats(const uint8_t* data, char kind, int itemsize, int64_t outer, int64_t nvar,
                int64_t inner, ScanStats* out) {
  if (outer < 0 || nvar < 1 || inner < 0)
    throw Error(ErrorKind::kInternal, "scan: invalid block shape");
  const RowFn fn = row_function(kind, itemsize);
  const int64_t rows = outer * nvar;
  // Work units are segments of rows ((outer, var) pairs of `inner` contiguous
  // items); each task reduces a run of units into its own partials, merged
  // below in task order so the result does not depend on scheduling.
  const int64_t target_items = int64_t(1) << 16;
  const int64_t seg_len = std::max<int64_t>(1, std::min(inner, target_items));
  const int64_t nseg = inner == 0 ? 0 : (inner + seg_len - 1) / seg_len;
  const int64_t units = rows * nseg;
  const int64_t max_tasks = int64_t(num_threads()) * 8;
  int64_t units_per_task = std::max<int64_t>(1, target_items * 4 / seg_len);
  if (units / units_per_task > max_tasks) units_per_task = (units + max_tasks - 1) / max_tasks;
  const int64_t ntasks = units == 0 ? 0 : (units + units_per_task - 1) / units_per_task;
  std::vector<std::vector<Partial>> partials(static_cast<size_t>(ntasks));
  parallel_for(ntasks, [&](int64_t t) {
    std::vector<Partial>& acc = partials[size_t(t)];
    acc.assign(size_t(nvar), Partial());
    const int64_t end = std::min(units, (t + 1) * units_per_task);
    for (int64_t u = t * units_per_task; u < end; ++u) {
      const int64_t r = u / nseg;
      const int64_t first = (u % nseg) * seg_len;
      const int64_t n = std::min(seg_len, inner - first);
      fn(data + (r * inner + first) * itemsize, n, &acc[size_t(r % nvar)]);
    }
  });
  out->nan_count.assign(size_t(nvar), 0);
  out->count.assign(size_t(nvar), 0);
  out->min.assign(size_t(nvar), std::numeric_limits<double>::infinity());
  out->max.assign(size_t(nvar), -std::numeric_limits<double>::infinity());
  out->sum.assign(size_t(nvar), 0);
  out->sum_squares.assign(size_t(nvar), 0);
  for (const auto& acc : partials) {
    for (size_t v = 0; v < size_t(nvar); ++v) {
      out->nan_count[v] += acc[v].nan_count;
      out->count[v] += acc[v].count;
      out->min[v] = std::min(out->min[v], acc[v].min);
      out->max[v] = std::max(out->max[v], acc[v].max);
      out->sum[v] += acc[v].sum;
      out->sum_squares[v] += acc[v].sum_squares;
    }
  }
}

}  // namespace fastchunk
