#include "transform/transform_api.h"

#include <exception>
#include <new>

#include "common/error.h"

namespace fastchunk {

ErrorInfo api_transform_batch(const float* in, void* out, const TransformSpec& spec) {
  ErrorInfo info;
  try {
    transform_batch(in, out, spec);
  } catch (const Error& e) {
    info.kind = int(e.kind());
    info.message = e.what();
  } catch (const std::bad_alloc&) {
    info.kind = int(ErrorKind::kMemory);
    info.message = "out of memory";
  } catch (const std::exception& e) {
    info.kind = int(ErrorKind::kInternal);
    info.message = e.what();
  } catch (...) {
    info.kind = int(ErrorKind::kInternal);
    info.message = "unknown C++ exception";
  }
  return info;
}

}  // namespace fastchunk
