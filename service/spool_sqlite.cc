#include "service/spool_sqlite.h"

#include "absl/strings/str_cat.h"
#include "mapping/sha256.h"
#include "service/storage_status.h"

namespace conversions::service::spool_sqlite {
namespace {

// Layout version 3 (PRAGMA user_version). Every write is an append at the
// right edge of a B-tree or touches rows that sit together, so a group
// commit dirties few pages whatever the event ids look like:
// - `events` holds the small, mutable delivery state of each event, in
//   acceptance order (rowid), and where its wire JSON is: in the payload
//   log (payload_seg, payload_off, payload_len, payload_crc; see
//   service/payload_log.h), or, when payload_seg is NULL, in
//   `payloads_kept`: the payloads of dead letters, and of the few events
//   still queued when their log segment went. (Layout 2 kept every payload
//   in a table and deleted it on delivery, which cost the writer thread
//   more than all the rest of recording the delivery.)
// - The dedup key is not indexed on disk (random ids would scatter index
//   writes over the whole file): `key_hash` holds a 64-bit fingerprint of
//   (destination, validate_only, event name, id), and the spool keeps
//   fingerprint -> rowid in memory, rebuilt from this column at start-up.
// - Partial indexes cover only the rows each query needs: queued rows by
//   due time (claims) and dead letters by time (listing, pruning). (The
//   oldest open event of a destination is looked for in row order from
//   where it was last; builds before that kept an index `events_open` of
//   open rows, dropped here, and made again by such a build.)
// - Delivered rows are found for pruning through `delivered_runs`: one row
//   per range of ids an outcome marked delivered, with its time, written
//   once per batch, where an index on the rows' done_ms changed with every
//   event delivered (about 8 % of the gateway's CPU while draining).
//   A run may cover other rows too: of other lanes, delivered later (each
//   with a run of its own), or given an id again after a prune. So the
//   prune deletes a row of a due run only when the row itself is
//   delivered and due; every delivered row has a run whose done_ms is its
//   own (a run remade from rows (RebuildDeliveredRuns) takes the latest
//   of its rows', so that those go up to a minute late, never early).
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  key_hash INTEGER NOT NULL,
  destination TEXT NOT NULL,
  validate_only INTEGER NOT NULL,
  event_name TEXT NOT NULL,
  event_id TEXT NOT NULL,
  timestamp_ms INTEGER NOT NULL,
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  accepted_ms INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  done_ms INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  dead_reason INTEGER,
  payload_seg INTEGER,
  payload_off INTEGER,
  payload_len INTEGER,
  payload_crc INTEGER
);
CREATE TABLE IF NOT EXISTS payloads_kept (
  id INTEGER PRIMARY KEY,
  wire_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_due
  ON events(destination, validate_only, next_attempt_ms, id) WHERE state=0;
DROP INDEX IF EXISTS events_open;
CREATE TABLE IF NOT EXISTS delivered_runs (
  id INTEGER PRIMARY KEY,
  done_ms INTEGER NOT NULL,
  lo INTEGER NOT NULL,
  hi INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS delivered_runs_done ON delivered_runs(done_ms);
CREATE INDEX IF NOT EXISTS events_dead
  ON events(done_ms, id) WHERE state=3;
CREATE INDEX IF NOT EXISTS events_dead_count
  ON events(destination, dead_reason, state, validate_only)
  WHERE state=3 AND validate_only=0;
)sql";

// Moves a layout-1 spool (one table with the JSON inline and a unique index
// on the key) aside; kSchema and kMigrateFrom1Copy then make layout 3.
constexpr char kMigrateFrom1[] = R"sql(
DROP INDEX IF EXISTS events_key;
DROP INDEX IF EXISTS events_lane;
DROP INDEX IF EXISTS events_done;
ALTER TABLE events RENAME TO events_v1;
)sql";
constexpr char kMigrateFrom1Copy[] = R"sql(
INSERT INTO events(id, key_hash, destination, validate_only, event_name,
  event_id, timestamp_ms, state, attempts, accepted_ms, next_attempt_ms,
  done_ms, last_error, dead_reason)
SELECT id, spool_key_hash(destination, validate_only, event_name, event_id),
  destination, validate_only, event_name, event_id, timestamp_ms, state,
  attempts, accepted_ms, next_attempt_ms, done_ms, last_error, dead_reason
FROM events_v1;
INSERT INTO payloads_kept(id, wire_json)
  SELECT id, wire_json FROM events_v1 WHERE state<>2;
DROP TABLE events_v1;
)sql";

// Layout 2 kept every payload still needed in `payloads`: they become kept
// ones as they are.
constexpr char kMigrateFrom2[] = R"sql(
ALTER TABLE payloads RENAME TO payloads_kept;
ALTER TABLE events ADD COLUMN payload_seg INTEGER;
ALTER TABLE events ADD COLUMN payload_off INTEGER;
ALTER TABLE events ADD COLUMN payload_len INTEGER;
ALTER TABLE events ADD COLUMN payload_crc INTEGER;
)sql";

// SQL function spool_key_hash(destination, validate_only, name, id), for
// the layout migration.
void SqlKeyHash(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto text = [&](int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_value_text(argv[i]));
    return std::string_view(p ? p : "",
                            static_cast<size_t>(sqlite3_value_bytes(argv[i])));
  };
  sqlite3_result_int64(ctx, KeyHash(text(0), sqlite3_value_int64(argv[1]) != 0,
                                    text(2), text(3)));
}

}  // namespace

absl::Status SqliteError(sqlite3* db, const char* what) {
  std::string message =
      absl::StrCat("spool: ", what, ": ", db ? sqlite3_errmsg(db) : "no db");
  if (db && (sqlite3_errcode(db) & 0xff) == SQLITE_FULL) {
    return DiskFullError(message);
  }
  return absl::InternalError(message);
}

// The 64-bit fingerprint of an event key: the first 8 bytes of the SHA-256
// of its length-prefixed parts. Stable across runs (it is stored).
std::int64_t KeyHash(std::string_view destination, bool validate_only,
                     std::string_view event_name, std::string_view event_id) {
  std::string buffer;
  buffer.reserve(destination.size() + event_name.size() + event_id.size() + 16);
  for (std::string_view part : {destination, event_name, event_id}) {
    buffer.append(std::to_string(part.size()));
    buffer.push_back(':');
    buffer.append(part.data(), part.size());
  }
  buffer.push_back(validate_only ? '1' : '0');
  mapping::Sha256Digest d = mapping::Sha256(buffer);
  std::uint64_t h = 0;
  for (int i = 0; i < 8; ++i) h = (h << 8) | d[static_cast<size_t>(i)];
  std::int64_t out;
  std::memcpy(&out, &h, sizeof out);
  return out;
}

absl::Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
      rc != SQLITE_OK) {
    std::string message = absl::StrCat("spool: ", error ? error : "exec");
    absl::Status status = (rc & 0xff) == SQLITE_FULL
                              ? DiskFullError(message)
                              : absl::InternalError(message);
    sqlite3_free(error);
    return status;
  }
  return absl::OkStatus();
}

// Every connection runs with synchronous=NORMAL: SQLite then syncs the WAL
// before each checkpoint and the database after it, so the file never
// corrupts, but it does not sync on commit. With `spool.synchronous: full`
// the spool's syncer thread syncs the WAL after each group commit instead
// (service/spool_syncer.h), so that the next group runs while the disk
// flushes the last one.
absl::StatusOr<sqlite3*> OpenDb(const std::string& path, int cache_kib) {
  // SQLite's memory statistics take a process-wide mutex on every
  // allocation; nothing here reads them. Only possible before SQLite
  // initializes, so done once, before the first open.
  static const bool memstatus_off = [] {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  }();
  (void)memstatus_off;
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    absl::Status status = SqliteError(db, "open");
    sqlite3_close(db);
    return status;
  }
  sqlite3_busy_timeout(db, 5000);
  absl::Status status = Exec(db,
                             // 16 KiB pages: a WAL commit of many rows
                             // takes a quarter of the write calls.
                             // (Only takes effect on a new database.)
                             "PRAGMA page_size=16384;"
                             "PRAGMA journal_mode=WAL;"
                             "PRAGMA temp_store=MEMORY;"
                             // The checkpointer thread checkpoints; no
                             // connection does it on commit.
                             "PRAGMA wal_autocheckpoint=0;"
                             // Keep the WAL at most 64 MiB after a reset.
                             "PRAGMA journal_size_limit=67108864;");
  if (status.ok()) {
    status =
        Exec(db, absl::StrCat("PRAGMA cache_size=-", cache_kib, ";").c_str());
  }
  if (status.ok()) status = Exec(db, "PRAGMA synchronous=NORMAL;");
  if (!status.ok()) {
    sqlite3_close(db);
    return status;
  }
  return db;
}

namespace {

// Reads one integer: the first column of the first row of `sql`.
absl::StatusOr<std::int64_t> QueryInt(sqlite3* db, const char* sql) {
  Statement st;
  absl::Status s = st.Prepare(db, sql);
  if (!s.ok()) return s;
  if (st.Step() != SQLITE_ROW) return SqliteError(db, sql);
  return st.Int(0);
}

// Delivered rows are coalesced into runs of at most this many ids, whose
// rows were delivered within this long of each other (so that none is
// pruned more than that late).
constexpr std::int64_t kRebuiltRunIds = 4096;
constexpr std::int64_t kRebuiltRunSpreadMs = 60'000;

// Builds `delivered_runs` anew from the delivered rows, and drops the
// index on their time that builds before delivered_runs kept (and would
// create again on this file): a file such a build wrote or migrated has
// runs missing. Inside the caller's transaction.
absl::Status RebuildDeliveredRuns(sqlite3* db) {
  absl::Status s = Exec(db, "DELETE FROM delivered_runs;");
  if (!s.ok()) return s;
  Statement rows;
  Statement insert;
  if (!(s = rows.Prepare(db,
                         "SELECT id, done_ms FROM events WHERE state=2 "
                         "ORDER BY id"))
           .ok() ||
      !(s = insert.Prepare(db,
                           "INSERT INTO delivered_runs(done_ms, lo, hi) "
                           "VALUES(?1, ?2, ?3)"))
           .ok()) {
    return s;
  }
  bool open = false;
  std::int64_t lo = 0, hi = 0, earliest = 0, latest = 0;
  auto flush = [&]() -> absl::Status {
    if (!open) return absl::OkStatus();
    insert.Bind(1, latest);
    insert.Bind(2, lo);
    insert.Bind(3, hi);
    return insert.Run("rebuild delivered runs");
  };
  int rc;
  while ((rc = rows.Step()) == SQLITE_ROW) {
    const std::int64_t id = rows.Int(0);
    const std::int64_t done = rows.Int(1);
    if (open && id - lo < kRebuiltRunIds &&
        std::max(latest, done) - std::min(earliest, done) <=
            kRebuiltRunSpreadMs) {
      hi = id;
      earliest = std::min(earliest, done);
      latest = std::max(latest, done);
      continue;
    }
    if (!(s = flush()).ok()) return s;
    open = true;
    lo = hi = id;
    earliest = latest = done;
  }
  rows.Reset();
  if (rc != SQLITE_DONE) return SqliteError(db, "rebuild delivered runs");
  if (!(s = flush()).ok()) return s;
  return Exec(db, "DROP INDEX IF EXISTS events_delivered;");
}

// Whether the file has the index on delivered rows' time of builds before
// delivered_runs (a sign that such a build used it last).
absl::StatusOr<bool> HasDeliveredIndex(sqlite3* db) {
  absl::StatusOr<std::int64_t> n =
      QueryInt(db,
               "SELECT COUNT(*) FROM sqlite_schema WHERE type='index' AND "
               "name='events_delivered'");
  if (!n.ok()) return n.status();
  return *n > 0;
}

}  // namespace

absl::Status PrepareSchema(sqlite3* db) {
  if (sqlite3_create_function(db, "spool_key_hash", 4,
                              SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                              &SqlKeyHash, nullptr, nullptr) != SQLITE_OK) {
    return SqliteError(db, "register key hash");
  }
  absl::StatusOr<std::int64_t> current = QueryInt(db, "PRAGMA user_version");
  if (!current.ok()) return current.status();
  if (*current > kLayoutVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "spool: the file has layout ", *current, "; this build reads up to ",
        kLayoutVersion, " (a newer version wrote it)"));
  }
  if (*current == kLayoutVersion) {
    absl::StatusOr<bool> old_index = HasDeliveredIndex(db);
    if (!old_index.ok()) return old_index.status();
    if (!*old_index) return Exec(db, kSchema);
    absl::Status s = Exec(db, "BEGIN IMMEDIATE;");
    if (s.ok()) s = Exec(db, kSchema);
    if (s.ok()) s = RebuildDeliveredRuns(db);
    if (s.ok()) s = Exec(db, "COMMIT;");
    if (!s.ok()) Exec(db, "ROLLBACK;").IgnoreError();
    return s;
  }
  // Layout 1 had no version and kept wire_json in `events`; layout 2 had
  // the table `payloads`.
  absl::StatusOr<std::int64_t> v1 =
      QueryInt(db,
               "SELECT COUNT(*) FROM pragma_table_info('events') "
               "WHERE name='wire_json'");
  if (!v1.ok()) return v1.status();
  absl::StatusOr<std::int64_t> v2 =
      QueryInt(db,
               "SELECT COUNT(*) FROM sqlite_schema WHERE type='table' AND "
               "name='payloads'");
  if (!v2.ok()) return v2.status();
  absl::Status s = Exec(db, "BEGIN IMMEDIATE;");
  if (!s.ok()) return s;
  if (*v1 > 0) s = Exec(db, kMigrateFrom1);
  if (s.ok() && *v1 == 0 && *v2 > 0) s = Exec(db, kMigrateFrom2);
  if (s.ok()) s = Exec(db, kSchema);
  if (s.ok() && *v1 > 0) s = Exec(db, kMigrateFrom1Copy);
  if (s.ok()) s = RebuildDeliveredRuns(db);
  if (s.ok()) {
    s = Exec(db,
             absl::StrCat("PRAGMA user_version=", kLayoutVersion, ";").c_str());
  }
  if (s.ok()) s = Exec(db, "COMMIT;");
  if (!s.ok()) Exec(db, "ROLLBACK;").IgnoreError();
  return s;
}

absl::Status WriterStatements::Prepare(sqlite3* db) {
  absl::Status s;
  if (!(s = begin.Prepare(db, "BEGIN IMMEDIATE")).ok() ||
      !(s = commit.Prepare(db, "COMMIT")).ok() ||
      !(s = insert.Prepare(
            db,
            "INSERT INTO events(key_hash, destination, validate_only, "
            "event_name, event_id, timestamp_ms, state, accepted_ms, "
            "next_attempt_ms, payload_seg, payload_off, payload_len, "
            "payload_crc) VALUES(?1,?2,?3,?4,?5,?6,0,?7,?7,?8,?9,?10,?11)"))
           .ok() ||
      !(s = key_of.Prepare(db,
                           "SELECT destination, validate_only, event_name, "
                           "event_id, state FROM events WHERE id=?1"))
           .ok() ||
      !(s = remove_row.Prepare(db, "DELETE FROM events WHERE id=?1")).ok() ||
      !(s = delivered.Prepare(db,
                              "UPDATE events SET state=2, done_ms=?3, "
                              "attempts=attempts+?4, last_error=NULL "
                              "WHERE id BETWEEN ?1 AND ?2 AND state=0"))
           .ok() ||
      !(s = delivered_run.Prepare(db,
                                  "INSERT INTO delivered_runs(done_ms, lo, "
                                  "hi) VALUES(?1, ?2, ?3)"))
           .ok() ||
      !(s = drop_payloads.Prepare(
            db, "DELETE FROM payloads_kept WHERE id BETWEEN ?1 AND ?2"))
           .ok() ||
      !(s = drop_delivered_payloads.Prepare(
            db,
            "DELETE FROM payloads_kept WHERE id IN (SELECT id FROM events "
            "WHERE id BETWEEN ?1 AND ?2 AND state=2)"))
           .ok() ||
      !(s = retry.Prepare(db,
                          "UPDATE events SET state=0, next_attempt_ms=?3, "
                          "last_error=?4, attempts=attempts+?5 "
                          "WHERE id BETWEEN ?1 AND ?2 AND state=0"))
           .ok() ||
      !(s = dead.Prepare(db,
                         "UPDATE events SET state=3, done_ms=?3, "
                         "dead_reason=?4, last_error=?5, "
                         "attempts=attempts+?6 "
                         "WHERE id BETWEEN ?1 AND ?2 AND state=0"))
           .ok() ||
      !(s = closing.Prepare(
            db,
            "SELECT destination, payload_seg, id, payload_off, payload_len, "
            "payload_crc FROM events WHERE id BETWEEN ?1 AND ?2 AND "
            "state=0"))
           .ok() ||
      !(s = keep_payload.Prepare(db,
                                 "INSERT OR REPLACE INTO payloads_kept(id, "
                                 "wire_json) VALUES(?1,?2)"))
           .ok() ||
      !(s = mark_kept.Prepare(db,
                              "UPDATE events SET payload_seg=NULL WHERE id=?1"))
           .ok() ||
      !(s = segment_rows.Prepare(
            db,
            "SELECT id, payload_seg, payload_off, payload_len, payload_crc "
            "FROM events WHERE id BETWEEN ?1 AND ?2 AND payload_seg=?3 AND "
            "state<>2"))
           .ok()) {
    return s;
  }
  return absl::OkStatus();
}

absl::Status ClaimStatements::Prepare(sqlite3* db) {
  absl::Status s;
  if (!(s = ids.Prepare(
            db,
            "SELECT id, next_attempt_ms FROM events WHERE destination=?1 "
            "AND validate_only=?2 AND state=0 AND next_attempt_ms<=?3 "
            "ORDER BY next_attempt_ms, id"))
           .ok() ||
      !(s = ids_after.Prepare(
            db,
            "SELECT id, next_attempt_ms FROM events WHERE destination=?1 "
            "AND validate_only=?2 AND state=0 AND next_attempt_ms<=?3 "
            "AND (next_attempt_ms, id) > (?4, ?5) "
            "ORDER BY next_attempt_ms, id"))
           .ok() ||
      !(s = rows.Prepare(
            db,
            "SELECT e.id, e.timestamp_ms, e.attempts, e.event_id, "
            "e.payload_seg, e.payload_off, e.payload_len, e.payload_crc, "
            "CASE WHEN e.payload_seg IS NULL THEN (SELECT wire_json FROM "
            "payloads_kept k WHERE k.id=e.id) END, e.last_error "
            "FROM events e WHERE e.id BETWEEN ?1 AND ?2 AND e.state=0"))
           .ok() ||
      !(s = kept.Prepare(db, "SELECT wire_json FROM payloads_kept WHERE id=?1"))
           .ok()) {
    return s;
  }
  return absl::OkStatus();
}

}  // namespace conversions::service::spool_sqlite
