// Read-only queries of the spool file that need none of the spool's state
// in memory: an event's status row, a page of dead letters, the dead
// letters' counts, the oldest
// open event of each destination, and the scan of every row at start-up.
// The spool (service/sqlite_spool.h) runs them on the connection each is for,
// under the lock that guards it, after waiting for the writes its callers
// made before. Internal to the spool.
#ifndef CONVERSIONS_SERVICE_SPOOL_QUERIES_H_
#define CONVERSIONS_SERVICE_SPOOL_QUERIES_H_

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "service/payload_log.h"
#include "service/spool.h"
#include "service/spool_segments.h"
#include "service/spool_sqlite.h"

namespace conversions::service::spool_sqlite {

// The status of the first of `rows` that holds the key (destination,
// validate_only, event_name, event_id), with that row; nullopt when none
// does (the rows are candidates of a key fingerprint: a collision, or a row
// not committed yet, holds another key or none). The state is as stored:
// kQueued also for an event in flight.
absl::StatusOr<std::optional<std::pair<std::int64_t, EventStatusRecord>>>
QueryEventStatus(sqlite3* db, const std::vector<std::int64_t>& rows,
                 const std::string& destination, bool validate_only,
                 const std::string& event_name, const std::string& event_id);

// A page of the dead letters that match `query`, newest first, with their
// wire JSON: kept in SQLite when they died, else read from `log` (left
// empty if it cannot be read). InvalidArgument for a malformed page token.
absl::StatusOr<DeadLetterPage> QueryDeadLetters(sqlite3* db,
                                                const PayloadLog& log,
                                                const DeadLetterQuery& query);

// The dead letters of each destination and reason, validate_only calls'
// left out. Read from the index events_dead_count alone (state and
// validate_only are in it for that), which only dead-lettering, a retry, a
// replacing event and the prune change: a scrape of /metrics reads no
// table row.
absl::StatusOr<std::vector<DeadLetterCount>> QueryDeadLetterCounts(sqlite3* db);

// Sets the oldest_accepted_ms of each of `depths` to the acceptance time
// of its destination's oldest queued or in-flight event, 0 when it has
// none, and (*oldest)[i] to that event's row, -1 when none. Looks from row
// (*oldest)[i] on, in row order: the caller knows that no event of the
// destination before it is open (see SqliteSpool::Depths), so that each
// call only reads the rows closed since the last.
absl::Status QueryOldestOpen(sqlite3* db, std::vector<DestinationDepth>* depths,
                             std::vector<std::int64_t>* oldest);

// What ScanRows finds.
struct ScannedRows {
  // Every segment of the log but the current one, oldest first, with the
  // events whose payload it holds (files without rows too, so that they
  // go).
  std::vector<PayloadSegments::Found> segments;
  // Open events whose payload, in one of the segments checked, is short or
  // damaged, in id order. Their keys are not added.
  std::vector<std::int64_t> lost;
  // Open events (queued or in flight) per destination, lost ones left out,
  // and the row of the first of them.
  absl::flat_hash_map<std::string, std::int64_t> open_by_destination;
  absl::flat_hash_map<std::string, std::int64_t> first_open_by_destination;
  std::int64_t max_id = 0;  // the highest row, 0 when none
  // Rows a layout-2 build marked in flight (state 1), queued in fact.
  std::vector<std::int64_t> marked_in_flight;
};

// Reads every row once: adds each key fingerprint to `keys`, counts the
// events of each segment of `log`, and reads back (length and CRC) the
// payloads of open events in the `check_last` newest segments before the
// current one. Fails on a payload that cannot be read for another reason
// than DataLoss (a segment file missing, say).
absl::Status ScanRows(sqlite3* db, const PayloadLog& log, size_t check_last,
                      KeyIndex* keys, ScannedRows* out);

}  // namespace conversions::service::spool_sqlite

#endif  // CONVERSIONS_SERVICE_SPOOL_QUERIES_H_
