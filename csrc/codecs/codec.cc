#include "codecs/codec.h"

#include <string>

#include "common/error.h"

namespace fastchunk {

void Codec::check_decoded_size(ByteView in, size_t size) const {
  const KnownSize most = most_decoded_bytes(in.size);
  if (most && size > *most)
    throw_decode(std::to_string(in.size) + " stored bytes cannot decode to the " +
                 std::to_string(size) + " bytes expected");
  const KnownSize announced = decoded_size(in);
  if (announced && *announced != size)
    throw_decode("header announces " + std::to_string(*announced) + " decoded bytes, expected " +
                 std::to_string(size));
  check_stream(in, size);
}

KnownSize ArrayToArrayCodec::decoded_size(ByteView in) const {
  const size_t e = size_t(encoded_.size), d = size_t(decoded_.size);
  if (in.size % e) throw_decode("stream of " + std::to_string(in.size) + " bytes is no whole number of items");
  return in.size / e * d;
}

KnownSize ArrayToArrayCodec::encoded_size(size_t decoded) const {
  const size_t e = size_t(encoded_.size), d = size_t(decoded_.size);
  if (decoded % d) return std::nullopt;
  return decoded / d * e;
}

KnownSize ArrayToArrayCodec::most_decoded_bytes(size_t stored) const {
  return stored / size_t(encoded_.size) * size_t(decoded_.size);
}

KnownSize BytesToBytesCodec::decoded_size(ByteView in) const {
  if (!overhead_) return std::nullopt;
  if (in.size < *overhead_)
    throw_decode("stream of " + std::to_string(in.size) + " bytes is shorter than its " +
                 std::to_string(*overhead_) + "-byte framing");
  return in.size - *overhead_;
}

KnownSize BytesToBytesCodec::encoded_size(size_t decoded) const {
  if (!overhead_) return std::nullopt;
  return decoded + *overhead_;
}

KnownSize BytesToBytesCodec::most_decoded_bytes(size_t stored) const {
  if (!overhead_) return std::nullopt;
  return stored < *overhead_ ? 0 : stored - *overhead_;
}

}  // namespace fastchunk
