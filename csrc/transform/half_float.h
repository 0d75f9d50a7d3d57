// float32 -> float16 / bfloat16 with round-to-nearest-even, matching what
// torch's .to(torch.float16) and .to(torch.bfloat16) produce.
#pragma once
#include <cstdint>
#include <cstring>

namespace fastchunk {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline uint16_t float_to_half(float f) {
  const uint32_t bits = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t mag = bits & 0x7fffffffu;
  if (mag >= 0x47800000u) {  // |f| >= 65536: inf, or NaN (kept quiet)
    return sign | (mag > 0x7f800000u ? 0x7e00u : 0x7c00u);
  }
  if (mag < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    // Adding 0.5f aligns the half subnormal grid with float's last mantissa
    // bits, so the FPU does the round-to-nearest-even.
    const float shifted = bits_float(mag) + 0.5f;
    return sign | static_cast<uint16_t>(float_bits(shifted) - 0x3f000000u);
  }
  const uint32_t mantissa_odd = (mag >> 13) & 1u;
  mag += 0xc8000fffu + mantissa_odd;  // rebias exponent 127 -> 15, round half to even
  return sign | static_cast<uint16_t>(mag >> 13);
}

inline uint16_t float_to_bfloat16(float f) {
  const uint32_t bits = float_bits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<uint16_t>((bits >> 16) | 0x40u);  // quiet NaN
  }
  const uint32_t rounded = bits + 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(rounded >> 16);
}

}  // namespace fastchunk
