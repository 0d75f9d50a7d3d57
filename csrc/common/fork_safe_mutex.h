// A process-wide mutex that fork() never copies while it is held: fork()
// waits for it (pthread_atfork prepare) and both the parent and the child
// release it afterwards. A forked child therefore finds it free and the data
// it guards consistent, even when another thread was inside at fork time.
#pragma once
#include <mutex>

namespace fastchunk {

class ForkSafeMutex {
 public:
  ForkSafeMutex();  // registers itself; instances must live until exit
  ForkSafeMutex(const ForkSafeMutex&) = delete;
  ForkSafeMutex& operator=(const ForkSafeMutex&) = delete;

  void lock() { mutex_.lock(); }
  void unlock() { mutex_.unlock(); }
  bool try_lock() { return mutex_.try_lock(); }

 private:
  std::mutex mutex_;
};

}  // namespace fastchunk
