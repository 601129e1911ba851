// A small tmpfs mounted over a test's folder, in a mount namespace of the
// test process's own (so nothing else sees it), for tests of a full disk.
// Needs root (CAP_SYS_ADMIN): Mount says why it cannot, for GTEST_SKIP.
#ifndef CONVERSIONS_TESTS_SERVICE_PRIVATE_TMPFS_H_
#define CONVERSIONS_TESTS_SERVICE_PRIVATE_TMPFS_H_

#include <sched.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace conversions::testing {

class PrivateTmpfs {
 public:
  PrivateTmpfs() = default;
  ~PrivateTmpfs() {
    if (!dir_.empty()) umount2(dir_.c_str(), MNT_DETACH);
  }
  PrivateTmpfs(const PrivateTmpfs&) = delete;
  PrivateTmpfs& operator=(const PrivateTmpfs&) = delete;

  // Mounts a tmpfs of `size` ("2m") over the folder `dir`; "" when done,
  // else why not. Call before the test starts threads: a new mount
  // namespace is the calling thread's, and threads started later share it.
  std::string Mount(const std::string& dir, const char* size) {
    if (unshare(CLONE_NEWNS) != 0) {
      return std::string("no mount namespace: ") + std::strerror(errno);
    }
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        mount("tmpfs", dir.c_str(), "tmpfs", 0,
              (std::string("size=") + size).c_str()) != 0) {
      return std::string("cannot mount a tmpfs: ") + std::strerror(errno);
    }
    dir_ = dir;
    return "";
  }

  // Gives the mounted tmpfs a new size ("64m"); "" when done.
  std::string Resize(const char* size) {
    if (mount(nullptr, dir_.c_str(), nullptr, MS_REMOUNT,
              (std::string("size=") + size).c_str()) != 0) {
      return std::string("cannot resize the tmpfs: ") + std::strerror(errno);
    }
    return "";
  }

 private:
  std::string dir_;  // mounted over, when not empty
};

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_SERVICE_PRIVATE_TMPFS_H_
