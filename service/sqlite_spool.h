// The spool's implementation (service/spool.h): SQLite and the payload log
// behind the Spool interface. Internal to the spool; its methods are defined
// by theme in spool.cc (appends), spool_writer.cc, spool_claims.cc,
// spool_lookups.cc and spool_retention.cc.
#ifndef CONVERSIONS_SERVICE_SQLITE_SPOOL_H_
#define CONVERSIONS_SERVICE_SQLITE_SPOOL_H_

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "service/payload_log.h"
#include "service/spool.h"
#include "service/spool_lock.h"
#include "service/spool_reserve.h"
#include "service/spool_segments.h"
#include "service/spool_sqlite.h"
#include "service/spool_syncer.h"

namespace conversions::service::spool_internal {

using spool_sqlite::ClaimStatements;
using spool_sqlite::KeyIndex;
using spool_sqlite::Statement;
using spool_sqlite::WriterStatements;

// One write waiting for the writer thread.
struct WriteOp {
  // Runs inside the group transaction. An error fails the whole group.
  std::function<absl::Status(sqlite3*)> run;
  // Called with the op's or the commit's status: after the group's sync,
  // or, for `early` ops or without `spool.synchronous: full`, after its
  // commit.
  std::function<void(absl::Status)> done;
  // Early ops (delivery outcomes) need not wait for the sync: if the
  // process dies before it, their rows are simply queued again at the next
  // start and delivered again (at least once; the API deduplicates by id).
  // They do wait for the commit, so that a rolled-back outcome is an error
  // to its caller, whose events stay in flight until it writes one again.
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
                std::move(on_sync)),
        reserve_(options_.path + ".reserve", options_.disk_reserve_bytes) {}

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

  // Loads the rows (LoadRows) and starts the writer and syncer threads.
  absl::Status Init();

  void Append(std::vector<SpoolEvent> events, std::int64_t now_ms,
              AppendCallback done) override;

  bool TakesAppends() override;
  bool AppendsHeld() const override {
    return appends_held_.load(std::memory_order_acquire);
  }

  // Claims read on their own connection and write nothing: "in flight" is
  // a state of memory only (in_flight_). The writer thread, the spool's
  // bottleneck, then only sees the outcome of each event. After a crash,
  // events that were in flight are simply queued (at least once; the API
  // deduplicates by id).
  absl::StatusOr<std::vector<ClaimedEvent>> Claim(const LaneKey& lane,
                                                  std::int64_t now_ms,
                                                  size_t max_events,
                                                  size_t max_bytes) override;

  absl::Status MarkDelivered(absl::Span<const std::int64_t> rows,
                             std::int64_t now_ms, int attempts) override;

  absl::Status MarkRetry(absl::Span<const std::int64_t> rows,
                         std::int64_t next_attempt_ms, const std::string& error,
                         int attempts) override;

  absl::Status MarkDead(absl::Span<const std::int64_t> rows, DeadReason reason,
                        const std::string& message, std::int64_t now_ms,
                        int attempts) override;

  // The first due time of a queued event not in flight: the claims' scan,
  // up to the first row that is not in flight.
  absl::StatusOr<std::optional<std::int64_t>> NextDueMs(
      const LaneKey& lane) override;

  absl::StatusOr<EventStatusRecord> Lookup(
      const std::string& destination, const std::string& event_name,
      const std::string& event_id) override;

  absl::StatusOr<std::vector<DeadLetterCount>> CountDeadLetters() override;

  absl::StatusOr<DeadLetterPage> ListDeadLetters(
      const DeadLetterQuery& query) override;

  absl::StatusOr<RequeueResult> Requeue(const std::string& destination,
                                        absl::Span<const EventKeyRef> keys,
                                        std::optional<DeadReason> reason,
                                        std::optional<bool> validate_only,
                                        std::int64_t oldest_timestamp_ms,
                                        std::int64_t now_ms) override;

  // Counts come from memory, the oldest event of each destination from a
  // look in row order from its cursor: a row before which none of its
  // events is open. Each look moves it to the oldest event it finds, or
  // past every row when the destination has none, so that the next one
  // reads only the rows closed or added since; every way of opening an
  // event again below a cursor lowers it (LowerOldestCursors). An index
  // of open rows cost the writer about 7 % of its CPU per event
  // delivered.
  absl::StatusOr<std::vector<DestinationDepth>> Depths() override;

  std::int64_t DedupKeyCount() const override;

  std::int64_t DroppedAtOpen() const override { return dropped_at_open_; }

  std::int64_t QueuedCount() const override;

  std::int64_t QueuedCount(const std::string& destination) override;

  absl::StatusOr<std::int64_t> Prune(std::int64_t now_ms) override;

  void Shutdown() override;

 private:
  // Events that left the queue (delivered or dead), per destination.
  using Closed = std::vector<std::pair<std::string, std::int64_t>>;

  struct ClosedRows {
    std::int64_t rows = 0;
    std::int64_t kept = 0;  // rows whose payload is in payloads_kept
    // With `locations`: the rows whose payload is in the log, and where.
    std::vector<std::pair<std::int64_t, PayloadLocation>> logged;
  };

  // --- Appends (spool.cc).

  // RESOURCE_EXHAUSTED (QueueFullError) when `n` more events, of
  // `by_destination`, would pass the bound on queued events. Past the
  // bound, a destination that holds less than its share (the bound divided
  // by the destinations) still queues up to its share: a destination the
  // API does not drain cannot stop the others. So the queue holds at most
  // twice the bound.
  // Reserves room for `n` events (`by_destination`) if CheckBound allows
  // them, else answers its refusal. mu_ not held.
  absl::Status ReserveOrRefuse(
      std::int64_t n,
      const std::vector<std::pair<std::string, std::int64_t>>& by_destination)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The events whose fingerprint (`hashes`) no stored event has, which
  // would take room in the queue; sets `by_destination`'s counts to theirs.
  std::int64_t CountNotStored(
      const std::vector<SpoolEvent>& events,
      const std::vector<std::int64_t>& hashes,
      std::vector<std::pair<std::string, std::int64_t>>* by_destination) const
      ABSL_LOCKS_EXCLUDED(keys_mu_);
  absl::Status CheckBound(
      std::int64_t n,
      const std::vector<std::pair<std::string, std::int64_t>>& by_destination)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Inserts events, answering kDuplicate for keys already stored (also
  // earlier in the same group), except that a dead letter, or a validated
  // validate_only event, is replaced (RemoveReplaced). Writer thread only.
  absl::Status InsertEvents(const std::vector<SpoolEvent>& events,
                            const std::vector<std::int64_t>& hashes,
                            const std::vector<std::uint32_t>& crcs,
                            std::int64_t now_ms,
                            std::vector<AppendOutcome>* outcomes);

  // Deletes `row`, a dead letter or a validated event that an event with
  // its key replaces, with its kept payload; its key leaves the dedup index
  // once the group commits. (Its payload in the log, if there, was already
  // counted closed in its segment.) Writer thread only.
  absl::Status RemoveReplaced(std::int64_t row, std::int64_t hash);

  // The row of a key, verified against the stored key. Writer thread only.
  absl::StatusOr<std::optional<std::int64_t>> FindRow(
      const std::string& destination, bool validate_only,
      const std::string& event_name, const std::string& event_id);

  absl::StatusOr<std::optional<std::int64_t>> FindRowByHash(
      std::int64_t hash, const std::string& destination, bool validate_only,
      const std::string& event_name, const std::string& event_id,
      int* state = nullptr);

  std::vector<std::int64_t> Candidates(std::int64_t hash);

  void DecrementQueued(const Closed& closed);

  // Changes the queue counters at once (before the commit) and remembers the
  // change, which RunGroup undoes if the group is rolled back. Writer thread
  // only.
  void AdjustQueued(const std::string& destination, std::int64_t n);

  // --- The writer thread, its group commits, and the start-up load
  // (spool_writer.cc).

  // Waits until every write submitted so far is committed (or failed), so
  // that reads see what earlier calls did, early ones included.
  void WaitForWrites();

  // Waits until the write `seq` is committed (or failed).
  void WaitForCommit(std::uint64_t target, std::unique_lock<std::mutex>& lock);

  void Submit(WriteOp op);

  // Runs `fn` as a write op and waits for its sync, or for its commit
  // when `early`.
  absl::Status RunSync(std::function<absl::Status(sqlite3*)> fn,
                       bool early = false);

  void WriterLoop();

  // Runs ops in one transaction with one commit, whose completions then
  // wait for one sync of the WAL on the syncer thread (the writer goes on
  // with the next group meanwhile). Ops do not fail on their own in
  // practice; if one does, the whole group is rolled back and every op
  // still waiting fails, so no caller is told "stored" for a write that was
  // undone.
  void RunGroup(std::vector<WriteOp>* batch);

  // Called by SQLite on the writer thread after each commit.
  static int WalHook(void* self, sqlite3*, const char*, int pages);

  // Copies the payload of `row` from the log into payloads_kept. A payload
  // the log cannot give back stays where it is (claims dead-letter such
  // events). Writer thread only.
  absl::Status Keep(std::int64_t row, const PayloadLocation& at);

  // Removes the log segments PayloadSegments picks, after copying to
  // payloads_kept the payloads still needed there: those of events not
  // delivered. The files go once this group's commit is on disk (see
  // SpoolSyncer::Add). Writer thread only.
  absl::Status RemoveSegments();

  // At start-up: the dedup index and the log segments' counts, from one
  // scan of every row (ScanRows). A payload of an open event found short or
  // damaged in the last segments the previous run wrote did not reach the
  // disk before a power loss, so its event was never acknowledged
  // (acknowledgements wait for the log's sync): the row goes, so that the
  // caller's retry is accepted anew.
  absl::Status LoadRows();

  // --- Claims and delivery outcomes (spool_claims.cc).

  // Reads the rows in [lo, hi] that an outcome is about to close (the
  // queued ones: the UPDATE that follows in the same transaction changes
  // exactly these); adds them to `closed` and to the segments' counts.
  // (A SELECT, then an UPDATE without RETURNING: RETURNING made SQLite
  // materialize the rows and cost more than the SELECT and the UPDATE.)
  absl::StatusOr<ClosedRows> Closing(std::int64_t lo, std::int64_t hi,
                                     Closed* closed, bool locations = false);

  bool InFlight(std::int64_t row);

  // Claimed rows whose outcome the running group writes: they leave
  // in_flight_ once the group is committed (or rolled back, which queues
  // them again). Writer thread only.
  void Release(const std::vector<std::int64_t>& rows);

  // Takes the rows whose outcome is committed out of in_flight_. Every
  // claim does this before its read transaction begins, so that its
  // snapshot holds those outcomes: a row released after the snapshot
  // stays in flight for this claim, and one released before is seen with
  // its new state.
  void ApplyReleases() ABSL_EXCLUSIVE_LOCKS_REQUIRED(claim_mu_);

  // --- Lookups and dead letters queued again (spool_lookups.cc).

  // RESOURCE_EXHAUSTED when queueing `n` dead letters of `destination`
  // again would pass the bound on queued events (CheckBound): a retry of
  // dead letters fills the queue as new events would. Nothing is queued
  // then; a narrower selection may fit. Writer thread only.
  absl::Status CheckRequeueBound(const std::string& destination,
                                 std::int64_t n);

  // Runs an UPDATE ... RETURNING payload_seg, id that queues dead letters
  // again; counts those still in the log open in their segments, and
  // notes the lowest row open again for the oldest-event cursors. Writer
  // thread only.
  absl::StatusOr<int> Reopen(Statement& st, const std::string& destination);

  absl::StatusOr<std::int64_t> CountAllDeadLetters();

  // --- Queue depths and pruning (spool_retention.cc).

  // After a commit, lowers the oldest-event cursors below the rows the
  // group opened again: ids SQLite gave again (every destination's
  // cursor: a reused id is below every row deleted) and dead letters
  // queued again (their destination's). Writer thread only.
  void LowerOldestCursors();

  // After a group is rolled back: its outcomes, counted at once, are
  // undone, and a look meanwhile may have moved a cursor past events open
  // again. Every look starts from the first row once. Writer thread only.
  void ResetOldestCursors();

  // Deletes the delivered rows of the runs delivered before `cutoff`, the
  // oldest runs first, about kPruneChunk rows at most (or `limit` rows,
  // when not -1, whatever their time), and the runs left with none. Sets
  // *more when runs before the cutoff are left. Writer thread only.
  absl::Status PruneDeliveredRuns(sqlite3* db, std::int64_t cutoff,
                                  std::int64_t limit, std::int64_t* rows,
                                  bool* more);

  // Runs a DELETE ... RETURNING id, key_hash: appends the deleted rows to
  // `ids`, and their keys to those the group drops from the dedup index
  // once committed.
  absl::Status DeleteRows(Statement& st, sqlite3* db, const char* what,
                          std::vector<std::int64_t>* ids);

  // --- State.

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
  // The last group removed as many log segments as one may: more may be
  // due, and a group of their own removes them even when no write comes
  // (writer thread only).
  bool more_removals_ = false;

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
  // Disk held back for outcomes: released when a write finds the disk
  // full, after which appends are refused (appends_held_) until it can be
  // held again.
  SpoolReserve reserve_;
  std::atomic<bool> appends_held_{false};
};

}  // namespace conversions::service::spool_internal

#endif  // CONVERSIONS_SERVICE_SQLITE_SPOOL_H_
