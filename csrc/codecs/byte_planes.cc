// Interleaving planes back into elements is on the read path of every blosc
// chunk written with shuffle, so sizes 2, 4 and 8 use SSE2 unpacks (x86-64's
// baseline); other sizes and other targets use a tiled loop the compiler
// vectorizes where it can (aarch64's st2/st4).
#include "codecs/byte_planes.h"

#include <algorithm>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fastchunk {
namespace {

// Elements per tile: a tile of the interleaved side stays in L1 while each
// byte plane streams through.
constexpr size_t kTile = 1024;

template <size_t kSize>
void split_tiles(const uint8_t* elements, uint8_t* planes, size_t count, size_t size) {
  const size_t es = kSize ? kSize : size;
  for (size_t i0 = 0; i0 < count; i0 += kTile) {
    const size_t i1 = std::min(count, i0 + kTile);
    for (size_t j = 0; j < es; ++j) {
      uint8_t* plane = planes + j * count;
      for (size_t i = i0; i < i1; ++i) plane[i] = elements[i * es + j];
    }
  }
}

template <size_t kSize>
void interleave_tiles(const uint8_t* const* planes, uint8_t* elements, size_t begin, size_t count,
                      size_t size) {
  const size_t es = kSize ? kSize : size;
  for (size_t i0 = begin; i0 < count; i0 += kTile) {
    const size_t i1 = std::min(count, i0 + kTile);
    for (size_t j = 0; j < es; ++j) {
      const uint8_t* plane = planes[j];
      for (size_t i = i0; i < i1; ++i) elements[i * es + j] = plane[i];
    }
  }
}

#if defined(__SSE2__)
inline __m128i load(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline void store(uint8_t* p, __m128i v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }

// Each returns the number of leading elements it interleaved (a multiple of 16).
size_t interleave2(const uint8_t* const* in, uint8_t* out, size_t count) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m128i a = load(in[0] + i), b = load(in[1] + i);
    store(out + 2 * i, _mm_unpacklo_epi8(a, b));
    store(out + 2 * i + 16, _mm_unpackhi_epi8(a, b));
  }
  return i;
}

size_t interleave4(const uint8_t* const* in, uint8_t* out, size_t count) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    const __m128i a = load(in[0] + i), b = load(in[1] + i);
    const __m128i c = load(in[2] + i), d = load(in[3] + i);
    const __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
    const __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
    uint8_t* o = out + 4 * i;
    store(o, _mm_unpacklo_epi16(ab0, cd0));
    store(o + 16, _mm_unpackhi_epi16(ab0, cd0));
    store(o + 32, _mm_unpacklo_epi16(ab1, cd1));
    store(o + 48, _mm_unpackhi_epi16(ab1, cd1));
  }
  return i;
}

size_t interleave8(const uint8_t* const* in, uint8_t* out, size_t count) {
  size_t i = 0;
  for (; i + 16 <= count; i += 16) {
    __m128i p[8];
    for (int j = 0; j < 8; ++j) p[j] = load(in[j] + i);
    __m128i pairs[8], quads[8];
    for (int j = 0; j < 4; ++j) {  // bytes j*2, j*2+1 of elements 0-7 and 8-15
      pairs[2 * j] = _mm_unpacklo_epi8(p[2 * j], p[2 * j + 1]);
      pairs[2 * j + 1] = _mm_unpackhi_epi8(p[2 * j], p[2 * j + 1]);
    }
    for (int h = 0; h < 2; ++h) {  // bytes 4h..4h+3 of elements 0-3, 4-7, 8-11, 12-15
      const __m128i lo0 = pairs[4 * h], hi0 = pairs[4 * h + 1];
      const __m128i lo1 = pairs[4 * h + 2], hi1 = pairs[4 * h + 3];
      quads[4 * h] = _mm_unpacklo_epi16(lo0, lo1);
      quads[4 * h + 1] = _mm_unpackhi_epi16(lo0, lo1);
      quads[4 * h + 2] = _mm_unpacklo_epi16(hi0, hi1);
      quads[4 * h + 3] = _mm_unpackhi_epi16(hi0, hi1);
    }
    uint8_t* o = out + 8 * i;
    for (int q = 0; q < 4; ++q) {  // elements 4q..4q+3
      store(o + 32 * q, _mm_unpacklo_epi32(quads[q], quads[4 + q]));
      store(o + 32 * q + 16, _mm_unpackhi_epi32(quads[q], quads[4 + q]));
    }
  }
  return i;
}
#endif

}  // namespace

void to_byte_planes(const uint8_t* elements, uint8_t* planes, size_t count, size_t size) {
  switch (size) {
    case 2: return split_tiles<2>(elements, planes, count, size);
    case 4: return split_tiles<4>(elements, planes, count, size);
    case 8: return split_tiles<8>(elements, planes, count, size);
    default: return split_tiles<0>(elements, planes, count, size);
  }
}

void from_byte_planes(const uint8_t* planes, uint8_t* elements, size_t count, size_t size) {
  std::vector<const uint8_t*> each(size);
  for (size_t j = 0; j < size; ++j) each[j] = planes + j * count;
  from_byte_planes(each.data(), elements, count, size);
}

void from_byte_planes(const uint8_t* const* planes, uint8_t* elements, size_t count,
                      size_t size) {
  size_t done = 0;
  switch (size) {
#if defined(__SSE2__)
    case 2: done = interleave2(planes, elements, count); break;
    case 4: done = interleave4(planes, elements, count); break;
    case 8: done = interleave8(planes, elements, count); break;
#endif
    default: break;
  }
  switch (size) {
    case 2: return interleave_tiles<2>(planes, elements, done, count, size);
    case 4: return interleave_tiles<4>(planes, elements, done, count, size);
    case 8: return interleave_tiles<8>(planes, elements, done, count, size);
    default: return interleave_tiles<0>(planes, elements, done, count, size);
  }
}

}  // namespace fastchunk
