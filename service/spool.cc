#include "service/spool.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "service/payload_log.h"
#include "service/spool_queries.h"
#include "service/spool_segments.h"
#include "service/spool_sqlite.h"
#include "service/spool_syncer.h"
#include "service/storage_status.h"

namespace conversions::service {
namespace {

using spool_sqlite::ClaimStatements;
using spool_sqlite::Exec;
using spool_sqlite::ForEachRange;
using spool_sqlite::KeyHash;
using spool_sqlite::KeyIndex;
using spool_sqlite::LocationAt;
using spool_sqlite::OpenDb;
using spool_sqlite::PrepareSchema;
using spool_sqlite::QueryDeadLetterCounts;
using spool_sqlite::QueryDeadLetters;
using spool_sqlite::QueryEventStatus;
using spool_sqlite::QueryOldestOpen;
using spool_sqlite::ScannedRows;
using spool_sqlite::ScanRows;
using spool_sqlite::SqliteError;
using spool_sqlite::Statement;
using spool_sqlite::WriterStatements;

// Page cache of the writer connection. The B-trees are written at their
// right edges, so a small cache suffices.
constexpr int kWriterCacheKib = 16 * 1024;
// The reader serves point lookups and small scans.
constexpr int kReaderCacheKib = 8 * 1024;
// The gauge connection reads rows in order from the oldest-event cursors:
// a small cache suffices.
constexpr int kGaugeCacheKib = 1024;
// WAL pages (16 KiB each) after which the checkpointer thread copies the
// WAL into the database, and after which the writer does it itself because
// the checkpointer fell behind.
constexpr int kCheckpointPages = 4000;
constexpr int kForcedCheckpointPages = 2 * kCheckpointPages;
// Rows deleted per transaction when pruning, so that a large prune does not
// hold up appends.
constexpr int kPruneChunk = 5000;
// Delivered ranges of one outcome at most this many ids apart share a run
// in delivered_runs (see spool_sqlite.cc).
constexpr std::int64_t kRunGap = 1024;
// ... and span at most this many ids, so that a prune reads few rows that
// it does not delete.
constexpr std::int64_t kMaxRunSpan = 4096;
// A claim scans the whole due queue of its lane at least this often (see
// SqliteSpool::Claim).
constexpr int kFullScanEvery = 16;
// Payload log segments removed per group commit at most, so that a group
// that finds many (the first after a restart) does not hold up appends.
constexpr size_t kRemovalsPerGroup = 2;
// Segments of the last run whose payloads are checked at start-up.
constexpr size_t kSegmentsCheckedAtStart = 2;

// An exclusive lock on the spool, held while it is open: `<path>.lock`,
// locked with flock and holding the owner's pid. SQLite lets any number of
// processes open one database, and the payload log has no lock of its
// own, so two gateways on one spool would each delete payload segments
// the other's rows still name, and events both answered ACCEPTED for would
// be lost. The kernel drops the lock when the process dies, kill -9
// included, so a stale file never blocks a restart.
class SpoolLock {
 public:
  static absl::StatusOr<std::unique_ptr<SpoolLock>> Acquire(
      const std::string& spool_path) {
    const std::string path = spool_path + ".lock";
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "spool: cannot open the lock file ", path, ": ", strerror(errno)));
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      char pid[32] = {};
      const ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
      close(fd);
      if (error == EWOULDBLOCK) {
        std::string owner(pid, n > 0 ? static_cast<size_t>(n) : 0);
        while (!owner.empty() &&
               (owner.back() == '\n' || owner.back() == ' ')) {
          owner.pop_back();
        }
        return absl::FailedPreconditionError(absl::StrCat(
            "spool: ", spool_path, " is in use by another process",
            owner.empty() ? "" : absl::StrCat(" (pid ", owner, ")"),
            "; each gateway needs a spool of its own (spool.path)"));
      }
      return absl::FailedPreconditionError(
          absl::StrCat("spool: cannot lock ", path, ": ", strerror(error)));
    }
    // The pid is for the message above; the lock is what counts.
    const std::string pid = absl::StrCat(getpid(), "\n");
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) !=
                                     static_cast<ssize_t>(pid.size())) {
      // Not fatal: the lock is held all the same.
    }
    return std::unique_ptr<SpoolLock>(new SpoolLock(fd));
  }

  ~SpoolLock() { close(fd_); }
  SpoolLock(const SpoolLock&) = delete;
  SpoolLock& operator=(const SpoolLock&) = delete;

 private:
  explicit SpoolLock(int fd) : fd_(fd) {}
  const int fd_;
};

// One write waiting for the writer thread.
struct WriteOp {
  // Runs inside the group transaction. An error fails the whole group.
  std::function<absl::Status(sqlite3*)> run;
  // Called with the op's or the commit's status: after the commit, or, for
  // `early` ops, as soon as `run` returns.
  std::function<void(absl::Status)> done;
  // Early ops (claims and delivery outcomes) need not wait for the commit:
  // if the process dies before the commit, their rows are simply queued
  // again at the next start and delivered again (at least once; the API
  // deduplicates by id).
  bool early = false;
  int events = 0;         // appended events, for the group size bound
  std::uint64_t seq = 0;  // submission order, set by Submit
};

class SqliteSpool : public Spool {
 public:
  SqliteSpool(std::unique_ptr<SpoolLock> lock, SpoolOptions options,
              std::unique_ptr<PayloadLog> log, sqlite3* writer, sqlite3* reader,
              sqlite3* gauge, sqlite3* claimer, sqlite3* checkpointer,
              SpoolSyncObserver on_sync)
      : lock_(std::move(lock)),
        options_(std::move(options)),
        log_(std::move(log)),
        writer_db_(writer),
        reader_db_(reader),
        gauge_db_(gauge),
        claim_db_(claimer),
        checkpoint_db_(checkpointer),
        syncer_(options_.path + "-wal", log_.get(), checkpoint_db_,
                std::move(on_sync)) {}

  ~SqliteSpool() override {
    Shutdown();
    // _v2: each connection closes once its prepared statements (members,
    // finalized after this body) are gone.
    sqlite3_close_v2(writer_db_);
    sqlite3_close_v2(reader_db_);
    sqlite3_close_v2(gauge_db_);
    sqlite3_close_v2(claim_db_);
    sqlite3_close_v2(checkpoint_db_);
  }

  absl::Status Init() {
    absl::Status s;
    if (!(s = w_.Prepare(writer_db_)).ok()) return s;
    {
      absl::MutexLock lock(&claim_mu_);
      if (!(s = claims_.Prepare(claim_db_)).ok()) return s;
    }
    if (!(s = LoadRows()).ok()) return s;
    sqlite3_wal_hook(writer_db_, &SqliteSpool::WalHook, this);
    // Named for `top -H` and profilers (at most 15 characters).
    writer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "spool-writer");
      WriterLoop();
    });
    syncer_.Start();
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
    // Events per destination (a request has one).
    auto by_destination =
        std::make_shared<std::vector<std::pair<std::string, std::int64_t>>>();
    for (const SpoolEvent& e : events) {
      if (by_destination->empty() ||
          by_destination->back().first != e.destination) {
        by_destination->emplace_back(e.destination, 0);
      }
      ++by_destination->back().second;
    }
    {
      absl::MutexLock lock(&mu_);
      if (absl::Status full = CheckBound(n, *by_destination); !full.ok()) {
        done(std::move(full));
        return;
      }
      reserved_ += n;
      for (const auto& [destination, k] : *by_destination) {
        reserved_by_destination_[destination] += k;
      }
    }
    auto outcomes = std::make_shared<std::vector<AppendOutcome>>();
    // Fingerprints are computed here, on the caller's thread, to keep the
    // single writer thread short.
    // So are the payloads' checksums.
    auto hashes = std::make_shared<std::vector<std::int64_t>>();
    auto crcs = std::make_shared<std::vector<std::uint32_t>>();
    hashes->reserve(events.size());
    crcs->reserve(events.size());
    for (const SpoolEvent& e : events) {
      hashes->push_back(
          KeyHash(e.destination, e.validate_only, e.event_name, e.event_id));
      crcs->push_back(PayloadCrc(e.wire_json));
    }
    auto shared_events =
        std::make_shared<std::vector<SpoolEvent>>(std::move(events));
    WriteOp op;
    op.events = static_cast<int>(n);
    op.run = [this, shared_events, hashes, crcs, outcomes, now_ms](sqlite3*) {
      return InsertEvents(*shared_events, *hashes, *crcs, now_ms,
                          outcomes.get());
    };
    op.done = [this, n, shared_events, outcomes, by_destination,
               done = std::move(done)](absl::Status s) {
      {
        absl::MutexLock lock(&mu_);
        reserved_ -= n;
        for (const auto& [destination, k] : *by_destination) {
          reserved_by_destination_[destination] -= k;
        }
        for (size_t i = 0; s.ok() && i < outcomes->size(); ++i) {
          if ((*outcomes)[i] == AppendOutcome::kDuplicate) continue;
          ++queued_;
          ++queued_by_destination_[(*shared_events)[i].destination];
        }
      }
      if (s.ok()) {
        done(std::move(*outcomes));
      } else {
        done(s);
      }
    };
    Submit(std::move(op));
  }

  // Claims read on their own connection and write nothing: "in flight" is
  // a state of memory only (in_flight_). The writer thread, the spool's
  // bottleneck, then only sees the outcome of each event. After a crash,
  // events that were in flight are simply queued (at least once; the API
  // deduplicates by id).
  absl::StatusOr<std::vector<ClaimedEvent>> Claim(const LaneKey& lane,
                                                  std::int64_t now_ms,
                                                  size_t max_events,
                                                  size_t max_bytes) override {
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
    ClaimCursor& cursor = cursors_[absl::StrCat(lane.validate_only ? "1" : "0",
                                                lane.destination)];
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
    // or damaged by hand) is dead-lettered rather than sent or retried.
    std::vector<std::int64_t> unreadable;
    std::string why;
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
        unreadable.push_back(e.row_id);
        why = std::string(read.message());
        e.row_id = -1;
      }
    }
    // The scans put every id in flight; what is not handed out (past the
    // byte budget, or after an error) leaves again, and the cursor stops at
    // the last event handed out.
    size_t bytes = 0;
    bool full = !s.ok();
    for (size_t i = 0; i < rows.size(); ++i) {
      ClaimedEvent& e = rows[i];
      if (e.row_id == -1) continue;  // unreadable, stays in flight
      // Its JSON, and the comma before it in the request's array.
      const size_t size = e.wire_json.size() + (claimed.empty() ? 0 : 1);
      full = full || e.row_id == 0 ||
             (!claimed.empty() && bytes + size > max_bytes);
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
    if (!unreadable.empty()) {
      absl::Status dead =
          s.ok() ? MarkDead(unreadable, DeadReason::kRejected,
                            absl::StrCat("spool: the stored event cannot be "
                                         "read: ",
                                         why),
                            now_ms, /*attempts=*/0)
                 : s;
      if (!dead.ok()) {
        for (std::int64_t row : unreadable) in_flight_.erase(row);
      }
    }
    if (!s.ok()) return s;
    return claimed;
  }

  absl::Status MarkDelivered(absl::Span<const std::int64_t> rows,
                             std::int64_t now_ms, int attempts) override {
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

  absl::Status MarkRetry(absl::Span<const std::int64_t> rows,
                         std::int64_t next_attempt_ms, const std::string& error,
                         int attempts) override {
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

  absl::Status MarkDead(absl::Span<const std::int64_t> rows, DeadReason reason,
                        const std::string& message, std::int64_t now_ms,
                        int attempts) override {
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

  absl::StatusOr<EventStatusRecord> Lookup(
      const std::string& destination, const std::string& event_name,
      const std::string& event_id) override {
    WaitForWrites();
    // A real event first, then a validate_only one.
    for (bool validate_only : {false, true}) {
      std::vector<std::int64_t> rows =
          Candidates(KeyHash(destination, validate_only, event_name, event_id));
      if (rows.empty()) continue;
      absl::MutexLock lock(&reader_mu_);
      auto found = QueryEventStatus(reader_db_, rows, destination,
                                    validate_only, event_name, event_id);
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

  absl::StatusOr<std::vector<DeadLetterCount>> CountDeadLetters() override {
    WaitForWrites();
    absl::MutexLock lock(&reader_mu_);
    return QueryDeadLetterCounts(reader_db_);
  }

  absl::StatusOr<DeadLetterPage> ListDeadLetters(
      const DeadLetterQuery& query) override {
    WaitForWrites();
    absl::MutexLock lock(&reader_mu_);
    return QueryDeadLetters(reader_db_, *log_, query);
  }

  absl::StatusOr<RequeueResult> Requeue(const std::string& destination,
                                        absl::Span<const EventKeyRef> keys,
                                        std::optional<DeadReason> reason,
                                        std::optional<bool> validate_only,
                                        std::int64_t oldest_timestamp_ms,
                                        std::int64_t now_ms) override {
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

  // RESOURCE_EXHAUSTED when queueing `n` dead letters of `destination`
  // again would pass the bound on queued events (CheckBound): a retry of
  // dead letters fills the queue as new events would. Nothing is queued
  // then; a narrower selection may fit. Writer thread only.
  absl::Status CheckRequeueBound(const std::string& destination,
                                 std::int64_t n) {
    if (n == 0) return absl::OkStatus();
    absl::MutexLock lock(&mu_);
    absl::Status s = CheckBound(n, {{destination, n}});
    if (s.ok()) return s;
    return QueueFullError(
        absl::StrCat("cannot queue ", n, " dead letters again: ", s.message()));
  }

  // Runs an UPDATE ... RETURNING payload_seg, id that queues dead letters
  // again; counts those still in the log open in their segments, and
  // notes the lowest row open again for the oldest-event cursors. Writer
  // thread only.
  absl::StatusOr<int> Reopen(Statement& st, const std::string& destination) {
    int n = 0;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      if (sqlite3_column_type(st.get(), 0) != SQLITE_NULL) {
        segments_.Reopened(st.Int(0));
      }
      auto [lowest, added] =
          group_reopened_.try_emplace(destination, INT64_MAX);
      lowest->second = std::min(lowest->second, st.Int(1));
      ++n;
    }
    st.Reset();
    if (rc != SQLITE_DONE) return SqliteError(writer_db_, "requeue");
    return n;
  }

  // The first due time of a queued event not in flight: the claims' scan,
  // up to the first row that is not in flight.
  absl::StatusOr<std::optional<std::int64_t>> NextDueMs(
      const LaneKey& lane) override {
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

  // Counts come from memory, the oldest event of each destination from a
  // look in row order from its cursor: a row before which none of its
  // events is open. Each look moves it to the oldest event it finds, or
  // past every row when the destination has none, so that the next one
  // reads only the rows closed or added since; every way of opening an
  // event again below a cursor lowers it (LowerOldestCursors). An index
  // of open rows cost the writer about 7 % of its CPU per event
  // delivered.
  absl::StatusOr<std::vector<DestinationDepth>> Depths() override {
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

  // After a commit, lowers the oldest-event cursors below the rows the
  // group opened again: ids SQLite gave again (every destination's
  // cursor: a reused id is below every row deleted) and dead letters
  // queued again (their destination's). Writer thread only.
  void LowerOldestCursors() {
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

  // After a group is rolled back: its outcomes, counted at once, are
  // undone, and a look meanwhile may have moved a cursor past events open
  // again. Every look starts from the first row once. Writer thread only.
  void ResetOldestCursors() {
    absl::MutexLock lock(&cursor_mu_);
    oldest_cursor_.clear();
    default_cursor_ = 0;
    ++cursor_generation_;
  }

  std::int64_t DedupKeyCount() const override {
    absl::ReaderMutexLock lock(&keys_mu_);
    return static_cast<std::int64_t>(keys_.first.size() + keys_.more.size());
  }

  std::int64_t DroppedAtOpen() const override { return dropped_at_open_; }

  std::int64_t QueuedCount() const override {
    absl::MutexLock lock(&mu_);
    return queued_;
  }

  std::int64_t QueuedCount(const std::string& destination) override {
    WaitForWrites();
    absl::MutexLock lock(&mu_);
    auto it = queued_by_destination_.find(destination);
    return it == queued_by_destination_.end() ? 0 : it->second;
  }

  absl::StatusOr<std::int64_t> Prune(std::int64_t now_ms) override {
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
      const std::int64_t excess = DedupKeyCount() - QueuedCount() - *dead -
                                  options_.max_retained_events;
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

  // Deletes the delivered rows of the runs delivered before `cutoff`, the
  // oldest runs first, about kPruneChunk rows at most (or `limit` rows,
  // when not -1, whatever their time), and the runs left with none. Sets
  // *more when runs before the cutoff are left. Writer thread only.
  absl::Status PruneDeliveredRuns(sqlite3* db, std::int64_t cutoff,
                                  std::int64_t limit, std::int64_t* rows,
                                  bool* more) {
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

  // Runs a DELETE ... RETURNING id, key_hash: appends the deleted rows to
  // `ids`, and their keys to those the group drops from the dedup index
  // once committed.
  absl::Status DeleteRows(Statement& st, sqlite3* db, const char* what,
                          std::vector<std::int64_t>* ids) {
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      ids->push_back(st.Int(0));
      removed_keys_.push_back({st.Int(1), st.Int(0)});
    }
    st.Reset();
    return rc == SQLITE_DONE ? absl::OkStatus() : SqliteError(db, what);
  }

  absl::StatusOr<std::int64_t> CountAllDeadLetters() {
    WaitForWrites();
    absl::MutexLock lock(&reader_mu_);
    Statement st;
    absl::Status s =
        st.Prepare(reader_db_, "SELECT COUNT(*) FROM events WHERE state=3");
    if (!s.ok()) return s;
    if (st.Step() != SQLITE_ROW) return SqliteError(reader_db_, "count dead");
    return st.Int(0);
  }

  void Shutdown() override {
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    std::lock_guard<std::mutex> join_lock(join_mu_);
    if (writer_.joinable()) writer_.join();
    // The writer has handed every commit to the syncer; it syncs them and
    // stops.
    syncer_.Shutdown();
  }

 private:
  // RESOURCE_EXHAUSTED (QueueFullError) when `n` more events, of
  // `by_destination`, would pass the bound on queued events. Past the
  // bound, a destination that holds less than its share (the bound divided
  // by the destinations) still queues up to its share: a destination the
  // API does not drain cannot stop the others. So the queue holds at most
  // twice the bound.
  absl::Status CheckBound(
      std::int64_t n,
      const std::vector<std::pair<std::string, std::int64_t>>& by_destination)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::int64_t bound = options_.max_queued_events;
    if (queued_ + reserved_ + n <= bound) return absl::OkStatus();
    const std::int64_t share =
        bound / std::max<std::int64_t>(1, options_.destinations);
    for (const auto& [destination, k] : by_destination) {
      auto queued = queued_by_destination_.find(destination);
      auto reserved = reserved_by_destination_.find(destination);
      const std::int64_t held =
          (queued == queued_by_destination_.end() ? 0 : queued->second) +
          (reserved == reserved_by_destination_.end() ? 0 : reserved->second);
      if (held + k > share) {
        // Says what would not fit: a request may be refused with room
        // left for a smaller one.
        return QueueFullError(absl::StrCat(
            "spool is full: ", queued_ + reserved_, " events queued, bound ",
            bound, "; destination ", destination, " holds ", held,
            ", its share ", share, ", and cannot take ", k, " more (room for ",
            std::max<std::int64_t>(0, share - held), ")"));
      }
    }
    return absl::OkStatus();
  }

  // Inserts events, answering kDuplicate for keys already stored (also
  // earlier in the same group), except that a dead letter, or a validated
  // validate_only event, is replaced (RemoveReplaced). Writer thread only.
  absl::Status InsertEvents(const std::vector<SpoolEvent>& events,
                            const std::vector<std::int64_t>& hashes,
                            const std::vector<std::uint32_t>& crcs,
                            std::int64_t now_ms,
                            std::vector<AppendOutcome>* outcomes) {
    outcomes->reserve(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      const SpoolEvent& e = events[i];
      const std::int64_t hash = hashes[i];
      int state = 0;
      absl::StatusOr<std::optional<std::int64_t>> existing =
          FindRowByHash(hash, e.destination, e.validate_only, e.event_name,
                        e.event_id, &state);
      if (!existing.ok()) return existing.status();
      AppendOutcome outcome = AppendOutcome::kAccepted;
      if (existing->has_value()) {
        // The API never saved a dead letter, nor an event it only
        // validated: the same event sent again (corrected, say) replaces
        // that row instead of answering duplicate.
        const auto stored = static_cast<EventState>(state);
        const bool replaced =
            stored == EventState::kDead ||
            (e.validate_only && stored == EventState::kDelivered);
        if (!replaced) {
          outcomes->push_back(AppendOutcome::kDuplicate);
          continue;
        }
        absl::Status s = RemoveReplaced(**existing, hash);
        if (!s.ok()) return s;
        outcome = stored == EventState::kDead
                      ? AppendOutcome::kReplacedDeadLetter
                      : AppendOutcome::kReplacedValidated;
      }
      w_.insert.Bind(1, hash);
      w_.insert.Bind(2, e.destination);
      w_.insert.Bind(3, e.validate_only ? 1 : 0);
      w_.insert.Bind(4, e.event_name);
      w_.insert.Bind(5, e.event_id);
      // The payload first: the row says where it is.
      absl::StatusOr<PayloadLocation> at = log_->Append(e.wire_json, crcs[i]);
      if (!at.ok()) return at.status();
      w_.insert.Bind(6, e.timestamp_ms);
      w_.insert.Bind(7, now_ms);
      w_.insert.Bind(8, at->segment);
      w_.insert.Bind(9, at->offset);
      w_.insert.Bind(10, at->length);
      w_.insert.Bind(11, static_cast<std::int64_t>(at->crc));
      absl::Status s = w_.insert.Run("insert");
      if (!s.ok()) return s;
      const std::int64_t row = sqlite3_last_insert_rowid(writer_db_);
      // SQLite gives a new row the highest id plus one: once the highest
      // rows are deleted, ids come again, maybe below a cursor.
      if (row <= max_row_.load(std::memory_order_relaxed)) {
        group_reused_ = std::min(group_reused_, row);
      }
      max_row_.store(row, std::memory_order_release);
      segments_.Appended(at->segment, row);
      {
        absl::WriterMutexLock lock(&keys_mu_);
        keys_.Add(hash, row);
      }
      added_keys_.push_back({hash, row});
      outcomes->push_back(outcome);
    }
    return absl::OkStatus();
  }

  // Deletes `row`, a dead letter or a validated event that an event with
  // its key replaces, with its kept payload; its key leaves the dedup index
  // once the group commits. (Its payload in the log, if there, was already
  // counted closed in its segment.) Writer thread only.
  absl::Status RemoveReplaced(std::int64_t row, std::int64_t hash) {
    w_.remove_row.Bind(1, row);
    absl::Status s = w_.remove_row.Run("replace");
    if (!s.ok()) return s;
    w_.drop_payloads.Bind(1, row);
    w_.drop_payloads.Bind(2, row);
    s = w_.drop_payloads.Run("replace payload");
    if (!s.ok()) return s;
    removed_keys_.push_back({hash, row});
    return absl::OkStatus();
  }

  // The row of a key, verified against the stored key. Writer thread only.
  absl::StatusOr<std::optional<std::int64_t>> FindRow(
      const std::string& destination, bool validate_only,
      const std::string& event_name, const std::string& event_id) {
    return FindRowByHash(
        KeyHash(destination, validate_only, event_name, event_id), destination,
        validate_only, event_name, event_id);
  }
  absl::StatusOr<std::optional<std::int64_t>> FindRowByHash(
      std::int64_t hash, const std::string& destination, bool validate_only,
      const std::string& event_name, const std::string& event_id,
      int* state = nullptr) {
    std::vector<std::int64_t> rows = Candidates(hash);
    for (std::int64_t row : rows) {
      w_.key_of.Bind(1, row);
      int rc = w_.key_of.Step();
      bool same = rc == SQLITE_ROW && w_.key_of.Text(0) == destination &&
                  (w_.key_of.Int(1) != 0) == validate_only &&
                  w_.key_of.Text(2) == event_name &&
                  w_.key_of.Text(3) == event_id;
      if (same && state != nullptr) *state = static_cast<int>(w_.key_of.Int(4));
      w_.key_of.Reset();
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return SqliteError(writer_db_, "key lookup");
      }
      if (same) return std::optional<std::int64_t>(row);
    }
    return std::optional<std::int64_t>();
  }

  std::vector<std::int64_t> Candidates(std::int64_t hash) {
    std::vector<std::int64_t> rows;
    absl::ReaderMutexLock lock(&keys_mu_);
    keys_.ForEach(hash, [&](std::int64_t row) { rows.push_back(row); });
    return rows;
  }

  // Events that left the queue (delivered or dead), per destination.
  using Closed = std::vector<std::pair<std::string, std::int64_t>>;

  struct ClosedRows {
    std::int64_t rows = 0;
    std::int64_t kept = 0;  // rows whose payload is in payloads_kept
    // With `locations`: the rows whose payload is in the log, and where.
    std::vector<std::pair<std::int64_t, PayloadLocation>> logged;
  };

  // Reads the rows in [lo, hi] that an outcome is about to close (the
  // queued ones: the UPDATE that follows in the same transaction changes
  // exactly these); adds them to `closed` and to the segments' counts.
  // (A SELECT, then an UPDATE without RETURNING: RETURNING made SQLite
  // materialize the rows and cost more than the SELECT and the UPDATE.)
  absl::StatusOr<ClosedRows> Closing(std::int64_t lo, std::int64_t hi,
                                     Closed* closed, bool locations = false) {
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

  // Copies the payload of `row` from the log into payloads_kept. A payload
  // the log cannot give back stays where it is (claims dead-letter such
  // events). Writer thread only.
  absl::Status Keep(std::int64_t row, const PayloadLocation& at) {
    std::string json;
    if (!log_->Read(at, &json).ok()) return absl::OkStatus();
    w_.keep_payload.Bind(1, row);
    w_.keep_payload.Bind(2, json);
    absl::Status s = w_.keep_payload.Run("keep payload");
    if (!s.ok()) return s;
    w_.mark_kept.Bind(1, row);
    return w_.mark_kept.Run("mark kept");
  }

  // Removes the log segments PayloadSegments picks, after copying to
  // payloads_kept the payloads still needed there: those of events not
  // delivered. The files go once this group's commit is on disk (see
  // SpoolSyncer::Add). Writer thread only.
  absl::Status RemoveSegments() {
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

  // At start-up: the dedup index and the log segments' counts, from one
  // scan of every row (ScanRows). A payload of an open event found short or
  // damaged in the last segments the previous run wrote did not reach the
  // disk before a power loss, so its event was never acknowledged
  // (acknowledgements wait for the log's sync): the row goes, so that the
  // caller's retry is accepted anew.
  absl::Status LoadRows() {
    ScannedRows scanned;
    {
      absl::WriterMutexLock lock(&keys_mu_);
      absl::Status s = ScanRows(writer_db_, *log_, kSegmentsCheckedAtStart,
                                &keys_, &scanned);
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
    absl::Status s = drop.Prepare(
        writer_db_, "DELETE FROM events WHERE id BETWEEN ?1 AND ?2");
    if (!s.ok()) return s;
    return ForEachRange(scanned.lost, [&](std::int64_t lo, std::int64_t hi) {
      drop.Bind(1, lo);
      drop.Bind(2, hi);
      return drop.Run("drop lost rows");
    });
  }

  void DecrementQueued(const Closed& closed) {
    for (const auto& [destination, n] : closed) AdjustQueued(destination, -n);
  }

  // Changes the queue counters at once (early ops return before the
  // commit) and remembers the change, which RunGroup undoes if the group
  // is rolled back. Writer thread only.
  void AdjustQueued(const std::string& destination, std::int64_t n) {
    {
      absl::MutexLock lock(&mu_);
      queued_ += n;
      queued_by_destination_[destination] += n;
    }
    group_queue_changes_.emplace_back(destination, n);
  }

  bool InFlight(std::int64_t row) {
    absl::MutexLock lock(&claim_mu_);
    ApplyReleases();
    return in_flight_.contains(row);
  }

  // Claimed rows whose outcome the running group writes: they leave
  // in_flight_ once the group is committed (or rolled back, which queues
  // them again). Writer thread only.
  void Release(const std::vector<std::int64_t>& rows) {
    last_release_seq_.store(running_seq_, std::memory_order_relaxed);
    group_released_.insert(group_released_.end(), rows.begin(), rows.end());
  }

  // Takes the rows whose outcome is committed out of in_flight_. Every
  // claim does this before its read transaction begins, so that its
  // snapshot holds those outcomes: a row released after the snapshot
  // stays in flight for this claim, and one released before is seen with
  // its new state.
  void ApplyReleases() ABSL_EXCLUSIVE_LOCKS_REQUIRED(claim_mu_) {
    std::vector<std::int64_t> released;
    {
      std::lock_guard<std::mutex> lock(release_mu_);
      released.swap(released_);
    }
    for (std::int64_t row : released) in_flight_.erase(row);
  }

  // Waits until every write submitted so far is committed (or failed), so
  // that reads see what earlier calls did, early ones included.
  void WaitForWrites() {
    std::unique_lock<std::mutex> lock(queue_mu_);
    WaitForCommit(submitted_seq_, lock);
  }

  // Waits until the write `seq` is committed (or failed).
  void WaitForCommit(std::uint64_t target, std::unique_lock<std::mutex>& lock) {
    ++read_waiters_;
    committed_cv_.wait(
        lock, [&] { return committed_seq_ >= target || writer_exited_; });
    --read_waiters_;
  }

  void Submit(WriteOp op) {
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

  // Runs `fn` as a write op and waits for its commit, or for `fn` alone
  // when `early`.
  absl::Status RunSync(std::function<absl::Status(sqlite3*)> fn,
                       bool early = false) {
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

  void WriterLoop() {
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
      if (force_checkpoint_) {
        force_checkpoint_ = false;
        sqlite3_wal_checkpoint_v2(writer_db_, nullptr,
                                  SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      }
    }
  }

  // Runs ops in one transaction with one commit, whose completions then
  // wait for one sync of the WAL on the syncer thread (the writer goes on
  // with the next group meanwhile). Ops do not fail on their own in
  // practice; if one does, the whole group is rolled back and every op
  // still waiting fails, so no caller is told "stored" for a write that was
  // undone.
  void RunGroup(std::vector<WriteOp>* batch) {
    absl::Status status = w_.begin.Run("begin");
    for (size_t i = 0; status.ok() && i < batch->size(); ++i) {
      WriteOp& op = (*batch)[i];
      running_seq_ = op.seq;
      status = op.run(writer_db_);
      if (op.early) {
        op.done(status);
        op.done = nullptr;
      }
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
    if (!group_released_.empty()) {
      // Before committed_seq_ moves: a read that waited for this group
      // then finds its releases too.
      std::lock_guard<std::mutex> lock(release_mu_);
      released_.insert(released_.end(), group_released_.begin(),
                       group_released_.end());
      group_released_.clear();
    }
    bool readers_wait;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      committed_seq_ = batch->back().seq;
      readers_wait = read_waiters_ > 0;
    }
    if (readers_wait) committed_cv_.notify_all();
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

  // Called by SQLite on the writer thread after each commit.
  static int WalHook(void* self, sqlite3*, const char*, int pages) {
    auto* spool = static_cast<SqliteSpool*>(self);
    if (pages >= kForcedCheckpointPages) {
      spool->force_checkpoint_ = true;
    } else if (pages >= kCheckpointPages) {
      spool->syncer_.RequestCheckpoint();
    }
    return SQLITE_OK;
  }

  // First, so that it is released last, once every connection is closed.
  const std::unique_ptr<SpoolLock> lock_;
  const SpoolOptions options_;
  const std::unique_ptr<PayloadLog> log_;
  sqlite3* const writer_db_;      // used by the writer thread only
  sqlite3* const reader_db_;      // guarded by reader_mu_
  sqlite3* const gauge_db_;       // guarded by gauge_mu_ (Depths)
  sqlite3* const claim_db_;       // guarded by claim_mu_
  sqlite3* const checkpoint_db_;  // syncer_'s checkpointer thread only

  // Prepared statements of the writer connection (writer thread only).
  WriterStatements w_;
  // The payload log's segments (writer thread only), and those the running
  // group removed.
  PayloadSegments segments_;
  std::vector<std::int64_t> removals_;
  std::int64_t dropped_at_open_ = 0;
  // The oldest-event cursors (see Depths).
  absl::Mutex cursor_mu_;
  absl::flat_hash_map<std::string, std::int64_t> oldest_cursor_
      ABSL_GUARDED_BY(cursor_mu_);
  // The cursor of destinations without one of their own.
  std::int64_t default_cursor_ ABSL_GUARDED_BY(cursor_mu_) = 0;
  std::uint64_t cursor_generation_ ABSL_GUARDED_BY(cursor_mu_) = 0;
  // The row last given, the highest there is (written by the writer
  // thread only).
  std::atomic<std::int64_t> max_row_{0};
  // Writer thread only: the lowest id the running group was given again
  // (INT64_MAX when none), and the lowest row of each destination whose
  // dead letters it queued again.
  std::int64_t group_reused_ = INT64_MAX;
  absl::flat_hash_map<std::string, std::int64_t> group_reopened_;

  // Claims: one at a time, on claim_db_.
  absl::Mutex claim_mu_;
  ClaimStatements claims_ ABSL_GUARDED_BY(claim_mu_);
  // Rows claimed and not yet released: queued in the file, in flight here.
  absl::flat_hash_set<std::int64_t> in_flight_ ABSL_GUARDED_BY(claim_mu_);
  // Where each lane's last claim ended, keyed by validate_only + name.
  struct ClaimCursor {
    bool valid = false;
    std::int64_t next_attempt_ms = 0;
    std::int64_t id = 0;
    int claims_since_full_scan = 0;
  };
  absl::flat_hash_map<std::string, ClaimCursor> cursors_
      ABSL_GUARDED_BY(claim_mu_);
  // Rows whose outcome is committed, for the next claim to release.
  std::mutex release_mu_;
  std::vector<std::int64_t> released_;        // guarded by release_mu_
  std::vector<std::int64_t> group_released_;  // writer thread only
  // Queue counter changes of the running group (writer thread only).
  std::vector<std::pair<std::string, std::int64_t>> group_queue_changes_;
  std::uint64_t running_seq_ = 0;  // writer thread only: the op running
  // The last write op that released rows (set by the writer while it runs
  // the op, so before its caller returns).
  std::atomic<std::uint64_t> last_release_seq_{0};

  // Dedup index; written by the writer thread, read by any.
  mutable absl::Mutex keys_mu_;
  KeyIndex keys_ ABSL_GUARDED_BY(keys_mu_);
  // Keys added by the running group (dropped again on rollback) and
  // removed by it (dropped from keys_ after the commit). Writer thread only.
  std::vector<std::pair<std::int64_t, std::int64_t>> added_keys_;
  std::vector<std::pair<std::int64_t, std::int64_t>> removed_keys_;
  bool force_checkpoint_ = false;  // writer thread only

  mutable absl::Mutex mu_;
  std::int64_t queued_ ABSL_GUARDED_BY(mu_) = 0;  // queued or in flight
  // Appends not committed yet, by destination.
  absl::flat_hash_map<std::string, std::int64_t> reserved_by_destination_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::int64_t> queued_by_destination_
      ABSL_GUARDED_BY(mu_);
  std::int64_t reserved_ ABSL_GUARDED_BY(mu_) = 0;  // appends not committed

  absl::Mutex reader_mu_;
  absl::Mutex gauge_mu_;

  std::mutex queue_mu_;
  std::condition_variable cv_;
  std::deque<WriteOp> pending_;      // guarded by queue_mu_
  bool stopping_ = false;            // guarded by queue_mu_: no more appends
  bool writer_exited_ = false;       // guarded by queue_mu_: no more writes
  std::uint64_t submitted_seq_ = 0;  // guarded by queue_mu_
  std::uint64_t committed_seq_ = 0;  // guarded by queue_mu_
  int read_waiters_ = 0;             // guarded by queue_mu_
  std::condition_variable committed_cv_;

  std::mutex join_mu_;
  std::thread writer_;
  // Syncs committed groups and answers them; checkpoints.
  SpoolSyncer syncer_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(const SpoolOptions& options,
                                                   SpoolSyncObserver on_sync) {
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
  // Before anything is opened: a spool in use is not read, nor recovered.
  absl::StatusOr<std::unique_ptr<SpoolLock>> lock =
      SpoolLock::Acquire(options.path);
  if (!lock.ok()) return lock.status();
  // A new file is the service's own, 0600 like the payload log's: SQLite
  // would create it 0644 (less the umask), and the WAL and shared-memory
  // files take the database's mode. Dead letters keep their wire JSON here.
  if (const int fd = open(options.path.c_str(),
                          O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      fd >= 0) {
    close(fd);
  } else if (errno != EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat(
        "spool: cannot create ", options.path, ": ", strerror(errno)));
  }
  absl::StatusOr<sqlite3*> writer = OpenDb(options.path, kWriterCacheKib);
  if (!writer.ok()) return writer.status();
  // The schema must exist before the other connections open.
  if (absl::Status s = PrepareSchema(*writer); !s.ok()) {
    sqlite3_close(*writer);
    return s;
  }
  // Appends go to a segment after any a row names, even if its file is
  // gone. (The statement is finalized before any close below.)
  absl::StatusOr<std::unique_ptr<PayloadLog>> log = [&]() {
    Statement last;
    absl::Status s = last.Prepare(
        *writer, "SELECT COALESCE(MAX(payload_seg), -1) + 1 FROM events");
    if (s.ok() && last.Step() != SQLITE_ROW) s = SqliteError(*writer, "last");
    if (!s.ok()) return absl::StatusOr<std::unique_ptr<PayloadLog>>(s);
    return PayloadLog::Open(
        options.path + ".payloads", last.Int(0), options.payload_segment_bytes,
        options.prepare_payload_files ? PayloadLog::kPrepareMaxFlushBytes : 0);
  }();
  if (!log.ok()) {
    sqlite3_close_v2(*writer);
    return log.status();
  }
  // The reading connections, closed in reverse on a failure.
  std::vector<sqlite3*> opened;
  for (int cache_kib : {kReaderCacheKib, kGaugeCacheKib, kReaderCacheKib,
                        /*checkpointer=*/1024}) {
    absl::StatusOr<sqlite3*> db = OpenDb(options.path, cache_kib);
    if (!db.ok()) {
      for (auto it = opened.rbegin(); it != opened.rend(); ++it) {
        sqlite3_close(*it);
      }
      sqlite3_close(*writer);
      return db.status();
    }
    opened.push_back(*db);
  }
  auto spool = std::make_unique<SqliteSpool>(
      std::move(*lock), options, std::move(*log), *writer,
      /*reader=*/opened[0], /*gauge=*/opened[1], /*claimer=*/opened[2],
      /*checkpointer=*/opened[3], std::move(on_sync));
  absl::Status s = spool->Init();
  if (!s.ok()) return s;
  return std::unique_ptr<Spool>(std::move(spool));
}

}  // namespace conversions::service
