// Status lookups, dead-letter listings, and dead letters queued again.
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
#include "service/storage_status.h"

namespace conversions::service::spool_internal {

using spool_sqlite::KeyHash;
using spool_sqlite::QueryDeadLetterCounts;
using spool_sqlite::QueryDeadLetters;
using spool_sqlite::QueryEventStatus;
using spool_sqlite::SqliteError;

absl::StatusOr<EventStatusRecord> SqliteSpool::Lookup(
    const std::string& destination, const std::string& event_name,
    const std::string& event_id) {
  WaitForWrites();
  // A real event first, then a validate_only one.
  for (bool validate_only : {false, true}) {
    std::vector<std::int64_t> rows =
        Candidates(KeyHash(destination, validate_only, event_name, event_id));
    if (rows.empty()) continue;
    absl::MutexLock lock(&reader_mu_);
    auto found = QueryEventStatus(reader_db_, rows, destination, validate_only,
                                  event_name, event_id);
    if (!found.ok()) return found.status();
    if (!found->has_value()) continue;
    auto& [row, record] = **found;
    if (record.state == EventState::kQueued && InFlight(row)) {
      record.state = EventState::kInFlight;
    }
    record.validate_only = validate_only;
    return std::move(record);
  }
  return absl::NotFoundError("event not found");
}

absl::StatusOr<std::vector<DeadLetterCount>> SqliteSpool::CountDeadLetters() {
  WaitForWrites();
  absl::MutexLock lock(&reader_mu_);
  return QueryDeadLetterCounts(reader_db_);
}

absl::StatusOr<DeadLetterPage> SqliteSpool::ListDeadLetters(
    const DeadLetterQuery& query) {
  WaitForWrites();
  absl::MutexLock lock(&reader_mu_);
  return QueryDeadLetters(reader_db_, *log_, query);
}

absl::StatusOr<RequeueResult> SqliteSpool::Requeue(
    const std::string& destination, absl::Span<const EventKeyRef> keys,
    std::optional<DeadReason> reason, std::optional<bool> validate_only,
    std::int64_t oldest_timestamp_ms, std::int64_t now_ms) {
  std::vector<EventKeyRef> key_copy(keys.begin(), keys.end());
  RequeueResult result;
  // A refusal by the queue bound comes before anything is written, and
  // is this call's answer alone: an op that fails fails its whole write
  // group, the appends and outcomes of other callers with it.
  absl::Status refused;
  absl::Status status = RunSync([&](sqlite3* db) -> absl::Status {
    Statement st;
    absl::Status s;
    if (key_copy.empty()) {
      // The selection, less the rows too old; then those, counted.
      constexpr char kSelected[] =
          "state=3 AND destination=?1 AND (?3=0 OR dead_reason=?3) "
          "AND (?4<0 OR validate_only=?4)";
      const std::string update = absl::StrCat(
          "UPDATE events SET state=0, "
          "next_attempt_ms=?2, attempts=0, "
          "dead_reason=NULL, done_ms=0 WHERE ",
          kSelected,
          " AND timestamp_ms>=?5 "
          "RETURNING payload_seg, id");
      s = st.Prepare(db, update.c_str());
      if (!s.ok()) return s;
      // The rows queued again, and those left for their closed window,
      // counted in one pass before the UPDATE.
      Statement counts;
      const std::string count = absl::StrCat(
          "SELECT COUNT(CASE WHEN timestamp_ms>=?5 THEN 1 END), "
          "COUNT(CASE WHEN timestamp_ms<?5 THEN 1 END) FROM events WHERE ",
          kSelected);
      s = counts.Prepare(db, count.c_str());
      if (!s.ok()) return s;
      for (Statement* statement : {&st, &counts}) {
        statement->Bind(1, destination);
        statement->Bind(2, now_ms);
        statement->Bind(3, reason ? static_cast<std::int64_t>(*reason) : 0);
        statement->Bind(4, validate_only ? std::int64_t{*validate_only} : -1);
        statement->Bind(5, oldest_timestamp_ms);
      }
      if (counts.Step() != SQLITE_ROW) {
        return SqliteError(db, "requeue count");
      }
      refused = CheckRequeueBound(destination, counts.Int(0));
      if (!refused.ok()) return absl::OkStatus();
      result.window_closed = static_cast<int>(counts.Int(1));
      absl::StatusOr<int> n = Reopen(st, destination);
      if (!n.ok()) return n.status();
      result.requeued = *n;
    } else {
      s = st.Prepare(db,
                     "UPDATE events SET state=0, next_attempt_ms=?2, "
                     "attempts=0, dead_reason=NULL, done_ms=0 WHERE id=?1 "
                     "AND state=3 AND timestamp_ms>=?3 "
                     "RETURNING payload_seg, id");
      if (!s.ok()) return s;
      Statement old;
      s = old.Prepare(db,
                      "SELECT COUNT(*) FROM events WHERE id=?1 AND state=3 "
                      "AND timestamp_ms<?2");
      if (!s.ok()) return s;
      Statement selected;
      s = selected.Prepare(db,
                           "SELECT COUNT(*) FROM events WHERE id=?1 AND "
                           "state=3 AND timestamp_ms>=?2");
      if (!s.ok()) return s;
      std::vector<std::int64_t> rows;
      std::int64_t n_selected = 0;
      for (const EventKeyRef& k : key_copy) {
        for (bool lane : {false, true}) {
          if (validate_only && *validate_only != lane) continue;
          absl::StatusOr<std::optional<std::int64_t>> row =
              FindRow(destination, lane, k.event_name, k.event_id);
          if (!row.ok()) return row.status();
          if (row->has_value()) rows.push_back(**row);
        }
      }
      // A key given twice is one row.
      std::sort(rows.begin(), rows.end());
      rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
      for (std::int64_t row : rows) {
        selected.Bind(1, row);
        selected.Bind(2, oldest_timestamp_ms);
        if (selected.Step() != SQLITE_ROW) {
          return SqliteError(db, "requeue count");
        }
        n_selected += selected.Int(0);
        selected.Reset();
      }
      refused = CheckRequeueBound(destination, n_selected);
      if (!refused.ok()) return absl::OkStatus();
      for (std::int64_t row : rows) {
        st.Bind(1, row);
        st.Bind(2, now_ms);
        st.Bind(3, oldest_timestamp_ms);
        absl::StatusOr<int> n = Reopen(st, destination);
        if (!n.ok()) return n.status();
        result.requeued += *n;
        old.Bind(1, row);
        old.Bind(2, oldest_timestamp_ms);
        if (old.Step() != SQLITE_ROW) {
          return SqliteError(db, "requeue count");
        }
        result.window_closed += static_cast<int>(old.Int(0));
        old.Reset();
      }
    }
    AdjustQueued(destination, result.requeued);
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (!refused.ok()) return refused;
  return result;
}

absl::Status SqliteSpool::CheckRequeueBound(const std::string& destination,
                                            std::int64_t n) {
  if (n == 0) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  absl::Status s = CheckBound(n, {{destination, n}});
  if (s.ok()) return s;
  return QueueFullError(
      absl::StrCat("cannot queue ", n, " dead letters again: ", s.message()));
}

absl::StatusOr<int> SqliteSpool::Reopen(Statement& st,
                                        const std::string& destination) {
  int n = 0;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    if (sqlite3_column_type(st.get(), 0) != SQLITE_NULL) {
      segments_.Reopened(st.Int(0));
    }
    auto [lowest, added] = group_reopened_.try_emplace(destination, INT64_MAX);
    lowest->second = std::min(lowest->second, st.Int(1));
    ++n;
  }
  st.Reset();
  if (rc != SQLITE_DONE) return SqliteError(writer_db_, "requeue");
  return n;
}

absl::StatusOr<std::int64_t> SqliteSpool::CountAllDeadLetters() {
  WaitForWrites();
  absl::MutexLock lock(&reader_mu_);
  Statement st;
  absl::Status s =
      st.Prepare(reader_db_, "SELECT COUNT(*) FROM events WHERE state=3");
  if (!s.ok()) return s;
  if (st.Step() != SQLITE_ROW) return SqliteError(reader_db_, "count dead");
  return st.Int(0);
}

}  // namespace conversions::service::spool_internal
