// Hostile bytes through the native lz4 decoder.
#define FUZZ_CODEC fastchunk::ByteCodecId::kLz4
#include "decoder_target.h"
