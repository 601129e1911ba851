// The durable spool: accepted events, their delivery state, dedup and
// status lookup, in one SQLite file (WAL mode).
//
// Writes are group-committed: a single writer thread takes every pending
// write (appends from concurrent RPCs, dispatcher claims and outcomes) and
// runs them in one transaction with one fsync, then completes each. Reads
// (status, dead letters, stats) use a second connection and never wait for
// the writer.
#ifndef CONVERSIONS_SERVICE_SPOOL_H_
#define CONVERSIONS_SERVICE_SPOOL_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "service/config.h"
#include "service/spool_syncer.h"

namespace conversions::service {

// One accepted event to store. Holds only hashed identifiers.
struct SpoolEvent {
  std::string destination;
  bool validate_only = false;
  std::string event_name;  // dedup name: API type or custom event name
  std::string event_id;
  std::int64_t timestamp_ms = 0;
  std::string wire_json;
};

// What Append did with one event. kReplacedDeadLetter, kReplacedValidated:
// accepted in place of a stored row with its key that the API never saved,
// which is deleted: a dead letter (of either lane), or a validate_only
// event already validated.
enum class AppendOutcome {
  kAccepted,
  kDuplicate,
  kReplacedDeadLetter,
  kReplacedValidated,
};

// The dispatcher lane an event belongs to.
struct LaneKey {
  std::string destination;
  bool validate_only = false;
};

// An event claimed for delivery.
struct ClaimedEvent {
  std::int64_t row_id = 0;
  std::int64_t timestamp_ms = 0;
  int attempts = 0;
  std::string event_id;
  std::string wire_json;
  std::string last_error;  // of its last attempt or pause; empty for none
  // Set, and wire_json empty, when the event's stored payload cannot be
  // read back (its file deleted or damaged by hand, or by the disk): why.
  // Such an event is claimed like any other, for the dispatcher to
  // dead-letter as kDamaged; it must never be sent.
  std::string unreadable;
};

// Where an event is in its delivery.
enum class EventState { kQueued = 0, kInFlight = 1, kDelivered = 2, kDead = 3 };

// Why an event was dead-lettered (values match
// conversions.v1.DeadLetterReason).
enum class DeadReason { kRejected = 1, kExpired = 2, kDamaged = 3 };

// The state of one event, for GetEventStatus.
struct EventStatusRecord {
  EventState state = EventState::kQueued;
  std::int64_t accepted_ms = 0;
  std::int64_t done_ms = 0;  // delivered or dead-lettered time
  std::int64_t next_attempt_ms = 0;
  int attempts = 0;
  std::string last_error;
  std::optional<DeadReason> dead_reason;
  bool validate_only = false;  // only a validate_only send has this key
};

// One dead letter, for ListDeadLetters.
struct DeadLetterRecord {
  std::int64_t row_id = 0;
  std::string destination;
  std::string event_name;
  std::string event_id;
  DeadReason reason = DeadReason::kRejected;
  std::string message;
  std::int64_t dead_ms = 0;
  int attempts = 0;
  std::string wire_json;
  bool validate_only = false;  // sent with validate_only: only a check
};

// A filter and page of ListDeadLetters.
struct DeadLetterQuery {
  std::string destination;            // empty: all
  std::optional<DeadReason> reason;   // nullopt: all
  std::optional<bool> validate_only;  // one lane; nullopt: both
  int page_size = 100;
  std::string page_token;  // from a previous page
  // A page ends early rather than pass this many bytes of wire JSON and
  // messages (always at least one dead letter): gRPC clients refuse
  // answers over 4 MiB unless told otherwise.
  size_t max_bytes = 3 << 20;
};

struct DeadLetterPage {
  std::vector<DeadLetterRecord> dead_letters;
  std::string next_page_token;  // empty on the last page
};

// Queue depth of one destination, for metrics and readiness.
struct DestinationDepth {
  std::string destination;
  std::int64_t queued = 0;              // queued or in flight
  std::int64_t oldest_accepted_ms = 0;  // 0 when nothing is queued
};

// How many dead letters a destination holds for one reason.
struct DeadLetterCount {
  std::string destination;
  DeadReason reason = DeadReason::kRejected;
  std::int64_t count = 0;
};

// A dead letter selected by key, for RetryDeadLetters.
struct EventKeyRef {
  std::string event_name;
  std::string event_id;
};

// What Requeue did with the dead letters it selected.
struct RequeueResult {
  int requeued = 0;       // queued again
  int window_closed = 0;  // left dead: too old to reach the API in time
};

class Spool {
 public:
  using AppendCallback =
      std::function<void(absl::StatusOr<std::vector<AppendOutcome>>)>;

  // Opens (creating if needed) the database at options.path and its
  // payload log folder beside it (options.path + ".payloads", see
  // service/payload_log.h), and starts the writer thread. Events left in
  // flight by a previous run are queued again.
  // `on_sync`, if set, hears of every durability sync (for metrics).
  static absl::StatusOr<std::unique_ptr<Spool>> Open(
      const SpoolOptions& options, SpoolSyncObserver on_sync = nullptr);
  virtual ~Spool() = default;

  // Stores events durably and calls `done` (on the writer thread) once they
  // are on disk, with one outcome per event in order: kDuplicate when the
  // (destination, validate_only, event name, id) is already stored, queued
  // or delivered (a dead-lettered row, and a validated validate_only one,
  // is replaced by the new event instead: kReplacedDeadLetter,
  // kReplacedValidated). Calls
  // `done` at once with ResourceExhausted when the queue bound would be
  // passed, or Unavailable after Shutdown.
  virtual void Append(std::vector<SpoolEvent> events, std::int64_t now_ms,
                      AppendCallback done) = 0;

  // False while a full disk holds new events back (Append refuses them
  // with a disk_full error until the spool's reserve can be held again,
  // service/spool_reserve.h); tries to hold it.
  virtual bool TakesAppends() = 0;
  // Whether new events are held back so (without trying to hold the
  // reserve): for readiness.
  virtual bool AppendsHeld() const = 0;

  // Claims due events of a lane in acceptance order, at most `max_events`
  // and (beyond the first) `max_bytes` of JSON, counting a comma between
  // events, and marks them in flight.
  virtual absl::StatusOr<std::vector<ClaimedEvent>> Claim(const LaneKey& lane,
                                                          std::int64_t now_ms,
                                                          size_t max_events,
                                                          size_t max_bytes) = 0;

  // Each of the three below ends a claim and adds `attempts` to the
  // events' attempt counts: the requests that carried them since they were
  // claimed (more than one when a rejected batch was split; none for an
  // event dead-lettered before it was sent or put back by a pause).

  // Records delivery of claimed events.
  virtual absl::Status MarkDelivered(absl::Span<const std::int64_t> rows,
                                     std::int64_t now_ms, int attempts) = 0;
  // Puts claimed events back in the queue, due at `next_attempt_ms`.
  virtual absl::Status MarkRetry(absl::Span<const std::int64_t> rows,
                                 std::int64_t next_attempt_ms,
                                 const std::string& error, int attempts) = 0;
  // Dead-letters claimed events.
  virtual absl::Status MarkDead(absl::Span<const std::int64_t> rows,
                                DeadReason reason, const std::string& message,
                                std::int64_t now_ms, int attempts) = 0;

  // Looks up one event; NotFound when the spool does not know it.
  virtual absl::StatusOr<EventStatusRecord> Lookup(
      const std::string& destination, const std::string& event_name,
      const std::string& event_id) = 0;

  // Counts the dead letters of real conversions (not of the validate_only
  // lane) by destination and reason, after every write submitted before
  // the call; pairs with none are left out.
  virtual absl::StatusOr<std::vector<DeadLetterCount>> CountDeadLetters() = 0;

  // Lists dead letters, newest first.
  virtual absl::StatusOr<DeadLetterPage> ListDeadLetters(
      const DeadLetterQuery& query) = 0;

  // Queues dead letters of `destination` again: those in `keys`, or when
  // `keys` is empty every one with `reason` (nullopt: any); of the lane
  // `validate_only` only, when set. A selected dead letter whose event
  // time is before `oldest_timestamp_ms` (its window has closed) stays
  // dead and is counted apart.
  virtual absl::StatusOr<RequeueResult> Requeue(
      const std::string& destination, absl::Span<const EventKeyRef> keys,
      std::optional<DeadReason> reason, std::optional<bool> validate_only,
      std::int64_t oldest_timestamp_ms, std::int64_t now_ms) = 0;

  // Returns the earliest next-attempt time of the lane's queued events, or
  // nullopt when it has none.
  virtual absl::StatusOr<std::optional<std::int64_t>> NextDueMs(
      const LaneKey& lane) = 0;

  // Returns the queue depth of every destination that has queued events.
  virtual absl::StatusOr<std::vector<DestinationDepth>> Depths() = 0;

  // Returns the number of events queued or in flight.
  virtual std::int64_t QueuedCount() const = 0;

  // Returns the number of `destination`'s events queued or in flight, of
  // both lanes, after every write submitted before the call.
  virtual std::int64_t QueuedCount(const std::string& destination) = 0;

  // Returns how many events Open dropped because their payload had not
  // reached the disk before the last run stopped (a power loss): they were
  // never acknowledged, so their callers retry them.
  virtual std::int64_t DroppedAtOpen() const = 0;

  // Returns how many event keys the spool holds in memory for local
  // deduplication: every stored event, queued or kept for the retention
  // window (20 to 40 bytes each).
  virtual std::int64_t DedupKeyCount() const = 0;

  // Removes delivered and dead-lettered rows older than the retention.
  // Returns how many.
  virtual absl::StatusOr<std::int64_t> Prune(std::int64_t now_ms) = 0;

  // Stops accepting writes, finishes pending ones and joins the writer.
  // Idempotent.
  virtual void Shutdown() = 0;
};

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_SPOOL_H_
