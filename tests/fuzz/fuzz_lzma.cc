// Hostile bytes through the native lzma decoder (numcodecs framing).
#define FUZZ_CODEC "lzma"
#include "decoder_target.h"
