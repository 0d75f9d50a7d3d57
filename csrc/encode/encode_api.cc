#include "encode/encode_api.h"

#include <exception>
#include <new>

#include "common/error.h"

namespace fastchunk {
namespace {

template <typename F>
ErrorInfo guarded_encode(F&& f) {
  ErrorInfo info;
  try {
    f();
  } catch (const Error& e) {
    info.kind = int(e.kind());
    info.message = e.what();
  } catch (const std::bad_alloc&) {
    info.kind = int(ErrorKind::kMemory);
    info.message = "out of memory while encoding";
  } catch (const std::exception& e) {
    info.kind = int(ErrorKind::kInternal);
    info.message = e.what();
  } catch (...) {
    info.kind = int(ErrorKind::kInternal);
    info.message = "unknown C++ exception while encoding";
  }
  return info;
}

}  // namespace

ErrorInfo api_encode_objects(const EncodeRequest& req, const uint8_t* slab,
                             std::vector<std::string>* objects) {
  return guarded_encode([&] { encode_objects(req, slab, objects); });
}

ErrorInfo api_encode_chunk(const EncodeChain& chain, uint8_t* data, size_t size,
                           std::string* out) {
  return guarded_encode([&] { encode_chunk(chain, data, size, out); });
}

}  // namespace fastchunk
