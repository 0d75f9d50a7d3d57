// Hostile bytes through the native gzip decoder.
#define FUZZ_CODEC fastchunk::ByteCodecId::kGzip
#include "decoder_target.h"
