// Zstandard frames (content size recorded) through a per-thread context.
#include <zstd.h>

#include <string>

#include "common/error.h"
#include "encode/byte_encoders.h"

namespace fastchunk {
namespace encode_impl {
namespace {

struct CCtxHolder {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  ~CCtxHolder() { ZSTD_freeCCtx(ctx); }
};

}  // namespace

void zstd_encode(ByteView in, int level, std::string* out) {
  thread_local CCtxHolder holder;
  if (!holder.ctx) throw Error(ErrorKind::kMemory, "zstd: cannot allocate a compression context");
  const size_t start = out->size();
  out->resize(start + ZSTD_compressBound(in.size));
  const size_t n = ZSTD_compressCCtx(holder.ctx, &(*out)[start], out->size() - start, in.data,
                                     in.size, level);
  if (ZSTD_isError(n))
    throw Error(ErrorKind::kInternal, std::string("zstd: ") + ZSTD_getErrorName(n));
  out->resize(start + n);
}

}  // namespace encode_impl
}  // namespace fastchunk
