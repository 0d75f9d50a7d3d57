// numcodecs LZMA: .xz or .lzma ("alone") streams through liblzma. Like
// Python's lzma.decompress, concatenated streams decode one after the other
// and bytes after the last whole stream that are not a stream are ignored.
// Raw streams with custom filter chains are left to numcodecs.
#include <lzma.h>

#include <memory>
#include <string>

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
// (read from the end); kUnknownSize when they do not parse as such.
int64_t xz_decoded_size(ByteView in) {
  uint64_t total = 0;
  size_t end = in.size;
  while (end > 0) {
    if (end < 2 * kXzHeader) return kUnknownSize;
    lzma_stream_flags footer;
    if (lzma_stream_footer_decode(&footer, in.data + end - kXzHeader) != LZMA_OK)
      return kUnknownSize;
    const uint64_t index_size = footer.backward_size;
    if (index_size > end - 2 * kXzHeader) return kUnknownSize;
    lzma_index* index = nullptr;
    uint64_t memlimit = uint64_t(16) << 20;
    size_t pos = 0;
    const uint8_t* index_start = in.data + end - kXzHeader - index_size;
    if (lzma_index_buffer_decode(&index, &memlimit, nullptr, index_start, &pos, index_size) !=
        LZMA_OK)
      return kUnknownSize;
    const uint64_t decoded = lzma_index_uncompressed_size(index);
    const uint64_t blocks = lzma_index_total_size(index);
    lzma_index_end(index, nullptr);
    const uint64_t stream = 2 * kXzHeader + index_size + blocks;
    if (stream > end || decoded > uint64_t(INT64_MAX) - total) return kUnknownSize;
    total += decoded;
    end -= size_t(stream);
  }
  return int64_t(total);
}

class LzmaCodec final : public Codec {
 public:
  LzmaCodec(int64_t format, int64_t check, int64_t preset)
      : format_(format), check_(check), preset_(preset) {}

  void decode(ByteView in, uint8_t* out, size_t out_size) const override {
    decode_stream_sequence("lzma", in, out_size,
                           [&](size_t& in_pos, size_t& out_pos, bool first) {
                             return decode_stream(in, in_pos, out, out_size, out_pos, first);
                           });
  }

  // .xz streams end with an index of their sizes. A .lzma header records the
  // size of its own stream only, and more streams may follow: no total.
  int64_t decoded_size(ByteView in) const override {
    if (format_ == kXz || (format_ == kAuto && is_xz(in))) return xz_decoded_size(in);
    if (in.size < kAloneHeader) throw_decode("lzma: stream shorter than its 13-byte header");
    return kUnknownSize;
  }

  void encode(ByteView in, std::string* out) const override {
    const uint32_t preset = checked_preset();
    const size_t start = out->size();
    if (format_ == kXz) {
      const lzma_check check = checked_check();
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

  CodecConfig configuration(int) const override {
    checked_preset();
    if (format_ == kXz) checked_check();
    if (format_ != kXz && format_ != kAlone)
      throw Error(ErrorKind::kUnsupported, "lzma: only formats 1 (xz) and 2 (alone) can be encoded");
    CodecConfig c;
    c.set_int("format", format_).set_int("check", check_);
    if (preset_ < 0)
      c.set_null("preset");
    else
      c.set_int("preset", preset_);
    return c.set_null("filters");
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

  uint32_t checked_preset() const {
    const int64_t p = preset_ < 0 ? int64_t(LZMA_PRESET_DEFAULT) : preset_;
    if (p < 0 || p > UINT32_MAX || (uint32_t(p) & ~LZMA_PRESET_EXTREME) > 9)
      throw Error(ErrorKind::kUnsupported, "lzma: preset must be 0..9 (or with the extreme flag)");
    return uint32_t(p);
  }

  lzma_check checked_check() const {
    if (check_ == -1) return LZMA_CHECK_CRC64;
    if (check_ < 0 || check_ > LZMA_CHECK_ID_MAX || !lzma_check_is_supported(lzma_check(check_)))
      throw Error(ErrorKind::kUnsupported, "lzma: unsupported check " + std::to_string(check_));
    return lzma_check(check_);
  }

  int64_t format_;
  int64_t check_;
  int64_t preset_;  // -1: null (the default preset)
};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext&) {
  const int64_t format = config.get_int("format", kXz);
  if (config.has("filters") || format == kRaw)
    throw Error(ErrorKind::kUnsupported, "lzma with custom filters is decoded by numcodecs");
  if (format < kAuto || format > kRaw)
    throw Error(ErrorKind::kMetadata, "unknown lzma format " + std::to_string(format));
  const int64_t preset = config.get_int("preset", -1);
  return std::make_unique<LzmaCodec>(format, config.get_int("check", -1), preset);
}

}  // namespace

extern const CodecDefinition kLzmaCodec = {"lzma", CodecKind::kBytesToBytes, kNumcodecsId,
                                           "preset", make};

}  // namespace fastchunk
