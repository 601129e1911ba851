// The spool's process lock (service/spool.cc). Internal to the spool.
#ifndef CONVERSIONS_SERVICE_SPOOL_LOCK_H_
#define CONVERSIONS_SERVICE_SPOOL_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace conversions::service::spool_internal {

// An exclusive lock on the spool, held while it is open: `<path>.lock`,
// locked with flock and holding the owner's pid. SQLite lets any number of
// processes open one database, and the payload log has no lock of its
// own, so two gateways on one spool would each delete payload segments
// the other's rows still name, and events both answered ACCEPTED for would
// be lost. The kernel drops the lock when the process dies, kill -9
// included, so a stale file never blocks a restart.
class SpoolLock {
 public:
  // FAILED_PRECONDITION, naming the owner's pid, when another process
  // holds it.
  static absl::StatusOr<std::unique_ptr<SpoolLock>> Acquire(
      const std::string& spool_path);

  ~SpoolLock();
  SpoolLock(const SpoolLock&) = delete;
  SpoolLock& operator=(const SpoolLock&) = delete;

 private:
  explicit SpoolLock(int fd) : fd_(fd) {}
  const int fd_;
};

}  // namespace conversions::service::spool_internal

#endif  // CONVERSIONS_SERVICE_SPOOL_LOCK_H_
