#include "service/payload_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <isa-l/crc.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "service/storage_status.h"

namespace conversions::service {

struct PayloadLog::File {
  File(std::int64_t s, int f) : segment(s), fd(f) {}
  ~File() { close(fd); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  const std::int64_t segment;
  const int fd;
};

namespace {

// Appended bytes buffered at most before they are written.
constexpr size_t kMaxPendingBytes = 1 << 20;
// The next segment while it is being prepared, and once it is ready.
constexpr char kPreparedName[] = "prepared.tmp";
// Zeros written at once when preparing.
constexpr size_t kPrepareChunk = 256 << 10;

// A failed system call; a full disk or quota is marked as such
// (storage_status.h), so that callers are told RESOURCE_EXHAUSTED.
absl::Status Errno(const std::string& what) {
  const int error = errno;
  std::string message =
      absl::StrCat("payload log: ", what, ": ", strerror(error));
  if (error == ENOSPC || error == EDQUOT) return DiskFullError(message);
  return absl::InternalError(message);
}

}  // namespace

std::uint32_t PayloadCrc(std::string_view bytes) {
  // zlib's crc32(0, bytes, n) (the CRC-32 of gzip and PNG), which files
  // of earlier builds hold.
  return crc32_gzip_refl(
      0, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

PayloadLog::PayloadLog(std::string dir, int dir_fd, std::int64_t segment_bytes,
                       std::int64_t prepare_max_flush_bytes)
    : dir_(std::move(dir)),
      dir_fd_(dir_fd),
      segment_bytes_(segment_bytes),
      prepare_max_flush_bytes_(prepare_max_flush_bytes) {}

PayloadLog::~PayloadLog() {
  {
    absl::MutexLock lock(&prep_mu_);
    prep_stop_ = true;
  }
  if (preparer_.joinable()) preparer_.join();
  // An unused prepared file goes: 64 MiB of zeros are not worth keeping.
  if (prepared_fd_ >= 0) {
    close(prepared_fd_);
    unlinkat(dir_fd_, kPreparedName, 0);
  }
  close(dir_fd_);
}

std::string PayloadLog::PathOf(std::int64_t segment) const {
  return absl::StrCat(dir_, "/", segment, ".log");
}

absl::StatusOr<std::unique_ptr<PayloadLog>> PayloadLog::Open(
    const std::string& dir, std::int64_t min_segment,
    std::int64_t segment_bytes, std::int64_t prepare_max_flush_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("payload log: cannot create ", dir, ": ", ec.message()));
  }
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Errno(absl::StrCat("open ", dir));
  std::unique_ptr<PayloadLog> log(
      new PayloadLog(dir, dir_fd, segment_bytes < 1 ? 1 : segment_bytes,
                     prepare_max_flush_bytes));
  // Left by a crash, prepared or not: zeros only.
  if (unlinkat(dir_fd, kPreparedName, 0) != 0 && errno != ENOENT) {
    return Errno(absl::StrCat("remove ", dir, "/", kPreparedName));
  }
  std::int64_t next = min_segment;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::int64_t segment;
    if (!absl::EndsWith(name, ".log") ||
        !absl::SimpleAtoi(name.substr(0, name.size() - 4), &segment) ||
        segment < 0) {
      continue;  // not ours
    }
    const int fd = open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno(absl::StrCat("open ", entry.path().string()));
    absl::MutexLock lock(&log->mu_);
    log->files_[segment] = std::make_shared<File>(segment, fd);
    next = std::max(next, segment + 1);
  }
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("payload log: cannot list ", dir, ": ", ec.message()));
  }
  absl::Status s = log->StartSegment(next);
  if (!s.ok()) return s;
  return log;
}

absl::Status PayloadLog::StartSegment(std::int64_t segment) {
  const std::string path = PathOf(segment);
  int fd = TakePrepared();
  if (fd >= 0 &&
      renameat2(dir_fd_, kPreparedName, dir_fd_,
                absl::StrCat(segment, ".log").c_str(), RENAME_NOREPLACE) != 0) {
    // Never over an existing segment; a file system that cannot rename
    // that way gets new files only.
    close(fd);
    unlinkat(dir_fd_, kPreparedName, 0);
    fd = -1;
  }
  if (fd < 0)
    fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("create ", path));
  // The new name must survive a power loss as much as the bytes in it.
  if (fsync(dir_fd_) != 0) {
    close(fd);
    return Errno(absl::StrCat("fsync ", dir_));
  }
  auto file = std::make_shared<File>(segment, fd);
  absl::MutexLock lock(&mu_);
  files_[segment] = file;
  current_ = std::move(file);
  offset_ = 0;
  flushes_ = 0;
  prepare_asked_ = false;
  return absl::OkStatus();
}

void PayloadLog::MaybePrepare() {
  if (prepare_asked_ || prepare_max_flush_bytes_ <= 0 ||
      offset_ < segment_bytes_ / 4 || flushes_ == 0) {
    return;
  }
  prepare_asked_ = true;  // decided for this segment, either way
  if (offset_ / flushes_ > prepare_max_flush_bytes_) return;
  absl::MutexLock lock(&prep_mu_);
  if (prepared_fd_ >= 0 || prep_busy_) return;  // one is, or will be, ready
  prep_wanted_ = true;
  if (!preparer_.joinable()) preparer_ = std::thread([this] { PrepareLoop(); });
}

int PayloadLog::TakePrepared() {
  absl::MutexLock lock(&prep_mu_);
  const int fd = prepared_fd_;
  prepared_fd_ = -1;
  return fd;
}

void PayloadLog::DropPrepared() {
  // One being made is not ready, and fails on a full disk by itself.
  const int fd = TakePrepared();
  if (fd < 0) return;
  close(fd);
  unlinkat(dir_fd_, kPreparedName, 0);
}

bool PayloadLog::AwaitPrepared() {
  absl::MutexLock lock(&prep_mu_);
  prep_mu_.Await(absl::Condition(
      +[](PayloadLog* log) { return !log->prep_wanted_ && !log->prep_busy_; },
      this));
  return prepared_fd_ >= 0;
}

void PayloadLog::PrepareLoop() {
  // Named for `top -H` and profilers (at most 15 characters).
  pthread_setname_np(pthread_self(), "payload-prep");
  const std::string zeros(kPrepareChunk, '\0');
  for (;;) {
    {
      absl::MutexLock lock(&prep_mu_);
      prep_mu_.Await(absl::Condition(
          +[](PayloadLog* log) { return log->prep_wanted_ || log->prep_stop_; },
          this));
      if (prep_stop_) return;
      prep_wanted_ = false;
      prep_busy_ = true;
    }
    // A failure (a full disk, say) leaves no file: the next segment is then
    // a new one, as without preparing.
    int fd = openat(dir_fd_, kPreparedName,
                    O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0;
    for (std::int64_t off = 0; ok && off < segment_bytes_;) {
      {
        absl::MutexLock lock(&prep_mu_);
        if (prep_stop_) {
          ok = false;
          break;
        }
      }
      const size_t n = static_cast<size_t>(
          std::min<std::int64_t>(kPrepareChunk, segment_bytes_ - off));
      const ssize_t written = pwrite(fd, zeros.data(), n, off);
      if (written < 0 && errno == EINTR) continue;
      ok = written > 0;
      // One chunk on its way to the disk at a time, so that the spool's
      // own syncs never queue behind many.
      if (ok) {
        ok = sync_file_range(fd, off, written,
                             SYNC_FILE_RANGE_WAIT_BEFORE |
                                 SYNC_FILE_RANGE_WRITE |
                                 SYNC_FILE_RANGE_WAIT_AFTER) == 0;
      }
      if (ok) off += written;
    }
    if (ok) ok = fdatasync(fd) == 0;
    if (!ok && fd >= 0) {
      close(fd);
      unlinkat(dir_fd_, kPreparedName, 0);
      fd = -1;
    }
    absl::MutexLock lock(&prep_mu_);
    prep_busy_ = false;
    prepared_fd_ = fd;
  }
}

std::vector<std::int64_t> PayloadLog::Segments() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::int64_t> out;
  for (const auto& [segment, file] : files_) out.push_back(segment);
  return out;
}

std::int64_t PayloadLog::current() const {
  absl::MutexLock lock(&mu_);
  return current_->segment;
}

absl::StatusOr<PayloadLocation> PayloadLog::Append(std::string_view bytes,
                                                   std::uint32_t crc) {
  std::int64_t segment;
  {
    absl::MutexLock lock(&mu_);
    segment = current_->segment;
  }
  if (offset_ > 0 &&
      offset_ + static_cast<std::int64_t>(bytes.size()) > segment_bytes_) {
    absl::Status s = WritePending();
    if (s.ok()) s = StartSegment(segment + 1);
    if (!s.ok()) return s;
    ++segment;
  }
  PayloadLocation at;
  at.segment = segment;
  at.offset = offset_;
  at.length = static_cast<std::int64_t>(bytes.size());
  at.crc = crc;
  pending_.append(bytes.data(), bytes.size());
  offset_ += at.length;
  // A large group is written in pieces, so the buffer stays small.
  if (pending_.size() >= kMaxPendingBytes) {
    absl::Status s = WritePending();
    if (!s.ok()) return s;
  }
  return at;
}

absl::Status PayloadLog::Flush() {
  if (pending_.empty()) return absl::OkStatus();
  ++flushes_;
  absl::Status status = WritePending();
  MaybePrepare();
  return status;
}

absl::Status PayloadLog::WritePending() {
  if (pending_.empty()) return absl::OkStatus();
  std::shared_ptr<File> file;
  {
    absl::MutexLock lock(&mu_);
    file = current_;
  }
  const std::int64_t start =
      offset_ - static_cast<std::int64_t>(pending_.size());
  size_t done = 0;
  absl::Status status;
  while (done < pending_.size()) {
    const ssize_t n =
        pwrite(file->fd, pending_.data() + done, pending_.size() - done,
               start + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // The offsets handed out stay; what is missing reads as damaged.
      status = Errno(absl::StrCat("write ", PathOf(file->segment)));
      break;
    }
    done += static_cast<size_t>(n);
  }
  pending_.clear();
  if (done > 0) {
    // Marked after the write: a Sync that takes the mark then covers it.
    absl::MutexLock lock(&mu_);
    if (unsynced_.empty() || unsynced_.back() != file) {
      unsynced_.push_back(file);
    }
  }
  return status;
}

std::shared_ptr<PayloadLog::File> PayloadLog::Find(std::int64_t segment) const {
  absl::MutexLock lock(&mu_);
  auto it = files_.find(segment);
  return it == files_.end() ? nullptr : it->second;
}

absl::StatusOr<size_t> PayloadLog::ReadAt(const File& file, std::int64_t offset,
                                          size_t length, char* out) const {
  size_t done = 0;
  while (done < length) {
    const ssize_t n = pread(file.fd, out + done, length - done,
                            offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno(absl::StrCat("read ", PathOf(file.segment)));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

absl::Status PayloadLog::Check(const PayloadLocation& at, size_t read,
                               std::string* out) const {
  if (read == static_cast<size_t>(at.length) && PayloadCrc(*out) == at.crc) {
    return absl::OkStatus();
  }
  out->clear();
  return absl::DataLossError(absl::StrCat(
      "payload log: the payload at ", at.segment, ":", at.offset, " is ",
      read != static_cast<size_t>(at.length) ? "short" : "damaged"));
}

absl::Status PayloadLog::Read(const PayloadLocation& at,
                              std::string* out) const {
  std::shared_ptr<File> file = Find(at.segment);
  if (file == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("payload log: segment ", at.segment, " is gone"));
  }
  out->resize(static_cast<size_t>(at.length));
  absl::StatusOr<size_t> n = ReadAt(*file, at.offset, out->size(), out->data());
  if (!n.ok()) return n.status();
  return Check(at, *n, out);
}

std::vector<absl::Status> PayloadLog::ReadMany(
    const std::vector<PayloadLocation>& at,
    const std::vector<std::string*>& out) const {
  // At most this much is read at once.
  constexpr std::int64_t kMaxRead = 4 << 20;
  std::vector<absl::Status> status(at.size());
  std::vector<size_t> order(at.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(at[a].segment, at[a].offset) <
           std::tie(at[b].segment, at[b].offset);
  });
  std::string buffer;
  for (size_t i = 0; i < order.size();) {
    // A run: payloads of one segment, each starting where the last ended.
    const PayloadLocation& first = at[order[i]];
    size_t j = i + 1;
    std::int64_t end = first.offset + first.length;
    while (j < order.size() && at[order[j]].segment == first.segment &&
           at[order[j]].offset == end &&
           end + at[order[j]].length - first.offset <= kMaxRead) {
      end += at[order[j]].length;
      ++j;
    }
    std::shared_ptr<File> file = Find(first.segment);
    absl::StatusOr<size_t> n = absl::NotFoundError(
        absl::StrCat("payload log: segment ", first.segment, " is gone"));
    if (file != nullptr) {
      buffer.resize(static_cast<size_t>(end - first.offset));
      n = ReadAt(*file, first.offset, buffer.size(), buffer.data());
    }
    for (size_t k = i; k < j; ++k) {
      const PayloadLocation& a = at[order[k]];
      std::string* o = out[order[k]];
      if (!n.ok()) {
        status[order[k]] = n.status();
        continue;
      }
      const auto from = static_cast<size_t>(a.offset - first.offset);
      const size_t got =
          *n > from ? std::min(*n - from, static_cast<size_t>(a.length)) : 0;
      o->assign(buffer.data() + (got > 0 ? from : 0), got);
      status[order[k]] = Check(a, got, o);
    }
    i = j;
  }
  return status;
}

absl::Status PayloadLog::Sync() {
  std::vector<std::shared_ptr<File>> files;
  {
    absl::MutexLock lock(&mu_);
    files.swap(unsynced_);
  }
  for (const auto& file : files) {
    if (fdatasync(file->fd) != 0) {
      return Errno(absl::StrCat("fdatasync ", PathOf(file->segment)));
    }
  }
  return absl::OkStatus();
}

absl::Status PayloadLog::Remove(std::int64_t segment) {
  {
    absl::MutexLock lock(&mu_);
    if (current_ != nullptr && current_->segment == segment) {
      return absl::FailedPreconditionError(
          "payload log: the current segment cannot be removed");
    }
    files_.erase(segment);
  }
  if (unlink(PathOf(segment).c_str()) != 0 && errno != ENOENT) {
    return Errno(absl::StrCat("remove ", PathOf(segment)));
  }
  return absl::OkStatus();
}

}  // namespace conversions::service
