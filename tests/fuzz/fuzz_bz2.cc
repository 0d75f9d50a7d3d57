// Hostile bytes through the native bz2 decoder (numcodecs framing).
#define FUZZ_CODEC "bz2"
#include "decoder_target.h"
