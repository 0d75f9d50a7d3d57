#include "scan/scan_api.h"

#include <exception>
#include <new>

#include "common/error.h"

namespace fastchunk {

ErrorInfo api_scan_stats(const uint8_t* data, char kind, int itemsize, int64_t outer,
                         int64_t nvar, int64_t inner, ScanStats* out) {
  ErrorInfo info;
  try {
    scan_stats(data, kind, itemsize, outer, nvar, inner, out);
  } catch (const Error& e) {
    info.kind = int(e.kind());
    info.message = e.what();
  } catch (const std::bad_alloc&) {
    info.kind = int(ErrorKind::kMemory);
    info.message = "out of memory while scanning";
  } catch (const std::exception& e) {
    info.kind = int(ErrorKind::kInternal);
    info.message = e.what();
  }
  return info;
}

}  // namespace fastchunk
