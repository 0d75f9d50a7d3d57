#include "engine/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/fork_safe_mutex.h"

namespace fastchunk {
namespace {

constexpr int kMaxThreads = 1024;

struct Job {
  const std::function<void(int64_t)>* fn;
  int64_t n;
  int max_helpers = 0;  // workers allowed besides the caller (a per-call thread count)
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  int helpers = 0;  // workers currently inside this job; guarded by Pool::mutex_
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
    post(job);
    finish(job);
  }

  // Offers the job to the workers; the caller goes on.
  void post(Job& job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(&job);
    }
    wake_.notify_all();
  }

  // Runs what no worker took, then waits for the workers inside the job.
  void finish(Job& job) {
    job.run_indices();
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = std::find(jobs_.begin(), jobs_.end(), &job);
    if (it != jobs_.end()) jobs_.erase(it);
    done_.wait(lock, [&] { return job.helpers == 0; });
  }

 private:
  // The oldest job a worker may join; exhausted jobs are dropped on the way.
  Job* joinable() {
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      Job* job = *it;
      if (job->exhausted()) {
        it = jobs_.erase(it);
        continue;
      }
      if (job->helpers < job->max_helpers) return job;
      ++it;
    }
    return nullptr;
  }

  void work() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      Job* job = nullptr;
      wake_.wait(lock, [&] { return stop_ || (job = joinable()) != nullptr; });
      if (stop_) return;
      ++job->helpers;
      lock.unlock();
      job->run_indices();
      lock.lock();
      if (--job->helpers == 0) done_.notify_all();
      wake_.notify_all();  // a capped job has room again
    }
  }

  int nthreads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::deque<Job*> jobs_;
  bool stop_ = false;
};

// The pool in use, big enough for the largest thread count asked for since
// the process-wide setting last changed. A replaced pool is released by the
// last job that holds it (its destructor joins its workers). In a forked
// child the parent's workers do not exist: the pool is dropped there without
// being destroyed, and the next job builds a new one.
std::shared_ptr<Pool>* g_pool = new std::shared_ptr<Pool>;
int g_pool_setting = -1;  // the process-wide count when the pool was built; guarded by g_mutex
std::atomic<int> g_requested{0};
thread_local int t_requested = 0;  // set_thread_num_threads: this thread's own count

void drop_pool_in_child() {
  g_pool = new std::shared_ptr<Pool>;  // the old holder, and its pool, are leaked on purpose
  g_pool_setting = -1;
}

ForkSafeMutex* const g_mutex = new ForkSafeMutex(LockRank::kThreadPool, drop_pool_in_child);

int process_num_threads() {
  const int n = g_requested.load();
  return n > 0 ? n : default_num_threads();
}

// The pool grows for a caller asking for more threads than it has, and keeps
// that size until the process-wide count changes (so callers with different
// counts never rebuild it in turn); each job still runs on its own count.
std::shared_ptr<Pool> pool_for(int threads) {
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  const int setting = process_num_threads();
  std::shared_ptr<Pool>& pool = *g_pool;
  if (!pool || setting != g_pool_setting) {
    pool = std::make_shared<Pool>(std::max(threads, setting));
    g_pool_setting = setting;
  } else if (pool->size() < threads) {
    pool = std::make_shared<Pool>(threads);
  }
  return pool;
}

}  // namespace

struct BackgroundWork::State {
  std::function<void(int64_t)> fn;
  Job job;
  std::shared_ptr<Pool> pool;
  bool finished = false;
};

BackgroundWork::BackgroundWork(int64_t n, std::function<void(int64_t)> fn, int threads)
    : state_(new State) {
  threads = threads < 1 ? num_threads() : std::min(threads, kMaxThreads);
  State& st = *state_;
  st.fn = std::move(fn);
  st.job.fn = &st.fn;
  st.job.n = std::max<int64_t>(n, 0);
  if (threads < 2 || st.job.n == 0) return;  // no worker to hand it to: wait() runs it
  st.job.max_helpers = int(std::min<int64_t>(threads - 1, st.job.n));
  st.pool = pool_for(threads);
  st.pool->post(st.job);
}

BackgroundWork::~BackgroundWork() { wait(); }

void BackgroundWork::wait() {
  State& st = *state_;
  if (st.finished) return;
  st.finished = true;
  if (st.pool)
    st.pool->finish(st.job);
  else
    st.job.run_indices();
}

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

void set_num_threads(int n) { g_requested.store(n < 1 ? 0 : std::min(n, kMaxThreads)); }

void set_thread_num_threads(int n) { t_requested = n < 1 ? 0 : std::min(n, kMaxThreads); }

int num_threads() { return t_requested > 0 ? t_requested : process_num_threads(); }

void parallel_for(int64_t n, const std::function<void(int64_t)>& fn, int threads) {
  if (n <= 0) return;
  threads = threads < 1 ? num_threads() : std::min(threads, kMaxThreads);
  if (n == 1 || threads == 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  Job job;
  job.fn = &fn;
  job.n = n;
  job.max_helpers = int(std::min<int64_t>(threads - 1, n - 1));
  pool_for(threads)->run(job);
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace fastchunk
