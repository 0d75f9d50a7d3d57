#include "codecs/codec.h"

#include <string>

#include "common/error.h"

namespace fastchunk {

void Codec::check_decoded_size(ByteView in, size_t size) const {
  if (size > most_decoded_bytes(in.size))
    throw_decode(std::to_string(in.size) + " stored bytes cannot decode to the " +
                 std::to_string(size) + " bytes expected");
  const int64_t announced = decoded_size(in);
  if (announced != kUnknownSize && uint64_t(announced) != size)
    throw_decode("header announces " + std::to_string(announced) + " decoded bytes, expected " +
                 std::to_string(size));
}

ByteView Codec::strip_trailer(ByteView in) const {
  throw Error(ErrorKind::kInternal, "codec has no checksum trailer");
}

void Codec::decode_in_place(uint8_t* data, size_t size) const {
  throw Error(ErrorKind::kInternal, "codec does not decode in place");
}

}  // namespace fastchunk
