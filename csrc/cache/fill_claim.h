// Claims to fill a key of a FileCache. A process that misses a key and will
// fill it publishes a claim: a file in claims/, locked with flock before it
// appears under its name. Others that miss the same key wait for the entry
// instead of computing it too. The lock lives on the open file, so the kernel
// releases it when the holder dies: a claim of a dead process is free at once.
// A forked child closes its copies of this process's claim descriptors.
// Claims are reached through the claims directory's descriptor, never by path.
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
  friend bool take_claim(int, const std::string&, FillClaim&);
  int fd_ = -1;
  int dir_fd_ = -1;  // a duplicate of the claims directory's descriptor
  std::string name_;
};

// Publishes the claim `name` in the directory `dir_fd` (through a temporary
// file there); false when another process holds it, or the directory refuses.
bool take_claim(int dir_fd, const std::string& name, FillClaim& claim);
// Whether a live process holds the claim `name`.
bool claim_held(int dir_fd, const std::string& name);
// For a waiter that opened the claim `name` as `fd`: true once its holder is
// gone (released, or died: the stale claim is then removed).
bool claim_released(int fd, int dir_fd, const std::string& name);
// Removes claims whose holders died, and temporary files of dead processes.
void remove_stale_claims(int dir_fd);

}  // namespace fastchunk
