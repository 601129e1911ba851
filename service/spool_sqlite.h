// The SQLite layer of the spool (service/sqlite_spool.h): the schema and its
// migrations, connections, prepared statements, and the in-memory index of
// event-key fingerprints. Internal to the spool.
#ifndef CONVERSIONS_SERVICE_SPOOL_SQLITE_H_
#define CONVERSIONS_SERVICE_SPOOL_SQLITE_H_

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "service/payload_log.h"

namespace conversions::service::spool_sqlite {

// The layout this build writes (PRAGMA user_version).
inline constexpr int kLayoutVersion = 3;

// An Internal error naming `what` and SQLite's message for `db`.
absl::Status SqliteError(sqlite3* db, const char* what);

// The 64-bit fingerprint of an event key: the first 8 bytes of the SHA-256
// of its length-prefixed parts. Stable across runs (it is stored).
std::int64_t KeyHash(std::string_view destination, bool validate_only,
                     std::string_view event_name, std::string_view event_id);

// Runs `sql`, one statement or several, without results.
absl::Status Exec(sqlite3* db, const char* sql);

// Every connection runs with synchronous=NORMAL: SQLite then syncs the WAL
// before each checkpoint and the database after it, so the file never
// corrupts, but it does not sync on commit. With `spool.synchronous: full`
// the spool's syncer thread syncs the WAL after each group commit instead
// (service/spool_syncer.h), so that the next group runs while the disk
// flushes the last one.
absl::StatusOr<sqlite3*> OpenDb(const std::string& path, int cache_kib);

// Creates the layout-3 schema, migrating a spool of layout 1 or 2.
absl::Status PrepareSchema(sqlite3* db);

// A prepared statement, reset after each use.
class Statement {
 public:
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  absl::Status Prepare(sqlite3* db, const char* sql) {
    db_ = db;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_,
                           nullptr) != SQLITE_OK) {
      return SqliteError(db, "prepare");
    }
    return absl::OkStatus();
  }
  sqlite3_stmt* get() { return stmt_; }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  void Bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                      SQLITE_STATIC);
  }
  // Steps once; returns SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  absl::Status Run(const char* what) {
    int rc = Step();
    Reset();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return SqliteError(db_, what);
    return absl::OkStatus();
  }
  std::int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) {
    const auto* p =
        reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
  }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// Calls fn(lo, hi) for each run of consecutive values of `ids` (sorted in
// place); stops at the first error.
template <typename Fn>
absl::Status ForEachRange(std::vector<std::int64_t>& ids, Fn fn) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    absl::Status s = fn(ids[i], ids[j]);
    if (!s.ok()) return s;
    i = j + 1;
  }
  return absl::OkStatus();
}

// The fingerprint -> rowid index of every stored event. Fingerprints that
// collide (different keys, same 64 bits) keep their extra rows in `more`.
struct KeyIndex {
  absl::flat_hash_map<std::int64_t, std::int64_t> first;
  std::unordered_multimap<std::int64_t, std::int64_t> more;

  void Add(std::int64_t hash, std::int64_t row) {
    if (!first.emplace(hash, row).second) more.emplace(hash, row);
  }
  void Remove(std::int64_t hash, std::int64_t row) {
    auto it = first.find(hash);
    if (it != first.end() && it->second == row) {
      auto extra = more.find(hash);
      if (extra == more.end()) {
        first.erase(it);
      } else {
        it->second = extra->second;
        more.erase(extra);
      }
      return;
    }
    auto [b, e] = more.equal_range(hash);
    for (auto m = b; m != e; ++m) {
      if (m->second == row) {
        more.erase(m);
        return;
      }
    }
  }
  // Rows whose fingerprint is `hash`.
  template <typename Fn>
  void ForEach(std::int64_t hash, Fn fn) const {
    auto it = first.find(hash);
    if (it == first.end()) return;
    fn(it->second);
    auto [b, e] = more.equal_range(hash);
    for (auto m = b; m != e; ++m) fn(m->second);
  }
};

// The statements the spool's writer thread runs, prepared once on the
// writer connection. Each names its parameters in a comment; "the range"
// is ids ?1 to ?2.
struct WriterStatements {
  Statement begin;          // BEGIN IMMEDIATE
  Statement commit;         // COMMIT
  Statement insert;         // a queued event: ?1 key_hash .. ?11 payload_crc
  Statement key_of;         // the key parts of row ?1, and its state
  Statement remove_row;     // row ?1
  Statement closing;        // queued rows of the range that an outcome closes
  Statement delivered;      // queued rows of the range delivered at ?3
  Statement delivered_run;  // rows ?2 to ?3 were delivered at ?1
  Statement drop_payloads;  // kept payloads of the range
  Statement drop_delivered_payloads;  // kept payloads of delivered rows
  Statement retry;         // queued rows of the range due at ?3 with error ?4
  Statement dead;          // queued rows of the range dead at ?3 for ?4, ?5
  Statement keep_payload;  // payload ?2 of row ?1 into payloads_kept
  Statement mark_kept;     // row ?1's payload is in payloads_kept
  Statement segment_rows;  // rows of the range still needing segment ?3

  absl::Status Prepare(sqlite3* db);
};

// The statements of claims, prepared once on the claim connection.
struct ClaimStatements {
  Statement ids;        // due queued ids of lane ?1, ?2 at ?3, in due order
  Statement ids_after;  // the same after due time ?4 and id ?5
  Statement rows;       // the queued rows of the range, with their payload
                        // location or kept payload
  Statement kept;       // the kept payload of row ?1

  absl::Status Prepare(sqlite3* db);
};

// The payload location of a row: its segment in column `segment` of
// `st`'s current row, its offset, length and CRC in the three columns from
// `offset`.
inline PayloadLocation LocationAt(Statement& st, int segment, int offset) {
  PayloadLocation at;
  at.segment = st.Int(segment);
  at.offset = st.Int(offset);
  at.length = st.Int(offset + 1);
  at.crc = static_cast<std::uint32_t>(st.Int(offset + 2));
  return at;
}

}  // namespace conversions::service::spool_sqlite

#endif  // CONVERSIONS_SERVICE_SPOOL_SQLITE_H_
