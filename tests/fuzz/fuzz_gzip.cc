// Hostile bytes through the native gzip decoder.
#define FUZZ_CODEC "gzip"
#include "decoder_target.h"
