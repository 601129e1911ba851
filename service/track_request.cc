#include "service/track_request.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <climits>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "mapping/unicode.h"

namespace conversions::service {
namespace {

using google::protobuf::internal::WireFormatLite;

// TrackEventsRequest's field numbers.
constexpr int kDestination = 1;
constexpr int kEvents = 2;
constexpr int kValidateOnly = 3;

absl::Status Malformed() {
  return absl::InvalidArgumentError(
      "TrackEventsRequest: the request bytes are not a valid "
      "TrackEventsRequest (malformed protobuf wire data)");
}

}  // namespace

absl::Status ParseTrackEventsRequest(std::string_view wire,
                                     TrackEventsInput* out) {
  out->destination.clear();
  out->validate_only = false;
  size_t count = 0;
  if (wire.size() > static_cast<size_t>(INT_MAX)) return Malformed();
  google::protobuf::io::CodedInputStream input(
      reinterpret_cast<const std::uint8_t*>(wire.data()),
      static_cast<int>(wire.size()));
  absl::Status status;
  while (status.ok() && !input.ExpectAtEnd()) {
    const std::uint32_t tag = input.ReadTag();
    if (tag == 0) return Malformed();
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    const WireFormatLite::WireType type = WireFormatLite::GetTagWireType(tag);
    if (field == kDestination &&
        type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      std::uint32_t length;
      if (!input.ReadVarint32(&length) ||
          !input.ReadString(&out->destination, static_cast<int>(length))) {
        return Malformed();
      }
      if (!mapping::IsValidUtf8(out->destination)) {
        out->destination.clear();
        return absl::InvalidArgumentError(
            "TrackEventsRequest: destination is not valid UTF-8");
      }
    } else if (field == kEvents &&
               type == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      std::uint32_t length;
      if (!input.ReadVarint32(&length)) return Malformed();
      const auto start = static_cast<size_t>(input.CurrentPosition());
      if (length > wire.size() - start ||
          !input.Skip(static_cast<int>(length))) {
        return Malformed();
      }
      if (count == out->events.size()) out->events.emplace_back();
      absl::Status parsed = mapping::ParseTagTree(wire.substr(start, length),
                                                  &out->events[count]);
      if (!parsed.ok()) {
        status = absl::InvalidArgumentError(absl::StrCat(
            "TrackEventsRequest: events[", count, "]: ", parsed.message()));
      }
      ++count;
    } else if (field == kValidateOnly &&
               type == WireFormatLite::WIRETYPE_VARINT) {
      std::uint64_t value;
      if (!input.ReadVarint64(&value)) return Malformed();
      out->validate_only = value != 0;
    } else if (!WireFormatLite::SkipField(&input, tag)) {
      return Malformed();  // also an end-group tag with no group open
    }
  }
  out->events.resize(count);
  return status;
}

}  // namespace conversions::service
