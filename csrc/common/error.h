// Error kinds shared by the core; mapped to Python exceptions, by name, in
// one place (src/fastchunk/_errors.pxi).
#pragma once
#include <stdexcept>
#include <string>

namespace fastchunk {

enum class ErrorKind : int {
  kOk = 0,
  kDecode = 1,       // corrupt, truncated or checksum-failing chunk
  kMetadata = 2,     // inconsistent spec or shard index
  kUnsupported = 3,  // codec or layout the core cannot handle
  kIO = 4,           // operating-system read failure
  kMemory = 5,       // allocation refused
  kInternal = 6,
  kNotFetched = 7,   // bytes a fetched source was not given
  kIndex = 8,        // a selection outside the array
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

[[noreturn]] inline void throw_decode(const std::string& message) {
  throw Error(ErrorKind::kDecode, message);
}

}  // namespace fastchunk
