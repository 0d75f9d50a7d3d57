#include "scan/scan_api.h"

#include "common/error.h"

namespace fastchunk {

ErrorInfo api_scan_stats(const uint8_t* data, char kind, int itemsize, int64_t outer,
                         int64_t nvar, int64_t inner, ScanStats* out) {
  return guarded([&] { scan_stats(data, kind, itemsize, outer, nvar, inner, out); });
}

}  // namespace fastchunk
