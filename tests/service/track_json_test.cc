// ReadTrackEventsJson, POST /v1/track's direct reader, against the general
// way (the strict checks, protobuf's JSON parser and TagTreeFromStruct):
// whenever the reader takes a body, the general way must take it too, with
// the same destination, flag and events; and the reader must take the
// plain bodies clients send, or it is no faster. Checked on hand-picked
// bodies (every quirk of protobuf's parser we know of) and on thousands of
// mutated ones.
#include "service/track_json.h"

#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/mapping/tag_tree_util.h"

namespace conversions::service {
namespace {

// "" when ReadTrackEventsJson, if it takes `body`, gives what the general
// way gives; else what differs. Sets *taken to whether it took it.
std::string Compare(const std::string& body, bool* taken = nullptr) {
  google::protobuf::LogSilencer quiet;
  TrackEventsInput fast;
  const bool read = ReadTrackEventsJson(body, &fast);
  if (taken != nullptr) *taken = read;
  TrackEventsInput general;
  const absl::Status status = ParseTrackEventsJsonGenerally(body, &general);
  // The entry point agrees with the general way in every case.
  // The entry point answers as the general way does (for the body after a
  // byte order mark, which it skips).
  TrackEventsInput either;
  const absl::Status combined = ParseTrackEventsJson(body, &either);
  TrackEventsInput unmarked;
  const absl::Status expected =
      body.rfind("\xEF\xBB\xBF", 0) == 0
          ? ParseTrackEventsJsonGenerally(body.substr(3), &unmarked)
          : status;
  if (combined.ok() != expected.ok()) return "ParseTrackEventsJson differs";
  if (!combined.ok() && combined.message() != expected.message()) {
    return "ParseTrackEventsJson's message differs";
  }
  if (!read) return "";
  if (!status.ok()) {
    return "the reader takes a body the general way refuses: " +
           status.ToString();
  }
  if (fast.destination != general.destination) return "destination";
  if (fast.validate_only != general.validate_only) return "validate_only";
  if (fast.dry_run != general.dry_run) return "dry_run";
  if (fast.events.size() != general.events.size()) return "event count";
  if (fast.event_count != general.event_count) return "event_count";
  for (size_t i = 0; i < fast.events.size(); ++i) {
    const std::string diff =
        conversions::testing::TagTreeDiff(fast.events[i], general.events[i]);
    if (!diff.empty()) return "events[" + std::to_string(i) + "]: " + diff;
  }
  return "";
}

constexpr char kPlain[] = R"({"destination": "shop-eu",
  "validate_only": true, "events": [
  {"event_name": "purchase", "value": 12.5, "currency": "EUR",
   "context": {"event_id": "o-1", "event_timestamp": 1773892740000,
               "page": {"url": "https://shop.example/"}},
   "user": {"email": ["a@example.com", null, 7], "consent_categories": [],
            "phone": "+1 (415) 555-2671", "firstname": "Zo\u00eb \ud83d\ude00"},
   "items": [{"id": "sku", "quantity": 2, "product": {"price": 6.25}}]},
  {"event_name": "page_view", "partners": {"openai": {"opt_out": false}},
   "": "", "n": -0, "f": -0.0, "big": 12345678901234567890,
   "bigger": 123456789012345678901234, "tiny": 5e-324, "e": 1E2,
   "neg": -9223372036854775808, "max": 1.7976931348623157e308}]})";

TEST(TrackJsonTest, TakesPlainBodiesAsTheGeneralWayDoes) {
  const std::vector<std::string> bodies = {
      kPlain,
      R"({"events": [{"event_name": "purchase"}]})",
      R"({"events": []})",
      R"({})",
      " \r\n\t{\"events\": [{}]} \n",
      R"({"validateOnly": false, "events": [{"a": {"b": [[], {}]}}]})",
      R"({"dry_run": true, "events": [{}]})",
      R"({"events": [{"s": "\"\\\/\b\f\n\r\t\u0000\u001f"}]})",
      R"({"events": [{"a": 1}, {"a": 2}, {"b": true, "c": false, "d": null}]})",
      R"({"events": [{"underflow": 1e-400, "x": -1.5E-3}]})",
  };
  for (const std::string& body : bodies) {
    bool taken = false;
    EXPECT_EQ(Compare(body, &taken), "") << body;
    EXPECT_TRUE(taken) << body;
  }
}

TEST(TrackJsonTest, LeavesOtherFormsToTheGeneralWay) {
  // Each is either refused by protobuf, or taken by it in a form the reader
  // leaves to it; Compare checks the entry point answers as protobuf does.
  const std::vector<std::string> bodies = {
      "",
      "[]",
      "null",
      "\xEF\xBB\xBF{\"events\": [{}]}",  // a byte order mark
      R"({"events": [{"a": 1, "a": 2}]})",
      R"({"events": [{"a": {"b": 1, "b": 2}}]})",
      R"({"destination": "x", "destination": "y"})",
      // A flag given twice, under either of its names: refused.
      R"({"validate_only": true, "validateOnly": false, "events": [{}]})",
      R"({"validateOnly": false, "validate_only": true})",
      R"({"dryRun": true, "dry_run": false, "validate_only": true})",
      R"({"dry_run": true, "dry_run": false, "events": []})",
      R"({"events": [{"a": 1}], "events": [{"b": 2}]})",
      R"({"events": null})",
      R"({"events": [null]})",
      R"({"events": [1]})",
      R"({"events": [[]]})",
      R"({"events": {"a": 1}})",
      R"({"destination": null})",
      R"({"destination": 1})",
      R"({"validate_only": "true"})",
      R"({"validate_only": "yes"})",
      R"({"validate_only": 1})",
      R"({"validate_only": null})",
      R"({"dry_run": "true"})",
      R"({"dry_run": 1})",
      R"({"dry_run": null})",
      R"({"Destination": "x"})",
      R"({"unknown": 1})",
      R"({"events": [{"a": 1e400}]})",
      R"({"events": [{"a": 1}]} x)",
      R"({"events": [{"a": 1},]})",
      R"({'events': []})",
      std::string("{\"events\": [{\"a\": \"x\0y\"}]}", 25),
      "{\"events\": [{\"a\": \"\\ud800\"}]}",
      "{\"events\": [{\"a\": \"\xff\"}]}",
  };
  for (const std::string& body : bodies) {
    bool taken = true;
    EXPECT_EQ(Compare(body, &taken), "") << body;
    EXPECT_FALSE(taken) << body;
  }
}

// An event {"a": <value>} nested `depth` levels deep inside the event (the
// event object is level 1), alternating objects and lists.
std::string Nested(int depth) {
  std::string value = "1";
  for (int level = depth; level > 1; --level) {
    value = level % 2 == 0 ? "[" + value + "]" : R"({"k": )" + value + "}";
  }
  return R"({"events": [{"a": )" + value + "}]}";
}

TEST(TrackJsonTest, TakesNestingUpToItsDepthAndLeavesDeeperToTheChecks) {
  for (int depth = 1; depth <= kTrackJsonFastDepth + 60; ++depth) {
    bool taken = false;
    EXPECT_EQ(Compare(Nested(depth), &taken), "") << depth;
    EXPECT_EQ(taken, depth <= kTrackJsonFastDepth) << depth;
  }
  // Past protobuf's limit the general way refuses, naming the nesting.
  TrackEventsInput out;
  const absl::Status deep = ParseTrackEventsJson(Nested(80), &out);
  EXPECT_EQ(deep.code(), absl::StatusCode::kInvalidArgument);
}

TEST(TrackJsonTest, AgreesWithTheGeneralWayOnMutatedBodies) {
  // Bytes that keep a mutated body close to JSON, so that many mutations
  // stay valid and exercise the reader, not only its refusals.
  constexpr char kAlphabet[] = "{}[],:\"\\ 0123456789-+.eEtrufalsn\xc3\xa9\x01";
  const std::vector<std::string> seeds = {
      kPlain,
      R"({"events": [{"a": [1, {"b": null}, "s"], "c": {"d": true}}]})",
  };
  std::mt19937 rng(20261127);
  int taken_count = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string body = seeds[static_cast<size_t>(i) % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !body.empty(); ++e) {
      const size_t at = rng() % body.size();
      const char c = rng() % 4 == 0 ? static_cast<char>(rng())
                                    : kAlphabet[rng() % (sizeof kAlphabet - 1)];
      switch (rng() % 3) {
        case 0:
          body[at] = c;
          break;
        case 1:
          body.erase(at, 1 + rng() % 4);
          break;
        default:
          body.insert(at, 1, c);
      }
    }
    bool taken = false;
    const std::string diff = Compare(body, &taken);
    ASSERT_EQ(diff, "") << "mutation " << i;
    taken_count += taken ? 1 : 0;
  }
  // Enough of them were valid and taken for the comparison to mean
  // something.
  EXPECT_GT(taken_count, 2000);
}

// More events than a request may carry are counted, not built into trees
// (the request is refused by its count); up to that many, each has its
// tree.
TEST(TrackJsonTest, EventsPastTheLimitAreCountedNotKept) {
  auto body = [](int events) {
    std::string out = R"({"events": [)";
    for (int i = 0; i < events; ++i) {
      out += i ? R"(, {"a": [1, {"b": "x"}]})" : R"({"a": [1, {"b": "x"}]})";
    }
    return out + "]}";
  };
  TrackEventsInput out;
  ASSERT_TRUE(ReadTrackEventsJson(body(1000), &out));
  EXPECT_EQ(out.event_count, 1000);
  EXPECT_EQ(out.events.size(), 1000u);
  EXPECT_EQ(Compare(body(1000)), "");
  ASSERT_TRUE(ReadTrackEventsJson(body(1500), &out));
  EXPECT_EQ(out.event_count, 1500);
  EXPECT_TRUE(out.events.empty());
  EXPECT_EQ(Compare(body(1500)), "");
  // The general way counts them too, without copying them.
  ASSERT_TRUE(ParseTrackEventsJsonGenerally(body(1001), &out).ok());
  EXPECT_EQ(out.event_count, 1001);
  EXPECT_TRUE(out.events.empty());
}

// A body the reader gives up on partway leaves no half-written tree.
TEST(TrackJsonTest, AFailedReadLeavesNoTrees) {
  TrackEventsInput out;
  EXPECT_FALSE(ReadTrackEventsJson(
      R"({"events": [{"a": 1}, {"b": {"c": 1, "c": 2}}]})", &out));
  EXPECT_TRUE(out.events.empty());
  EXPECT_EQ(out.event_count, 0);
}

TEST(TrackJsonTest, TheTreesAreReadyForTheMapper) {
  // Every key and string is followed by the padding the mapper's name
  // lookup reads (tag_tree.h).
  TrackEventsInput out;
  ASSERT_TRUE(ReadTrackEventsJson(kPlain, &out));
  ASSERT_EQ(out.events.size(), 2u);
  for (const mapping::TagTree& tree : out.events) {
    const std::string_view buffer = tree.buffer();
    const char* end = buffer.data() + buffer.size();
    for (size_t k = 0; k < mapping::kTagTreePadding; ++k) {
      EXPECT_EQ(end[k], '\0');
    }
  }
  EXPECT_EQ(out.destination, "shop-eu");
  EXPECT_TRUE(out.validate_only);
  const mapping::TagStruct first = out.events[0].root();
  auto user = first.find("user");
  ASSERT_NE(user, first.end());
  EXPECT_EQ(user->second.struct_value().find("phone")->second.string_value(),
            "+1 (415) 555-2671");
  // A reused input is reset.
  ASSERT_TRUE(ReadTrackEventsJson(R"({"events": [{}]})", &out));
  EXPECT_EQ(out.destination, "");
  EXPECT_FALSE(out.validate_only);
  EXPECT_EQ(out.events.size(), 1u);
}

// What the general way answers for bodies protobuf refuses: the problem,
// never text from the body (keys, values and unknown names that may be
// identifiers), nor protobuf's own wording around it.
TEST(TrackJsonTest, RefusalsNameTheProblemNotTheText) {
  struct Case {
    std::string body;
    std::string message;  // after "body is not a TrackEventsRequest in
                          // JSON: "
  };
  const std::vector<Case> cases = {
      {R"({"events": [{"event_name": "purchase", "+14155552671": 1,
          "+14155552671": 2}]})",
       "an object holds the same key twice (in events[0])"},
      {R"({"events": [{}, {"user": {"jane@example.com": 1,
          "jane@example.com": 2}}]})",
       "an object holds the same key twice (in events[1])"},
      // protobuf's parser keeps the last of a member given twice (and
      // joins two lists): a check would turn into a send.
      {R"({"dry_run": true, "events": [{}], "dry_run": false})",
       "the request gives dry_run twice (as dry_run or dryRun): send each "
       "member once"},
      {R"({"dry_run": true, "dryRun": false, "events": [{}]})",
       "the request gives dry_run twice (as dry_run or dryRun): send each "
       "member once"},
      {R"({"validateOnly": true, "validate_only": null, "events": [{}]})",
       "the request gives validate_only twice (as validate_only or "
       "validateOnly): send each member once"},
      {R"({"events": [{}], "events": [{}]})",
       "the request gives events twice: send each member once"},
      {R"({"destination": "a", "destination": "b", "events": [{}]})",
       "the request gives destination twice: send each member once"},
      {R"({"events": [{}], "x: jane@example.com": 1, "x: jane@example.com": 2})",
       "the request holds the same key twice"},
      {R"({"validate_only": "CRM000123", "events": [{}]})",
       "validate_only must be true or false (a JSON boolean), not a string"},
      {R"({"validate_only": 1, "events": [{}]})",
       "validate_only must be true or false (a JSON boolean), not a number"},
      {R"({"events": [{}], "14155552671": true})",
       "an unknown field, whose name is not shown: it is not a plain field "
       "name"},
      {R"({"events": [{}], "CRM_000123": true})",
       "an unknown field, whose name is not shown: it is not a plain field "
       "name"},
      {R"({"events": [{}], "evnts": true})", "unknown field \"evnts\""},
      {R"({"destination": 7})",
       "(destination): invalid value for type TYPE_STRING"},
      // The likeliest wrong shapes say how to send them.
      {R"([{"event_name": "purchase"}])",
       "it is a list; POST /v1/track takes the events inside a request: "
       "{\"events\": [...]}"},
      {R"({"event_name": "purchase", "context": {"event_id": "o-1"}})",
       "it looks like one tag event (it has event_name, context, user, items "
       "or partners); POST /v1/track takes the events inside a request: "
       "{\"events\": [<the event>]}"},
      {R"({"value": 1, "user": {"email": "jane@example.com"}})",
       "it looks like one tag event (it has event_name, context, user, items "
       "or partners); POST /v1/track takes the events inside a request: "
       "{\"events\": [<the event>]}"},
      {R"({"Events": [{}]})",
       "unknown field \"Events\" (did you mean \"events\"? names are "
       "case-sensitive)"},
      {R"({"events": [{}], "DRY_RUN": true})",
       "unknown field \"DRY_RUN\" (did you mean \"dry_run\"? names are "
       "case-sensitive)"},
      {"null", "Root element must be a message."},
      // A key that holds ": " cannot pass for protobuf's own words.
      {R"({"events": [{"note: jane@example.com": 1,
          "note: jane@example.com": 2}]})",
       "an object holds the same key twice (in events[0])"},
      {R"({"events": [{}], "x: jane@example.com": 1})",
       "an unknown field, whose name is not shown: it is not a plain field "
       "name"},
      {R"({"events": [{}], "x: Cannot find field.": 1})",
       "an unknown field, whose name is not shown: it is not a plain field "
       "name"},
      // A value is never shown, upper-case or not, unless it names a value
      // of the enum the field takes (none here).
      {R"({"events": ["CRM000123"]})",
       "events[0] is a string: each element of events must be an object (a "
       "tag event)"},
      // protobuf's parser would skip a null and flatten a nested list,
      // moving the results of the events after them to other indexes.
      {R"({"events": [{}, null, {}]})",
       "events[1] is null: each element of events must be an object (a "
       "tag event)"},
      {R"({"events": [[{}, {}]]})",
       "events[0] is a list: each element of events must be an object (a "
       "tag event)"},
      {R"({"events": [{"a": [null, [1]]}, 7], "destination": "x"})",
       "events[1] is a number: each element of events must be an object (a "
       "tag event)"},
      {R"({"\u0065vents": [{}, true]})",
       "events[1] is a boolean: each element of events must be an object (a "
       "tag event)"},
      {R"({"destination": {}})",
       "destination: Starting an object on a scalar field"},
      {R"({"events": [{}], "destination": [1]})",
       "destination: Proto field is not repeating, cannot start list."},
      // protobuf's C++ parser reads "yes", "y", "t" and "1" as true: a typo
      // would silently make a send a check. Only the proto3 JSON forms go.
      {R"({"validate_only": "yes", "events": [{}]})",
       "validate_only must be true or false (a JSON boolean), not a string"},
      {R"({"events": [{}], "dryRun": "1"})",
       "dryRun must be true or false (a JSON boolean), not a string"},
      {R"({"events": [{}], "dry_run": 1})",
       "dry_run must be true or false (a JSON boolean), not a number"},
      {R"({"validateOnly": {}, "events": [{}]})",
       "validateOnly must be true or false (a JSON boolean), not an object"},
      {R"({"validate_only": [true], "events": [{}]})",
       "validate_only must be true or false (a JSON boolean), not a list"},
      // protobuf takes one object for a repeated field.
      {R"({"events": {"event_name": "purchase"}})",
       "events must be a list of tag events, not an object (send one event "
       "as a list of one)"},
      {R"({"events": "purchase"})",
       "events must be a list of tag events, not a string"},
      // A lower-case digest as a key is not taken for a field name.
      {R"({"events": [{}], "abcdef0123456789abcdef0123456789": 1})",
       "an unknown field, whose name is not shown: it is not a plain field "
       "name"},
  };
  for (const Case& c : cases) {
    TrackEventsInput out;
    const absl::Status status = ParseTrackEventsJson(c.body, &out);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_EQ(std::string(status.message()),
              "body is not a TrackEventsRequest in JSON: " + c.message)
        << c.body;
  }
}

// A byte order mark before the body is ignored (RFC 8259 §8.1 allows it;
// editors on some systems write one), on the direct reader's path too.
TEST(TrackJsonTest, FlagsTakeBooleansNullAndTheirStringForms) {
  struct Case {
    std::string body;
    bool validate_only;
    bool dry_run;
  };
  const std::vector<Case> cases = {
      {R"({"validate_only": true, "dry_run": false, "events": [{}]})", true,
       false},
      {R"({"validate_only": "true", "dryRun": "true", "events": [{}]})", true,
       true},
      {R"({"validateOnly": "false", "dry_run": null, "events": [{}]})", false,
       false},
      {R"({"validate_only": null, "events": null})", false, false},
  };
  for (const Case& c : cases) {
    TrackEventsInput out;
    ASSERT_TRUE(ParseTrackEventsJson(c.body, &out).ok()) << c.body;
    EXPECT_EQ(out.validate_only, c.validate_only) << c.body;
    EXPECT_EQ(out.dry_run, c.dry_run) << c.body;
  }
}

TEST(TrackJsonTest, AByteOrderMarkIsIgnored) {
  TrackEventsInput out;
  ASSERT_TRUE(
      ParseTrackEventsJson(
          "\xEF\xBB\xBF{\"destination\": \"x\", \"events\": [{}]}", &out)
          .ok());
  EXPECT_EQ(out.destination, "x");
  EXPECT_EQ(out.events.size(), 1u);
  // One mark only, and only at the start.
  EXPECT_FALSE(ParseTrackEventsJson("\xEF\xBB\xBF\xEF\xBB\xBF{}", &out).ok());
  EXPECT_FALSE(ParseTrackEventsJson("{} \xEF\xBB\xBF", &out).ok());
}

}  // namespace
}  // namespace conversions::service
