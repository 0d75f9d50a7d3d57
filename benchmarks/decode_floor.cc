// The decode floor: read the chunk files and decode them with the C library
// alone (ZSTD_decompressDCtx / blosc_decompress_ctx), with T std::threads, into
// one preallocated buffer. Nothing else: no planning, no Python, no copies
// beyond the region copies a partial read needs. bench_read.py writes the job
// file and compiles this program (g++ -O3, system libzstd and libblosc).
//
// Two sources: `pread` reads each chunk's bytes inside the timing (into a
// reused per-thread buffer: the copy out of the page cache is timed), `memory`
// reads every chunk the job names once, before timing, and decodes from those
// copies: decoding alone, the true floor for data in the page cache.
//
// Job file, whitespace separated:
//   codec zstd|blosc   threads T   repeats R   mode throughput|latency
//   [source pread|memory]   (default pread)
//   [dump PATH]        (write the output of the first batch there, once)
//   batch OUT_BYTES NTASKS
//   task OFFSET LENGTH DECODED OUT_OFFSET NSEG SRC_OFF SEG_BYTES SRC_STRIDE DST_STRIDE PATH
//   ... one task line per chunk, one batch line per batch
// A task reads LENGTH bytes at OFFSET of PATH and decodes DECODED bytes. With
// NSEG = 0 it decodes straight into the output at OUT_OFFSET; otherwise it
// decodes into a per-thread scratch buffer (blosc: only the blocks that hold
// the segments) and copies NSEG segments of SEG_BYTES from SRC_OFF +
// s*SRC_STRIDE to OUT_OFFSET + s*DST_STRIDE.
//
// Output: "repeat I SECONDS CPU_SECONDS" per repeat (throughput: all batches, one after
// the other, each batch spread over the threads), or "latency_us MEDIAN MIN"
// (latency: each batch timed alone on the calling thread).
#include <blosc.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

struct Task {
  std::string path;
  uint64_t offset, length, decoded, out_offset;
  uint64_t nseg, src_off, seg_bytes, src_stride, dst_stride;
  const uint8_t* loaded = nullptr;  // source memory: the stored bytes, read before timing
};

struct Batch {
  uint64_t out_bytes = 0;
  std::vector<Task> tasks;
};

struct Job {
  std::string codec = "zstd", mode = "throughput", dump, source = "pread";
  int threads = 1, repeats = 1;
  std::vector<Batch> batches;
};

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

Job parse_job(const char* file) {
  std::ifstream in(file);
  if (!in) fail(std::string("cannot open job file ") + file);
  Job job;
  std::string word;
  while (in >> word) {
    if (word == "codec") in >> job.codec;
    else if (word == "threads") in >> job.threads;
    else if (word == "repeats") in >> job.repeats;
    else if (word == "mode") in >> job.mode;
    else if (word == "dump") in >> job.dump;
    else if (word == "source") in >> job.source;
    else if (word == "batch") {
      Batch b;
      size_t n = 0;
      in >> b.out_bytes >> n;
      b.tasks.reserve(n);
      job.batches.push_back(std::move(b));
    } else if (word == "task") {
      if (job.batches.empty()) fail("task before batch");
      Task t;
      in >> t.offset >> t.length >> t.decoded >> t.out_offset >> t.nseg >> t.src_off >>
          t.seg_bytes >> t.src_stride >> t.dst_stride >> std::ws;
      std::getline(in, t.path);
      job.batches.back().tasks.push_back(std::move(t));
    } else {
      fail("unknown job word " + word);
    }
  }
  if (job.codec != "zstd" && job.codec != "blosc") fail("codec must be zstd or blosc");
  if (job.threads < 1 || job.repeats < 1) fail("threads and repeats must be >= 1");
  if (job.source != "pread" && job.source != "memory") fail("source must be pread or memory");
  return job;
}

// What one thread owns: a decoder context and two growable buffers.
struct Worker {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  std::vector<uint8_t> compressed, scratch;
  Worker() = default;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() { ZSTD_freeDCtx(dctx); }
};

void read_range(const Task& t, std::vector<uint8_t>& buf) {
  if (buf.size() < t.length) buf.resize(t.length);
  const int fd = open(t.path.c_str(), O_RDONLY);
  if (fd < 0) fail("cannot open " + t.path);
  uint64_t done = 0;
  while (done < t.length) {
    const ssize_t n = pread(fd, buf.data() + done, t.length - done, off_t(t.offset + done));
    if (n <= 0) {
      close(fd);
      fail("short read of " + t.path);
    }
    done += uint64_t(n);
  }
  close(fd);
}

uint32_t le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// Decodes only the blosc blocks that hold the task's segments, each once.
void blosc_decode_blocks(const Task& t, const uint8_t* src, uint8_t* dst) {
  const uint64_t typesize = std::max<uint64_t>(1, src[3]);
  const uint64_t blocksize = le32(src + 8);
  const uint64_t nbytes = le32(src + 4);
  if (blocksize == 0) fail("blosc block size 0");
  const uint64_t nblocks = (nbytes + blocksize - 1) / blocksize;
  std::vector<char> needed(nblocks, 0);
  for (uint64_t s = 0; s < t.nseg; ++s) {
    const uint64_t lo = t.src_off + s * t.src_stride, hi = lo + t.seg_bytes;
    for (uint64_t b = lo / blocksize; b * blocksize < hi; ++b) needed[b] = 1;
  }
  for (uint64_t b = 0; b < nblocks;) {
    if (!needed[b]) { ++b; continue; }
    uint64_t e = b;
    while (e < nblocks && needed[e]) ++e;
    const uint64_t lo = b * blocksize, hi = std::min(nbytes, e * blocksize);
    const int n = blosc_getitem(src, int(lo / typesize), int((hi - lo) / typesize), dst + lo);
    if (n < 0 || uint64_t(n) != hi - lo) fail("blosc_getitem failed for " + t.path);
    b = e;
  }
}

void decode_whole(const std::string& codec, Worker& w, const Task& t, const uint8_t* src,
                  uint8_t* dst) {
  if (codec == "zstd") {
    const size_t n = ZSTD_decompressDCtx(w.dctx, dst, t.decoded, src, t.length);
    if (ZSTD_isError(n) || n != t.decoded) fail("zstd failed for " + t.path);
  } else {
    const int n = blosc_decompress_ctx(src, dst, t.decoded, 1);
    if (n < 0 || uint64_t(n) != t.decoded) fail("blosc failed for " + t.path);
  }
}

void run_task(const std::string& codec, Worker& w, const Task& t, uint8_t* out) {
  const uint8_t* src = t.loaded;
  if (!src) {
    read_range(t, w.compressed);
    src = w.compressed.data();
  }
  if (t.nseg == 0) {
    decode_whole(codec, w, t, src, out + t.out_offset);
    return;
  }
  if (w.scratch.size() < t.decoded) w.scratch.resize(t.decoded);
  if (codec == "blosc") blosc_decode_blocks(t, src, w.scratch.data());
  else decode_whole(codec, w, t, src, w.scratch.data());
  for (uint64_t s = 0; s < t.nseg; ++s)
    std::memcpy(out + t.out_offset + s * t.dst_stride, w.scratch.data() + t.src_off + s * t.src_stride,
                t.seg_bytes);
}

// T persistent threads; run() hands them one batch and waits for it.
class Pool {
 public:
  Pool(int n, const std::string& codec) : codec_(codec), workers_(size_t(n)) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { loop(workers_[size_t(i)]); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& th : threads_) th.join();
  }
  void run(const Batch& b, uint8_t* out) {
    {
      std::lock_guard<std::mutex> g(mu_);
      batch_ = &b;
      out_ = out;
      next_ = 0;
      active_ = int(threads_.size());
      ++generation_;
    }
    cv_.notify_all();
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [this] { return active_ == 0; });
    if (!error_.empty()) fail(error_);
  }

 private:
  void loop(Worker& w) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      for (size_t i; (i = next_.fetch_add(1)) < batch_->tasks.size();) {
        try {
          run_task(codec_, w, batch_->tasks[i], out_);
        } catch (const std::exception& e) {
          std::lock_guard<std::mutex> g(mu_);
          error_ = e.what();
        }
      }
      std::lock_guard<std::mutex> g(mu_);
      if (--active_ == 0) done_cv_.notify_one();
    }
  }

  std::string codec_;
  std::vector<Worker> workers_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const Batch* batch_ = nullptr;
  uint8_t* out_ = nullptr;
  std::atomic<size_t> next_{0};
  int active_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::string error_;
};

double cpu_now() {  // user + system seconds of every thread of this process
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void write_dump(const Job& job, const uint8_t* out) {
  std::ofstream f(job.dump, std::ios::binary);
  f.write(reinterpret_cast<const char*>(out), std::streamsize(job.batches.front().out_bytes));
}

// Source memory: every distinct byte range the job names, read once.
std::map<std::tuple<std::string, uint64_t, uint64_t>, std::vector<uint8_t>> load_all(Job& job) {
  std::map<std::tuple<std::string, uint64_t, uint64_t>, std::vector<uint8_t>> loaded;
  for (auto& b : job.batches)
    for (auto& t : b.tasks) {
      auto& bytes = loaded[{t.path, t.offset, t.length}];
      if (bytes.empty()) read_range(t, bytes);
      t.loaded = bytes.data();
    }
  return loaded;
}

int run(Job& job) {
  const auto loaded = job.source == "memory" ? load_all(job) : decltype(load_all(job)){};
  uint64_t out_bytes = 0;
  for (const auto& b : job.batches) out_bytes = std::max(out_bytes, b.out_bytes);
  std::vector<uint8_t> out(std::max<uint64_t>(out_bytes, 1), 0);  // touched before timing
  if (job.mode == "latency") {
    Worker w;
    std::vector<double> us;
    for (int r = 0; r < job.repeats; ++r)
      for (const auto& b : job.batches) {
        const double t0 = now();
        for (const auto& t : b.tasks) run_task(job.codec, w, t, out.data());
        us.push_back((now() - t0) * 1e6);
      }
    std::sort(us.begin(), us.end());
    std::printf("latency_us %.3f %.3f\n", us[us.size() / 2], us.front());
    return 0;
  }
  Pool pool(job.threads, job.codec);
  for (int r = 0; r < job.repeats; ++r) {
    double t0 = now();
    const double c0 = cpu_now();
    for (const auto& b : job.batches) {
      pool.run(b, out.data());
      if (r == 0 && &b == &job.batches.front() && !job.dump.empty()) {
        const double d0 = now();
        write_dump(job, out.data());
        t0 += now() - d0;  // the dump is not timed
      }
    }
    const double wall = now() - t0;
    std::printf("repeat %d %.6f %.6f\n", r, wall, cpu_now() - c0);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s JOBFILE\n", argv[0]);
    return 2;
  }
  try {
    Job job = parse_job(argv[1]);
    return run(job);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "decode_floor: %s\n", e.what());
    return 1;
  }
}
