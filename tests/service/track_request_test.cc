// ParseTrackEventsRequest against protobuf's own parse of the same bytes:
// the same fields, the same events (as TagTreeFromStruct of the parsed
// Structs), and a refusal exactly where TrackEventsRequest::ParseFromString
// refuses, also for thousands of mutated requests.
#include "service/track_request.h"

#include <gmock/gmock.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "conversions/v1/conversion_service.pb.h"
#include "service/json_input.h"
#include "tests/mapping/tag_tree_util.h"

namespace conversions::service {
namespace {

v1::TrackEventsRequest Request(const std::string& json) {
  v1::TrackEventsRequest request;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &request).ok())
      << json;
  return request;
}

constexpr char kTwoEvents[] = R"({"destination": "shop-eu",
  "validate_only": true, "dry_run": true, "events": [
  {"event_name": "purchase", "value": 12.5, "currency": "EUR",
   "context": {"event_id": "o-1", "page": {"url": "https://shop.example/"}},
   "user": {"email": ["a@example.com", null, 7], "consent_categories": []},
   "items": [{"id": "sku", "quantity": 2, "product": {"price": 6.25}}]},
  {"event_name": "page_view", "partners": {"openai": {"opt_out": false}}}]})";

// Whether ParseTrackEventsRequest gives what protobuf gives for `wire`;
// "" when it does, else what differs.
std::string Compare(const std::string& wire) {
  // protobuf logs every invalid UTF-8 string it refuses.
  google::protobuf::LogSilencer quiet;
  v1::TrackEventsRequest expected;
  const bool protobuf_ok = expected.ParseFromString(wire);
  TrackEventsInput got;
  const absl::Status status = ParseTrackEventsRequest(wire, &got);
  if (status.ok() != protobuf_ok) {
    return "protobuf " + std::string(protobuf_ok ? "accepts" : "refuses") +
           ", ParseTrackEventsRequest: " + status.ToString();
  }
  if (!protobuf_ok) return "";
  if (got.destination != expected.destination()) return "destination";
  if (got.validate_only != expected.validate_only()) return "validate_only";
  if (got.dry_run != expected.dry_run()) return "dry_run";
  if (static_cast<int>(got.events.size()) != expected.events_size()) {
    return "event count";
  }
  for (int i = 0; i < expected.events_size(); ++i) {
    mapping::TagTree tree;
    mapping::TagTreeFromStruct(expected.events(i), &tree);
    std::string diff = conversions::testing::TagTreeDiff(
        got.events[static_cast<size_t>(i)], tree);
    if (!diff.empty()) return "events[" + std::to_string(i) + "]: " + diff;
  }
  return "";
}

TEST(TrackRequestTest, ReadsEveryFieldAsProtobufDoes) {
  const v1::TrackEventsRequest request = Request(kTwoEvents);
  const std::string wire = request.SerializeAsString();
  EXPECT_EQ(Compare(wire), "");
  TrackEventsInput got;
  ASSERT_TRUE(ParseTrackEventsRequest(wire, &got).ok());
  EXPECT_EQ(got.destination, "shop-eu");
  EXPECT_TRUE(got.validate_only);
  EXPECT_TRUE(got.dry_run);
  ASSERT_EQ(got.events.size(), 2u);
  // Reused: a second, smaller request leaves no stale event behind.
  ASSERT_TRUE(
      ParseTrackEventsRequest(
          Request(R"({"events": [{"event_name": "x"}]})").SerializeAsString(),
          &got)
          .ok());
  EXPECT_EQ(got.destination, "");
  EXPECT_FALSE(got.validate_only);
  EXPECT_FALSE(got.dry_run);
  EXPECT_EQ(got.events.size(), 1u);
}

TEST(TrackRequestTest, SkipsUnknownFieldsAndTakesTheLastScalar) {
  std::string wire = Request(kTwoEvents).SerializeAsString();
  // Field 9 (unknown) as a varint, a length-delimited field and a group;
  // then destination again, and validate_only as a (skipped) string.
  wire += std::string("\x48\x01", 2);
  wire += std::string("\x4a\x02zz", 4);
  wire += std::string("\x4b\x08\x01\x4c", 4);
  wire += std::string("\x0a\x03two", 5);
  wire += std::string("\x1a\x01x", 3);
  EXPECT_EQ(Compare(wire), "");
  TrackEventsInput got;
  ASSERT_TRUE(ParseTrackEventsRequest(wire, &got).ok());
  EXPECT_EQ(got.destination, "two");
  EXPECT_TRUE(got.validate_only);
}

TEST(TrackRequestTest, RefusesWhatProtobufRefusesWithoutQuotingIt) {
  const std::string bad[] = {
      std::string("\x0a\x05jane", 5),                  // truncated destination
      std::string("\x0a\x02\xc3\x28", 4),              // destination not UTF-8
      std::string("\x12\x05\x0a\x03\x0a\x01\xff", 7),  // key not UTF-8
      std::string("\x00", 1),                          // tag 0
      std::string("\x0c", 1),  // end-group with none open
      std::string("\x0f", 1),  // wire type 7
      std::string("\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12),
  };
  for (const std::string& wire : bad) {
    EXPECT_EQ(Compare(wire), "") << ::testing::PrintToString(wire);
    TrackEventsInput got;
    absl::Status status = ParseTrackEventsRequest(wire, &got);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(status.message()).find("jane"), std::string::npos);
  }
}

TEST(TrackRequestTest, AgreesWithProtobufOnMutatedRequests) {
  const std::string wire = Request(kTwoEvents).SerializeAsString();
  std::mt19937 rng(20261127);
  for (int i = 0; i < 20000; ++i) {
    std::string mutated = wire;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % mutated.size();
      switch (rng() % 3) {
        case 0:
          mutated[at] = static_cast<char>(rng());
          break;
        case 1:
          mutated.resize(at);
          break;
        default:
          mutated.insert(at, 1, static_cast<char>(rng()));
      }
      if (mutated.empty()) break;
    }
    const std::string diff = Compare(mutated);
    ASSERT_EQ(diff, "") << "mutation " << i;
  }
}

// A request of one event {"a": <value>}, `value` nested as `shape` says
// from the outside in: 'l' a list of one element, 'o' an object of one
// property "k"; innermost `leaf`.
v1::TrackEventsRequest Nested(const std::string& shape,
                              const google::protobuf::Value& leaf) {
  google::protobuf::Value value = leaf;
  for (auto it = shape.rbegin(); it != shape.rend(); ++it) {
    google::protobuf::Value outer;
    if (*it == 'l') {
      *outer.mutable_list_value()->add_values() = std::move(value);
    } else {
      (*outer.mutable_struct_value()->mutable_fields())["k"] = std::move(value);
    }
    value = std::move(outer);
  }
  v1::TrackEventsRequest request;
  (*request.add_events()->mutable_fields())["a"] = std::move(value);
  return request;
}

// The same request in JSON (protobuf's printer refuses to print what its
// parser would refuse).
std::string NestedJson(const std::string& shape,
                       const google::protobuf::Value& leaf) {
  std::string value = leaf.has_list_value()     ? "[]"
                      : leaf.has_struct_value() ? "{}"
                                                : "1";
  for (auto it = shape.rbegin(); it != shape.rend(); ++it) {
    value = *it == 'l' ? "[" + value + "]" : R"({"k": )" + value + "}";
  }
  return R"({"events": [{"a": )" + value + "}]}";
}

// Around protobuf's recursion limit, TrackEvents (ParseTrackEventsRequest
// of the bytes) and POST /v1/track (CheckTrackJsonNesting, then protobuf's
// JSON parser) refuse exactly the events protobuf refuses in binary; the
// refusal on the JSON side is the check's own, naming the nesting.
TEST(TrackRequestTest, BothEntryPointsRefuseNestingWhereProtobufDoes) {
  google::protobuf::Value number, empty_list, empty_object;
  number.set_number_value(1);
  empty_list.mutable_list_value();
  empty_object.mutable_struct_value();
  std::vector<std::string> shapes;
  for (int n = 45; n <= 51; ++n) shapes.push_back(std::string(n, 'l'));
  for (int n = 30; n <= 35; ++n) shapes.push_back(std::string(n, 'o'));
  for (int n = 17; n <= 21; ++n) {
    std::string mixed;
    for (int i = 0; i < n; ++i) mixed += "lo";
    shapes.push_back(mixed);
    shapes.push_back("l" + mixed);
  }
  int refused = 0;
  int accepted = 0;
  for (const std::string& shape : shapes) {
    for (const google::protobuf::Value* leaf :
         {&number, &empty_list, &empty_object}) {
      const v1::TrackEventsRequest request = Nested(shape, *leaf);
      const std::string wire = request.SerializeAsString();
      const std::string label = shape + " " + leaf->ShortDebugString();
      const bool protobuf_ok = v1::TrackEventsRequest().ParseFromString(wire);
      (protobuf_ok ? accepted : refused) += 1;
      EXPECT_EQ(Compare(wire), "") << label;
      const std::string json = NestedJson(shape, *leaf);
      const absl::Status checked = CheckTrackJsonNesting(json);
      EXPECT_EQ(checked.ok(), protobuf_ok) << label << ": " << checked;
      if (!checked.ok()) {
        EXPECT_EQ(
            std::string(checked.message()).rfind("events[0]: nesting ", 0), 0u)
            << checked;
        continue;
      }
      v1::TrackEventsRequest parsed;
      EXPECT_TRUE(
          google::protobuf::util::JsonStringToMessage(json, &parsed).ok())
          << label;
    }
  }
  // Both sides of the limit were tried.
  EXPECT_GT(refused, 10);
  EXPECT_GT(accepted, 10);
}

// The check names the event, and stops at the limit however deep the body
// goes: a megabyte of '[' is refused, not walked into.
TEST(TrackRequestTest, TheNestingCheckNamesTheEventAndStopsAtTheLimit) {
  const std::string deep = R"({"events": [{"event_name": "page_view"},
      {"event_name": "purchase", "x": )" +
                           std::string(1 << 20, '[');
  const absl::Status status = CheckTrackJsonNesting(deep);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(status.message()).rfind("events[1]: nesting ", 0), 0u)
      << status;
  // Deep nesting outside the events is the JSON parser's to refuse, but
  // not walked into either.
  EXPECT_FALSE(
      CheckTrackJsonNesting(R"({"destination": )" + std::string(1 << 20, '['))
          .ok());
  // Strings may hold any brackets and escaped quotes.
  EXPECT_TRUE(CheckTrackJsonNesting(R"({"events": [{"a": "[[[[\"{{{{"}]})" +
                                    std::string("  "))
                  .ok());
  EXPECT_TRUE(CheckTrackJsonNesting(kTwoEvents).ok());
}

// JSON's syntax is RFC 8259's: every form protobuf 3.21's JSON parser takes
// beyond it is refused, with the line and column and without the text read
// there, while every valid body passes.
TEST(TrackRequestTest, TheSyntaxCheckRefusesWhatIsNotJson) {
  const std::string kNotJson[] = {
      R"({'events': []})",           // single quotes
      R"({events: []})",             // an unquoted key
      R"({"events": [],})",          // a trailing comma
      R"({"events": [{"a": 1},]})",  // in a list too
      R"({"events": [{"user": {"email": "jdoe@example.com\x41"}}]})",  // \x
      R"({"events": [{"value": 1.}]})",                                // "1."
      "{\"events\": [{\"user\": {\"email\": \"jdoe@example.com\t\"}}]}",
      R"({"events": [{"user": {"email": "jdoe@example.com"}, }]})",
      R"({"events": [{"x": 1e400, "email": "jdoe@example.com"}]})",
      R"({"events": []} {"events": []})",  // two values
      std::string(R"({"events": []})") + '\0' + R"({'x': "jdoe"})",
      R"({"events": [)",  // cut short
      "",
  };
  for (const std::string& body : kNotJson) {
    const absl::Status status = CheckJsonSyntax(body);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << body;
    const std::string message(status.message());
    EXPECT_EQ(message.rfind("not valid JSON (RFC 8259): ", 0), 0u) << message;
    EXPECT_THAT(message, ::testing::HasSubstr(" at line 1, column "));
    // Never what was read: the identifiers above (read right before the
    // error in most) stay out of the message, and so does the number.
    EXPECT_EQ(message.find("jdoe"), std::string::npos) << message;
    EXPECT_EQ(message.find("1e400"), std::string::npos) << message;
    EXPECT_EQ(message.find("last read"), std::string::npos) << message;
  }
  EXPECT_EQ(CheckJsonSyntax(R"({'events': []})").message(),
            "not valid JSON (RFC 8259): invalid literal at line 1, column 2");
  EXPECT_EQ(CheckJsonSyntax("{\"events\":\n [1,]}").message(),
            "not valid JSON (RFC 8259): unexpected ']'; expected '[', '{', "
            "or a literal at line 2, column 5");
  EXPECT_EQ(CheckJsonSyntax(R"({"x": 1e400})").message(),
            "not valid JSON (RFC 8259): a number too large for a double at "
            "line 1, column 11");

  EXPECT_TRUE(CheckJsonSyntax(kTwoEvents).ok());
  EXPECT_TRUE(CheckJsonSyntax(" {\"events\": [{\"a\": \"\\u00e9\\ud83d\\ude00"
                              "\\t\", \"b\": [1e3, -0.5, null, true]}]}\n")
                  .ok());
  // Deep nesting is the nesting check's: the syntax check walks it
  // without recursion.
  EXPECT_TRUE(
      CheckJsonSyntax(std::string(100000, '[') + std::string(100000, ']'))
          .ok());
  // Stricter than RFC 8259 in one place: a string must be valid Unicode,
  // so an unpaired surrogate escape, which its grammar allows, is refused
  // (as protobuf's parser refuses it too).
  EXPECT_EQ(CheckJsonSyntax(R"({"events": [{"a": "\ud800"}]})").code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace conversions::service
