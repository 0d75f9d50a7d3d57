// Claims to fill a key of a FileCache. A process that misses a key and will
// fill it publishes a claim: a file in claims/, locked with flock before it
// appears under its name. Others that miss the same key wait for the entry
// instead of computing it too. The lock lives on the open file, so the kernel
// releases it when the holder dies: a claim of a dead process is free at once.
// A forked child closes its copies of this process's claim descriptors.
#pragma once
#include <string>

namespace fastchunk {

class FillClaim {
 public:
  FillClaim() = default;
  FillClaim(FillClaim&& other) noexcept;
  FillClaim& operator=(FillClaim&& other) noexcept;
  FillClaim(const FillClaim&) = delete;
  FillClaim& operator=(const FillClaim&) = delete;
  ~FillClaim() { release(); }
  bool held() const { return fd_ >= 0; }
  void release();

 private:
  friend bool take_claim(const std::string&, const std::string&, FillClaim&);
  int fd_ = -1;
  std::string path_;
};

// Publishes a claim at `path` (through a temporary file in `claims_dir`);
// false when another process holds it, or the directory refuses.
bool take_claim(const std::string& claims_dir, const std::string& path, FillClaim& claim);
// Whether a live process holds the claim at `path`.
bool claim_held(const std::string& path);
// For a waiter that opened the claim at `path` as `fd`: true once its holder
// is gone (released, or died: the stale claim is then removed).
bool claim_released(int fd, const std::string& path);
// Removes claims whose holders died, and temporary files of dead processes.
void remove_stale_claims(const std::string& claims_dir);

}  // namespace fastchunk
