// Reading a mapped file that shrinks under the reader raises SIGBUS. The
// guard turns that into a flag: a range registered here that faults has its
// pages from the fault on replaced by zero pages (the faulting read goes on
// and sees zeros), and the range is marked faulted. Whoever decoded from the
// range checks the flag afterwards and reads the file again with pread: a
// clean error or the new data, never a crash. Faults outside registered
// ranges go to the handler installed before this one (or the default action).
//
// The handler is process-wide, so reads on any thread (a codec's own threads
// included) are covered. Every guarded read puts it back in front when
// another one replaced it (Python's faulthandler, a DataLoader worker's
// handlers, a sanitizer): registering a range, and taking a kept mapping,
// call ensure_installed(); the replaced handler stays the fallback for faults
// that are not ours.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastchunk {

class SigbusGuard {
 public:
  static constexpr int kSlots = 4096;

  // Registers [addr, addr + len); returns its slot, or -1 when all are taken
  // (the caller must not read through a mapping then). Installs the handler.
  static int enter(const void* addr, size_t len);
  // Unregisters a slot; call before unmapping its range.
  static void leave(int slot);
  // The number of faults the slot's range has taken since it was registered.
  static uint32_t faults(int slot);
  // Faults turned into zero pages since the process started.
  static uint64_t total_faults();
  // Installs the handler when it is not the current one. Cheap (one sigaction).
  static void ensure_installed();
};

}  // namespace fastchunk
