#include "engine/thread_pool.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <memory>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace fastchunk {
namespace {

struct Job {
  const std::function<void(int64_t)>* fn;
  int64_t n;
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  int helpers = 0;      // workers currently inside this job; guarded by Pool::mutex
  int max_helpers = 0;  // workers allowed in: the job's thread count less the caller
  std::exception_ptr error;
  std::mutex error_mutex;

  void run_indices() {
    for (;;) {
      const int64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n || failed.load(std::memory_order_relaxed)) return;
      try {
        (*fn)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed.store(true);
      }
    }
  }
  bool exhausted() const { return next.load() >= n || failed.load(); }
};

class Pool {
 public:
  explicit Pool(int nthreads) : nthreads_(nthreads) {
    for (int i = 0; i + 1 < nthreads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return nthreads_; }

  void run(Job& job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(&job);
    }
    wake_.notify_all();
    job.run_indices();
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = std::find(jobs_.begin(), jobs_.end(), &job);
    if (it != jobs_.end()) jobs_.erase(it);
    done_.wait(lock, [&] { return job.helpers == 0; });
  }

 private:
  void work() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      Job* job = nullptr;
      wake_.wait(lock, [&] { return stop_ || (job = open_job()) != nullptr; });
      if (stop_) return;
      ++job->helpers;
      lock.unlock();
      job->run_indices();
      lock.lock();
      if (--job->helpers == 0) done_.notify_all();
    }
  }

  // The first queued job with work left and room for another helper; jobs
  // run by threads with a smaller count than the pool's take fewer helpers.
  // Called with mutex_ held.
  Job* open_job() {
    for (Job* job : jobs_) {
      if (!job->exhausted() && job->helpers < job->max_helpers) return job;
    }
    return nullptr;
  }

  int nthreads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::deque<Job*> jobs_;
  bool stop_ = false;
};

// The pool in use. A resized pool is released by the last job that holds it
// (its destructor joins its workers). In a forked child the parent's pool and
// mutex are replaced and never destroyed: the parent's worker threads do not
// exist there, and its mutex may have been held at fork time.
std::mutex* g_mutex = new std::mutex;
std::shared_ptr<Pool>* g_pool = new std::shared_ptr<Pool>;
std::atomic<int> g_requested{0};
std::atomic<int> g_generation{0};  // bumped by set_num_threads: the pool is rebuilt to fit
thread_local int t_requested = 0;  // set_thread_num_threads: this thread's own count

void after_fork_in_child() {
  g_mutex = new std::mutex;
  g_pool = new std::shared_ptr<Pool>;  // the old holder, and its pool, are leaked on purpose
}

const bool g_atfork_registered = [] {
  pthread_atfork(nullptr, nullptr, after_fork_in_child);
  return true;
}();

int process_num_threads() {
  const int n = g_requested.load();
  return n > 0 ? n : default_num_threads();
}

// A pool with at least `want` threads. It grows for a thread with a larger
// count of its own and keeps that size until set_num_threads changes the
// process-wide count (so alternating callers never rebuild it); each job
// still runs on its own caller's count (Job::max_helpers).
std::shared_ptr<Pool> current_pool(int want) {
  static int built_generation = -1;
  std::lock_guard<std::mutex> lock(*g_mutex);
  const int generation = g_generation.load();
  if (!*g_pool || (*g_pool)->size() < want || generation != built_generation) {
    const int size = std::max(want, process_num_threads());
    if (!*g_pool || (*g_pool)->size() != size) *g_pool = std::make_shared<Pool>(size);
    built_generation = generation;
  }
  return *g_pool;
}

}  // namespace

int default_num_threads() {
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif  // elsewhere (macOS) there is no affinity mask to honour
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? int(hw) : 1;
}

void set_num_threads(int n) {
  g_requested.store(n < 1 ? 0 : std::min(n, 1024));
  g_generation.fetch_add(1);
}

void set_thread_num_threads(int n) { t_requested = n < 1 ? 0 : std::min(n, 1024); }

int num_threads() { return t_requested > 0 ? t_requested : process_num_threads(); }

void parallel_for(int64_t n, const std::function<void(int64_t)>& fn) {
  (void)g_atfork_registered;
  if (n <= 0) return;
  const int threads = num_threads();
  if (n == 1 || threads == 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  Job job;
  job.fn = &fn;
  job.n = n;
  job.max_helpers = threads - 1;
  current_pool(threads)->run(job);
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace fastchunk
