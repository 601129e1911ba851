// Reads a TrackEventsRequest from its wire bytes with each event parsed
// straight into a mapping::TagTree (mapping/tag_tree.h), skipping protobuf's
// Struct, whose parse allocates for every map entry and costs several
// times what mapping the event does.
#ifndef CONVERSIONS_SERVICE_TRACK_REQUEST_H_
#define CONVERSIONS_SERVICE_TRACK_REQUEST_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "mapping/tag_tree.h"

namespace conversions::service {

// The fields of a conversions.v1.TrackEventsRequest.
struct TrackEventsInput {
  std::string destination;
  bool validate_only = false;
  bool dry_run = false;                  // map only: nothing stored or sent
  std::vector<mapping::TagTree> events;  // in request order
  // The events the request carries. The JSON readers (track_json.h) keep
  // none in `events` when there are more than a request may carry
  // (kMaxEventsPerRequest), which is refused by its count: a body of a
  // million empty events is read, not built into a million trees.
  int event_count = 0;
};

// Parses `wire`, a serialized TrackEventsRequest, into `*out` (reset
// first), with protobuf's semantics: the last value of a scalar field
// wins, unknown fields and known fields of another wire type are skipped,
// and the request is refused (InvalidArgument) exactly where
// TrackEventsRequest::ParseFromString fails: malformed wire data, invalid
// UTF-8 in the destination, or an event that is no valid Struct (named by
// its index). Messages never quote the request's bytes.
absl::Status ParseTrackEventsRequest(std::string_view wire,
                                     TrackEventsInput* out);

// For POST /v1/track, before protobuf's JSON parser reads `body`: refuses
// (InvalidArgument, naming the event) a TrackEventsRequest in JSON whose
// events nest deeper than the same request in binary may, so that both
// entry points refuse the same events. In binary each event is a Struct
// one level below the request, each property takes two levels more (its
// map entry and its Value), an object or list as a property's value one
// more, and each list element one more (its Value), up to protobuf's
// recursion limit of 100; ParseTrackEventsRequest refuses past it.
// Linear in the body, and a guard: protobuf's JSON parser takes time
// that grows faster than the depth of nested lists (seconds of CPU for a
// body of 20 KB). Anything else, the syntax included, is left to the
// JSON parser: a body this scan cannot follow passes it.
absl::Status CheckTrackJsonNesting(std::string_view body);

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_TRACK_REQUEST_H_
