// This thread's zstd decompression context, shared by the codecs that decode
// zstd streams (zstd itself, blosc's zstd blocks).
#pragma once
#include <zstd.h>

namespace fastchunk {

ZSTD_DCtx* thread_zstd_dctx();

}  // namespace fastchunk
