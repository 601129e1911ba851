#include "service/track_request.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <climits>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "mapping/unicode.h"

namespace conversions::service {
namespace {

using google::protobuf::internal::WireFormatLite;

// TrackEventsRequest's field numbers.
constexpr int kDestination = 1;
constexpr int kEvents = 2;
constexpr int kValidateOnly = 3;
constexpr int kDryRun = 4;

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
  out->dry_run = false;
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
      // An event is a field of the request: one level of protobuf's
      // recursion budget is the event's own.
      absl::Status parsed =
          mapping::ParseTagTree(wire.substr(start, length), &out->events[count],
                                mapping::kProtobufRecursionLimit - 1);
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
    } else if (field == kDryRun && type == WireFormatLite::WIRETYPE_VARINT) {
      std::uint64_t value;
      if (!input.ReadVarint64(&value)) return Malformed();
      out->dry_run = value != 0;
    } else if (!WireFormatLite::SkipField(&input, tag)) {
      return Malformed();  // also an end-group tag with no group open
    }
  }
  out->events.resize(count);
  out->event_count = static_cast<int>(count);
  return status;
}

namespace {

// What a JSON container of a TrackEventsRequest is, for its depth in the
// binary request.
enum class JsonRole {
  kRequest,    // the body: the request message
  kEventList,  // its "events" list: a repeated field, no message of its own
  kStruct,     // an event, or an object inside one: a Struct
  kList,       // a list inside an event: a ListValue
  kOther,      // anything else, which the JSON parser refuses; counted 1 each
};

struct JsonFrame {
  JsonRole role;
  int depth;  // of its message below the request (0: the request)
  bool object;
  bool events_key = false;  // kRequest: the value coming is "events"'s
};

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

absl::Status CheckTrackJsonNesting(std::string_view body) {
  constexpr int kLimit = mapping::kProtobufRecursionLimit;
  std::vector<JsonFrame> stack;
  int event = -1;  // index of the event being read
  bool want_key = false;
  auto too_deep = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "events[", event < 0 ? 0 : event,
        "]: nesting deeper than 100 (protobuf's limit on nested messages: "
        "in an event, each property takes 2 levels, an object or list as "
        "its value 1 more, and each element of a list 1)"));
  };
  // The depth of a value of `parent`, and of its message if a container.
  auto value_depth = [](const JsonFrame& parent) {
    switch (parent.role) {
      case JsonRole::kStruct:
        return parent.depth + 2;  // map entry, Value
      case JsonRole::kList:
        return parent.depth + 1;  // Value
      case JsonRole::kOther:
        return parent.depth + 1;
      case JsonRole::kRequest:
      case JsonRole::kEventList:
        break;
    }
    return parent.depth;
  };
  size_t i = 0;
  const size_t n = body.size();
  while (i < n) {
    const char c = body[i];
    if (IsJsonSpace(c) || c == ':') {
      ++i;
      continue;
    }
    if (c == ',') {
      want_key = !stack.empty() && stack.back().object;
      ++i;
      continue;
    }
    if (c == '}' || c == ']') {
      if (stack.empty()) return absl::OkStatus();  // the parser's to refuse
      stack.pop_back();
      want_key = false;
      ++i;
      continue;
    }
    if (c == '"') {
      size_t end = i + 1;
      while (end < n && body[end] != '"') end += body[end] == '\\' ? 2 : 1;
      if (end >= n) return absl::OkStatus();  // the parser's to refuse
      if (want_key) {
        if (stack.back().role == JsonRole::kRequest) {
          stack.back().events_key = body.substr(i + 1, end - i - 1) == "events";
        }
        want_key = false;
      } else if (!stack.empty() && value_depth(stack.back()) > kLimit) {
        return too_deep();
      }
      i = end + 1;
      continue;
    }
    if (c != '{' && c != '[') {  // a number or literal
      if (!stack.empty() && value_depth(stack.back()) > kLimit) {
        return too_deep();
      }
      do {
        ++i;
      } while (i < n && !IsJsonSpace(body[i]) && body[i] != ',' &&
               body[i] != ']' && body[i] != '}');
      continue;
    }
    // A container.
    const bool object = c == '{';
    JsonFrame frame{JsonRole::kOther, 0, object};
    if (stack.empty()) {
      frame.role = object ? JsonRole::kRequest : JsonRole::kOther;
    } else {
      const JsonFrame& parent = stack.back();
      switch (parent.role) {
        case JsonRole::kRequest:
          if (parent.events_key) {
            // A list of events, or one event given alone.
            frame.role = object ? JsonRole::kStruct : JsonRole::kEventList;
            frame.depth = object ? 1 : 0;
            if (object) ++event;
          } else {
            frame.depth = 1;
          }
          break;
        case JsonRole::kEventList:
          frame.role = object ? JsonRole::kStruct : JsonRole::kOther;
          frame.depth = 1;
          ++event;
          break;
        case JsonRole::kStruct:
        case JsonRole::kList:
          frame.role = object ? JsonRole::kStruct : JsonRole::kList;
          frame.depth = value_depth(parent) + 1;
          break;
        case JsonRole::kOther:
          frame.depth = parent.depth + 1;
          break;
      }
    }
    if (frame.depth > kLimit) return too_deep();
    stack.push_back(frame);
    want_key = object;
    ++i;
  }
  return absl::OkStatus();
}

}  // namespace conversions::service
