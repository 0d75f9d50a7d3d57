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
  // `sys_errno`: the errno of the failed system call (kIO), 0 when none.
  Error(ErrorKind kind, const std::string& message, int sys_errno = 0)
      : std::runtime_error(message), kind_(kind), sys_errno_(sys_errno) {}
  ErrorKind kind() const { return kind_; }
  int sys_errno() const { return sys_errno_; }
  // The same error with `context` before its message ("store: chunk 'k': ").
  Error in(const std::string& context) const { return Error(kind_, context + what(), sys_errno_); }

 private:
  ErrorKind kind_;
  int sys_errno_;
};

[[noreturn]] inline void throw_decode(const std::string& message) {
  throw Error(ErrorKind::kDecode, message);
}

// A failed system call: Error(kIO) whose message is `what` and the errno's
// text, carrying the errno (Python raises an OSError with it).
[[noreturn]] void throw_io(const std::string& what, int sys_errno);

}  // namespace fastchunk
