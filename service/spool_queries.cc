#include "service/spool_queries.h"

#include <algorithm>
#include <climits>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "service/spool_sqlite.h"

namespace conversions::service::spool_sqlite {

absl::StatusOr<std::optional<std::pair<std::int64_t, EventStatusRecord>>>
QueryEventStatus(sqlite3* db, const std::vector<std::int64_t>& rows,
                 const std::string& destination, bool validate_only,
                 const std::string& event_name, const std::string& event_id) {
  using Found = std::optional<std::pair<std::int64_t, EventStatusRecord>>;
  Statement st;
  absl::Status s = st.Prepare(
      db,
      "SELECT state, accepted_ms, done_ms, next_attempt_ms, attempts, "
      "last_error, dead_reason FROM events WHERE id=?1 AND "
      "destination=?2 AND validate_only=?3 AND event_name=?4 AND "
      "event_id=?5");
  if (!s.ok()) return s;
  for (std::int64_t row : rows) {
    st.Bind(1, row);
    st.Bind(2, destination);
    st.Bind(3, validate_only ? 1 : 0);
    st.Bind(4, event_name);
    st.Bind(5, event_id);
    int rc = st.Step();
    if (rc == SQLITE_ROW) {
      EventStatusRecord r;
      r.state = static_cast<EventState>(st.Int(0));
      r.accepted_ms = st.Int(1);
      r.done_ms = st.Int(2);
      r.next_attempt_ms = st.Int(3);
      r.attempts = static_cast<int>(st.Int(4));
      r.last_error = st.Text(5);
      if (sqlite3_column_type(st.get(), 6) != SQLITE_NULL) {
        r.dead_reason = static_cast<DeadReason>(st.Int(6));
      }
      return Found(std::make_pair(row, std::move(r)));
    }
    st.Reset();
    // SQLITE_DONE: a collision or a row not committed yet.
    if (rc != SQLITE_DONE) return SqliteError(db, "lookup");
  }
  return Found();
}

namespace {

// The filter a page token was made for: FNV-1a of the destination, the
// reason and the lane, so that a token given with another filter is
// refused instead of quietly skipping or repeating dead letters. (No lane
// adds nothing: tokens made before the lane filter still match.)
std::uint32_t FilterFingerprint(const DeadLetterQuery& query) {
  std::uint32_t h = 2166136261u;
  auto add = [&h](unsigned char c) { h = (h ^ c) * 16777619u; };
  for (char c : query.destination) add(static_cast<unsigned char>(c));
  add(0);
  add(static_cast<unsigned char>(query.reason ? static_cast<int>(*query.reason)
                                              : 0));
  if (query.validate_only) add(*query.validate_only ? 2 : 1);
  return h;
}

}  // namespace

absl::StatusOr<DeadLetterPage> QueryDeadLetters(sqlite3* db,
                                                const PayloadLog& log,
                                                const DeadLetterQuery& query) {
  // The page token is "<done_ms>:<id>:<filter>": the last row of the last
  // page, and FilterFingerprint of the query that made it. (Tokens of
  // earlier versions, without the filter, are still taken.)
  std::int64_t after_done = INT64_MAX, after_id = INT64_MAX;
  const std::uint32_t filter = FilterFingerprint(query);
  if (!query.page_token.empty()) {
    std::vector<std::string> parts = absl::StrSplit(query.page_token, ':');
    std::uint32_t token_filter = filter;
    if ((parts.size() != 2 && parts.size() != 3) ||
        !absl::SimpleAtoi(parts[0], &after_done) ||
        !absl::SimpleAtoi(parts[1], &after_id) ||
        (parts.size() == 3 && !absl::SimpleAtoi(parts[2], &token_filter))) {
      return absl::InvalidArgumentError("malformed page_token");
    }
    if (token_filter != filter) {
      return absl::InvalidArgumentError(
          "page_token belongs to a listing with another destination, "
          "reason or lane; give the same filter as the first page");
    }
  }
  const int page_size =
      query.page_size <= 0 ? 100 : std::min(query.page_size, 1000);
  Statement st;
  absl::Status s = st.Prepare(
      db,
      "SELECT e.id, e.destination, e.event_name, e.event_id, "
      "e.dead_reason, e.last_error, e.done_ms, e.attempts, p.wire_json, "
      "e.payload_seg, e.payload_off, e.payload_len, e.payload_crc, "
      "e.validate_only "
      "FROM events e LEFT JOIN payloads_kept p ON p.id=e.id "
      "WHERE e.state=3 AND (?1='' OR e.destination=?1) "
      "AND (?2=0 OR e.dead_reason=?2) "
      "AND (?6<0 OR e.validate_only=?6) "
      "AND (e.done_ms<?3 OR (e.done_ms=?3 AND e.id<?4)) "
      "ORDER BY e.done_ms DESC, e.id DESC LIMIT ?5");
  if (!s.ok()) return s;
  st.Bind(1, query.destination);
  st.Bind(2, query.reason ? static_cast<std::int64_t>(*query.reason) : 0);
  st.Bind(3, after_done);
  st.Bind(4, after_id);
  st.Bind(5, static_cast<std::int64_t>(page_size) + 1);
  st.Bind(6, query.validate_only ? std::int64_t{*query.validate_only} : -1);
  DeadLetterPage page;
  size_t bytes = 0;
  auto end_page = [&page, filter] {
    const DeadLetterRecord& last = page.dead_letters.back();
    page.next_page_token =
        absl::StrCat(last.dead_ms, ":", last.row_id, ":", filter);
  };
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    if (static_cast<int>(page.dead_letters.size()) == page_size) {
      end_page();
      break;
    }
    DeadLetterRecord r;
    r.row_id = st.Int(0);
    r.destination = st.Text(1);
    r.event_name = st.Text(2);
    r.event_id = st.Text(3);
    r.reason = static_cast<DeadReason>(st.Int(4));
    r.message = st.Text(5);
    r.dead_ms = st.Int(6);
    r.attempts = static_cast<int>(st.Int(7));
    r.wire_json = st.Text(8);
    r.validate_only = st.Int(13) != 0;
    // Kept when it died; in the log when that copy failed.
    if (sqlite3_column_type(st.get(), 9) != SQLITE_NULL) {
      log.Read(LocationAt(st, 9, 10), &r.wire_json).IgnoreError();
    }
    const size_t size = r.wire_json.size() + r.message.size() +
                        r.event_id.size() + r.destination.size() + 64;
    if (!page.dead_letters.empty() && bytes + size > query.max_bytes) {
      end_page();  // this one starts the next page
      break;
    }
    bytes += size;
    page.dead_letters.push_back(std::move(r));
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return SqliteError(db, "list dead letters");
  }
  return page;
}

absl::StatusOr<std::vector<DeadLetterCount>> QueryDeadLetterCounts(
    sqlite3* db) {
  Statement st;
  absl::Status s = st.Prepare(
      db,
      "SELECT destination, dead_reason, COUNT(*) FROM events "
      "WHERE state=3 AND validate_only=0 GROUP BY destination, dead_reason");
  if (!s.ok()) return s;
  std::vector<DeadLetterCount> counts;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    counts.push_back(
        {st.Text(0), static_cast<DeadReason>(st.Int(1)), st.Int(2)});
  }
  if (rc != SQLITE_DONE) return SqliteError(db, "count dead letters");
  return counts;
}

absl::Status QueryOldestOpen(sqlite3* db, std::vector<DestinationDepth>* depths,
                             std::vector<std::int64_t>* oldest) {
  Statement first;
  absl::Status s = first.Prepare(
      db,
      "SELECT id, accepted_ms FROM events WHERE id>=?2 AND destination=?1 "
      "AND state<2 ORDER BY id LIMIT 1");
  if (!s.ok()) return s;
  for (size_t i = 0; i < depths->size(); ++i) {
    DestinationDepth& depth = (*depths)[i];
    first.Bind(1, depth.destination);
    first.Bind(2, (*oldest)[i]);
    int rc = first.Step();
    (*oldest)[i] = -1;
    if (rc == SQLITE_ROW) {
      (*oldest)[i] = first.Int(0);
      depth.oldest_accepted_ms = first.Int(1);
    }
    first.Reset();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return SqliteError(db, "oldest event");
    }
  }
  return absl::OkStatus();
}

absl::Status ScanRows(sqlite3* db, const PayloadLog& log, size_t check_last,
                      KeyIndex* keys, ScannedRows* out) {
  const std::int64_t current = log.current();
  std::vector<std::int64_t> previous = log.Segments();
  previous.erase(std::remove(previous.begin(), previous.end(), current),
                 previous.end());
  absl::flat_hash_set<std::int64_t> checked;
  for (size_t i = 0; i < previous.size() && i < check_last; ++i) {
    checked.insert(previous[previous.size() - 1 - i]);
  }
  // Files without rows are listed too, so that they go.
  absl::btree_map<std::int64_t, PayloadSegments::Found> found;
  for (std::int64_t segment : previous) found[segment].segment = segment;
  Statement rows;
  absl::Status s = rows.Prepare(
      db,
      "SELECT key_hash, id, state, payload_seg, payload_off, payload_len, "
      "payload_crc, destination FROM events");
  if (!s.ok()) return s;
  std::string scratch;
  int rc;
  while ((rc = rows.Step()) == SQLITE_ROW) {
    const std::int64_t id = rows.Int(1);
    const bool open = rows.Int(2) < 2;
    out->max_id = std::max(out->max_id, id);
    if (rows.Int(2) == 1) out->marked_in_flight.push_back(id);
    if (sqlite3_column_type(rows.get(), 3) != SQLITE_NULL) {
      const PayloadLocation at = LocationAt(rows, 3, 4);
      if (open && checked.contains(at.segment)) {
        absl::Status read = log.Read(at, &scratch);
        if (absl::IsDataLoss(read)) {
          out->lost.push_back(id);
          continue;
        }
        if (!read.ok()) return read;
      }
      PayloadSegments::Found& f = found[at.segment];
      f.segment = at.segment;
      f.first_id = f.events == 0 ? id : std::min(f.first_id, id);
      f.last_id = std::max(f.last_id, id);
      ++f.events;
      if (open) ++f.open;
    }
    if (open) {
      const auto* p =
          reinterpret_cast<const char*>(sqlite3_column_text(rows.get(), 7));
      std::string destination(
          p ? p : "", static_cast<size_t>(sqlite3_column_bytes(rows.get(), 7)));
      auto [first, added] =
          out->first_open_by_destination.emplace(destination, id);
      if (!added) first->second = std::min(first->second, id);
      ++out->open_by_destination[std::move(destination)];
    }
    keys->Add(rows.Int(0), id);
  }
  if (rc != SQLITE_DONE) return SqliteError(db, "load rows");
  for (const auto& [segment, f] : found) out->segments.push_back(f);
  return absl::OkStatus();
}

}  // namespace conversions::service::spool_sqlite
