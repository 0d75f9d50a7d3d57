#include "icechunk/binary_file.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "codecs/zstd_context.h"
#include "common/error.h"

namespace fastchunk {
namespace {

constexpr uint8_t kMagic[12] = {0x49, 0x43, 0x45, 0xF0, 0x9F, 0xA7,
                                0x8A, 0x43, 0x48, 0x55, 0x4E, 0x4B};  // ICE🧊CHUNK

const char* type_name(uint8_t t) {
  switch (t) {
    case 1: return "snapshot";
    case 2: return "manifest";
    case 3: return "attributes";
    case 4: return "transaction log";
    case 5: return "chunk";
    case 6: return "repo info";
    default: return nullptr;
  }
}

[[noreturn]] void fail(const std::string& what, const std::string& why) {
  throw Error(ErrorKind::kMetadata, what + ": " + why);
}

// Streams the zstd frames of `in` into `out`, growing it as output comes,
// never past `limit` bytes.
void decompress_zstd(ByteView in, std::vector<uint8_t>& out, uint64_t limit,
                     const std::string& what) {
  ZSTD_DCtx* ctx = thread_zstd_dctx();
  ZSTD_DCtx_reset(ctx, ZSTD_reset_session_only);
  // The largest window zstd's format allows on 64-bit hosts: a metadata file
  // written with --long still decodes; memory stays bounded by it.
  ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, 27);
  ZSTD_inBuffer input{in.data, in.size, 0};
  size_t step = std::max<size_t>(size_t(64) << 10, std::min<size_t>(in.size * 4, size_t(64) << 20));
  size_t produced = 0;
  size_t last = 1;
  while (input.pos < input.size || last != 0) {
    if (produced == out.size()) {
      if (out.size() >= limit)
        fail(what, "decompresses to more than " + std::to_string(limit) + " bytes");
      out.resize(size_t(std::min<uint64_t>(limit, uint64_t(out.size()) + step)));
      step = std::min<size_t>(step * 2, size_t(256) << 20);
    }
    ZSTD_outBuffer output{out.data(), out.size(), produced};
    const size_t before_in = input.pos;
    last = ZSTD_decompressStream(ctx, &output, &input);
    if (ZSTD_isError(last)) fail(what, std::string("zstd: ") + ZSTD_getErrorName(last));
    const bool progress = output.pos != produced || input.pos != before_in;
    produced = output.pos;
    if (input.pos == input.size && last != 0 && !progress && produced < out.size())
      fail(what, "zstd: truncated stream");
  }
  out.resize(produced);
}

}  // namespace

bool has_icechunk_magic(ByteView bytes) {
  return bytes.size >= sizeof(kMagic) && std::memcmp(bytes.data, kMagic, sizeof(kMagic)) == 0;
}

IcechunkFile read_icechunk_file(ByteView bytes, IcechunkFileType expected,
                                const std::string& what, uint64_t max_payload) {
  if (!has_icechunk_magic(bytes))
    fail(what, "not an Icechunk file (no ICE\xF0\x9F\xA7\x8A""CHUNK magic bytes)");
  if (bytes.size < kIcechunkHeaderSize)
    fail(what, "truncated header (" + std::to_string(bytes.size) + " bytes)");
  IcechunkFile file;
  const char* name = reinterpret_cast<const char*>(bytes.data + 12);
  size_t n = 24;
  while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\0')) --n;
  for (size_t i = 0; i < n; ++i)
    file.implementation += (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
  file.spec_version = bytes.data[36];
  const uint8_t type = bytes.data[37];
  const uint8_t compression = bytes.data[38];
  if (file.spec_version < kIcechunkMinSpecVersion || file.spec_version > kIcechunkMaxSpecVersion)
    throw Error(ErrorKind::kUnsupported,
                what + ": Icechunk format version " + std::to_string(file.spec_version) +
                    " (written by '" + file.implementation +
                    "') is not supported; fastchunk reads format versions 1 and 2");
  if (type != uint8_t(expected)) {
    const char* got = type_name(type);
    fail(what, std::string("a ") + (got ? got : "file of unknown type " + std::to_string(type)) +
                   " where a " + type_name(uint8_t(expected)) + " file was expected");
  }
  const ByteView body{bytes.data + kIcechunkHeaderSize, bytes.size - kIcechunkHeaderSize};
  max_payload = std::min(max_payload, kMaxIcechunkPayload);
  if (compression == 0) {
    if (body.size > max_payload)
      fail(what, "payload of " + std::to_string(body.size) + " bytes is too large");
    file.payload.assign(body.data, body.data + body.size);
  } else if (compression == 1) {
    // Real metadata compresses a few times, never a thousandfold: a bomb
    // stops long before the format's own limit.
    const uint64_t plausible = std::max<uint64_t>(kMinPayloadCap, uint64_t(body.size) * 1024);
    decompress_zstd(body, file.payload, std::min(max_payload, plausible), what);
  } else {
    fail(what, "unknown compression algorithm " + std::to_string(compression));
  }
  return file;
}

}  // namespace fastchunk
