#include "io/sigbus_guard.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "common/fork_safe_mutex.h"

namespace fastchunk {
namespace {

// One registered range. `seq` is odd while the slot is being rewritten, so
// the handler never pairs one range's start with another's end.
struct Slot {
  std::atomic<uint32_t> seq{0};
  std::atomic<uintptr_t> begin{0};
  std::atomic<uintptr_t> end{0};
  std::atomic<uint32_t> faults{0};
};

Slot g_slots[SigbusGuard::kSlots];
std::atomic<int> g_used{0};       // slots [0, g_used) may be live: the handler scans these
// Registrations; never taken by the handler.
ForkSafeMutex* const g_registry_mutex = new ForkSafeMutex(LockRank::kSigbusRegistry);
struct sigaction g_previous;      // what ran before us, for faults that are not ours
std::atomic<bool> g_has_previous{false};
std::atomic<int> g_chaining{0};
std::atomic<uint64_t> g_total_faults{0};

bool inside(Slot& s, uintptr_t a, uintptr_t& end) {
  const uint32_t before = s.seq.load(std::memory_order_acquire);
  if (before & 1u) return false;
  const uintptr_t b = s.begin.load(std::memory_order_acquire);
  const uintptr_t e = s.end.load(std::memory_order_acquire);
  if (s.seq.load(std::memory_order_acquire) != before) return false;
  end = e;
  return b != 0 && b <= a && a < e;
}

void restore_default() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGBUS, &dfl, nullptr);
}

void on_sigbus(int sig, siginfo_t* info, void* context) {
  if (info && info->si_code > 0) {  // raised by the kernel for a memory access
    const uintptr_t a = reinterpret_cast<uintptr_t>(info->si_addr);
    const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
    const int used = g_used.load(std::memory_order_acquire);
    for (int i = 0; i < used; ++i) {
      uintptr_t end = 0;
      if (!inside(g_slots[i], a, end)) continue;
      // Zero pages from the faulting one to the end of the range: the read
      // goes on, and the pages past the new end of file no longer fault.
      const uintptr_t from = a & ~(page - 1);
      void* got = mmap(reinterpret_cast<void*>(from), end - from, PROT_READ,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      if (got != MAP_FAILED) {
        g_slots[i].faults.fetch_add(1, std::memory_order_acq_rel);
        g_total_faults.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      break;
    }
  }
  // Not ours: what would have happened without us. The previous handler
  // runs; one that sends the signal back to us (Python's faulthandler
  // re-raises) gets the default action the second time.
  const struct sigaction& p = g_previous;
  const bool has_handler =
      g_has_previous.load() && (((p.sa_flags & SA_SIGINFO) && p.sa_sigaction) ||
                                (!(p.sa_flags & SA_SIGINFO) && p.sa_handler != SIG_DFL &&
                                 p.sa_handler != SIG_IGN));
  if (has_handler) {
    if (g_chaining.fetch_add(1) == 0) {
      if (p.sa_flags & SA_SIGINFO)
        p.sa_sigaction(sig, info, context);
      else
        p.sa_handler(sig);
      g_chaining.fetch_sub(1);
      return;
    }
    g_chaining.fetch_sub(1);
  }
  restore_default();  // a fault runs again and ends the process
  if (!info || info->si_code <= 0) raise(sig);
}

}  // namespace

void SigbusGuard::ensure_installed() {
  struct sigaction current {};
  if (sigaction(SIGBUS, nullptr, &current) != 0) return;
  if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_sigbus) return;
  std::lock_guard<ForkSafeMutex> lock(*g_registry_mutex);
  struct sigaction ours {};
  ours.sa_sigaction = on_sigbus;
  ours.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&ours.sa_mask);
  struct sigaction before {};
  if (sigaction(SIGBUS, &ours, &before) != 0) return;
  if (!((before.sa_flags & SA_SIGINFO) && before.sa_sigaction == on_sigbus)) {
    g_previous = before;
    g_has_previous.store(true);
  }
}

int SigbusGuard::enter(const void* addr, size_t len) {
  ensure_installed();
  std::lock_guard<ForkSafeMutex> lock(*g_registry_mutex);
  const int used = g_used.load();
  int slot = -1;
  for (int i = 0; i < used && slot < 0; ++i)
    if (g_slots[i].begin.load() == 0) slot = i;
  if (slot < 0) {
    if (used == kSlots) return -1;
    slot = used;
  }
  Slot& s = g_slots[slot];
  s.seq.fetch_add(1, std::memory_order_acq_rel);  // odd: being written
  s.faults.store(0);
  s.end.store(reinterpret_cast<uintptr_t>(addr) + len, std::memory_order_release);
  s.begin.store(reinterpret_cast<uintptr_t>(addr), std::memory_order_release);
  s.seq.fetch_add(1, std::memory_order_acq_rel);  // even: readable
  if (slot == used) g_used.store(used + 1, std::memory_order_release);
  return slot;
}

void SigbusGuard::leave(int slot) {
  if (slot < 0 || slot >= kSlots) return;
  std::lock_guard<ForkSafeMutex> lock(*g_registry_mutex);
  Slot& s = g_slots[slot];
  s.seq.fetch_add(1, std::memory_order_acq_rel);
  s.begin.store(0, std::memory_order_release);
  s.end.store(0, std::memory_order_release);
  s.seq.fetch_add(1, std::memory_order_acq_rel);
}

uint64_t SigbusGuard::total_faults() { return g_total_faults.load(); }

uint32_t SigbusGuard::faults(int slot) {
  if (slot < 0 || slot >= kSlots) return 0;
  return g_slots[slot].faults.load(std::memory_order_acquire);
}

}  // namespace fastchunk
