// Concatenated compressed streams (bz2, lzma), decoded one after the other as
// Python's bz2 and lzma modules do: bytes after the last whole stream that are
// not a stream are ignored.
#pragma once
#include <string>

#include "common/buffer.h"
#include "common/error.h"

namespace fastchunk {

// decode_stream(in_pos, out_pos, first) decodes the stream at in_pos, moving
// both positions past it; it returns false when the bytes there are not a
// stream (an error only for the first one).
template <typename DecodeStream>
void decode_stream_sequence(const char* codec, ByteView in, size_t out_size,
                            DecodeStream&& decode_stream) {
  if (in.size == 0) throw_decode(std::string(codec) + ": empty stream");
  size_t in_pos = 0, out_pos = 0;
  for (bool first = true; in_pos < in.size; first = false) {
    const size_t stream_out = out_pos;
    if (!decode_stream(in_pos, out_pos, first)) {
      out_pos = stream_out;
      break;
    }
  }
  if (out_pos != out_size)
    throw_decode(std::string(codec) + ": decoded " + std::to_string(out_pos) +
                 " bytes, expected " + std::to_string(out_size));
}

}  // namespace fastchunk
