// Large buffers kept for reuse. Reused memory costs nothing; fresh memory
// costs the kernel a fault, an allocation and the zeroing of each page, and
// on a virtual machine sometimes the host's work to back the page again.
// Cache entries read into memory and the outputs Python allocates for reads
// (take(idx), a[...]) come from here.
//
// Fresh buffers of at least kMappedMin bytes are mappings of their own,
// sized to whole pages, of normal pages (MADV_NOHUGEPAGE) and populated in
// bulk (populate(): MADV_POPULATE_WRITE, one call for many pages, instead of
// one fault per page), so that a first touch costs the same under every
// transparent-huge-page setting. Huge pages were measured slower to touch
// first on virtual machines (a 2 MiB fault takes memory the guest gave back
// to the host: 0.1-0.5 GB/s against 1-1.5 GB/s for populated 4 KiB pages;
// docs/architecture.md), and with defrag=always they may stall in direct
// compaction; THP=always would give them to large mappings unasked.
//
// Given-back buffers are kept up to a byte budget (FASTCHUNK_BUFFER_POOL_BYTES,
// default an eighth of the machine's memory, at most 4 GiB; 0 keeps none)
// and a count (1024), least recently given back dropped first; a buffer kept unused
// for kIdleReleaseSeconds is given back to the OS (munmap) by the next take or give.
// Fork-safe.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastchunk {

constexpr size_t kMappedMin = size_t(1) << 20;
constexpr double kIdleReleaseSeconds = 10.0;  // the default; set_buffer_pool_idle_release

// A buffer of at least n bytes; `capacity` receives its size (give it back
// with it). nullptr when memory is refused. Its contents are undefined.
// With `fresh`, a new mapping is left unpopulated and *fresh says so (the
// caller populates it, e.g. in parallel); without, it is populated here.
uint8_t* take_buffer(size_t n, size_t& capacity, bool* fresh = nullptr);
void give_buffer(uint8_t* p, size_t capacity);

// Makes the pages of [p, p + n) present and writable now (their contents
// are unchanged): one madvise(MADV_POPULATE_WRITE) where the kernel has it
// (Linux 5.14), else a write per page. For fresh mappings, where it replaces
// a fault per page.
void populate(uint8_t* p, size_t n);

// Fresh mappings may be handed out unpopulated and populated later, on
// other threads, while a read writes into them: populate() there makes pages
// present without writing to them (MADV_POPULATE_WRITE). False on kernels
// without it, where populate() writes to each page.
bool populate_leaves_contents();

// Fresh output buffers left unpopulated for the read that fills them
// (api/memory_api): noted here until that read claims them (take_unpopulated)
// or they are given back. At most a few dozen are remembered; the pages of a
// forgotten one fault in as they are written.
void note_unpopulated(uint8_t* p, size_t n);
// The part of [p, p + n) noted unpopulated, no longer noted ({nullptr, 0}:
// none); the rest of that buffer stays noted.
struct PageRange {
  uint8_t* data = nullptr;
  size_t size = 0;
};
PageRange take_unpopulated(uint8_t* p, size_t n);

struct BufferPoolStats {
  size_t budget = 0, kept_bytes = 0, kept_buffers = 0;
  uint64_t reused = 0, made = 0;
  uint64_t released = 0;        // kept buffers given back to the OS
  uint64_t released_bytes = 0;  // ... and their bytes
  uint64_t made_bytes = 0;      // bytes of fresh mappings made
};
BufferPoolStats buffer_pool_stats();
void set_buffer_pool_budget(size_t bytes);  // drops kept buffers beyond it
void set_buffer_pool_idle_release(double seconds);
void clear_buffer_pool();

// Called (outside the pool's lock) after the kept buffers changed; one
// listener (the process's stats page, csrc/cache/process_stats).
void set_buffer_pool_listener(void (*listener)());

}  // namespace fastchunk
