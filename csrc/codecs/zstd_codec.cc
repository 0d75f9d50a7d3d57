// Zstandard frames (one or several concatenated) with a per-thread context.
#include <zstd.h>
#include <zstd_errors.h>

#include <string>

#include "codecs/codec_impl.h"
#include "common/error.h"

namespace fastchunk {
namespace {

struct DctxHolder {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  ~DctxHolder() { ZSTD_freeDCtx(ctx); }
};

ZSTD_DCtx* thread_dctx() {
  thread_local DctxHolder holder;
  if (!holder.ctx) throw Error(ErrorKind::kMemory, "zstd: cannot create a context");
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

}  // namespace

namespace codec_impl {

int64_t zstd_announced_size(ByteView in) {
  const unsigned long long total = total_content_size(in);
  if (total == ZSTD_CONTENTSIZE_ERROR) throw_decode("zstd: not a zstd frame");
  if (total == ZSTD_CONTENTSIZE_UNKNOWN) return -1;
  return int64_t(total);
}

void zstd_decode(ByteView in, uint8_t* out, size_t out_size) {
  const unsigned long long announced = total_content_size(in);
  if (announced == ZSTD_CONTENTSIZE_ERROR) throw_decode("zstd: corrupt frame header");
  if (announced != ZSTD_CONTENTSIZE_UNKNOWN && announced != out_size)
    throw_decode("zstd: frame announces " + std::to_string(announced) +
                 " decoded bytes, expected " + std::to_string(out_size));
  const size_t n = ZSTD_decompressDCtx(thread_dctx(), out, out_size, in.data, in.size);
  if (ZSTD_isError(n)) throw_decode(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != out_size)
    throw_decode("zstd: decoded " + std::to_string(n) + " bytes, expected " +
                 std::to_string(out_size));
}

}  // namespace codec_impl

bool zstd_decode_prefix(ByteView in, uint8_t* out, size_t prefix, size_t out_size) {
  const unsigned long long announced = total_content_size(in);
  if (announced == ZSTD_CONTENTSIZE_ERROR) throw_decode("zstd: corrupt frame header");
  if (announced != ZSTD_CONTENTSIZE_UNKNOWN && announced != out_size)
    throw_decode("zstd: frame announces " + std::to_string(announced) +
                 " decoded bytes, expected " + std::to_string(out_size));
  int window_log = 10;
  while (window_log < 31 && (size_t(1) << window_log) < out_size) ++window_log;
  ZSTD_DCtx* ctx = thread_dctx();
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

}  // namespace fastchunk
