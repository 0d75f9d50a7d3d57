#include "common/error.h"

#include <cstring>

namespace fastchunk {

void throw_io(const std::string& what, int sys_errno) {
  throw Error(ErrorKind::kIO, what + ": " + std::strerror(sys_errno), sys_errno);
}

}  // namespace fastchunk
