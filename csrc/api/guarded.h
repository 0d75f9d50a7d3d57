// Runs a core call and reports any exception as (kind, message): nothing is
// thrown across the language boundary.
#pragma once
#include <exception>
#include <new>
#include <string>

#include "common/error.h"

namespace fastchunk {

struct ErrorInfo {
  ErrorKind kind = ErrorKind::kOk;
  std::string message;
  int sys_errno = 0;  // kIO: the failed system call's errno (0: none)
};

template <typename F>
ErrorInfo guarded(F&& f) {
  ErrorInfo info;
  try {
    f();
  } catch (const Error& e) {
    info.kind = e.kind();
    info.message = e.what();
    info.sys_errno = e.sys_errno();
  } catch (const std::bad_alloc&) {
    info.kind = ErrorKind::kMemory;
    info.message = "out of memory";
  } catch (const std::exception& e) {
    info.kind = ErrorKind::kInternal;
    info.message = e.what();
  } catch (...) {
    info.kind = ErrorKind::kInternal;
    info.message = "unknown C++ exception";
  }
  return info;
}

}  // namespace fastchunk
