#include "codecs/byte_codecs.h"

#include <cstring>
#include <string>

#include "codecs/codec_impl.h"
#include "codecs/crc32c.h"
#include "common/error.h"

namespace fastchunk {

void decode_bytes_into(ByteCodecId codec, ByteView in, uint8_t* out, size_t out_size) {
  switch (codec) {
    case ByteCodecId::kBlosc: return codec_impl::blosc_decode(in, out, out_size);
    case ByteCodecId::kZstd: return codec_impl::zstd_decode(in, out, out_size);
    case ByteCodecId::kGzip: return codec_impl::gzip_decode(in, out, out_size);
    case ByteCodecId::kZlib: return codec_impl::zlib_decode(in, out, out_size);
    case ByteCodecId::kLz4: return codec_impl::lz4_decode(in, out, out_size);
    case ByteCodecId::kCrc32c: {
      ByteView body = strip_crc32c(in);
      if (body.size != out_size)
        throw_decode("decoded size " + std::to_string(body.size) + " != expected " +
                     std::to_string(out_size));
      if (out_size) std::memcpy(out, body.data, out_size);
      return;
    }
  }
  throw Error(ErrorKind::kUnsupported, "unknown codec id " + std::to_string(int(codec)));
}

int64_t announced_decoded_size(ByteCodecId codec, ByteView in) {
  switch (codec) {
    case ByteCodecId::kBlosc: return codec_impl::blosc_announced_size(in);
    case ByteCodecId::kZstd: return codec_impl::zstd_announced_size(in);
    case ByteCodecId::kGzip: return codec_impl::gzip_announced_size(in);
    case ByteCodecId::kLz4: return codec_impl::lz4_announced_size(in);
    case ByteCodecId::kCrc32c: return in.size >= 4 ? int64_t(in.size - 4) : -1;
    case ByteCodecId::kZlib: return -1;
  }
  return -1;
}

ByteView strip_crc32c(ByteView in) {
  if (in.size < 4) throw_decode("crc32c: chunk shorter than its 4-byte checksum");
  const size_t n = in.size - 4;
  uint32_t stored;
  std::memcpy(&stored, in.data + n, 4);  // little-endian on every supported host
  const uint32_t actual = crc32c(in.data, n);
  if (stored != actual) throw_decode("crc32c checksum mismatch");
  return ByteView{in.data, n};
}

}  // namespace fastchunk
