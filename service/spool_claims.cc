// Claims for the dispatcher and the delivery outcomes it writes back.
#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "service/spool_sqlite.h"
#include "service/sqlite_spool.h"

namespace conversions::service::spool_internal {

using spool_sqlite::Exec;
using spool_sqlite::ForEachRange;
using spool_sqlite::LocationAt;
using spool_sqlite::SqliteError;

namespace {

// Delivered ranges of one outcome at most this many ids apart share a run
// in delivered_runs (see spool_sqlite.cc).
constexpr std::int64_t kRunGap = 1024;
// ... and span at most this many ids, so that a prune reads few rows that
// it does not delete.
constexpr std::int64_t kMaxRunSpan = 4096;
// A claim scans the whole due queue of its lane at least this often (see
// SqliteSpool::Claim).
constexpr int kFullScanEvery = 16;

}  // namespace

absl::StatusOr<std::vector<ClaimedEvent>> SqliteSpool::Claim(
    const LaneKey& lane, std::int64_t now_ms, size_t max_events,
    size_t max_bytes) {
  std::vector<ClaimedEvent> claimed;
  {
    std::unique_lock<std::mutex> lock(queue_mu_);
    // No outcome could be written after the writer stopped.
    if (writer_exited_) return absl::UnavailableError("spool is shut down");
    // Outcomes return before their commit; a claim waits for the last
    // one's, so that an event retried (or delivered) before this call is
    // seen as such. This waits for at most the group being written.
    WaitForCommit(last_release_seq_.load(std::memory_order_relaxed), lock);
  }
  if (max_events == 0) return claimed;
  absl::MutexLock lock(&claim_mu_);
  ApplyReleases();
  // One read transaction: the ids and their rows come from one snapshot,
  // taken after every release applied above was committed.
  absl::Status s = Exec(claim_db_, "BEGIN");
  if (!s.ok()) return s;
  // The ids, in due order. Events in flight are usually the first ones
  // due, so the scan starts after the last event claimed (the lane's
  // cursor). Events due before the cursor that are not in flight are
  // rare (retries rolled back, appends committed out of order); a full
  // scan picks them up whenever the cursor's scan comes up short, and
  // every kFullScanEvery claims.
  ClaimCursor& cursor =
      cursors_[absl::StrCat(lane.validate_only ? "1" : "0", lane.destination)];
  std::vector<std::pair<std::int64_t, std::int64_t>> due;  // (time, id)
  auto scan = [&](Statement& st, const char* what) -> absl::Status {
    st.Bind(1, lane.destination);
    st.Bind(2, lane.validate_only ? 1 : 0);
    st.Bind(3, now_ms);
    int rc = SQLITE_DONE;
    while (due.size() < max_events && (rc = st.Step()) == SQLITE_ROW) {
      const std::int64_t id = st.Int(0);
      if (in_flight_.insert(id).second) due.emplace_back(st.Int(1), id);
    }
    st.Reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return SqliteError(claim_db_, what);
    }
    return absl::OkStatus();
  };
  if (cursor.valid && ++cursor.claims_since_full_scan < kFullScanEvery) {
    claims_.ids_after.Bind(4, cursor.next_attempt_ms);
    claims_.ids_after.Bind(5, cursor.id);
    s = scan(claims_.ids_after, "claim");
  }
  if (s.ok() && due.size() < max_events) {
    cursor.claims_since_full_scan = 0;
    s = scan(claims_.ids, "claim");
  }
  std::sort(due.begin(), due.end());
  std::vector<std::int64_t> ids;
  ids.reserve(due.size());
  for (const auto& d : due) ids.push_back(d.second);
  // The rows, read by runs of consecutive ids (every id of a run is one
  // of `ids`), then put back in due order.
  absl::flat_hash_map<std::int64_t, size_t> position;
  position.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) position.emplace(ids[i], i);
  std::vector<ClaimedEvent> rows(ids.size());
  std::vector<std::int64_t> sorted = ids;
  // Payloads in the log are read after the transaction.
  std::vector<std::pair<size_t, PayloadLocation>> logged;
  if (s.ok()) {
    s = ForEachRange(sorted, [&](std::int64_t lo, std::int64_t hi) {
      claims_.rows.Bind(1, lo);
      claims_.rows.Bind(2, hi);
      int row_rc;
      while ((row_rc = claims_.rows.Step()) == SQLITE_ROW) {
        auto at = position.find(claims_.rows.Int(0));
        if (at == position.end()) continue;
        ClaimedEvent& e = rows[at->second];
        e.row_id = at->first;
        e.timestamp_ms = claims_.rows.Int(1);
        e.attempts = static_cast<int>(claims_.rows.Int(2));
        e.event_id = claims_.rows.Text(3);
        if (sqlite3_column_type(claims_.rows.get(), 9) != SQLITE_NULL) {
          e.last_error = claims_.rows.Text(9);
        }
        if (sqlite3_column_type(claims_.rows.get(), 4) == SQLITE_NULL) {
          e.wire_json = claims_.rows.Text(8);
        } else {
          logged.emplace_back(at->second, LocationAt(claims_.rows, 4, 5));
        }
      }
      claims_.rows.Reset();
      return row_rc == SQLITE_DONE ? absl::OkStatus()
                                   : SqliteError(claim_db_, "claim rows");
    });
  }
  Exec(claim_db_, "COMMIT").IgnoreError();  // ends the read transaction
  // A payload whose segment went since the snapshot was copied to
  // payloads_kept first. One that cannot be read at all (a file deleted
  // or damaged by hand) is handed out as unreadable, for the dispatcher to
  // dead-letter rather than send or retry.
  std::vector<PayloadLocation> where;
  std::vector<std::string*> into;
  for (const auto& [i, at] : logged) {
    where.push_back(at);
    into.push_back(&rows[i].wire_json);
  }
  std::vector<absl::Status> reads = log_->ReadMany(where, into);
  for (size_t r = 0; r < logged.size(); ++r) {
    ClaimedEvent& e = rows[logged[r].first];
    absl::Status read = std::move(reads[r]);
    if (absl::IsNotFound(read)) {
      claims_.kept.Bind(1, e.row_id);
      if (claims_.kept.Step() == SQLITE_ROW) {
        e.wire_json = claims_.kept.Text(0);
        read = absl::OkStatus();
      }
      claims_.kept.Reset();
    }
    if (!read.ok()) {
      e.wire_json.clear();
      e.unreadable = std::string(read.message());
    }
  }
  // The scans put every id in flight; what is not handed out (past the
  // byte budget, or after an error) leaves again, and the cursor stops at
  // the last event handed out.
  size_t bytes = 0;
  bool full = !s.ok();
  for (size_t i = 0; i < rows.size(); ++i) {
    ClaimedEvent& e = rows[i];
    // Its JSON, and the comma before it in the request's array.
    const size_t size = e.wire_json.size() + (claimed.empty() ? 0 : 1);
    full =
        full || e.row_id == 0 || (!claimed.empty() && bytes + size > max_bytes);
    if (full) {
      in_flight_.erase(ids[i]);
      continue;
    }
    bytes += size;
    const auto key = due[i];
    const auto end = std::make_pair(cursor.next_attempt_ms, cursor.id);
    std::tie(cursor.next_attempt_ms, cursor.id) =
        cursor.valid ? std::max(end, key) : key;
    cursor.valid = true;
    claimed.push_back(std::move(e));
  }
  if (!s.ok()) return s;
  return claimed;
}

absl::Status SqliteSpool::MarkDelivered(absl::Span<const std::int64_t> rows,
                                        std::int64_t now_ms, int attempts) {
  std::vector<std::int64_t> ids(rows.begin(), rows.end());
  return RunSync(
      [&](sqlite3*) -> absl::Status {
        Closed closed;
        // The ranges delivered, as runs for pruning: ranges close to each
        // other share one (a run may cover rows of other lanes).
        std::int64_t run_lo = -1, run_hi = -1;
        auto flush_run = [&]() -> absl::Status {
          if (run_lo < 0) return absl::OkStatus();
          w_.delivered_run.Bind(1, now_ms);
          w_.delivered_run.Bind(2, run_lo);
          w_.delivered_run.Bind(3, run_hi);
          return w_.delivered_run.Run("delivered run");
        };
        absl::Status s =
            ForEachRange(ids, [&](std::int64_t lo, std::int64_t hi) {
              absl::StatusOr<ClosedRows> n = Closing(lo, hi, &closed);
              if (!n.ok()) return n.status();
              if (n->rows == 0) return absl::OkStatus();
              if (run_lo >= 0 &&
                  (lo - run_hi > kRunGap || hi - run_lo >= kMaxRunSpan)) {
                if (absl::Status f = flush_run(); !f.ok()) return f;
                run_lo = -1;
              }
              if (run_lo < 0) run_lo = lo;
              run_hi = hi;
              w_.delivered.Bind(1, lo);
              w_.delivered.Bind(2, hi);
              w_.delivered.Bind(3, now_ms);
              w_.delivered.Bind(4, static_cast<std::int64_t>(attempts));
              absl::Status done = w_.delivered.Run("delivered");
              if (!done.ok()) return done;
              // Delivered events need no payload: those in the log go
              // with their segment, kept ones now. When every row of the
              // range was in flight, the whole range; otherwise only the
              // rows that are delivered now or were before.
              if (n->kept == 0) return absl::OkStatus();
              Statement& drop = n->rows == hi - lo + 1
                                    ? w_.drop_payloads
                                    : w_.drop_delivered_payloads;
              drop.Bind(1, lo);
              drop.Bind(2, hi);
              return drop.Run("drop payloads");
            });
        if (s.ok()) s = flush_run();
        DecrementQueued(closed);
        Release(ids);
        return s;
      },
      /*early=*/true);
}

absl::Status SqliteSpool::MarkRetry(absl::Span<const std::int64_t> rows,
                                    std::int64_t next_attempt_ms,
                                    const std::string& error, int attempts) {
  std::vector<std::int64_t> ids(rows.begin(), rows.end());
  return RunSync(
      [&](sqlite3*) -> absl::Status {
        absl::Status s =
            ForEachRange(ids, [&](std::int64_t lo, std::int64_t hi) {
              w_.retry.Bind(1, lo);
              w_.retry.Bind(2, hi);
              w_.retry.Bind(3, next_attempt_ms);
              w_.retry.Bind(4, error);
              w_.retry.Bind(5, static_cast<std::int64_t>(attempts));
              return w_.retry.Run("retry");
            });
        Release(ids);
        return s;
      },
      /*early=*/true);
}

absl::Status SqliteSpool::MarkDead(absl::Span<const std::int64_t> rows,
                                   DeadReason reason,
                                   const std::string& message,
                                   std::int64_t now_ms, int attempts) {
  std::vector<std::int64_t> ids(rows.begin(), rows.end());
  return RunSync(
      [&](sqlite3*) -> absl::Status {
        Closed closed;
        absl::Status s =
            ForEachRange(ids, [&](std::int64_t lo, std::int64_t hi) {
              absl::StatusOr<ClosedRows> n =
                  Closing(lo, hi, &closed, /*locations=*/true);
              if (!n.ok()) return n.status();
              w_.dead.Bind(1, lo);
              w_.dead.Bind(2, hi);
              w_.dead.Bind(3, now_ms);
              w_.dead.Bind(4, static_cast<std::int64_t>(reason));
              w_.dead.Bind(5, message);
              w_.dead.Bind(6, static_cast<std::int64_t>(attempts));
              absl::Status done = w_.dead.Run("dead");
              if (!done.ok()) return done;
              // Dead letters keep their payloads out of the log, so that
              // they never hold a segment.
              for (const auto& [row, at] : n->logged) {
                absl::Status kept = Keep(row, at);
                if (!kept.ok()) return kept;
              }
              return absl::OkStatus();
            });
        DecrementQueued(closed);
        Release(ids);
        return s;
      },
      /*early=*/true);
}

absl::StatusOr<std::optional<std::int64_t>> SqliteSpool::NextDueMs(
    const LaneKey& lane) {
  WaitForWrites();
  absl::MutexLock lock(&claim_mu_);
  ApplyReleases();
  claims_.ids.Bind(1, lane.destination);
  claims_.ids.Bind(2, lane.validate_only ? 1 : 0);
  claims_.ids.Bind(3, INT64_MAX);
  std::optional<std::int64_t> due;
  int rc;
  while ((rc = claims_.ids.Step()) == SQLITE_ROW) {
    if (in_flight_.contains(claims_.ids.Int(0))) continue;
    due = claims_.ids.Int(1);
    break;
  }
  claims_.ids.Reset();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return SqliteError(claim_db_, "next due");
  }
  return due;
}

absl::StatusOr<SqliteSpool::ClosedRows> SqliteSpool::Closing(std::int64_t lo,
                                                             std::int64_t hi,
                                                             Closed* closed,
                                                             bool locations) {
  Statement& st = w_.closing;
  st.Bind(1, lo);
  st.Bind(2, hi);
  ClosedRows n;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    ++n.rows;
    if (sqlite3_column_type(st.get(), 1) == SQLITE_NULL) {
      ++n.kept;
    } else {
      segments_.Closed(st.Int(1));
      if (locations) n.logged.emplace_back(st.Int(2), LocationAt(st, 1, 3));
    }
    const auto* p =
        reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 0));
    std::string_view destination(
        p ? p : "", static_cast<size_t>(sqlite3_column_bytes(st.get(), 0)));
    if (closed->empty() || closed->back().first != destination) {
      closed->emplace_back(std::string(destination), 0);
    }
    ++closed->back().second;
  }
  st.Reset();
  if (rc != SQLITE_DONE) return SqliteError(writer_db_, "closing rows");
  return n;
}

bool SqliteSpool::InFlight(std::int64_t row) {
  absl::MutexLock lock(&claim_mu_);
  ApplyReleases();
  return in_flight_.contains(row);
}

void SqliteSpool::Release(const std::vector<std::int64_t>& rows) {
  last_release_seq_.store(running_seq_, std::memory_order_relaxed);
  group_released_.insert(group_released_.end(), rows.begin(), rows.end());
}

void SqliteSpool::ApplyReleases() {
  std::vector<std::int64_t> released;
  {
    std::lock_guard<std::mutex> lock(release_mu_);
    released.swap(released_);
  }
  for (std::int64_t row : released) in_flight_.erase(row);
}

}  // namespace conversions::service::spool_internal
