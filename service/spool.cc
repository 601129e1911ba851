// The spool: opening it, appends and dedup. The rest of SqliteSpool is in
// the files service/sqlite_spool.h names.
#include "service/spool.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "service/spool_lock.h"
#include "service/spool_sqlite.h"
#include "service/sqlite_spool.h"
#include "service/storage_status.h"

namespace conversions::service {
namespace {

// Page cache of the writer connection. The B-trees are written at their
// right edges, so a small cache suffices.
constexpr int kWriterCacheKib = 16 * 1024;
// The reader serves point lookups and small scans.
constexpr int kReaderCacheKib = 8 * 1024;
// The gauge connection reads rows in order from the oldest-event cursors:
// a small cache suffices.
constexpr int kGaugeCacheKib = 1024;

}  // namespace

namespace spool_internal {

using spool_sqlite::KeyHash;
using spool_sqlite::SqliteError;

absl::Status SqliteSpool::Init() {
  absl::Status s;
  if (!(s = w_.Prepare(writer_db_)).ok()) return s;
  {
    absl::MutexLock lock(&claim_mu_);
    if (!(s = claims_.Prepare(claim_db_)).ok()) return s;
  }
  if (!(s = LoadRows()).ok()) return s;
  // Without room for it now, the first full disk refuses appends until
  // there is.
  reserve_.TryHold();
  sqlite3_wal_hook(writer_db_, &SqliteSpool::WalHook, this);
  // Named for `top -H` and profilers (at most 15 characters).
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "spool-writer");
    WriterLoop();
  });
  syncer_.Start();
  return absl::OkStatus();
}

// After a full disk, new events wait until the reserve is held again: the
// room there is goes to recording deliveries, which free the rest.
bool SqliteSpool::TakesAppends() {
  if (!appends_held_.load(std::memory_order_acquire)) return true;
  if (!reserve_.TryHold()) return false;
  appends_held_.store(false, std::memory_order_release);
  return true;
}

void SqliteSpool::Append(std::vector<SpoolEvent> events, std::int64_t now_ms,
                         AppendCallback done) {
  const auto n = static_cast<std::int64_t>(events.size());
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (stopping_) {
      done(absl::UnavailableError("spool is shutting down"));
      return;
    }
  }
  if (!TakesAppends()) {
    done(DiskFullError(absl::StrCat(
        "new events are refused until the file system has room for the "
        "spool's reserve again (",
        reserve_.FreeBytes(), " bytes free, ", 2 * reserve_.bytes(),
        " needed; deliveries free room as they are recorded)")));
    return;
  }
  // Fingerprints (for the bound, too) and the payloads' checksums are
  // computed here, on the caller's thread, to keep the single writer thread
  // short.
  auto hashes = std::make_shared<std::vector<std::int64_t>>();
  auto crcs = std::make_shared<std::vector<std::uint32_t>>();
  hashes->reserve(events.size());
  crcs->reserve(events.size());
  for (const SpoolEvent& e : events) {
    hashes->push_back(
        KeyHash(e.destination, e.validate_only, e.event_name, e.event_id));
    crcs->push_back(PayloadCrc(e.wire_json));
  }
  // Events per destination (a request has one), for the bound.
  auto by_destination =
      std::make_shared<std::vector<std::pair<std::string, std::int64_t>>>();
  for (const SpoolEvent& e : events) {
    if (by_destination->empty() ||
        by_destination->back().first != e.destination) {
      by_destination->emplace_back(e.destination, 0);
    }
    ++by_destination->back().second;
  }
  std::int64_t reserved = n;
  if (!ReserveOrRefuse(reserved, *by_destination).ok()) {
    // Events the spool holds already take no room: a client that sends
    // again what was stored (after a timeout, say) must hear `duplicate`,
    // not that the spool is full. (A stored dead letter, which a resend
    // replaces, is counted so too: such a request may pass the bound.)
    reserved = CountNotStored(events, *hashes, by_destination.get());
    if (absl::Status full = ReserveOrRefuse(reserved, *by_destination);
        !full.ok()) {
      done(std::move(full));
      return;
    }
  }
  auto outcomes = std::make_shared<std::vector<AppendOutcome>>();
  auto shared_events =
      std::make_shared<std::vector<SpoolEvent>>(std::move(events));
  WriteOp op;
  op.events = static_cast<int>(n);
  op.run = [this, shared_events, hashes, crcs, outcomes, now_ms](sqlite3*) {
    return InsertEvents(*shared_events, *hashes, *crcs, now_ms, outcomes.get());
  };
  op.done = [this, reserved, shared_events, outcomes, by_destination,
             done = std::move(done)](absl::Status s) {
    {
      absl::MutexLock lock(&mu_);
      reserved_ -= reserved;
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

void SqliteSpool::Shutdown() {
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

absl::Status SqliteSpool::ReserveOrRefuse(
    std::int64_t n,
    const std::vector<std::pair<std::string, std::int64_t>>& by_destination) {
  absl::MutexLock lock(&mu_);
  absl::Status full = CheckBound(n, by_destination);
  if (!full.ok()) return full;
  reserved_ += n;
  for (const auto& [destination, k] : by_destination) {
    reserved_by_destination_[destination] += k;
  }
  return absl::OkStatus();
}

std::int64_t SqliteSpool::CountNotStored(
    const std::vector<SpoolEvent>& events,
    const std::vector<std::int64_t>& hashes,
    std::vector<std::pair<std::string, std::int64_t>>* by_destination) const {
  for (auto& [destination, k] : *by_destination) k = 0;
  std::int64_t counted = 0;
  absl::ReaderMutexLock lock(&keys_mu_);
  for (size_t i = 0; i < events.size(); ++i) {
    if (keys_.first.contains(hashes[i])) continue;
    for (auto& [destination, k] : *by_destination) {
      if (destination == events[i].destination) ++k;
    }
    ++counted;
  }
  return counted;
}

absl::Status SqliteSpool::CheckBound(
    std::int64_t n,
    const std::vector<std::pair<std::string, std::int64_t>>& by_destination) {
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
      // left for a smaller one, below the bound or within the share.
      const std::int64_t room = std::max<std::int64_t>(
          {0, bound - (queued_ + reserved_), share - held});
      return QueueFullError(absl::StrCat(
          "spool is full: ", queued_ + reserved_, " events queued, bound ",
          bound, "; destination ", destination, " holds ", held, ", its share ",
          share, ", and cannot take ", k, " more (room for ", room, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status SqliteSpool::InsertEvents(const std::vector<SpoolEvent>& events,
                                       const std::vector<std::int64_t>& hashes,
                                       const std::vector<std::uint32_t>& crcs,
                                       std::int64_t now_ms,
                                       std::vector<AppendOutcome>* outcomes) {
  outcomes->reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const SpoolEvent& e = events[i];
    const std::int64_t hash = hashes[i];
    int state = 0;
    absl::StatusOr<std::optional<std::int64_t>> existing = FindRowByHash(
        hash, e.destination, e.validate_only, e.event_name, e.event_id, &state);
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
      outcome = stored == EventState::kDead ? AppendOutcome::kReplacedDeadLetter
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

absl::Status SqliteSpool::RemoveReplaced(std::int64_t row, std::int64_t hash) {
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

absl::StatusOr<std::optional<std::int64_t>> SqliteSpool::FindRow(
    const std::string& destination, bool validate_only,
    const std::string& event_name, const std::string& event_id) {
  return FindRowByHash(
      KeyHash(destination, validate_only, event_name, event_id), destination,
      validate_only, event_name, event_id);
}

absl::StatusOr<std::optional<std::int64_t>> SqliteSpool::FindRowByHash(
    std::int64_t hash, const std::string& destination, bool validate_only,
    const std::string& event_name, const std::string& event_id, int* state) {
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

std::vector<std::int64_t> SqliteSpool::Candidates(std::int64_t hash) {
  std::vector<std::int64_t> rows;
  absl::ReaderMutexLock lock(&keys_mu_);
  keys_.ForEach(hash, [&](std::int64_t row) { rows.push_back(row); });
  return rows;
}

void SqliteSpool::DecrementQueued(const Closed& closed) {
  for (const auto& [destination, n] : closed) AdjustQueued(destination, -n);
}

void SqliteSpool::AdjustQueued(const std::string& destination, std::int64_t n) {
  {
    absl::MutexLock lock(&mu_);
    queued_ += n;
    queued_by_destination_[destination] += n;
  }
  group_queue_changes_.emplace_back(destination, n);
}

}  // namespace spool_internal

using spool_internal::SpoolLock;
using spool_internal::SqliteSpool;
using spool_sqlite::OpenDb;
using spool_sqlite::PrepareSchema;
using spool_sqlite::SqliteError;
using spool_sqlite::Statement;

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
