// Hostile bytes through the native lz4 decoder.
#define FUZZ_CODEC "lz4"
#include "decoder_target.h"
