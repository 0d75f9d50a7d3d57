// Hostile bytes through the native zlib decoder.
#define FUZZ_CODEC "zlib"
#include "decoder_target.h"
