#include "service/spool_syncer.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace conversions::service {

SpoolSyncer::SpoolSyncer(std::string wal_path, PayloadLog* log,
                         sqlite3* checkpoint_db, SpoolSyncObserver observer)
    : wal_path_(std::move(wal_path)),
      log_(log),
      checkpoint_db_(checkpoint_db),
      observer_(std::move(observer)) {}

SpoolSyncer::~SpoolSyncer() { Shutdown(); }

void SpoolSyncer::Start() {
  // Named for `top -H` and profilers (at most 15 characters).
  syncer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "spool-sync");
    SyncLoop();
  });
  log_syncer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "spool-logsync");
    LogSyncLoop();
  });
  checkpointer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "spool-checkpt");
    CheckpointLoop();
  });
}

void SpoolSyncer::Add(std::vector<std::function<void(absl::Status)>> done,
                      std::vector<std::int64_t> removals) {
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    for (auto& d : done) pending_.push_back(std::move(d));
    removals_.insert(removals_.end(), removals.begin(), removals.end());
    ++unsynced_groups_;
  }
  sync_cv_.notify_one();
}

void SpoolSyncer::WaitForFewerThan(int limit) {
  std::unique_lock<std::mutex> lock(sync_mu_);
  synced_cv_.wait(lock, [&] { return unsynced_groups_ < limit; });
}

void SpoolSyncer::RequestCheckpoint() {
  {
    std::lock_guard<std::mutex> lock(checkpoint_mu_);
    checkpoint_wanted_ = true;
  }
  checkpoint_cv_.notify_one();
}

void SpoolSyncer::Shutdown() {
  std::lock_guard<std::mutex> join_lock(join_mu_);
  // The syncer syncs and answers what was added, and stops.
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    sync_stop_ = true;
  }
  sync_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  {
    std::lock_guard<std::mutex> lock(log_sync_mu_);
    log_sync_stop_ = true;
  }
  log_sync_cv_.notify_all();
  if (log_syncer_.joinable()) log_syncer_.join();
  {
    std::lock_guard<std::mutex> lock(checkpoint_mu_);
    checkpoint_stop_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
}

void SpoolSyncer::SyncLoop() {
  for (;;) {
    std::vector<std::function<void(absl::Status)>> done;
    std::vector<std::int64_t> removals;
    int groups = 0;
    {
      std::unique_lock<std::mutex> lock(sync_mu_);
      sync_cv_.wait(lock, [&] { return unsynced_groups_ > 0 || sync_stop_; });
      if (unsynced_groups_ == 0) break;  // stopping, nothing left
      done.swap(pending_);
      removals.swap(removals_);
      groups = unsynced_groups_;
    }
    // The payloads (on the log-sync thread) and the rows that point at
    // them, at the same time: each fdatasync waits for the disk.
    const auto started = std::chrono::steady_clock::now();
    std::uint64_t log_sync;
    {
      std::lock_guard<std::mutex> lock(log_sync_mu_);
      log_sync = ++log_sync_asked_;
    }
    log_sync_cv_.notify_one();
    absl::Status status = SyncWal();
    {
      std::unique_lock<std::mutex> lock(log_sync_mu_);
      log_sync_cv_.wait(lock, [&] { return log_sync_done_ >= log_sync; });
      if (status.ok()) status = log_sync_status_;
    }
    if (observer_) {
      const std::chrono::duration<double> took =
          std::chrono::steady_clock::now() - started;
      observer_({took.count(), static_cast<int>(done.size()), status.ok()});
    }
    // A file that fails to go stays until the next start, which removes
    // files no row needs.
    for (std::int64_t segment : removals) {
      if (status.ok()) log_->Remove(segment).IgnoreError();
    }
    {
      std::lock_guard<std::mutex> lock(sync_mu_);
      unsynced_groups_ -= groups;
    }
    synced_cv_.notify_all();
    for (auto& d : done) d(status);
  }
  if (wal_fd_ >= 0) close(wal_fd_);
}

void SpoolSyncer::LogSyncLoop() {
  std::unique_lock<std::mutex> lock(log_sync_mu_);
  for (;;) {
    log_sync_cv_.wait(lock, [&] {
      return log_sync_asked_ > log_sync_done_ || log_sync_stop_;
    });
    if (log_sync_asked_ == log_sync_done_) break;  // stopping
    const std::uint64_t asked = log_sync_asked_;
    lock.unlock();
    absl::Status status = log_->Sync();
    lock.lock();
    log_sync_status_ = std::move(status);
    log_sync_done_ = asked;
    log_sync_cv_.notify_all();
  }
}

// Linux flushes a file's dirty pages whichever descriptor wrote them, so a
// descriptor of our own serves; it is opened again if the file was
// replaced.
absl::Status SpoolSyncer::SyncWal() {
  const std::string& wal = wal_path_;
  struct stat by_path;
  if (stat(wal.c_str(), &by_path) != 0) {
    return absl::InternalError(absl::StrCat("spool: cannot find ", wal,
                                            " to sync: ", strerror(errno)));
  }
  struct stat by_fd;
  if (wal_fd_ >= 0 &&
      (fstat(wal_fd_, &by_fd) != 0 || by_fd.st_ino != by_path.st_ino ||
       by_fd.st_dev != by_path.st_dev)) {
    close(wal_fd_);
    wal_fd_ = -1;
  }
  if (wal_fd_ < 0) {
    wal_fd_ = open(wal.c_str(), O_RDWR | O_CLOEXEC);
    if (wal_fd_ < 0) {
      return absl::InternalError(
          absl::StrCat("spool: cannot open ", wal, ": ", strerror(errno)));
    }
  }
  if (fdatasync(wal_fd_) != 0) {
    return absl::InternalError(
        absl::StrCat("spool: fdatasync of ", wal, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

void SpoolSyncer::CheckpointLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(checkpoint_mu_);
      checkpoint_cv_.wait(
          lock, [&] { return checkpoint_wanted_ || checkpoint_stop_; });
      if (checkpoint_stop_) break;
      checkpoint_wanted_ = false;
    }
    sqlite3_wal_checkpoint_v2(checkpoint_db_, nullptr,
                              SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
  // A last full copy, so the next start reads a short WAL.
  sqlite3_wal_checkpoint_v2(checkpoint_db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                            nullptr, nullptr);
}

}  // namespace conversions::service
