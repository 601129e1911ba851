#include "service/spool_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace conversions::service::spool_internal {

absl::StatusOr<std::unique_ptr<SpoolLock>> SpoolLock::Acquire(
    const std::string& spool_path) {
  const std::string path = spool_path + ".lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "spool: cannot open the lock file ", path, ": ", strerror(errno)));
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char pid[32] = {};
    const ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
    close(fd);
    if (error == EWOULDBLOCK) {
      std::string owner(pid, n > 0 ? static_cast<size_t>(n) : 0);
      while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) {
        owner.pop_back();
      }
      return absl::FailedPreconditionError(
          absl::StrCat("spool: ", spool_path, " is in use by another process",
                       owner.empty() ? "" : absl::StrCat(" (pid ", owner, ")"),
                       "; each gateway needs a spool of its own (spool.path)"));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("spool: cannot lock ", path, ": ", strerror(error)));
  }
  // The pid is for the message above; the lock is what counts.
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) !=
                                   static_cast<ssize_t>(pid.size())) {
    // Not fatal: the lock is held all the same.
  }
  return std::unique_ptr<SpoolLock>(new SpoolLock(fd));
}

SpoolLock::~SpoolLock() { close(fd_); }

}  // namespace conversions::service::spool_internal
