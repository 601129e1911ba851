// Queue depths, and pruning of rows no longer needed.
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "service/spool_queries.h"
#include "service/spool_sqlite.h"
#include "service/sqlite_spool.h"

namespace conversions::service::spool_internal {

using spool_sqlite::ForEachRange;
using spool_sqlite::QueryOldestOpen;
using spool_sqlite::SqliteError;

namespace {

// Rows deleted per transaction when pruning, so that a large prune does not
// hold up appends.
constexpr int kPruneChunk = 5000;

}  // namespace

absl::StatusOr<std::vector<DestinationDepth>> SqliteSpool::Depths() {
  WaitForWrites();
  // In this order: a cursor lowered after the generation is read is not
  // raised again below, and a row given after `highest` is read is
  // above it or lowers the cursors (a reused id).
  std::uint64_t generation;
  {
    absl::MutexLock lock(&cursor_mu_);
    generation = cursor_generation_;
  }
  const std::int64_t highest = max_row_.load(std::memory_order_acquire);
  std::vector<DestinationDepth> out;
  // Destinations with no event open nor being appended: any event they
  // get from now on is given a row above `highest`.
  std::vector<std::string> empty;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [destination, queued] : queued_by_destination_) {
      if (queued <= 0) {
        auto reserved = reserved_by_destination_.find(destination);
        if (queued == 0 && (reserved == reserved_by_destination_.end() ||
                            reserved->second == 0)) {
          empty.push_back(destination);
        }
        continue;
      }
      DestinationDepth d;
      d.destination = destination;
      d.queued = queued;
      out.push_back(std::move(d));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const DestinationDepth& a, const DestinationDepth& b) {
              return a.destination < b.destination;
            });
  std::vector<std::int64_t> oldest(out.size(), 0);
  {
    absl::MutexLock lock(&cursor_mu_);
    for (size_t i = 0; i < out.size(); ++i) {
      auto it = oldest_cursor_.find(out[i].destination);
      oldest[i] = it != oldest_cursor_.end() ? it->second : default_cursor_;
    }
  }
  {
    // A connection of its own: a look after a busy scrape interval reads
    // many rows (about 1.5M at 100,000 events/s and 15 s), and status
    // lookups on the reader do not wait for it.
    absl::MutexLock lock(&gauge_mu_);
    absl::Status s = QueryOldestOpen(gauge_db_, &out, &oldest);
    if (!s.ok()) return s;
  }
  // Only when no cursor was lowered meanwhile: the look may have missed
  // an event opened again below it.
  absl::MutexLock lock(&cursor_mu_);
  if (generation == cursor_generation_) {
    for (size_t i = 0; i < out.size(); ++i) {
      if (oldest[i] >= 0) oldest_cursor_[out[i].destination] = oldest[i];
    }
    for (const std::string& destination : empty) {
      auto [cursor, added] =
          oldest_cursor_.try_emplace(destination, default_cursor_);
      cursor->second = std::max(cursor->second, highest + 1);
    }
  }
  return out;
}

void SqliteSpool::LowerOldestCursors() {
  if (group_reused_ == INT64_MAX && group_reopened_.empty()) return;
  absl::MutexLock lock(&cursor_mu_);
  if (group_reused_ != INT64_MAX) {
    default_cursor_ = std::min(default_cursor_, group_reused_);
    for (auto& [destination, cursor] : oldest_cursor_) {
      cursor = std::min(cursor, group_reused_);
    }
  }
  for (const auto& [destination, row] : group_reopened_) {
    auto [cursor, added] =
        oldest_cursor_.try_emplace(destination, default_cursor_);
    cursor->second = std::min(cursor->second, row);
  }
  ++cursor_generation_;
}

void SqliteSpool::ResetOldestCursors() {
  absl::MutexLock lock(&cursor_mu_);
  oldest_cursor_.clear();
  default_cursor_ = 0;
  ++cursor_generation_;
}

std::int64_t SqliteSpool::DedupKeyCount() const {
  absl::ReaderMutexLock lock(&keys_mu_);
  return static_cast<std::int64_t>(keys_.first.size() + keys_.more.size());
}

std::int64_t SqliteSpool::QueuedCount() const {
  absl::MutexLock lock(&mu_);
  return queued_;
}

std::int64_t SqliteSpool::QueuedCount(const std::string& destination) {
  WaitForWrites();
  absl::MutexLock lock(&mu_);
  auto it = queued_by_destination_.find(destination);
  return it == queued_by_destination_.end() ? 0 : it->second;
}

absl::StatusOr<std::int64_t> SqliteSpool::Prune(std::int64_t now_ms) {
  const std::int64_t cutoff = now_ms - options_.retention.count();
  std::int64_t removed = 0;
  // Delivered rows, through the runs that found them, a chunk per
  // transaction. (Payloads in the log go with their segment.)
  for (;;) {
    std::int64_t rows = 0;
    bool more = false;
    absl::Status status = RunSync([&](sqlite3* db) -> absl::Status {
      return PruneDeliveredRuns(db, /*cutoff=*/cutoff, /*limit=*/-1, &rows,
                                &more);
    });
    if (!status.ok()) return status;
    removed += rows;
    if (!more) break;
  }
  // Then dead letters with their kept payloads.
  for (;;) {
    std::vector<std::int64_t> ids;
    absl::Status status = RunSync([&](sqlite3* db) -> absl::Status {
      Statement st;
      absl::Status s = st.Prepare(
          db,
          "DELETE FROM events WHERE id IN (SELECT id FROM events "
          "WHERE state=3 AND done_ms<?1 LIMIT ?2) RETURNING id, key_hash");
      if (!s.ok()) return s;
      st.Bind(1, cutoff);
      st.Bind(2, kPruneChunk);
      if (!(s = DeleteRows(st, db, "prune", &ids)).ok()) return s;
      return ForEachRange(ids, [&](std::int64_t lo, std::int64_t hi) {
        w_.drop_payloads.Bind(1, lo);
        w_.drop_payloads.Bind(2, hi);
        return w_.drop_payloads.Run("prune payloads");
      });
    });
    if (!status.ok()) return status;
    removed += static_cast<std::int64_t>(ids.size());
    if (ids.size() < static_cast<size_t>(kPruneChunk)) break;
  }
  // The bound on delivered events kept: the oldest deliveries go first.
  // Dead letters are never pruned early; queued events never are.
  absl::StatusOr<std::int64_t> dead = CountAllDeadLetters();
  if (!dead.ok()) return dead.status();
  for (;;) {
    const std::int64_t excess =
        DedupKeyCount() - QueuedCount() - *dead - options_.max_retained_events;
    if (excess <= 0) break;
    std::int64_t rows = 0;
    bool more = false;
    absl::Status status = RunSync([&](sqlite3* db) -> absl::Status {
      return PruneDeliveredRuns(db, /*cutoff=*/INT64_MAX,
                                std::min<std::int64_t>(excess, kPruneChunk),
                                &rows, &more);
    });
    if (!status.ok()) return status;
    removed += rows;
    if (rows == 0 && !more) break;  // the rest are dead letters
  }
  return removed;
}

absl::Status SqliteSpool::PruneDeliveredRuns(sqlite3* db, std::int64_t cutoff,
                                             std::int64_t limit,
                                             std::int64_t* rows, bool* more) {
  Statement runs;
  Statement drop;
  Statement drop_run;
  absl::Status s;
  if (!(s = runs.Prepare(db,
                         "SELECT id, lo, hi FROM delivered_runs WHERE "
                         "done_ms<?1 ORDER BY done_ms, id LIMIT ?2"))
           .ok() ||
      !(s = drop.Prepare(
            db,
            "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE "
            "id BETWEEN ?1 AND ?2 AND state=2 AND done_ms<?3 LIMIT ?4) "
            "RETURNING id, key_hash"))
           .ok() ||
      !(s = drop_run.Prepare(db, "DELETE FROM delivered_runs WHERE id=?1"))
           .ok()) {
    return s;
  }
  const std::int64_t budget = limit < 0 ? kPruneChunk : limit;
  std::vector<std::pair<std::int64_t, std::pair<std::int64_t, std::int64_t>>>
      due;
  runs.Bind(1, cutoff);
  runs.Bind(2, 64);
  int rc;
  while ((rc = runs.Step()) == SQLITE_ROW) {
    due.push_back({runs.Int(0), {runs.Int(1), runs.Int(2)}});
  }
  runs.Reset();
  if (rc != SQLITE_DONE) return SqliteError(db, "delivered runs");
  *more = false;
  std::vector<std::int64_t> ids;
  for (size_t i = 0; i < due.size(); ++i) {
    if (static_cast<std::int64_t>(ids.size()) >= budget) {
      *more = true;
      break;
    }
    const auto& [run, range] = due[i];
    const std::int64_t room = budget - static_cast<std::int64_t>(ids.size());
    const size_t before = ids.size();
    drop.Bind(1, range.first);
    drop.Bind(2, range.second);
    drop.Bind(3, cutoff);
    drop.Bind(4, room);
    if (!(s = DeleteRows(drop, db, "prune", &ids)).ok()) return s;
    // A run cut short by the budget keeps what is left of it.
    if (static_cast<std::int64_t>(ids.size() - before) == room) {
      *more = true;
      break;
    }
    drop_run.Bind(1, run);
    if (!(s = drop_run.Run("prune delivered run")).ok()) return s;
    if (i + 1 == due.size() && due.size() == 64) *more = true;
  }
  *rows = static_cast<std::int64_t>(ids.size());
  return absl::OkStatus();
}

absl::Status SqliteSpool::DeleteRows(Statement& st, sqlite3* db,
                                     const char* what,
                                     std::vector<std::int64_t>* ids) {
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    ids->push_back(st.Int(0));
    removed_keys_.push_back({st.Int(1), st.Int(0)});
  }
  st.Reset();
  return rc == SQLITE_DONE ? absl::OkStatus() : SqliteError(db, what);
}

}  // namespace conversions::service::spool_internal
