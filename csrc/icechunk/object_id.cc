#include "icechunk/object_id.h"

#include "common/error.h"

namespace fastchunk {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int digit_value(char c) {
  if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
  for (int i = 0; i < 32; ++i)
    if (kAlphabet[i] == c) return i;
  return -1;
}

}  // namespace

std::string encode_object_id(const uint8_t* bytes, size_t n) {
  std::string out;
  out.reserve((n * 8 + 4) / 5);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    acc = (acc << 8) | bytes[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += kAlphabet[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += kAlphabet[(acc << (5 - bits)) & 31];
  return out;
}

ObjectId12 decode_object_id12(const std::string& name) {
  const auto bad = [&](const std::string& why) -> ObjectId12 {
    std::string shown = name.size() > 40 ? name.substr(0, 40) + "..." : name;
    throw Error(ErrorKind::kMetadata,
                "'" + shown + "' is not an Icechunk object id (" + why + ")");
  };
  if (name.size() != 20) return bad("20 base-32 characters expected");
  ObjectId12 id{};
  uint32_t acc = 0;
  int bits = 0;
  size_t at = 0;
  for (char c : name) {
    const int v = digit_value(c);
    if (v < 0) return bad("a character outside Crockford's base 32");
    acc = (acc << 5) | uint32_t(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      id[at++] = uint8_t((acc >> bits) & 0xff);
    }
  }
  // 100 bits for 96: the last 4 must be the zero padding.
  if ((acc & ((1u << bits) - 1)) != 0) return bad("non-zero padding bits");
  return id;
}

}  // namespace fastchunk
