#include "service/spool_reserve.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <utility>

namespace conversions::service {
namespace {

std::string FolderOf(const std::string& path) {
  std::filesystem::path folder =
      std::filesystem::absolute(std::filesystem::path(path)).parent_path();
  return folder.empty() ? std::string(".") : folder.string();
}

}  // namespace

SpoolReserve::SpoolReserve(std::string path, std::int64_t bytes)
    : path_(std::move(path)), bytes_(bytes) {
  if (bytes_ >= 0) return;
  struct statvfs fs;
  std::int64_t size = 0;
  if (statvfs(FolderOf(path_).c_str(), &fs) == 0) {
    size = static_cast<std::int64_t>(fs.f_blocks) *
           static_cast<std::int64_t>(fs.f_frsize);
  }
  bytes_ =
      std::clamp<std::int64_t>(size / 8, kMinDefaultBytes, kMaxDefaultBytes);
}

std::int64_t SpoolReserve::FreeBytes() const {
  struct statvfs fs;
  if (statvfs(FolderOf(path_).c_str(), &fs) != 0) return -1;
  return static_cast<std::int64_t>(fs.f_bavail) *
         static_cast<std::int64_t>(fs.f_frsize);
}

bool SpoolReserve::TryHold() {
  std::lock_guard<std::mutex> lock(mu_);
  if (held_ || bytes_ == 0) return true;
  // A file an earlier run left, all of its blocks allocated: held as it is.
  struct stat st;
  if (stat(path_.c_str(), &st) == 0 && st.st_size == bytes_ &&
      static_cast<std::int64_t>(st.st_blocks) * 512 >= bytes_) {
    held_ = true;
    return true;
  }
  const std::int64_t free = FreeBytes();
  if (free >= 0 && free < 2 * bytes_) return false;
  const int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  // Blocks allocated, not a sparse file: they are what the file holds back.
  int rc = posix_fallocate(fd, 0, bytes_);
  if (rc == 0 && ftruncate(fd, bytes_) != 0) rc = -1;  // a larger old one
  close(fd);
  if (rc != 0) {
    unlink(path_.c_str());
    return false;
  }
  held_ = true;
  return true;
}

void SpoolReserve::Release() {
  std::lock_guard<std::mutex> lock(mu_);
  if (bytes_ == 0) return;
  unlink(path_.c_str());
  held_ = false;
}

bool SpoolReserve::held() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_;
}

}  // namespace conversions::service
