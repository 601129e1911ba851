// Which payload log segments (service/payload_log.h) the spool can remove.
//
// PayloadSegments is the spool writer thread's count of the queued or in
// flight events whose payload each segment holds. A segment goes once it
// holds none and is not the one appended to. Dead letters never pin a
// segment: their payloads are copied into SQLite when they die. Nor do a
// few stragglers (events retrying for hours, or of a destination paused
// for its credentials): a segment with at most half of its events open
// that saw no delivery while two further segments filled has those copied
// into SQLite too, and goes.
//
// The counts only decide what is worth doing. Before a segment goes, the
// spool copies every payload it still holds whatever the counts say, so a
// wrong count can waste space or time but never lose an event.
#ifndef CONVERSIONS_SERVICE_SPOOL_SEGMENTS_H_
#define CONVERSIONS_SERVICE_SPOOL_SEGMENTS_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/btree_map.h"

namespace conversions::service {

class PayloadSegments {
 public:
  // Per segment at start-up.
  struct Found {
    std::int64_t segment = 0;
    std::int64_t events = 0;                 // events whose payload it holds
    std::int64_t open = 0;                   // of them queued or in flight
    std::int64_t first_id = 0, last_id = 0;  // their rows
  };
  // The state found at start-up; appends then go to `current`.
  void Load(const std::vector<Found>& found, std::int64_t current);

  // Event row `id` was appended with its payload in `segment`.
  void Appended(std::int64_t segment, std::int64_t id);
  // An event of `segment` was delivered, dead-lettered or had its payload
  // copied out of the segment.
  void Closed(std::int64_t segment);
  // A dead letter whose payload is still in `segment` is queued again.
  void Reopened(std::int64_t segment);

  // Segments to remove now, oldest first, at most `limit` (see above).
  std::vector<std::int64_t> ToRemove(size_t limit) const;
  // The rows whose payloads `segment` holds lie in [first, last].
  std::pair<std::int64_t, std::int64_t> RowsOf(std::int64_t segment) const;
  // `segment` was removed (its payloads still needed were copied out).
  void Removed(std::int64_t segment);

  // The running transaction committed, or rolled back: in the latter case
  // every change since the last Commit or Rollback is undone.
  void Commit() { before_.reset(); }
  void Rollback();

  // For tests.
  std::int64_t OpenIn(std::int64_t segment) const;
  bool Has(std::int64_t segment) const {
    return state_.segments.contains(segment);
  }

 private:
  struct Segment {
    std::int64_t events = 0;
    std::int64_t open = 0;
    std::int64_t first_id = 0, last_id = 0;
    // The segment appended to at the last close of one of this segment's
    // events (or when this one was first seen).
    std::int64_t closed_at = 0;
  };
  struct State {
    absl::btree_map<std::int64_t, Segment> segments;
    std::int64_t current = 0;
  };
  // Saves the state before the first change of a transaction.
  void Touch() {
    if (!before_) before_ = state_;
  }

  State state_;
  std::optional<State> before_;
};

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_SPOOL_SEGMENTS_H_
