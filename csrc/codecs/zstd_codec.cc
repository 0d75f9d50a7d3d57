// Zstandard frames (one or several concatenated) with per-thread contexts. A
// selection that ends early in the chunk decodes only the prefix it needs.
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "codecs/config_binder.h"
#include "codecs/registry.h"
#include "codecs/zstd_context.h"
#include "common/error.h"

namespace fastchunk {

namespace {
struct DctxHolder {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  ~DctxHolder() { ZSTD_freeDCtx(ctx); }
};
}  // namespace

ZSTD_DCtx* thread_zstd_dctx() {
  thread_local DctxHolder holder;
  if (!holder.ctx) throw Error(ErrorKind::kMemory, "zstd: cannot create a context");
  return holder.ctx;
}

namespace {

struct CctxHolder {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  ~CctxHolder() { ZSTD_freeCCtx(ctx); }
};

ZSTD_CCtx* thread_cctx() {
  thread_local CctxHolder holder;
  if (!holder.ctx) throw Error(ErrorKind::kMemory, "zstd: cannot create a compression context");
  return holder.ctx;
}

// Sum of the content sizes of all concatenated frames; UNKNOWN if any frame
// omits its size, ERROR when the data is not a sequence of frames.
unsigned long long total_content_size(ByteView in) {
  const uint8_t* p = in.data;
  size_t left = in.size;
  unsigned long long total = 0;
  if (left == 0) return ZSTD_CONTENTSIZE_ERROR;
  while (left > 0) {
    const unsigned long long n = ZSTD_getFrameContentSize(p, left);
    if (n == ZSTD_CONTENTSIZE_ERROR) return n;
    const size_t frame = ZSTD_findFrameCompressedSize(p, left);
    if (ZSTD_isError(frame) || frame == 0 || frame > left) return ZSTD_CONTENTSIZE_ERROR;
    if (n == ZSTD_CONTENTSIZE_UNKNOWN) return n;
    total += n;
    p += frame;
    left -= frame;
  }
  return total;
}

void check_announced(ByteView in, size_t out_size) {
  const unsigned long long announced = total_content_size(in);
  if (announced == ZSTD_CONTENTSIZE_ERROR) throw_decode("zstd: corrupt frame header");
  if (announced != ZSTD_CONTENTSIZE_UNKNOWN && announced != out_size)
    throw_decode("zstd: frame announces " + std::to_string(announced) +
                 " decoded bytes, expected " + std::to_string(out_size));
}

// Decodes the first `prefix` bytes of a stream whose full decoded size is
// out_size, stopping as soon as they are out. False, having decoded nothing
// useful, when the frame asks for a window larger than the chunk (streaming
// would allocate it; a whole-chunk decode does not).
bool decode_prefix(ByteView in, uint8_t* out, size_t prefix, size_t out_size) {
  int window_log = 10;
  while (window_log < 31 && (size_t(1) << window_log) < out_size) ++window_log;
  ZSTD_DCtx* ctx = thread_zstd_dctx();
  ZSTD_DCtx_reset(ctx, ZSTD_reset_session_only);
  ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, window_log);
  ZSTD_inBuffer input{in.data, in.size, 0};
  ZSTD_outBuffer output{out, prefix, 0};
  bool ok = true;
  while (output.pos < prefix) {
    const size_t before_in = input.pos, before_out = output.pos;
    const size_t r = ZSTD_decompressStream(ctx, &output, &input);
    if (ZSTD_isError(r)) {
      if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge) {
        ok = false;
        break;
      }
      ZSTD_DCtx_reset(ctx, ZSTD_reset_session_and_parameters);
      throw_decode(std::string("zstd: ") + ZSTD_getErrorName(r));
    }
    if (input.pos == before_in && output.pos == before_out) {
      ZSTD_DCtx_reset(ctx, ZSTD_reset_session_and_parameters);
      throw_decode("zstd: stream ends before the bytes needed");
    }
  }
  ZSTD_DCtx_reset(ctx, ZSTD_reset_session_and_parameters);
  return ok;
}

struct ZstdSettings {
  int64_t level = 3;
  bool checksum = false;
  void bind(ConfigBinder& b) {
    b.integer("level", level, ZSTD_minCLevel(), ZSTD_maxCLevel()).boolean("checksum", checksum);
  }
};

class ZstdCodec final : public BytesToBytesCodec, SplitDecoding, PartialDecoding {
 public:
  explicit ZstdCodec(ZstdSettings settings)
      : BytesToBytesCodec(std::nullopt), settings_(settings) {
    abilities_.split = this;
    abilities_.partial = this;
  }

  void decode(ByteView in, uint8_t* out, size_t out_size) const override {
    check_announced(in, out_size);
    const size_t n = ZSTD_decompressDCtx(thread_zstd_dctx(), out, out_size, in.data, in.size);
    if (ZSTD_isError(n)) throw_decode(std::string("zstd: ") + ZSTD_getErrorName(n));
    if (n != out_size)
      throw_decode("zstd: decoded " + std::to_string(n) + " bytes, expected " +
                   std::to_string(out_size));
  }

  // Concatenated frames decode independently: pieces of whole frames, about
  // equal in decoded size. A single frame does not split.
  bool split(ByteView in, size_t out_size, size_t most, size_t align,
             std::vector<DecodePiece>* pieces) const override {
    check_announced(in, out_size);
    std::vector<DecodePiece> frames;
    size_t at = 0, decoded = 0;
    while (at < in.size) {
      const unsigned long long n = ZSTD_getFrameContentSize(in.data + at, in.size - at);
      const size_t frame = ZSTD_findFrameCompressedSize(in.data + at, in.size - at);
      if (n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR || ZSTD_isError(frame) ||
          frame == 0)
        return false;
      frames.push_back(DecodePiece{at, at + frame, decoded, decoded + size_t(n)});
      at += frame;
      decoded += size_t(n);
    }
    if (frames.size() < 2 || decoded != out_size) return false;
    const size_t n = std::min(most, frames.size());
    size_t f = 0;
    for (size_t p = 0; p < n && f < frames.size(); ++p) {
      // Frames up to this piece's share of the decoded bytes, ending aligned.
      const size_t target = out_size * (p + 1) / n;
      DecodePiece piece = frames[f++];
      while (f < frames.size() &&
             (p + 1 == n || piece.out_end < target || piece.out_end % align != 0)) {
        piece.in_end = frames[f].in_end;
        piece.out_end = frames[f].out_end;
        ++f;
      }
      pieces->push_back(piece);
    }
    return true;
  }

  void decode_piece(ByteView in, const DecodePiece& piece, uint8_t* out,
                    size_t out_size) const override {
    const size_t want = piece.out_end - piece.out_begin;
    const size_t n = ZSTD_decompressDCtx(thread_zstd_dctx(), out + piece.out_begin, want,
                                         in.data + piece.in_begin, piece.in_end - piece.in_begin);
    if (ZSTD_isError(n)) throw_decode(std::string("zstd: ") + ZSTD_getErrorName(n));
    if (n != want)
      throw_decode("zstd: decoded " + std::to_string(n) + " bytes, expected " +
                   std::to_string(want));
  }

  KnownSize decoded_size(ByteView in) const override {
    const unsigned long long total = total_content_size(in);
    if (total == ZSTD_CONTENTSIZE_ERROR) throw_decode("zstd: not a zstd frame");
    if (total == ZSTD_CONTENTSIZE_UNKNOWN) return std::nullopt;
    return uint64_t(total);
  }

  // 32768:1 is the best ratio: a 128 KiB RLE block from 4 bytes; plus room for headers.
  KnownSize most_decoded_bytes(size_t stored) const override {
    return uint64_t(stored) * 32768 + (128 << 10);
  }

  bool decode_part(ByteView in, const NeededBytes& needed, uint8_t* out, size_t out_size,
                   const std::function<void()>& before_decoding,
                   ByteRanges* written) const override {
    size_t end = (needed.end + needed.align - 1) / needed.align * needed.align;
    if (end > out_size) end = out_size;
    if (double(end) >= kWorthwhileFraction * double(out_size)) return false;
    before_decoding();
    check_announced(in, out_size);
    if (!decode_prefix(in, out, end, out_size)) return false;
    written->emplace_back(0, end);
    return true;
  }

  void encode(ByteView in, std::string* out) const override {
    ZSTD_CCtx* ctx = thread_cctx();
    ZSTD_CCtx_reset(ctx, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, int(settings_.level));
    ZSTD_CCtx_setParameter(ctx, ZSTD_c_checksumFlag, settings_.checksum ? 1 : 0);
    const size_t start = out->size();
    out->resize(start + ZSTD_compressBound(in.size));
    const size_t n = ZSTD_compress2(ctx, &(*out)[start], out->size() - start, in.data, in.size);
    if (ZSTD_isError(n))
      throw Error(ErrorKind::kInternal, std::string("zstd: ") + ZSTD_getErrorName(n));
    out->resize(start + n);
  }

  CodecConfig configuration(int zarr_format) const override {
    return write_settings(settings_, zarr_format);
  }

 private:
  ZstdSettings settings_;
};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext& context) {
  return std::make_unique<ZstdCodec>(read_settings<ZstdSettings>(config, context.zarr_format));
}

}  // namespace

extern const CodecDefinition kZstdCodec = {"zstd", CodecKind::kBytesToBytes,
                                           kNumcodecsId | kZarrV3Name, "level", make};

}  // namespace fastchunk
