// The durability half of the spool's group commit (service/sqlite_spool.h).
//
// The spool's writer thread commits a group of writes to SQLite and hands
// it here with Add, then goes on with the next group. The syncer thread
// makes the group durable: an fdatasync of the SQLite WAL and, on the
// log-sync thread at the same time, of the payload log (each fdatasync
// waits for the disk); then it deletes the payload segments whose last row
// the group's commit dropped (not before: a power loss could bring the
// rows back) and answers the group's callers with the sync's status. An
// fdatasync covers every write made before it began, so one sync serves
// every group added meanwhile.
//
// A third thread copies the WAL into the database (a passive checkpoint,
// on a connection of its own) whenever RequestCheckpoint asks, so that the
// writer's commits never wait for it; its last checkpoint, at Shutdown,
// truncates the WAL so that the next start reads a short one.
//
// Thread-safety: Add, WaitForFewerThan and RequestCheckpoint from any
// thread (in practice the writer); Shutdown once the writer added its last
// group.
#ifndef CONVERSIONS_SERVICE_SPOOL_SYNCER_H_
#define CONVERSIONS_SERVICE_SPOOL_SYNCER_H_

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "service/payload_log.h"

namespace conversions::service {

// What one sync did, for metrics: how long the fdatasyncs took (both, run
// at the same time), how many callers it answered, and whether it
// succeeded.
struct SpoolSyncReport {
  double seconds = 0;
  int callers = 0;
  bool ok = true;
};
// Called on the syncer thread after each sync, before its callers are
// answered; must be quick and must not call back into the spool.
using SpoolSyncObserver = std::function<void(const SpoolSyncReport&)>;

class SpoolSyncer {
 public:
  // `wal_path` is the WAL file to sync, `log` the payload log, and
  // `checkpoint_db` a connection used for checkpoints only; neither is
  // owned, and both must outlive Shutdown. `observer`, if set, hears of
  // every sync.
  SpoolSyncer(std::string wal_path, PayloadLog* log, sqlite3* checkpoint_db,
              SpoolSyncObserver observer = nullptr);
  // Shutdown().
  ~SpoolSyncer();

  SpoolSyncer(const SpoolSyncer&) = delete;
  SpoolSyncer& operator=(const SpoolSyncer&) = delete;

  // Starts the threads (named spool-sync, spool-logsync, spool-checkpt).
  void Start();

  // A committed group: each of `done` is called with the status of the
  // first sync that begins after this call, on the syncer thread, once the
  // payload segments in `removals` are deleted (after that sync, and only
  // if it succeeded: a file that fails to go stays for the next start).
  void Add(std::vector<std::function<void(absl::Status)>> done,
           std::vector<std::int64_t> removals);

  // Blocks while `limit` or more groups added are not synced yet.
  void WaitForFewerThan(int limit);

  // Asks for a passive checkpoint on the checkpointer thread; returns at
  // once.
  void RequestCheckpoint();

  // Syncs and answers every group added, then stops the threads, the
  // checkpointer after a last checkpoint that truncates the WAL.
  // Idempotent.
  void Shutdown();

 private:
  void SyncLoop();
  void LogSyncLoop();
  void CheckpointLoop();
  // fdatasync of the WAL file. Syncer thread only.
  absl::Status SyncWal();

  const std::string wal_path_;
  PayloadLog* const log_;
  sqlite3* const checkpoint_db_;  // the checkpointer thread's only
  const SpoolSyncObserver observer_;

  std::mutex sync_mu_;
  std::condition_variable sync_cv_;    // the syncer waits for groups
  std::condition_variable synced_cv_;  // WaitForFewerThan waits for syncs
  // Callers of the groups added and not taken by the syncer yet.
  std::vector<std::function<void(absl::Status)>> pending_;  // sync_mu_
  std::vector<std::int64_t> removals_;  // guarded by sync_mu_
  int unsynced_groups_ = 0;  // guarded by sync_mu_: added, not synced
  bool sync_stop_ = false;   // guarded by sync_mu_
  int wal_fd_ = -1;          // syncer thread only

  // The syncer asks the log-sync thread for a sync of the payload log
  // (log_sync_asked_) and waits for it (log_sync_done_).
  std::mutex log_sync_mu_;
  std::condition_variable log_sync_cv_;
  std::uint64_t log_sync_asked_ = 0;  // guarded by log_sync_mu_
  std::uint64_t log_sync_done_ = 0;   // guarded by log_sync_mu_
  absl::Status log_sync_status_;      // guarded by log_sync_mu_
  bool log_sync_stop_ = false;        // guarded by log_sync_mu_

  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;  // guarded by checkpoint_mu_
  bool checkpoint_stop_ = false;    // guarded by checkpoint_mu_

  std::mutex join_mu_;  // Shutdown's
  std::thread syncer_;
  std::thread log_syncer_;
  std::thread checkpointer_;
};

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_SPOOL_SYNCER_H_
