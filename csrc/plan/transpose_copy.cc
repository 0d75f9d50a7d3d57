#include "plan/transpose_copy.h"

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

namespace fastchunk {
namespace {

// Columns per strip: the strip's output rows (kStrip x rows x item bytes,
// 14 KB for 27 float32 variables) stay in L1 while the source rows go
// through them four at a time, each read once, in order.
constexpr int64_t kStrip = 128;

// n bytes to `to` with stores that bypass the cache where aligned.
inline void stream_out(uint8_t* to, const uint8_t* from, int64_t n) {
#if defined(__SSE2__)
  const int64_t head = std::min<int64_t>(n, (16 - int64_t(reinterpret_cast<uintptr_t>(to) & 15)) & 15);
  std::memcpy(to, from, size_t(head));
  int64_t i = head;
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + i));
    _mm_stream_si128(reinterpret_cast<__m128i*>(to + i), v);
  }
  std::memcpy(to + i, from + i, size_t(n - i));
#else
  std::memcpy(to, from, size_t(n));
#endif
}

// rows x cols, source row r at src + in_rows.at(r) * src_row (its items
// contiguous), written as cols x rows: item (r, c) to dst + c * dst_row +
// out_rows.at(r) * sizeof(T).
template <typename T>
void transpose_strips(const uint8_t* src, int64_t src_row, const Positions& in_rows, uint8_t* dst,
                      int64_t dst_row, const Positions& out_rows, int64_t rows, int64_t cols) {
  thread_local std::vector<const T*> src_at;
  thread_local std::vector<int64_t> out_at;
  src_at.resize(size_t(rows));
  out_at.resize(size_t(rows));
  for (int64_t r = 0; r < rows; ++r) {
    src_at[size_t(r)] = reinterpret_cast<const T*>(src + in_rows.at(r) * src_row);
    out_at[size_t(r)] = out_rows.at(r) * int64_t(sizeof(T));
  }
  // Output rows that are whole and side by side: each strip's output is one
  // block, assembled in a buffer that stays in L1 and streamed out (no reads
  // of the output's old lines, no eviction of what the decode needs).
  const bool block_out = dst_row == rows * int64_t(sizeof(T)) && out_rows.at(0) == 0 &&
                         (rows == 1 || (!out_rows.table && out_rows.step == 1));
  thread_local std::vector<uint8_t> staging;
  if (block_out) staging.resize(size_t(kStrip * dst_row));
  for (int64_t c0 = 0; c0 < cols; c0 += kStrip) {
    const int64_t c1 = std::min(cols, c0 + kStrip);
    // Where column c0 of this strip lands: in the staging block, or in place.
    uint8_t* const strip = block_out ? staging.data() : dst + c0 * dst_row;
    int64_t r = 0;
#if defined(__SSE2__)
    if (sizeof(T) == 4) {
      // Four rows landing side by side: 4 x 4 blocks through registers.
      const int64_t full = c0 + (c1 - c0) / 4 * 4;
      for (; r + 4 <= rows; r += 4) {
        const int64_t at = out_at[size_t(r)];
        if (out_at[size_t(r + 3)] != at + 12 || out_at[size_t(r + 1)] != at + 4 ||
            out_at[size_t(r + 2)] != at + 8)
          break;
        const float* a = reinterpret_cast<const float*>(src_at[size_t(r)]);
        const float* b = reinterpret_cast<const float*>(src_at[size_t(r + 1)]);
        const float* c = reinterpret_cast<const float*>(src_at[size_t(r + 2)]);
        const float* d = reinterpret_cast<const float*>(src_at[size_t(r + 3)]);
        uint8_t* o = strip + at;
        for (int64_t col = c0; col < full; col += 4, o += 4 * dst_row) {
          __m128 x0 = _mm_loadu_ps(a + col), x1 = _mm_loadu_ps(b + col);
          __m128 x2 = _mm_loadu_ps(c + col), x3 = _mm_loadu_ps(d + col);
          _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
          _mm_storeu_ps(reinterpret_cast<float*>(o), x0);
          _mm_storeu_ps(reinterpret_cast<float*>(o + dst_row), x1);
          _mm_storeu_ps(reinterpret_cast<float*>(o + 2 * dst_row), x2);
          _mm_storeu_ps(reinterpret_cast<float*>(o + 3 * dst_row), x3);
        }
        for (int64_t col = full; col < c1; ++col) {
          float* to = reinterpret_cast<float*>(strip + (col - c0) * dst_row + at);
          to[0] = a[col];
          to[1] = b[col];
          to[2] = c[col];
          to[3] = d[col];
        }
      }
    }
#endif
    for (; r < rows; ++r) {
      const T* from = src_at[size_t(r)];
      uint8_t* o = strip + out_at[size_t(r)];
      for (int64_t col = c0; col < c1; ++col, o += dst_row) std::memcpy(o, from + col, sizeof(T));
    }
    if (block_out) stream_out(dst + c0 * dst_row, staging.data(), (c1 - c0) * dst_row);
  }
#if defined(__SSE2__)
  if (block_out) _mm_sfence();  // streamed stores visible before the task ends
#endif
}

struct Transposer {
  const RegionGeometry& g;
  int rows_axis;  // contiguous in the output
  int cols_axis;  // contiguous in the chunk

  void tile_plane(const uint8_t* src, uint8_t* dst) const {
    const AxisSpan& r = g.axes[rows_axis];
    const AxisSpan& c = g.axes[cols_axis];
    const int64_t isz = g.itemsize;
    const uint8_t* s = src + c.in.first * isz;
    uint8_t* d = dst + c.out.first * g.dst_strides[cols_axis];
    const int64_t sr = g.src_strides[rows_axis], dr = g.dst_strides[cols_axis];
    switch (isz) {
      case 1: return transpose_strips<uint8_t>(s, sr, r.in, d, dr, r.out, r.n, c.n);
      case 2: return transpose_strips<uint16_t>(s, sr, r.in, d, dr, r.out, r.n, c.n);
      case 4: return transpose_strips<uint32_t>(s, sr, r.in, d, dr, r.out, r.n, c.n);
      default: return transpose_strips<uint64_t>(s, sr, r.in, d, dr, r.out, r.n, c.n);
    }
  }

  // The other axes, outermost first, then one plane per position.
  void walk(int axis, const uint8_t* src, uint8_t* dst) const {
    if (axis == g.ndim) return tile_plane(src, dst);
    if (axis == rows_axis || axis == cols_axis) return walk(axis + 1, src, dst);
    for_each_position(g.axes[axis], g.src_strides[axis], g.dst_strides[axis],
                      [&](int64_t s, int64_t d) { walk(axis + 1, src + s, dst + d); });
  }
};

}  // namespace

bool copy_transposed(const RegionGeometry& g, const uint8_t* src, uint8_t* dst) {
  const int64_t isz = g.itemsize;
  if (isz != 1 && isz != 2 && isz != 4 && isz != 8) return false;
  int rows_axis = -1, cols_axis = -1;
  for (int d = 0; d < g.ndim; ++d) {
    const AxisSpan& a = g.axes[d];
    if (a.n <= 1) continue;
    if (g.dst_strides[d] == isz) rows_axis = d;
    if (g.src_strides[d] == isz && !a.in.table && !a.out.table && a.in.step == 1 &&
        a.out.step == 1)
      cols_axis = d;
  }
  if (rows_axis < 0 || cols_axis < 0 || rows_axis == cols_axis) return false;
  // Too few items to gather per output row: the plain walk does as well.
  if (g.axes[rows_axis].n < 4 || g.axes[cols_axis].n < 16) return false;
  Transposer{g, rows_axis, cols_axis}.walk(0, src, dst);
  return true;
}

}  // namespace fastchunk
