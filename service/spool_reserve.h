// Disk space the spool holds back for the writes that free space.
//
// Recording that events were delivered takes a little disk (SQLite's WAL
// and database pages, the copies of payloads a removed log file still
// holds), and only recorded deliveries let the spool delete payload log
// files. On a disk filled by queued events, nothing could be recorded, so
// nothing could ever be freed: the events would be sent again and again.
// So the spool keeps `<spool path>.reserve`, a file of allocated blocks
// (zeros), while there is room; a write that finds the disk full deletes it
// (Release), which gives its blocks to the outcomes, and the spool takes no
// new events until the file system has room for the reserve again
// (TryHold). Internal to the spool (service/sqlite_spool.h).
#ifndef CONVERSIONS_SERVICE_SPOOL_RESERVE_H_
#define CONVERSIONS_SERVICE_SPOOL_RESERVE_H_

#include <cstdint>
#include <mutex>
#include <string>

namespace conversions::service {

class SpoolReserve {
 public:
  // The default size: 1/8 of the file system, between these bounds.
  // Recording the delivery of 1,000 events took about 470 KB of a WAL that
  // had to grow (a spool filled in one burst, never checkpointed), and a
  // 64 MiB payload log file of 1.3 KB events goes once about 50,000 of them
  // are delivered: about 24 MB. A spool whose WAL has reached its size
  // (64 MB) and is checkpointed writes over it instead, and needs little.
  static constexpr std::int64_t kMinDefaultBytes = 1 << 20;
  static constexpr std::int64_t kMaxDefaultBytes = 64 << 20;

  // `bytes`: the reserve's size; 0 for none, negative for the default
  // (of the file system that holds `path`'s folder).
  SpoolReserve(std::string path, std::int64_t bytes);
  SpoolReserve(const SpoolReserve&) = delete;
  SpoolReserve& operator=(const SpoolReserve&) = delete;

  // Holds the reserve, allocating the file when it is not held: true when
  // held (or when there is none to hold). Allocates only when the file
  // system has room for it twice over, so that holding it does not fill
  // the disk at once. Thread-safe.
  bool TryHold();

  // Deletes the file, if held. Thread-safe.
  void Release();

  bool held() const;
  std::int64_t bytes() const { return bytes_; }
  const std::string& path() const { return path_; }
  // Bytes the file system has free for unprivileged users now (statvfs),
  // or -1 when it cannot tell.
  std::int64_t FreeBytes() const;

 private:
  const std::string path_;
  std::int64_t bytes_ = 0;
  mutable std::mutex mu_;
  bool held_ = false;  // guarded by mu_
};

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_SPOOL_RESERVE_H_
