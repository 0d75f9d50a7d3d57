// numcodecs BZ2: bzip2 streams through libbz2. Like Python's bz2.decompress,
// concatenated streams decode one after the other and bytes after the last
// whole stream that are not a stream are ignored.
#include <bzlib.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <string>

#include "codecs/config_binder.h"
#include "codecs/registry.h"
#include "codecs/stream_sequence.h"
#include "common/error.h"

namespace fastchunk {
namespace {

// libbz2 counts in unsigned int: feed it at most this much at a time.
constexpr size_t kMaxStep = size_t(1) << 30;

struct Decompressor {
  bz_stream s{};
  Decompressor() {
    const int r = BZ2_bzDecompressInit(&s, 0, 0);
    if (r == BZ_MEM_ERROR) throw Error(ErrorKind::kMemory, "bz2: cannot allocate a decompressor");
    if (r != BZ_OK) throw Error(ErrorKind::kInternal, "bz2: decompressor init failed");
  }
  ~Decompressor() { BZ2_bzDecompressEnd(&s); }
};

struct Bz2Settings {
  int64_t level = 1;
  void bind(ConfigBinder& b) { b.integer("level", level, 1, 9); }
};

class Bz2Codec final : public BytesToBytesCodec {
 public:
  explicit Bz2Codec(Bz2Settings settings) : BytesToBytesCodec(std::nullopt), settings_(settings) {}

  void decode(ByteView in, uint8_t* out, size_t out_size) const override {
    decode_stream_sequence("bz2", in, out_size,
                           [&](size_t& in_pos, size_t& out_pos, bool first) {
                             return decode_stream(in, in_pos, out, out_size, out_pos, first);
                           });
  }

  // A block (at least 10 bytes: magic and checksum) holds at most 900 kB
  // before bzip2's first run-length stage, which packs up to 255 equal bytes
  // into 5: 45.9 MB of output per 10 stored bytes at most.
  KnownSize decoded_size(ByteView) const override { return std::nullopt; }
  KnownSize most_decoded_bytes(size_t stored) const override {
    return (uint64_t(stored) / 10 + 1) * 45900000ull;
  }

  void encode(ByteView in, std::string* out) const override {
    if (in.size > size_t(UINT_MAX) / 2)
      throw Error(ErrorKind::kUnsupported, "bz2: chunks over 2 GiB cannot be bz2-compressed");
    const size_t start = out->size();
    unsigned int capacity = unsigned(in.size + in.size / 100 + 600);
    out->resize(start + capacity);
    char empty = 0;  // libbz2 refuses a null source, even of no bytes
    char* source = in.size ? const_cast<char*>(reinterpret_cast<const char*>(in.data)) : &empty;
    const int r = BZ2_bzBuffToBuffCompress(&(*out)[start], &capacity, source, unsigned(in.size),
                                           int(settings_.level), 0, 0);
    if (r == BZ_MEM_ERROR) throw Error(ErrorKind::kMemory, "bz2: out of memory");
    if (r != BZ_OK) throw Error(ErrorKind::kInternal, "bz2: compression failed (" + std::to_string(r) + ")");
    out->resize(start + capacity);
  }

  CodecConfig configuration(int zarr_format) const override {
    return write_settings(settings_, zarr_format);
  }

 private:
  // Decodes one stream starting at in_pos; false when the bytes there are not
  // a stream and an earlier stream ended (they are then ignored).
  static bool decode_stream(ByteView in, size_t& in_pos, uint8_t* out, size_t out_size,
                            size_t& out_pos, bool first) {
    Decompressor d;
    bz_stream& s = d.s;
    for (;;) {
      uint8_t probe;  // past out_size: does the stream hold more?
      const bool probing = out_pos == out_size;
      s.next_in = const_cast<char*>(reinterpret_cast<const char*>(in.data + in_pos));
      s.avail_in = unsigned(std::min(in.size - in_pos, kMaxStep));
      s.next_out = reinterpret_cast<char*>(probing ? &probe : out + out_pos);
      s.avail_out = probing ? 1u : unsigned(std::min(out_size - out_pos, kMaxStep));
      const unsigned in_before = s.avail_in, out_before = s.avail_out;
      const int r = BZ2_bzDecompress(&s);
      const size_t consumed = in_before - s.avail_in, produced = out_before - s.avail_out;
      in_pos += consumed;
      if (probing && produced)
        throw_decode("bz2: stream decodes to more than the expected " + std::to_string(out_size) +
                     " bytes");
      out_pos += produced;
      if (r == BZ_STREAM_END) return true;
      if (r == BZ_MEM_ERROR) throw Error(ErrorKind::kMemory, "bz2: out of memory");
      if (r != BZ_OK) {
        if (!first) return false;
        throw_decode(r == BZ_DATA_ERROR_MAGIC ? "bz2: not a bzip2 stream" : "bz2: corrupt stream");
      }
      if (consumed == 0 && produced == 0) throw_decode("bz2: stream ends before its end marker");
    }
  }

  Bz2Settings settings_;
};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext& context) {
  return std::make_unique<Bz2Codec>(read_settings<Bz2Settings>(config, context.zarr_format));
}

}  // namespace

extern const CodecDefinition kBz2Codec = {"bz2", CodecKind::kBytesToBytes, kNumcodecsId, "level",
                                          make};

}  // namespace fastchunk
