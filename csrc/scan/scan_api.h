// The Cython-facing surface of the scan reduction: nothing is thrown across it.
#pragma once
#include "api/guarded.h"
#include "scan/scan_stats.h"

namespace fastchunk {

ErrorInfo api_scan_stats(const uint8_t* data, char kind, int itemsize, int64_t outer,
                         int64_t nvar, int64_t inner, ScanStats* out);

}  // namespace fastchunk
