// The spool's writer thread: group commits, the payload log's segments,
// and the start-up load.
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "service/spool_queries.h"
#include "service/spool_sqlite.h"
#include "service/sqlite_spool.h"
#include "service/storage_status.h"

namespace conversions::service::spool_internal {

using spool_sqlite::Exec;
using spool_sqlite::ForEachRange;
using spool_sqlite::LocationAt;
using spool_sqlite::ScannedRows;
using spool_sqlite::ScanRows;
using spool_sqlite::SqliteError;

namespace {

// WAL pages (16 KiB each) after which the checkpointer thread copies the
// WAL into the database, and after which the writer does it itself because
// the checkpointer fell behind.
constexpr int kCheckpointPages = 4000;
constexpr int kForcedCheckpointPages = 2 * kCheckpointPages;
// Payload log segments removed per group commit at most, so that a group
// that finds many (the first after a restart) does not hold up appends.
constexpr size_t kRemovalsPerGroup = 2;
// Segments of the last run whose payloads are checked at start-up.
constexpr size_t kSegmentsCheckedAtStart = 2;

}  // namespace

absl::Status SqliteSpool::Keep(std::int64_t row, const PayloadLocation& at) {
  std::string json;
  if (!log_->Read(at, &json).ok()) return absl::OkStatus();
  w_.keep_payload.Bind(1, row);
  w_.keep_payload.Bind(2, json);
  absl::Status s = w_.keep_payload.Run("keep payload");
  if (!s.ok()) return s;
  w_.mark_kept.Bind(1, row);
  return w_.mark_kept.Run("mark kept");
}

absl::Status SqliteSpool::RemoveSegments() {
  for (std::int64_t segment : segments_.ToRemove(kRemovalsPerGroup)) {
    const auto [first, last] = segments_.RowsOf(segment);
    std::vector<std::pair<std::int64_t, PayloadLocation>> rows;
    w_.segment_rows.Bind(1, first);
    w_.segment_rows.Bind(2, last);
    w_.segment_rows.Bind(3, segment);
    int rc;
    while ((rc = w_.segment_rows.Step()) == SQLITE_ROW) {
      rows.emplace_back(w_.segment_rows.Int(0),
                        LocationAt(w_.segment_rows, 1, 2));
    }
    w_.segment_rows.Reset();
    if (rc != SQLITE_DONE) return SqliteError(writer_db_, "segment rows");
    for (const auto& [row, at] : rows) {
      absl::Status s = Keep(row, at);
      if (!s.ok()) return s;
    }
    segments_.Removed(segment);
    removals_.push_back(segment);
  }
  return absl::OkStatus();
}

absl::Status SqliteSpool::LoadRows() {
  ScannedRows scanned;
  {
    absl::WriterMutexLock lock(&keys_mu_);
    absl::Status s =
        ScanRows(writer_db_, *log_, kSegmentsCheckedAtStart, &keys_, &scanned);
    if (!s.ok()) return s;
  }
  // Layout 2 before claims moved to memory stored "in flight" as state 1:
  // such events go back to the queue.
  if (!scanned.marked_in_flight.empty()) {
    Statement queue;
    absl::Status s = queue.Prepare(
        writer_db_,
        "UPDATE events SET state=0 WHERE id BETWEEN ?1 AND ?2 AND state=1");
    if (!s.ok()) return s;
    s = ForEachRange(scanned.marked_in_flight,
                     [&](std::int64_t lo, std::int64_t hi) {
                       queue.Bind(1, lo);
                       queue.Bind(2, hi);
                       return queue.Run("queue in flight");
                     });
    if (!s.ok()) return s;
  }
  segments_.Load(scanned.segments, log_->current());
  dropped_at_open_ = static_cast<std::int64_t>(scanned.lost.size());
  max_row_.store(scanned.max_id, std::memory_order_release);
  {
    // The first look for each destination's oldest event starts there,
    // past every row for those with none.
    absl::MutexLock lock(&cursor_mu_);
    oldest_cursor_ = std::move(scanned.first_open_by_destination);
    default_cursor_ = scanned.max_id + 1;
  }
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [destination, n] : scanned.open_by_destination) {
      queued_by_destination_[destination] = n;
      queued_ += n;
    }
  }
  if (scanned.lost.empty()) return absl::OkStatus();
  Statement drop;
  absl::Status s =
      drop.Prepare(writer_db_, "DELETE FROM events WHERE id BETWEEN ?1 AND ?2");
  if (!s.ok()) return s;
  return ForEachRange(scanned.lost, [&](std::int64_t lo, std::int64_t hi) {
    drop.Bind(1, lo);
    drop.Bind(2, hi);
    return drop.Run("drop lost rows");
  });
}

void SqliteSpool::WaitForWrites() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  WaitForCommit(submitted_seq_, lock);
}

void SqliteSpool::WaitForCommit(std::uint64_t target,
                                std::unique_lock<std::mutex>& lock) {
  ++read_waiters_;
  committed_cv_.wait(
      lock, [&] { return committed_seq_ >= target || writer_exited_; });
  --read_waiters_;
}

void SqliteSpool::Submit(WriteOp op) {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (!writer_exited_) {
      op.seq = ++submitted_seq_;
      pending_.push_back(std::move(op));
      cv_.notify_one();
      return;
    }
  }
  op.done(absl::UnavailableError("spool is shut down"));
}

absl::Status SqliteSpool::RunSync(std::function<absl::Status(sqlite3*)> fn,
                                  bool early) {
  // Shared: set_value may still be running when get() returns here.
  auto promise = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> future = promise->get_future();
  WriteOp op;
  op.run = std::move(fn);
  op.early = early;
  op.done = [promise](absl::Status s) { promise->set_value(std::move(s)); };
  Submit(std::move(op));
  return future.get();
}

void SqliteSpool::WriterLoop() {
  for (;;) {
    // At most one group commits while the previous one syncs: running
    // further ahead would only make groups smaller (more pages written
    // per event) without finishing anything sooner.
    syncer_.WaitForFewerThan(2);
    std::vector<WriteOp> batch;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      cv_.wait(lock, [&] { return !pending_.empty() || stopping_; });
      if (pending_.empty()) {  // stopping and drained
        writer_exited_ = true;
        committed_cv_.notify_all();
        return;
      }
      int events = 0;
      while (!pending_.empty() &&
             (batch.empty() || events + pending_.front().events <=
                                   options_.group_commit_max_events)) {
        events += pending_.front().events;
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
    }
    RunGroup(&batch);
    if (more_removals_) {
      // Segments left over, which free disk: a full disk holds new events
      // back until they go (SqliteSpool::TakesAppends).
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (pending_.empty() && !stopping_) {
        WriteOp op;
        op.run = [](sqlite3*) { return absl::OkStatus(); };
        op.early = true;
        op.seq = ++submitted_seq_;
        pending_.push_back(std::move(op));
      }
    }
    if (force_checkpoint_) {
      force_checkpoint_ = false;
      sqlite3_wal_checkpoint_v2(writer_db_, nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                nullptr, nullptr);
    }
  }
}

void SqliteSpool::RunGroup(std::vector<WriteOp>* batch) {
  absl::Status status = w_.begin.Run("begin");
  for (size_t i = 0; status.ok() && i < batch->size(); ++i) {
    WriteOp& op = (*batch)[i];
    running_seq_ = op.seq;
    status = op.run(writer_db_);
  }
  // The group's payloads are written before anything can read them: the
  // segments removed just below, and the claims after the commit.
  absl::Status flushed = log_->Flush();
  if (status.ok()) status = flushed;
  if (status.ok()) status = RemoveSegments();
  if (status.ok()) status = w_.commit.Run("commit");
  if (status.ok()) {
    segments_.Commit();
    LowerOldestCursors();
    if (!removed_keys_.empty()) {
      absl::WriterMutexLock lock(&keys_mu_);
      for (const auto& [hash, row] : removed_keys_) keys_.Remove(hash, row);
    }
  } else {
    Exec(writer_db_, "ROLLBACK").IgnoreError();  // best effort; may be none
    segments_.Rollback();
    removals_.clear();
    absl::WriterMutexLock lock(&keys_mu_);
    for (const auto& [hash, row] : added_keys_) keys_.Remove(hash, row);
  }
  if (!status.ok()) ResetOldestCursors();
  if (!status.ok() && !group_queue_changes_.empty()) {
    absl::MutexLock lock(&mu_);
    for (const auto& [destination, n] : group_queue_changes_) {
      queued_ -= n;
      queued_by_destination_[destination] -= n;
    }
  }
  group_queue_changes_.clear();
  group_reused_ = INT64_MAX;
  group_reopened_.clear();
  added_keys_.clear();
  removed_keys_.clear();
  if (status.ok() && !group_released_.empty()) {
    // Before committed_seq_ moves: a read that waited for this group
    // then finds its releases too.
    std::lock_guard<std::mutex> lock(release_mu_);
    released_.insert(released_.end(), group_released_.begin(),
                     group_released_.end());
  }
  // An outcome rolled back leaves its events in flight: its caller is
  // told, and writes it again (or the next start queues them).
  group_released_.clear();
  if (StoreFailureOf(status) == StoreFailure::kDiskFull) {
    // Room for the outcomes that free the disk; none for new events. A
    // prepared log file, zeros for the next segment, goes too.
    reserve_.Release();
    log_->DropPrepared();
    appends_held_.store(true, std::memory_order_release);
  }
  bool readers_wait;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    committed_seq_ = batch->back().seq;
    readers_wait = read_waiters_ > 0;
  }
  if (readers_wait) committed_cv_.notify_all();
  // Early ops (claims, outcomes) are answered at the commit, with its
  // status, and wait for no sync: if the process dies before the next
  // sync, their events are queued again at the next start.
  for (WriteOp& op : *batch) {
    if (op.early && op.done) {
      op.done(status);
      op.done = nullptr;
    }
  }
  // A group of early ops only (claims, outcomes) needs no sync of its
  // own: the next group that does have waiting writers syncs it too.
  // Log segments removed by this group go once its commit is on disk,
  // whatever the synchronous mode: before that, a power loss could bring
  // back rows that need them.
  const bool waiting = std::any_of(batch->begin(), batch->end(),
                                   [](const WriteOp& op) { return op.done; });
  const bool full = options_.synchronous == SpoolSynchronous::kFull;
  std::vector<std::int64_t> removals;
  removals.swap(removals_);
  more_removals_ = status.ok() && removals.size() >= kRemovalsPerGroup;
  if (status.ok() && ((waiting && full) || !removals.empty())) {
    std::vector<std::function<void(absl::Status)>> after_sync;
    for (WriteOp& op : *batch) {
      if (op.done && full) {
        after_sync.push_back(std::move(op.done));
        op.done = nullptr;
      }
    }
    syncer_.Add(std::move(after_sync), std::move(removals));
  }
  for (WriteOp& op : *batch) {
    if (op.done) op.done(status);
  }
}

int SqliteSpool::WalHook(void* self, sqlite3*, const char*, int pages) {
  auto* spool = static_cast<SqliteSpool*>(self);
  if (pages >= kForcedCheckpointPages) {
    spool->force_checkpoint_ = true;
  } else if (pages >= kCheckpointPages) {
    spool->syncer_.RequestCheckpoint();
  }
  return SQLITE_OK;
}

}  // namespace conversions::service::spool_internal
