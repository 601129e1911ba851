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
  std::vector<mapping::TagTree> events;  // in request order
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

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_TRACK_REQUEST_H_
