#include "service/spool.h"

#include <sqlite3.h>

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"

namespace conversions::service {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  destination TEXT NOT NULL,
  validate_only INTEGER NOT NULL,
  event_name TEXT NOT NULL,
  event_id TEXT NOT NULL,
  timestamp_ms INTEGER NOT NULL,
  wire_json TEXT NOT NULL,
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  accepted_ms INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  done_ms INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  dead_reason INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS events_key
  ON events(destination, validate_only, event_name, event_id);
CREATE INDEX IF NOT EXISTS events_lane
  ON events(destination, validate_only, state, id, next_attempt_ms);
CREATE INDEX IF NOT EXISTS events_done ON events(state, done_ms);
)sql";

// Page cache of the writer connection: the dedup and lane indexes of a
// million queued events stay mostly in memory (and RSS under 200 MB).
constexpr int kWriterCacheKib = 48 * 1024;
// The reader serves point lookups and small scans.
constexpr int kReaderCacheKib = 8 * 1024;

absl::Status SqliteError(sqlite3* db, const char* what) {
  return absl::InternalError(
      absl::StrCat("spool: ", what, ": ", db ? sqlite3_errmsg(db) : "no db"));
}

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

absl::Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    absl::Status status =
        absl::InternalError(absl::StrCat("spool: ", error ? error : "exec"));
    sqlite3_free(error);
    return status;
  }
  return absl::OkStatus();
}

absl::StatusOr<sqlite3*> OpenDb(const std::string& path, bool fsync,
                                int cache_kib) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    absl::Status status = SqliteError(db, "open");
    sqlite3_close(db);
    return status;
  }
  sqlite3_busy_timeout(db, 5000);
  absl::Status status = Exec(db,
                             // 16 KiB pages: a WAL commit of many ~1 KiB
                             // rows takes a quarter of the write calls.
                             // (Only takes effect on a new database.)
                             "PRAGMA page_size=16384;"
                             "PRAGMA journal_mode=WAL;"
                             "PRAGMA temp_store=MEMORY;"
                             // Checkpoint every 16 MiB of WAL and keep the
                             // file at most 64 MiB after a checkpoint.
                             "PRAGMA wal_autocheckpoint=4000;"
                             "PRAGMA journal_size_limit=67108864;");
  if (status.ok()) {
    status =
        Exec(db, absl::StrCat("PRAGMA cache_size=-", cache_kib, ";").c_str());
  }
  if (status.ok()) {
    status = Exec(
        db, fsync ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
  }
  if (!status.ok()) {
    sqlite3_close(db);
    return status;
  }
  return db;
}

// One write waiting for the writer thread.
struct WriteOp {
  // Runs inside the group transaction; returns false to fail the op (its
  // effects are then still committed with the group, so ops that can fail
  // midway keep their own savepoint).
  std::function<absl::Status(sqlite3*)> run;
  // Called after the commit, with the op's or the commit's status.
  std::function<void(absl::Status)> done;
  int events = 0;  // appended events, for the group size bound
};

class SqliteSpool : public Spool {
 public:
  SqliteSpool(SpoolOptions options, sqlite3* writer, sqlite3* reader)
      : options_(std::move(options)), writer_db_(writer), reader_db_(reader) {}

  ~SqliteSpool() override {
    Shutdown();
    sqlite3_close(writer_db_);
    sqlite3_close(reader_db_);
  }

  absl::Status Init(std::int64_t now_ms) {
    absl::Status s = Exec(writer_db_, kSchema);
    if (!s.ok()) return s;
    // Events in flight when the last run stopped go back to the queue.
    s = Exec(writer_db_, "UPDATE events SET state=0 WHERE state=1;");
    if (!s.ok()) return s;
    (void)now_ms;
    if (!(s = begin_.Prepare(writer_db_, "BEGIN IMMEDIATE")).ok() ||
        !(s = commit_.Prepare(writer_db_, "COMMIT")).ok() ||
        !(s = insert_.Prepare(
              writer_db_,
              "INSERT OR IGNORE INTO events(destination, validate_only, "
              "event_name, event_id, timestamp_ms, wire_json, state, "
              "accepted_ms, next_attempt_ms) "
              "VALUES(?1,?2,?3,?4,?5,?6,0,?7,?7)"))
             .ok() ||
        !(s = claim_.Prepare(
              writer_db_,
              "SELECT id, timestamp_ms, attempts, event_id, wire_json FROM "
              "events WHERE destination=?1 AND validate_only=?2 AND state=0 "
              "AND next_attempt_ms<=?3 ORDER BY id LIMIT ?4"))
             .ok() ||
        !(s = set_in_flight_.Prepare(writer_db_,
                                     "UPDATE events SET state=1 WHERE id=?1"))
             .ok() ||
        !(s = delivered_.Prepare(writer_db_,
                                 "UPDATE events SET state=2, done_ms=?2, "
                                 "attempts=attempts+1, last_error=NULL "
                                 "WHERE id=?1 AND state=1"))
             .ok() ||
        !(s = retry_.Prepare(writer_db_,
                             "UPDATE events SET state=0, next_attempt_ms=?2, "
                             "last_error=?3, attempts=attempts+?4 "
                             "WHERE id=?1 AND state=1"))
             .ok() ||
        !(s = dead_.Prepare(writer_db_,
                            "UPDATE events SET state=3, done_ms=?2, "
                            "dead_reason=?3, last_error=?4, "
                            "attempts=attempts+?5 WHERE id=?1 AND state=1"))
             .ok()) {
      return s;
    }
    Statement count;
    if (!(s = count.Prepare(writer_db_,
                            "SELECT COUNT(*) FROM events WHERE state IN (0,1)"))
             .ok()) {
      return s;
    }
    if (count.Step() != SQLITE_ROW) return SqliteError(writer_db_, "count");
    {
      absl::MutexLock lock(&mu_);
      queued_ = count.Int(0);
    }
    writer_ = std::thread([this] { WriterLoop(); });
    return absl::OkStatus();
  }

  void Append(std::vector<SpoolEvent> events, std::int64_t now_ms,
              AppendCallback done) override {
    const auto n = static_cast<std::int64_t>(events.size());
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (stopping_) {
        done(absl::UnavailableError("spool is shutting down"));
        return;
      }
    }
    {
      absl::MutexLock lock(&mu_);
      if (queued_ + reserved_ + n > options_.max_queued_events) {
        done(absl::ResourceExhaustedError(absl::StrCat(
            "spool is full: ", queued_ + reserved_, " events queued, bound ",
            options_.max_queued_events)));
        return;
      }
      reserved_ += n;
    }
    auto outcomes = std::make_shared<std::vector<AppendOutcome>>();
    auto shared_events =
        std::make_shared<std::vector<SpoolEvent>>(std::move(events));
    WriteOp op;
    op.events = static_cast<int>(n);
    op.run = [this, shared_events, outcomes, now_ms](sqlite3*) {
      outcomes->reserve(shared_events->size());
      for (const SpoolEvent& e : *shared_events) {
        insert_.Bind(1, e.destination);
        insert_.Bind(2, e.validate_only ? 1 : 0);
        insert_.Bind(3, e.event_name);
        insert_.Bind(4, e.event_id);
        insert_.Bind(5, e.timestamp_ms);
        insert_.Bind(6, e.wire_json);
        insert_.Bind(7, now_ms);
        absl::Status s = insert_.Run("insert");
        if (!s.ok()) return s;
        outcomes->push_back(sqlite3_changes(writer_db_) == 1
                                ? AppendOutcome::kAccepted
                                : AppendOutcome::kDuplicate);
      }
      return absl::OkStatus();
    };
    op.done = [this, n, outcomes, done = std::move(done)](absl::Status s) {
      std::int64_t accepted = 0;
      if (s.ok()) {
        for (AppendOutcome o : *outcomes)
          accepted += o == AppendOutcome::kAccepted;
      }
      {
        absl::MutexLock lock(&mu_);
        reserved_ -= n;
        queued_ += accepted;
      }
      if (s.ok()) {
        done(std::move(*outcomes));
      } else {
        done(s);
      }
    };
    Submit(std::move(op));
  }

  absl::StatusOr<std::vector<ClaimedEvent>> Claim(const LaneKey& lane,
                                                  std::int64_t now_ms,
                                                  size_t max_events,
                                                  size_t max_bytes) override {
    std::vector<ClaimedEvent> claimed;
    absl::Status status = RunSync([&](sqlite3*) -> absl::Status {
      claim_.Bind(1, lane.destination);
      claim_.Bind(2, lane.validate_only ? 1 : 0);
      claim_.Bind(3, now_ms);
      claim_.Bind(4, static_cast<std::int64_t>(max_events));
      size_t bytes = 0;
      int rc;
      while ((rc = claim_.Step()) == SQLITE_ROW) {
        size_t size = sqlite3_column_bytes(claim_.get(), 4);
        if (!claimed.empty() && bytes + size > max_bytes) break;
        bytes += size;
        ClaimedEvent e;
        e.row_id = claim_.Int(0);
        e.timestamp_ms = claim_.Int(1);
        e.attempts = static_cast<int>(claim_.Int(2));
        e.event_id = claim_.Text(3);
        e.wire_json = claim_.Text(4);
        claimed.push_back(std::move(e));
      }
      claim_.Reset();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return SqliteError(writer_db_, "claim");
      }
      for (const ClaimedEvent& e : claimed) {
        set_in_flight_.Bind(1, e.row_id);
        absl::Status s = set_in_flight_.Run("claim update");
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return claimed;
  }

  absl::Status MarkDelivered(absl::Span<const std::int64_t> rows,
                             std::int64_t now_ms) override {
    std::vector<std::int64_t> ids(rows.begin(), rows.end());
    return RunSync([&](sqlite3*) -> absl::Status {
      std::int64_t changed = 0;
      for (std::int64_t id : ids) {
        delivered_.Bind(1, id);
        delivered_.Bind(2, now_ms);
        absl::Status s = delivered_.Run("delivered");
        if (!s.ok()) return s;
        changed += sqlite3_changes(writer_db_);
      }
      DecrementQueued(changed);
      return absl::OkStatus();
    });
  }

  absl::Status MarkRetry(absl::Span<const std::int64_t> rows,
                         std::int64_t next_attempt_ms, const std::string& error,
                         bool count_attempt) override {
    std::vector<std::int64_t> ids(rows.begin(), rows.end());
    return RunSync([&](sqlite3*) -> absl::Status {
      for (std::int64_t id : ids) {
        retry_.Bind(1, id);
        retry_.Bind(2, next_attempt_ms);
        retry_.Bind(3, error);
        retry_.Bind(4, count_attempt ? 1 : 0);
        absl::Status s = retry_.Run("retry");
        if (!s.ok()) return s;
      }
      return absl::OkStatus();
    });
  }

  absl::Status MarkDead(absl::Span<const std::int64_t> rows, DeadReason reason,
                        const std::string& message,
                        std::int64_t now_ms) override {
    std::vector<std::int64_t> ids(rows.begin(), rows.end());
    return RunSync([&](sqlite3*) -> absl::Status {
      std::int64_t changed = 0;
      for (std::int64_t id : ids) {
        dead_.Bind(1, id);
        dead_.Bind(2, now_ms);
        dead_.Bind(3, static_cast<std::int64_t>(reason));
        dead_.Bind(4, message);
        dead_.Bind(5, reason == DeadReason::kRejected ? 1 : 0);
        absl::Status s = dead_.Run("dead");
        if (!s.ok()) return s;
        changed += sqlite3_changes(writer_db_);
      }
      DecrementQueued(changed);
      return absl::OkStatus();
    });
  }

  absl::StatusOr<EventStatusRecord> Lookup(
      const std::string& destination, const std::string& event_name,
      const std::string& event_id) override {
    absl::MutexLock lock(&reader_mu_);
    Statement st;
    absl::Status s = st.Prepare(
        reader_db_,
        "SELECT state, accepted_ms, done_ms, next_attempt_ms, attempts, "
        "last_error, dead_reason FROM events WHERE destination=?1 AND "
        "event_name=?2 AND event_id=?3 ORDER BY validate_only LIMIT 1");
    if (!s.ok()) return s;
    st.Bind(1, destination);
    st.Bind(2, event_name);
    st.Bind(3, event_id);
    int rc = st.Step();
    if (rc == SQLITE_DONE) return absl::NotFoundError("event not found");
    if (rc != SQLITE_ROW) return SqliteError(reader_db_, "lookup");
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
    return r;
  }

  absl::StatusOr<DeadLetterPage> ListDeadLetters(
      const DeadLetterQuery& query) override {
    // The page token is "<done_ms>:<id>" of the last row of the last page.
    std::int64_t after_done = INT64_MAX, after_id = INT64_MAX;
    if (!query.page_token.empty()) {
      std::vector<std::string> parts = absl::StrSplit(query.page_token, ':');
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &after_done) ||
          !absl::SimpleAtoi(parts[1], &after_id)) {
        return absl::InvalidArgumentError("malformed page_token");
      }
    }
    int page_size =
        query.page_size <= 0 ? 100 : std::min(query.page_size, 1000);
    absl::MutexLock lock(&reader_mu_);
    Statement st;
    absl::Status s =
        st.Prepare(reader_db_,
                   "SELECT id, destination, event_name, event_id, dead_reason, "
                   "last_error, done_ms, attempts, wire_json FROM events "
                   "WHERE state=3 AND (?1='' OR destination=?1) "
                   "AND (?2=0 OR dead_reason=?2) "
                   "AND (done_ms<?3 OR (done_ms=?3 AND id<?4)) "
                   "ORDER BY done_ms DESC, id DESC LIMIT ?5");
    if (!s.ok()) return s;
    st.Bind(1, query.destination);
    st.Bind(2, query.reason ? static_cast<std::int64_t>(*query.reason) : 0);
    st.Bind(3, after_done);
    st.Bind(4, after_id);
    st.Bind(5, static_cast<std::int64_t>(page_size) + 1);
    DeadLetterPage page;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      if (static_cast<int>(page.dead_letters.size()) == page_size) {
        const DeadLetterRecord& last = page.dead_letters.back();
        page.next_page_token = absl::StrCat(last.dead_ms, ":", last.row_id);
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
      page.dead_letters.push_back(std::move(r));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return SqliteError(reader_db_, "list dead letters");
    }
    return page;
  }

  absl::StatusOr<int> Requeue(const std::string& destination,
                              absl::Span<const EventKeyRef> keys,
                              std::optional<DeadReason> reason,
                              std::int64_t now_ms) override {
    std::vector<EventKeyRef> key_copy(keys.begin(), keys.end());
    int requeued = 0;
    absl::Status status = RunSync([&](sqlite3* db) -> absl::Status {
      Statement st;
      absl::Status s;
      if (key_copy.empty()) {
        s = st.Prepare(db,
                       "UPDATE events SET state=0, next_attempt_ms=?2, "
                       "attempts=0, dead_reason=NULL, done_ms=0 WHERE state=3 "
                       "AND destination=?1 AND (?3=0 OR dead_reason=?3)");
        if (!s.ok()) return s;
        st.Bind(1, destination);
        st.Bind(2, now_ms);
        st.Bind(3, reason ? static_cast<std::int64_t>(*reason) : 0);
        if (!(s = st.Run("requeue")).ok()) return s;
        requeued = sqlite3_changes(db);
      } else {
        s = st.Prepare(db,
                       "UPDATE events SET state=0, next_attempt_ms=?2, "
                       "attempts=0, dead_reason=NULL, done_ms=0 WHERE state=3 "
                       "AND destination=?1 AND event_name=?3 AND event_id=?4");
        if (!s.ok()) return s;
        for (const EventKeyRef& k : key_copy) {
          st.Bind(1, destination);
          st.Bind(2, now_ms);
          st.Bind(3, k.event_name);
          st.Bind(4, k.event_id);
          if (!(s = st.Run("requeue")).ok()) return s;
          requeued += sqlite3_changes(db);
        }
      }
      absl::MutexLock lock(&mu_);
      queued_ += requeued;
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return requeued;
  }

  absl::StatusOr<std::optional<std::int64_t>> NextDueMs(
      const LaneKey& lane) override {
    absl::MutexLock lock(&reader_mu_);
    Statement st;
    absl::Status s = st.Prepare(
        reader_db_,
        "SELECT MIN(next_attempt_ms) FROM events WHERE destination=?1 AND "
        "validate_only=?2 AND state=0");
    if (!s.ok()) return s;
    st.Bind(1, lane.destination);
    st.Bind(2, lane.validate_only ? 1 : 0);
    if (st.Step() != SQLITE_ROW) return SqliteError(reader_db_, "next due");
    if (sqlite3_column_type(st.get(), 0) == SQLITE_NULL) {
      return std::optional<std::int64_t>();
    }
    return std::optional<std::int64_t>(st.Int(0));
  }

  absl::StatusOr<std::vector<DestinationDepth>> Depths() override {
    absl::MutexLock lock(&reader_mu_);
    Statement st;
    absl::Status s =
        st.Prepare(reader_db_,
                   "SELECT destination, COUNT(*), MIN(id) FROM events "
                   "WHERE state IN (0,1) GROUP BY destination");
    if (!s.ok()) return s;
    std::vector<std::pair<DestinationDepth, std::int64_t>> rows;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      DestinationDepth d;
      d.destination = st.Text(0);
      d.queued = st.Int(1);
      rows.push_back({std::move(d), st.Int(2)});
    }
    if (rc != SQLITE_DONE) return SqliteError(reader_db_, "depths");
    Statement oldest;
    if (!(s = oldest.Prepare(reader_db_,
                             "SELECT accepted_ms FROM events WHERE id=?1"))
             .ok()) {
      return s;
    }
    std::vector<DestinationDepth> out;
    for (auto& [depth, min_id] : rows) {
      oldest.Bind(1, min_id);
      if (oldest.Step() == SQLITE_ROW) depth.oldest_accepted_ms = oldest.Int(0);
      oldest.Reset();
      out.push_back(std::move(depth));
    }
    return out;
  }

  std::int64_t QueuedCount() const override {
    absl::MutexLock lock(&mu_);
    return queued_;
  }

  absl::StatusOr<std::int64_t> Prune(std::int64_t now_ms) override {
    std::int64_t cutoff = now_ms - options_.retention.count();
    std::int64_t removed = 0;
    absl::Status status = RunSync([&](sqlite3* db) -> absl::Status {
      Statement st;
      absl::Status s = st.Prepare(
          db, "DELETE FROM events WHERE state IN (2,3) AND done_ms<?1");
      if (!s.ok()) return s;
      st.Bind(1, cutoff);
      if (!(s = st.Run("prune")).ok()) return s;
      removed = sqlite3_changes(db);
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    return removed;
  }

  void Shutdown() override {
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    std::lock_guard<std::mutex> join_lock(join_mu_);
    if (writer_.joinable()) writer_.join();
  }

 private:
  void DecrementQueued(std::int64_t n) {
    absl::MutexLock lock(&mu_);
    queued_ -= n;
  }

  void Submit(WriteOp op) {
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (!writer_exited_) {
        pending_.push_back(std::move(op));
        cv_.notify_one();
        return;
      }
    }
    op.done(absl::UnavailableError("spool is shut down"));
  }

  // Runs `fn` as a write op and waits for its commit.
  absl::Status RunSync(std::function<absl::Status(sqlite3*)> fn) {
    // Shared: set_value may still be running when get() returns here.
    auto promise = std::make_shared<std::promise<absl::Status>>();
    std::future<absl::Status> future = promise->get_future();
    WriteOp op;
    op.run = std::move(fn);
    op.done = [promise](absl::Status s) { promise->set_value(std::move(s)); };
    Submit(std::move(op));
    return future.get();
  }

  void WriterLoop() {
    for (;;) {
      std::vector<WriteOp> batch;
      {
        std::unique_lock<std::mutex> lock(queue_mu_);
        cv_.wait(lock, [&] { return !pending_.empty() || stopping_; });
        if (pending_.empty()) {  // stopping and drained
          writer_exited_ = true;
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
    }
  }

  // Runs ops in one transaction with one commit (one fsync). Ops do not
  // fail on their own in practice (constraint conflicts are "OR IGNORE");
  // if one does, the whole group is rolled back and every op in it fails,
  // so no caller is told "stored" for a write that was undone.
  void RunGroup(std::vector<WriteOp>* batch) {
    absl::Status status = begin_.Run("begin");
    for (size_t i = 0; status.ok() && i < batch->size(); ++i) {
      status = (*batch)[i].run(writer_db_);
    }
    if (status.ok()) status = commit_.Run("commit");
    if (!status.ok()) {
      Exec(writer_db_, "ROLLBACK").IgnoreError();  // best effort; may be none
    }
    for (WriteOp& op : *batch) op.done(status);
  }

  const SpoolOptions options_;
  sqlite3* const writer_db_;  // used by the writer thread only
  sqlite3* const reader_db_;  // guarded by reader_mu_

  // Prepared statements of the writer connection (writer thread only).
  Statement begin_, commit_, insert_, claim_, set_in_flight_, delivered_,
      retry_, dead_;

  mutable absl::Mutex mu_;
  std::int64_t queued_ ABSL_GUARDED_BY(mu_) = 0;    // queued or in flight
  std::int64_t reserved_ ABSL_GUARDED_BY(mu_) = 0;  // appends not committed

  absl::Mutex reader_mu_;

  std::mutex queue_mu_;
  std::condition_variable cv_;
  std::deque<WriteOp> pending_;  // guarded by queue_mu_
  bool stopping_ = false;        // guarded by queue_mu_: no more appends
  bool writer_exited_ = false;   // guarded by queue_mu_: no more writes

  std::mutex join_mu_;
  std::thread writer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(const SpoolOptions& options,
                                                   std::int64_t now_ms) {
  std::filesystem::path path(options.path);
  if (path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat("spool: cannot create ", path.parent_path().string(),
                       ": ", ec.message()));
    }
  }
  absl::StatusOr<sqlite3*> writer =
      OpenDb(options.path, options.synchronous == SpoolSynchronous::kFull,
             kWriterCacheKib);
  if (!writer.ok()) return writer.status();
  // The schema must exist before the reader opens.
  if (absl::Status s = Exec(*writer, kSchema); !s.ok()) {
    sqlite3_close(*writer);
    return s;
  }
  absl::StatusOr<sqlite3*> reader =
      OpenDb(options.path, options.synchronous == SpoolSynchronous::kFull,
             kReaderCacheKib);
  if (!reader.ok()) {
    sqlite3_close(*writer);
    return reader.status();
  }
  auto spool = std::make_unique<SqliteSpool>(options, *writer, *reader);
  absl::Status s = spool->Init(now_ms);
  if (!s.ok()) return s;
  return std::unique_ptr<Spool>(std::move(spool));
}

}  // namespace conversions::service
