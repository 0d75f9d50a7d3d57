// numcodecs LZMA: .xz or .lzma ("alone") streams through liblzma. Like
// Python's lzma.decompress, concatenated streams decode one after the other
// and bytes after the last whole stream that are not a stream are ignored.
// Raw streams with custom filter chains are left to numcodecs.
#include <lzma.h>

#include <memory>
#include <string>

#include "codecs/config_binder.h"
#include "codecs/registry.h"
#include "codecs/stream_sequence.h"
#include "common/error.h"

namespace fastchunk {
namespace {

enum Format : int { kAuto = 0, kXz = 1, kAlone = 2, kRaw = 3 };
constexpr uint8_t kXzMagic[6] = {0xFD, '7', 'z', 'X', 'Z', 0x00};
constexpr size_t kAloneHeader = 13;  // properties, dictionary size, decoded size
constexpr size_t kXzHeader = 12;     // stream header and footer are 12 bytes each
// Decoder memory beyond the chunk itself: enough for every preset (preset 9
// uses a 64 MiB dictionary); a header asking for more is refused.
constexpr uint64_t kMemoryAllowance = uint64_t(96) << 20;

bool is_xz(ByteView in) {
  if (in.size < sizeof(kXzMagic)) return false;
  for (size_t i = 0; i < sizeof(kXzMagic); ++i)
    if (in.data[i] != kXzMagic[i]) return false;
  return true;
}

struct Stream {
  lzma_stream s = LZMA_STREAM_INIT;
  ~Stream() { lzma_end(&s); }
};

[[noreturn]] void throw_lzma(lzma_ret r, uint64_t memlimit) {
  switch (r) {
    case LZMA_MEM_ERROR: throw Error(ErrorKind::kMemory, "lzma: out of memory");
    case LZMA_MEMLIMIT_ERROR:
      throw Error(ErrorKind::kUnsupported,
                  "lzma: the stream needs more than " + std::to_string(memlimit >> 20) +
                      " MiB of memory to decode (a dictionary larger than any chunk needs)");
    case LZMA_FORMAT_ERROR: throw_decode("lzma: not an xz or lzma stream");
    case LZMA_OPTIONS_ERROR: throw_decode("lzma: unsupported stream options");
    case LZMA_BUF_ERROR: throw_decode("lzma: stream ends before its end marker");
    default: throw_decode("lzma: corrupt stream (code " + std::to_string(int(r)) + ")");
  }
}

// The decoded size of the .xz streams that make up `in`, from their indexes
// (read from the end); nullopt when they do not parse as such.
KnownSize xz_decoded_size(ByteView in) {
  uint64_t total = 0;
  size_t end = in.size;
  while (end > 0) {
    if (end < 2 * kXzHeader) return std::nullopt;
    lzma_stream_flags footer;
    if (lzma_stream_footer_decode(&footer, in.data + end - kXzHeader) != LZMA_OK)
      return std::nullopt;
    const uint64_t index_size = footer.backward_size;
    if (index_size > end - 2 * kXzHeader) return std::nullopt;
    lzma_index* index = nullptr;
    uint64_t memlimit = uint64_t(16) << 20;
    size_t pos = 0;
    const uint8_t* index_start = in.data + end - kXzHeader - index_size;
    if (lzma_index_buffer_decode(&index, &memlimit, nullptr, index_start, &pos, index_size) !=
        LZMA_OK)
      return std::nullopt;
    const uint64_t decoded = lzma_index_uncompressed_size(index);
    const uint64_t blocks = lzma_index_total_size(index);
    lzma_index_end(index, nullptr);
    const uint64_t stream = 2 * kXzHeader + index_size + blocks;
    if (stream > end || decoded > uint64_t(INT64_MAX) - total) return std::nullopt;
    total += decoded;
    end -= size_t(stream);
  }
  return total;
}

// numcodecs' configuration: the container format, the integrity check (-1:
// the format's default) and the preset (-1: null, the default; 0..9, with
// the extreme flag or not). Custom filters are left to numcodecs.
struct LzmaSettings {
  int64_t format = kXz;
  int64_t check = -1;
  int64_t preset = -1;

  void bind(ConfigBinder& b) {
    b.integer("format", format, kAuto, kAlone);
    b.integer("check", check, -1, LZMA_CHECK_ID_MAX);
    if (b.reading() && check != -1 && !lzma_check_is_supported(lzma_check(check)))
      out_of_range("check", std::to_string(check), "a check liblzma supports");
    if (b.reading()) {
      preset = b.source().get_int("preset", -1);
      if (preset != -1 && (preset < 0 || preset > int64_t(UINT32_MAX) ||
                           (uint32_t(preset) & ~LZMA_PRESET_EXTREME) > 9))
        out_of_range("preset", std::to_string(preset), "0..9 (or with the extreme flag)");
    } else if (preset < 0) {
      b.null("preset");
    } else {
      b.integer("preset", preset, 0, int64_t(UINT32_MAX));
    }
    b.null("filters");
  }
};

class LzmaCodec final : public BytesToBytesCodec {
 public:
  explicit LzmaCodec(LzmaSettings settings)
      : BytesToBytesCodec(std::nullopt),
        settings_(settings),
        format_(settings.format),
        check_(settings.check) {}

  void decode(ByteView in, uint8_t* out, size_t out_size) const override {
    decode_stream_sequence("lzma", in, out_size,
                           [&](size_t& in_pos, size_t& out_pos, bool first) {
                             return decode_stream(in, in_pos, out, out_size, out_pos, first);
                           });
  }

  // .xz streams end with an index of their sizes. A .lzma header records the
  // size of its own stream only, and more streams may follow: no total.
  KnownSize decoded_size(ByteView in) const override {
    if (format_ == kXz || (format_ == kAuto && is_xz(in))) return xz_decoded_size(in);
    if (in.size < kAloneHeader) throw_decode("lzma: stream shorter than its 13-byte header");
    return std::nullopt;
  }
  // Any ratio: the decoder is given exactly the chunk's size and a memory limit.
  KnownSize most_decoded_bytes(size_t) const override { return std::nullopt; }

  void encode(ByteView in, std::string* out) const override {
    const uint32_t preset = settings_.preset < 0 ? LZMA_PRESET_DEFAULT : uint32_t(settings_.preset);
    const size_t start = out->size();
    if (format_ == kXz) {
      const lzma_check check = check_ == -1 ? LZMA_CHECK_CRC64 : lzma_check(check_);
      size_t pos = 0;
      out->resize(start + lzma_stream_buffer_bound(in.size));
      const lzma_ret r = lzma_easy_buffer_encode(preset, check, nullptr, in.data, in.size,
                                                 reinterpret_cast<uint8_t*>(&(*out)[start]), &pos,
                                                 out->size() - start);
      if (r != LZMA_OK) throw Error(ErrorKind::kInternal, "lzma: compression failed");
      out->resize(start + pos);
      return;
    }
    if (format_ != kAlone)
      throw Error(ErrorKind::kUnsupported, "lzma: only formats 1 (xz) and 2 (alone) can be encoded");
    if (check_ != -1 && check_ != LZMA_CHECK_NONE)
      throw Error(ErrorKind::kUnsupported, "lzma: the alone format has no integrity check");
    lzma_options_lzma options;
    if (lzma_lzma_preset(&options, preset)) throw Error(ErrorKind::kUnsupported, "lzma: bad preset");
    Stream stream;
    if (lzma_alone_encoder(&stream.s, &options) != LZMA_OK)
      throw Error(ErrorKind::kInternal, "lzma: cannot start the encoder");
    out->resize(start + lzma_stream_buffer_bound(in.size) + kAloneHeader);
    stream.s.next_in = in.data;
    stream.s.avail_in = in.size;
    stream.s.next_out = reinterpret_cast<uint8_t*>(&(*out)[start]);
    stream.s.avail_out = out->size() - start;
    const lzma_ret r = lzma_code(&stream.s, LZMA_FINISH);
    if (r != LZMA_STREAM_END) throw Error(ErrorKind::kInternal, "lzma: compression failed");
    out->resize(start + stream.s.total_out);
  }

  CodecConfig configuration(int zarr_format) const override {
    if (format_ != kXz && format_ != kAlone)
      throw Error(ErrorKind::kUnsupported, "lzma: only formats 1 (xz) and 2 (alone) can be encoded");
    return write_settings(settings_, zarr_format);
  }

 private:
  // Decodes one stream starting at in_pos; false when the bytes there are not
  // a stream and an earlier stream ended (they are then ignored).
  bool decode_stream(ByteView in, size_t& in_pos, uint8_t* out, size_t out_size, size_t& out_pos,
                     bool first) const {
    Stream stream;
    lzma_stream& s = stream.s;
    const uint64_t memlimit = uint64_t(out_size) + kMemoryAllowance;
    lzma_ret r = format_ == kAuto    ? lzma_auto_decoder(&s, memlimit, 0)
                 : format_ == kAlone ? lzma_alone_decoder(&s, memlimit)
                                     : lzma_stream_decoder(&s, memlimit, 0);
    if (r != LZMA_OK) throw_lzma(r, memlimit);
    s.next_in = in.data + in_pos;
    s.avail_in = in.size - in_pos;
    for (;;) {
      uint8_t probe;  // past out_size: does the stream hold more?
      const bool probing = out_pos == out_size;
      s.next_out = probing ? &probe : out + out_pos;
      s.avail_out = probing ? 1 : out_size - out_pos;
      const size_t in_before = s.avail_in, out_before = s.avail_out;
      r = lzma_code(&s, LZMA_FINISH);
      const size_t produced = out_before - s.avail_out;
      in_pos += in_before - s.avail_in;
      if (probing && produced)
        throw_decode("lzma: stream decodes to more than the expected " + std::to_string(out_size) +
                     " bytes");
      out_pos += produced;
      if (r == LZMA_STREAM_END) return true;
      if (r == LZMA_OK) continue;
      if (!first && (r == LZMA_FORMAT_ERROR || r == LZMA_DATA_ERROR)) return false;
      throw_lzma(r, memlimit);
    }
  }

  LzmaSettings settings_;
  int64_t format_;
  int64_t check_;
};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext& context) {
  const int64_t format = config.get_int("format", kXz);
  if (config.has("filters") || format == kRaw)
    throw Error(ErrorKind::kUnsupported, "lzma with custom filters is decoded by numcodecs");
  if (format < kAuto || format > kRaw)
    throw Error(ErrorKind::kMetadata, "unknown lzma format " + std::to_string(format));
  return std::make_unique<LzmaCodec>(read_settings<LzmaSettings>(config, context.zarr_format));
}

}  // namespace

extern const CodecDefinition kLzmaCodec = {"lzma", CodecKind::kBytesToBytes, kNumcodecsId,
                                           "preset", make};

}  // namespace fastchunk
