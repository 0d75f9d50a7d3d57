// Hostile bytes through the native zlib decoder.
#define FUZZ_CODEC fastchunk::ByteCodecId::kZlib
#include "decoder_target.h"
