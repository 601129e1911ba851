// Tests of MapTagEvent: one test (or more) per row and footnote of the
// field-mapping table in shared/spec/tag-event-mapping.md §3, the default
// event mapping, consent, smart mapping and config validation. Most tests
// map a tag event, then run MapEvent at kNowMs and check the wire JSON, so
// they show what reaches the API. Golden files: tests/data/tag/NAME.tag.json
// maps to exactly tests/data/tag/NAME.wire.json (hashes from sha256sum).
#include "mapping/tag_mapper.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "mapping/event_mapper.h"
#include "mapping/money.h"
#include "mapping/tag_tree.h"
#include "tests/mapping/tag_issues.h"
#include "tests/mapping/test_util.h"

namespace conversions::mapping {

// Issues hold no identifier values: safe to print.
inline void PrintTo(const FieldIssue& issue, std::ostream* os) {
  *os << "{" << issue.field << ", " << issue.reason << ", " << issue.description
      << "}";
}

namespace {

using ::conversions::testing::ExpectedRejectedIssues;
using ::conversions::testing::kNowMs;
using ::conversions::testing::ParseJson;
using ::conversions::testing::ReadTestData;
using ::conversions::testing::SameIssuesButPaths;
using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;
using Json = nlohmann::json;
using Outcome = TagMapResult::Outcome;

constexpr std::int64_t kOneHourAgoMs = kNowMs - 3'600'000;

// SHA-256 hex of normalized identifiers (sha256sum).
constexpr char kUserExampleComSha[] =
    "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514";
constexpr char kPhone14155552671Sha[] =
    "758fbf68945f21c416814c539ab578876c8d98fb69e6da692def92cd52417fe0";
constexpr char kCustomer123Sha[] =
    "18f69bcd2f9cc9c38195e722b2a5590429840ea5090971d2256e026926e55fa1";
constexpr char kMarieSha[] =
    "c6d17a3613b9914e68707fcfac8410f097643bc5840681bb533030d73cbb18f8";
constexpr char kCurieSha[] =
    "b2adb213f822641771acb898c7bfa79bdc23abee6d77c38a72d9e1a87ffcca69";

::testing::Matcher<const FieldIssue&> Issue(const std::string& field,
                                            const std::string& reason) {
  return AllOf(Field("field", &FieldIssue::field, field),
               Field("reason", &FieldIssue::reason, reason));
}

google::protobuf::Struct ToStruct(const std::string& json_text) {
  google::protobuf::Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(json_text, &s);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return s;
}

CompiledTagMapping Compile(const TagMappingConfig& config) {
  absl::StatusOr<CompiledTagMapping> compiled = CompileTagMapping(config);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return compiled.ok() ? *compiled : CompiledTagMapping::Default();
}

// The tree forms of MapTagEvent, on a TagTree parsed from the Struct's
// serialized bytes (as the gateway will parse requests; its key order is
// the wire's, not the Map's), must give exactly what the Struct forms give.
void ExpectTreeFormsAgree(const google::protobuf::Struct& event,
                          const CompiledTagMapping& mapping,
                          const TagMapResult& typed, const TagMapResult& fused,
                          const MappedEvent& mapped) {
  TagTree tree;
  ASSERT_TRUE(ParseTagTree(event.SerializeAsString(), &tree).ok());
  TagMapResult tree_typed = MapTagEvent(tree, mapping, kNowMs);
  EXPECT_EQ(tree_typed.outcome, typed.outcome);
  EXPECT_EQ(tree_typed.skip_reason, typed.skip_reason);
  EXPECT_EQ(tree_typed.event_id, typed.event_id);
  EXPECT_EQ(tree_typed.violations, typed.violations);
  EXPECT_EQ(tree_typed.warnings, typed.warnings);
  EXPECT_EQ(tree_typed.event.SerializeAsString(),
            typed.event.SerializeAsString());
  TagMapResult tree_fused;
  MappedEvent tree_mapped;
  MapTagEvent(tree, mapping, kNowMs, &tree_fused, &tree_mapped);
  EXPECT_EQ(tree_fused.outcome, fused.outcome);
  EXPECT_EQ(tree_fused.skip_reason, fused.skip_reason);
  EXPECT_EQ(tree_fused.event_id, fused.event_id);
  EXPECT_EQ(tree_fused.violations, fused.violations);
  EXPECT_EQ(tree_fused.warnings, fused.warnings);
  EXPECT_EQ(tree_mapped.wire_json, mapped.wire_json);
  EXPECT_EQ(tree_mapped.violations, mapped.violations);
  EXPECT_EQ(tree_mapped.warnings, mapped.warnings);
  EXPECT_EQ(tree_mapped.event_name, mapped.event_name);
  EXPECT_EQ(tree_mapped.id, mapped.id);
  EXPECT_EQ(tree_mapped.timestamp_ms, mapped.timestamp_ms);
}

// Maps `tag` with the typed form of MapTagEvent, which the tests read; also
// maps it with the fused form (no typed event) and checks that the two
// agree: outcome, skip reason, issues, event id, and, for a mapped event,
// everything MapEvent of the typed event gives; and that the tree forms
// give what the Struct forms give. So every vector of this file goes
// through every form.
TagMapResult MapTag(const Json& tag, const TagMappingConfig& config = {}) {
  const google::protobuf::Struct event = ToStruct(tag.dump());
  const CompiledTagMapping mapping = Compile(config);
  TagMapResult typed = MapTagEvent(event, mapping, kNowMs);
  TagMapResult fused;
  MappedEvent mapped;
  MapTagEvent(event, mapping, kNowMs, &fused, &mapped);
  ExpectTreeFormsAgree(event, mapping, typed, fused, mapped);
  EXPECT_EQ(fused.outcome, typed.outcome);
  EXPECT_EQ(fused.skip_reason, typed.skip_reason);
  if (typed.outcome == TagMapResult::Outcome::kRejected) {
    // The fused form adds MapEvent's findings (tag_issues.h).
    std::vector<FieldIssue> violations, warnings;
    ExpectedRejectedIssues(typed, kNowMs, &violations, &warnings);
    EXPECT_TRUE(SameIssuesButPaths(fused.violations, violations))
        << ::testing::PrintToString(fused.violations) << " vs "
        << ::testing::PrintToString(violations);
    EXPECT_TRUE(SameIssuesButPaths(fused.warnings, warnings))
        << ::testing::PrintToString(fused.warnings) << " vs "
        << ::testing::PrintToString(warnings);
  } else {
    EXPECT_EQ(fused.violations, typed.violations);
    EXPECT_EQ(fused.warnings, typed.warnings);
  }
  EXPECT_EQ(fused.event_id, typed.event.id());
  EXPECT_EQ(typed.event_id, typed.event.id());
  if (typed.mapped()) {
    MappedEvent expected = MapEvent(typed.event, kNowMs);
    EXPECT_TRUE(SameIssuesButPaths(mapped.violations, expected.violations))
        << ::testing::PrintToString(mapped.violations) << " vs "
        << ::testing::PrintToString(expected.violations);
    EXPECT_TRUE(SameIssuesButPaths(mapped.warnings, expected.warnings))
        << ::testing::PrintToString(mapped.warnings) << " vs "
        << ::testing::PrintToString(expected.warnings);
    EXPECT_EQ(mapped.wire_json, expected.wire_json);
    EXPECT_EQ(mapped.event_name, expected.event_name);
    EXPECT_EQ(mapped.id, expected.id);
    EXPECT_EQ(mapped.timestamp_ms, expected.timestamp_ms);
  } else {
    EXPECT_TRUE(mapped.wire_json.empty());
    EXPECT_THAT(mapped.violations, IsEmpty());
  }
  return typed;
}

// Maps a tag event that must map cleanly, then through MapEvent; returns the
// parsed wire event (null JSON on failure).
Json Wire(const Json& tag, const TagMappingConfig& config = {}) {
  TagMapResult tagged = MapTag(tag, config);
  EXPECT_EQ(tagged.outcome, Outcome::kMapped) << tagged.skip_reason;
  EXPECT_THAT(tagged.violations, IsEmpty());
  if (!tagged.mapped()) return Json();
  MappedEvent mapped = MapEvent(tagged.event, kNowMs);
  EXPECT_THAT(mapped.violations, IsEmpty());
  if (!mapped.ok()) return Json();
  return ParseJson(mapped.wire_json);
}

// The fused form's mapped event for a tag event that maps (its warnings
// carry the tag model's paths).
MappedEvent MappedByFusedForm(const Json& tag) {
  TagMapResult result;
  MappedEvent mapped;
  MapTagEvent(ToStruct(tag.dump()), Compile({}), kNowMs, &result, &mapped);
  EXPECT_EQ(result.outcome, Outcome::kMapped);
  return mapped;
}

// A minimal valid tag event: a web page view an hour ago. Tests change one
// thing and check what that change does.
Json BaseEvent(const std::string& event_name = "page_view") {
  return Json{{"event_name", event_name},
              {"context",
               {{"event_id", "evt_1"},
                {"event_timestamp", kOneHourAgoMs},
                {"page", {{"url", "https://www.example.com/pricing"}}}}}};
}

// A purchase with event value and currency, ready for items.
Json Purchase(double value = 10, const std::string& currency = "USD") {
  Json e = BaseEvent("purchase");
  e["value"] = value;
  e["currency"] = currency;
  return e;
}

// ---------------------------------------------------------------------------
// Row 1, footnote [*]: context.event_id -> id, mandatory.

TEST(TagMapperRow1Test, MapsEventIdToId) {
  EXPECT_EQ(Wire(BaseEvent())["id"], "evt_1");
}

TEST(TagMapperRow1Test, FormatsANumericEventIdAsAnInteger) {
  Json e = BaseEvent();
  e["context"]["event_id"] = 202110130000000;
  EXPECT_EQ(Wire(e)["id"], "202110130000000");
}

TEST(TagMapperRow1Test, RejectsANumericEventIdThatADoubleCannotTellApart) {
  // JSON numbers arrive as doubles: 2^53 + 1 becomes 2^53, so both would be
  // sent as "9007199254740992", another event's id.
  for (const char* id : {"9007199254740993", "9007199254740992"}) {
    SCOPED_TRACE(id);
    Json e = BaseEvent();
    e["context"]["event_id"] = Json::parse(id);
    TagMapResult r = MapTag(e);
    EXPECT_EQ(r.outcome, Outcome::kRejected);
    EXPECT_THAT(r.violations,
                ElementsAre(Issue("context.event_id", "INVALID_FORMAT")));
  }
  Json e = BaseEvent();
  e["context"]["event_id"] = Json::parse("9007199254740991");  // 2^53 - 1
  EXPECT_EQ(Wire(e)["id"], "9007199254740991");
}

TEST(TagMapperRow1Test, RejectsAnEventWithoutEventId) {
  Json e = BaseEvent();
  e["context"].erase("event_id");
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.outcome, Outcome::kRejected);
  EXPECT_THAT(r.violations, ElementsAre(Issue("context.event_id", "REQUIRED")));
}

TEST(TagMapperRow1Test, RejectsAnEventIdThatIsNotAWholeNumberOrString) {
  for (const Json& id : {Json(1.5), Json(1e17), Json(true)}) {
    SCOPED_TRACE(id.dump());
    Json e = BaseEvent();
    e["context"]["event_id"] = id;  // 1e17 is past 2^53: not exact
    EXPECT_THAT(MapTag(e).violations,
                ElementsAre(Issue("context.event_id", "INVALID_FORMAT")));
  }
}

// ---------------------------------------------------------------------------
// Row 2, footnote [1]: event_name -> type, through the event mapping.

TEST(TagMapperRow2Test, RejectsAnEventWithoutEventName) {
  Json e = BaseEvent();
  e.erase("event_name");
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.outcome, Outcome::kRejected);
  EXPECT_THAT(r.violations, ElementsAre(Issue("event_name", "REQUIRED")));
}

TEST(TagMapperRow2Test, SkipsAnEventWithoutEventMapping) {
  Json e = Purchase(5);
  e["event_name"] = "refund";
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.outcome, Outcome::kSkipped);
  EXPECT_EQ(r.skip_reason, "event 'refund' has no event mapping");
  EXPECT_THAT(r.violations, IsEmpty());
}

// The name is repeated in the reason only when it looks like an event name:
// an identifier sent as event_name (an email, a phone, a customer id) is
// not repeated to logs and clients.
TEST(TagMapperRow2Test, TheSkipReasonRepeatsOnlyEventLikeNames) {
  for (const char* name : {"Order Completed", "step_2_done", "checkout:v2",
                           "Bestellung abgeschlossen \u00fc"}) {
    Json e = Purchase(5);
    e["event_name"] = name;
    EXPECT_EQ(MapTag(e).skip_reason,
              absl::StrCat("event '", name, "' has no event mapping"));
  }
  for (const char* name :
       {"ada.lovelace@example.com", "+1 415 555 2671", "14155552671",
        "cust_000123456", "(555) 123",
        // Full-width forms: "jane＠example．com", "４１５５５５２６７１".
        "jane\uff20example\uff0ecom",
        "\uff14\uff11\uff15\uff15\uff15\uff15\uff12\uff16\uff17\uff11"}) {
    Json e = Purchase(5);
    e["event_name"] = name;
    const TagMapResult r = MapTag(e);
    EXPECT_EQ(r.outcome, Outcome::kSkipped) << name;
    EXPECT_EQ(r.skip_reason,
              "event (whose name is not shown: it does not look like an "
              "event name) has no event mapping")
        << name;
  }
}

// Every result names its event (DESIGN: index, event_id, outcome, ...).
TEST(TagMapperRow2Test, SkippedAndRejectedResultsCarryTheEventId) {
  Json unmapped = BaseEvent("refund");
  unmapped["context"]["event_id"] = "refund_7";
  TagMapResult r = MapTag(unmapped);
  EXPECT_EQ(r.outcome, Outcome::kSkipped);
  EXPECT_EQ(r.event_id, "refund_7");

  Json nameless = BaseEvent();
  nameless.erase("event_name");
  nameless["context"]["event_id"] = 42;
  r = MapTag(nameless);
  EXPECT_EQ(r.outcome, Outcome::kRejected);
  EXPECT_EQ(r.event_id, "42");
  EXPECT_THAT(r.violations, ElementsAre(Issue("event_name", "REQUIRED")));
}

TEST(TagMapperRow2Test, SkipsEventNamesCaseSensitively) {
  EXPECT_EQ(MapTag(BaseEvent("Purchase")).outcome, Outcome::kSkipped);
}

TEST(TagMapperRow2Test, EventMappingAddsAndOverridesEntries) {
  TagMappingConfig config;
  config.event_mapping["refund"] = v1::EVENT_TYPE_CUSTOM;
  config.event_mapping["page_view"] = v1::EVENT_TYPE_CONTENTS_VIEWED;
  config.event_mapping["Video Playback Started"] = v1::EVENT_TYPE_CUSTOM;
  EXPECT_EQ(Wire(BaseEvent("page_view"), config)["type"], "contents_viewed");
  Json refund = Wire(BaseEvent("refund"), config);
  EXPECT_EQ(refund["type"], "custom");
  EXPECT_EQ(refund["custom_event_name"], "refund");
  // Unchanged entries stay.
  EXPECT_EQ(Wire(BaseEvent("purchase"), config)["type"], "order_created");
}

// ---------------------------------------------------------------------------
// Row 3, footnote [2]: context.event_timestamp -> timestamp_ms; now when
// absent.

TEST(TagMapperRow3Test, MapsANumericTimestamp) {
  EXPECT_EQ(Wire(BaseEvent())["timestamp_ms"], kOneHourAgoMs);
}

TEST(TagMapperRow3Test, MapsATimestampGivenAsAStringOfDigits) {
  Json e = BaseEvent();
  e["context"]["event_timestamp"] = std::to_string(kOneHourAgoMs);
  EXPECT_EQ(Wire(e)["timestamp_ms"], kOneHourAgoMs);
}

TEST(TagMapperRow3Test, UsesNowWhenTheTimestampIsAbsent) {
  Json e = BaseEvent();
  e["context"].erase("event_timestamp");
  EXPECT_EQ(MapTag(e).event.timestamp_ms(), kNowMs);
  EXPECT_EQ(Wire(e)["timestamp_ms"], kNowMs);
}

// 0, as a number or a string, is read as absent, as for a typed event,
// and said: it is more likely a bug than a wish for the current time.
TEST(TagMapperRow3Test, AZeroTimestampIsNowWithAWarning) {
  for (const Json& ts : {Json(0), Json("0"), Json(0.5)}) {
    SCOPED_TRACE(ts.dump());
    Json e = BaseEvent();
    e["context"]["event_timestamp"] = ts;
    const auto mapped = MapTag(e);
    EXPECT_THAT(mapped.violations, IsEmpty());
    ASSERT_THAT(mapped.warnings,
                ElementsAre(Issue("context.event_timestamp", "DEFAULTED")));
    EXPECT_EQ(mapped.warnings[0].description,
              "context.event_timestamp is 0, read as absent: the current "
              "time is used (send Unix epoch milliseconds, or leave it out)");
    EXPECT_EQ(Wire(e)["timestamp_ms"], kNowMs);
  }
  // Absent says nothing.
  Json e = BaseEvent();
  e["context"].erase("event_timestamp");
  EXPECT_THAT(MapTag(e).warnings, IsEmpty());
}

// "Coerce it to an integer": a fraction of a millisecond is dropped.
TEST(TagMapperRow3Test, DropsAFractionOfAMillisecond) {
  Json e = BaseEvent();
  e["context"]["event_timestamp"] = static_cast<double>(kOneHourAgoMs) + 0.75;
  EXPECT_EQ(Wire(e)["timestamp_ms"], kOneHourAgoMs);
  e["context"]["event_timestamp"] = std::to_string(kOneHourAgoMs) + ".5";
  EXPECT_EQ(Wire(e)["timestamp_ms"], kOneHourAgoMs);
}

TEST(TagMapperRow3Test, RejectsATimestampThatIsNotEpochMilliseconds) {
  for (const Json& ts :
       {Json("2026-03-19T03:00:00Z"), Json(false), Json("17738892e")}) {
    SCOPED_TRACE(ts.dump());
    Json e = BaseEvent();
    e["context"]["event_timestamp"] = ts;
    EXPECT_THAT(
        MapTag(e).violations,
        ElementsAre(Issue("context.event_timestamp", "INVALID_FORMAT")));
  }
}

// ---------------------------------------------------------------------------
// Row 4, footnote [3]: custom_event_name, custom events only:
// partners.openai.custom_event_name, then event_name.

TEST(TagMapperRow4Test, TakesPartnerCustomEventNameFirst) {
  Json e = BaseEvent("custom");
  e["partners"]["openai"]["custom_event_name"] = "quote_requested";
  Json wire = Wire(e);
  EXPECT_EQ(wire["type"], "custom");
  EXPECT_EQ(wire["custom_event_name"], "quote_requested");
  EXPECT_EQ(wire["data"]["type"], "custom");
}

TEST(TagMapperRow4Test, FallsBackToEventNameForMappedCustomEvents) {
  TagMappingConfig config;
  config.event_mapping["request_quote"] = v1::EVENT_TYPE_CUSTOM;
  EXPECT_EQ(Wire(BaseEvent("request_quote"), config)["custom_event_name"],
            "request_quote");
}

// A tag model's own names ("Video Playback Started") are no valid custom
// event names: the fallback makes one of it, and says so.
TEST(TagMapperRow4Test, MakesAnEventNameAValidCustomEventName) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Video Playback Started", "video_playback_started"},
      {"  Add to Wish-List!  ", "add_to_wish-list"},
      {"Café Visit", "caf_visit"},
      {"_quote__requested_", "quote_requested"},
      {"-x-", "x"},
      {"- x", "x"},
      {"x -_ y", "x_-_y"},
      {std::string(70, 'a') + " b", std::string(64, 'a')},
  };
  for (const auto& [event_name, custom] : cases) {
    TagMappingConfig config;
    config.event_mapping[event_name] = v1::EVENT_TYPE_CUSTOM;
    TagMapResult r = MapTag(BaseEvent(event_name), config);
    ASSERT_EQ(r.outcome, Outcome::kMapped) << event_name;
    EXPECT_EQ(r.event.custom_event_name(), custom) << event_name;
    EXPECT_THAT(r.warnings, ElementsAre(Issue("event_name", "NORMALIZED")))
        << event_name;
    EXPECT_THAT(
        r.warnings[0].description,
        HasSubstr(absl::StrCat("sent as custom_event_name \"", custom, "\"")));
    EXPECT_EQ(Wire(BaseEvent(event_name), config)["custom_event_name"], custom);
  }
  // A valid name is sent as it is, without a warning.
  TagMappingConfig config;
  config.event_mapping["request_quote"] = v1::EVENT_TYPE_CUSTOM;
  EXPECT_THAT(MapTag(BaseEvent("request_quote"), config).warnings, IsEmpty());
}

TEST(TagMapperRow4Test, RequiresAPartnerNameWhenEventNameIsStandard) {
  // event_name "custom" would be a reserved custom_event_name.
  TagMapResult r = MapTag(BaseEvent("custom"));
  EXPECT_EQ(r.outcome, Outcome::kRejected);
  EXPECT_THAT(
      r.violations,
      ElementsAre(Issue("partners.openai.custom_event_name", "REQUIRED")));
}

TEST(TagMapperRow4Test, OmitsCustomEventNameForStandardTypes) {
  Json e = BaseEvent();
  e["partners"]["openai"]["custom_event_name"] = "quote_requested";
  Json wire = Wire(e);
  EXPECT_FALSE(wire.contains("custom_event_name"));
}

// ---------------------------------------------------------------------------
// Row 5: partners.openai.oppref -> oppref, unchanged.

TEST(TagMapperRow5Test, PassesOpprefByteForByte) {
  Json e = BaseEvent();
  e["partners"]["openai"]["oppref"] = " opp_AbC.123== ";
  EXPECT_EQ(Wire(e)["oppref"], " opp_AbC.123== ");
}

TEST(TagMapperRow5Test, DropsAnOpprefThatIsAnEmailAddress) {
  Json e = BaseEvent();
  e["partners"]["openai"]["oppref"] = "jane@example.com";
  const MappedEvent mapped = MappedByFusedForm(e);
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("partners.openai.oppref", "DROPPED_INVALID")));
  EXPECT_FALSE(ParseJson(mapped.wire_json).contains("oppref"));
  EXPECT_FALSE(Wire(e).contains("oppref"));
}

// ---------------------------------------------------------------------------
// Row 6, footnote [4]: type -> action_source.

TEST(TagMapperRow6Test, TranslatesEventModelAndApiTypes) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"online", "web"},
      {"offline", "offline"},
      {"call", "phone_call"},
      {"store", "physical_store"},
      {"app", "mobile_app"},
      {"email", "email"},
      {"web", "web"},
      {"mobile_app", "mobile_app"},
      {"physical_store", "physical_store"},
      {"phone_call", "phone_call"},
      {"other", "other"},
      {" Online ", "web"},
      {"CALL", "phone_call"}};
  for (const auto& [type, source] : cases) {
    SCOPED_TRACE(type);
    Json e = Purchase();
    e["type"] = type;
    TagMapResult r = MapTag(e);
    EXPECT_THAT(r.warnings, IsEmpty());
    MappedEvent mapped = MapEvent(r.event, kNowMs);
    ASSERT_TRUE(mapped.ok());
    EXPECT_EQ(ParseJson(mapped.wire_json)["action_source"], source);
  }
}

TEST(TagMapperRow6Test, UsesTheDestinationDefaultWhenTypeIsAbsent) {
  EXPECT_EQ(Wire(Purchase())["action_source"], "web");
  TagMappingConfig config;
  config.default_action_source = v1::ACTION_SOURCE_PHYSICAL_STORE;
  EXPECT_EQ(Wire(Purchase(), config)["action_source"], "physical_store");
}

TEST(TagMapperRow6Test, UsesTheDefaultWithAWarningForAnUnknownType) {
  Json e = BaseEvent();
  e["type"] = "product";  // page_view's deprecated page type
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.event.action_source(), v1::ACTION_SOURCE_WEB);
  EXPECT_THAT(r.warnings, ElementsAre(Issue("type", "DEFAULTED")));
}

TEST(TagMapperRow6Test, AppEventsUseMobileAppWhenTypeIsAbsent) {
  // The destination offers no app event: an event_mapping entry sends one.
  TagMappingConfig config;
  config.event_mapping["app_installed"] = v1::EVENT_TYPE_APP_INSTALLED;
  config.event_mapping["app_opened"] = v1::EVENT_TYPE_APP_OPENED;
  for (const char* name : {"app_installed", "app_opened"}) {
    SCOPED_TRACE(name);
    Json e = BaseEvent(name);
    e["context"].erase("page");
    Json wire = Wire(e, config);
    EXPECT_EQ(wire["type"], name);
    EXPECT_EQ(wire["action_source"], "mobile_app");
    EXPECT_EQ(wire["data"]["type"], "customer_action");
  }
}

// What MapTagEvent's fused form (the one the gateway runs) gives for `tag`:
// the mapper core's result, whose issues name the tag event's paths.
MappedEvent MapFused(const Json& tag, const TagMappingConfig& config = {}) {
  TagMapResult result;
  MappedEvent mapped;
  MapTagEvent(ToStruct(tag.dump()), Compile(config), kNowMs, &result, &mapped);
  EXPECT_TRUE(result.mapped()) << ::testing::PrintToString(result.violations);
  return mapped;
}

::testing::Matcher<const FieldIssue&> Issue(const std::string& field,
                                            const std::string& reason,
                                            const std::string& description) {
  return AllOf(Issue(field, reason),
               Field("description", &FieldIssue::description, description));
}

// A padded page URL is sent trimmed, not refused (data layers pad values).
TEST(TagMapperTest, TrimsThePageUrl) {
  Json e = BaseEvent();
  e["context"]["page"]["url"] = " \thttps://x.example/p?q=1 \n";
  EXPECT_EQ(Wire(e)["source_url"], "https://x.example/p?q=1");
  e["context"]["page"]["url"] = "  ";
  EXPECT_THAT(MapFused(e).violations,
              ElementsAre(Issue("context.page.url", "REQUIRED")));
}

// ---------------------------------------------------------------------------
// The mapper core's findings name the properties of the tag event they come
// from, not the fields of a typed event the caller never sent.

TEST(TagPathsTest, AMissingValueIsNamedWhereItBelongs) {
  Json e = BaseEvent();
  e["context"].erase("page");
  EXPECT_THAT(MapFused(e).violations,
              ElementsAre(Issue("context.page.url", "REQUIRED",
                                "context.page.url is required when "
                                "action_source is web")));
}

TEST(TagPathsTest, AValueIsNamedByTheSourceItCameFrom) {
  Json e = BaseEvent();
  e["context"]["event_id"] = std::string(300, 'a');
  e["context"]["event_timestamp"] = kNowMs - 10LL * 24 * 3600 * 1000;
  e["page"] = {{"href", "ftp://files.example.com/"}};
  TagMappingConfig config;
  config.field_mapping["context.page.url"] = {"page.href", "context.page.url"};
  EXPECT_THAT(MapFused(e, config).violations,
              ElementsAre(Issue("context.event_id", "TOO_LONG",
                                "context.event_id is longer than 256 bytes"),
                          Issue("context.event_timestamp", "OUT_OF_RANGE"),
                          Issue("page.href", "INVALID_FORMAT")));
}

// The receipt margin holds for tag events, under their own field name: 10 s
// of the 7 days must be left.
TEST(TagPathsTest, ATimestampWithLessThanTenSecondsLeftIsNamedAsSent) {
  constexpr std::int64_t kSevenDaysMs = 7LL * 24 * 3600 * 1000;
  Json e = BaseEvent();
  e["context"]["event_timestamp"] = kNowMs - kSevenDaysMs + 9'999;
  const auto violations = MapFused(e).violations;
  ASSERT_THAT(violations,
              ElementsAre(Issue("context.event_timestamp", "OUT_OF_RANGE")));
  EXPECT_THAT(violations[0].description,
              ::testing::StartsWith("context.event_timestamp leaves less than "
                                    "10 s"));
  e["context"]["event_timestamp"] = kNowMs - kSevenDaysMs + 10'000;
  EXPECT_THAT(MapFused(e).violations, IsEmpty());
}

TEST(TagPathsTest, ListValuesAreNamedByTheirIndexInTheTagEvent) {
  Json e = BaseEvent();
  // Nulls are skipped and a number is read as text, as the mapping reads
  // them: the core's emails[1] and [2] are the event's [2] and [3].
  e["user"] = {{"email", {"jane@example.com", nullptr, "not an email", 42}},
               {"email_sha256", "abc"},
               {"phone", "12"}};
  EXPECT_THAT(MapFused(e).warnings,
              ElementsAre(Issue("user.email[2]", "DROPPED_INVALID"),
                          Issue("user.email[3]", "DROPPED_INVALID"),
                          Issue("user.email_sha256", "DROPPED_INVALID"),
                          Issue("user.phone", "DROPPED_INVALID")));
}

// The tag path drops the SHA-256 of "" (a hashed missing value) as the
// typed path does, named by the tag event's property.
TEST(TagPathsTest, DropsTheDigestOfAnEmptyString) {
  Json e = BaseEvent();
  e["user"] = {
      {"email_sha256",
       "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}};
  const auto mapped = MapFused(e);
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.email_sha256", "DROPPED_EMPTY")));
  EXPECT_THAT(mapped.wire_json, Not(HasSubstr("e3b0c442")));
}

TEST(TagPathsTest, ListIndexesSkipNumbersTheMappingDropped) {
  // The tag mapping drops the inexact number [1]: the core's emails[1] is
  // the event's [2].
  Json e = BaseEvent();
  e["user"]["email"] =
      Json::array({"jane@example.com", Json::parse("12345678901234567890"),
                   "not an email"});
  TagMapResult tag;
  MappedEvent mapped;
  MapTagEvent(ToStruct(e.dump()), CompiledTagMapping::Default(), kNowMs, &tag,
              &mapped);
  ASSERT_TRUE(tag.mapped());
  EXPECT_THAT(tag.warnings,
              ElementsAre(Issue("user.email[1]", "DROPPED_INVALID")));
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.email[2]", "DROPPED_INVALID")));
}

TEST(TagPathsTest, ItemFieldsAreNamedByTheItemAndItsSmartMappedPath) {
  Json e = BaseEvent("purchase");
  e["currency"] = "EUR";
  e["content_type"] = std::string(200, 'c');
  e["products"] = {{{"sku", "ok"}, {"quantity", 1}},
                   {{"sku", std::string(300, 's')},
                    {"product", {{"name", std::string(600, 'n')}}}}};
  TagMappingConfig config;
  config.field_mapping["items"] = {"products"};
  config.field_mapping["items.X.id"] = {"items.X.sku"};
  const MappedEvent mapped = MapFused(e, config);
  EXPECT_THAT(mapped.violations,
              ElementsAre(Issue("content_type", "TOO_LONG"),
                          Issue("products[1].sku", "TOO_LONG",
                                "products[1].sku is longer than 256 bytes"),
                          Issue("content_type", "TOO_LONG")));
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("products[1].product.name", "TRUNCATED",
                                "products[1].product.name was cut to its "
                                "first 512 bytes (at a character boundary)")));
}

TEST(TagPathsTest, ACustomNameReadFromEventNameIsNamedSo) {
  // No letter or digit to make a name of: refused as it is.
  Json e = BaseEvent("!?");
  TagMappingConfig config;
  config.event_mapping["!?"] = v1::EVENT_TYPE_CUSTOM;
  EXPECT_THAT(MapFused(e, config).violations,
              ElementsAre(Issue("event_name", "INVALID_FORMAT")));
  e["partners"]["openai"]["custom_event_name"] = "Order_Created";
  EXPECT_THAT(
      MapFused(e, config).violations,
      ElementsAre(Issue("partners.openai.custom_event_name", "RESERVED")));
}

TEST(TagPathsTest, AMadeCustomNameMustStillBeACustomOne) {
  // "Order Created" would become a standard name.
  TagMappingConfig config;
  config.event_mapping["Order Created"] = v1::EVENT_TYPE_CUSTOM;
  EXPECT_THAT(
      MapTag(BaseEvent("Order Created"), config).violations,
      ElementsAre(Issue(
          "partners.openai.custom_event_name", "REQUIRED",
          "partners.openai.custom_event_name is required when event_name, "
          "made a custom event name, is a standard event name "
          "(\"order_created\")")));
  EXPECT_THAT(
      MapTag(BaseEvent("custom")).violations,
      ElementsAre(Issue("partners.openai.custom_event_name", "REQUIRED",
                        "partners.openai.custom_event_name is required when "
                        "event_name is a standard event name")));
  // A name given explicitly is never changed.
  Json e = BaseEvent("custom");
  e["partners"]["openai"]["custom_event_name"] = "Quote Requested";
  EXPECT_THAT(MapFused(e).violations,
              ElementsAre(Issue("partners.openai.custom_event_name",
                                "INVALID_FORMAT")));
}

// ---------------------------------------------------------------------------
// An event the tag mapping rejects also gets the mapper core's findings in
// the fields it could read: every problem at once, as for a typed event.

// What the fused form gives for `tag`: its tag result.
TagMapResult MapFusedTag(const Json& tag, const TagMappingConfig& config = {}) {
  TagMapResult result;
  MappedEvent mapped;
  MapTagEvent(ToStruct(tag.dump()), Compile(config), kNowMs, &result, &mapped);
  EXPECT_TRUE(mapped.wire_json.empty());
  EXPECT_THAT(mapped.violations, IsEmpty());
  return result;
}

TEST(TagRejectionTest, ReportsTheCoresViolationsAfterTheTagMappings) {
  Json e = Purchase(-1);
  e["context"]["event_timestamp"] = kNowMs - 10LL * 24 * 3600 * 1000;
  e["context"]["page"]["url"] = "mailto:x";
  e["user"]["email"] = "not an email";
  TagMapResult r = MapFusedTag(e);
  EXPECT_EQ(r.outcome, Outcome::kRejected);
  EXPECT_THAT(r.violations,
              ElementsAre(Issue("value", "OUT_OF_RANGE"),
                          Issue("context.event_timestamp", "OUT_OF_RANGE"),
                          Issue("context.page.url", "INVALID_FORMAT")));
  EXPECT_THAT(r.warnings, ElementsAre(Issue("user.email", "DROPPED_INVALID")));
  // The typed form keeps the tag mapping's own.
  EXPECT_THAT(MapTag(e).violations,
              ElementsAre(Issue("value", "OUT_OF_RANGE")));
}

TEST(TagRejectionTest, DoesNotRepeatAnIdOrCustomNameTheTagMappingReported) {
  Json e = Purchase(-1);
  e["context"].erase("event_id");
  EXPECT_THAT(MapFusedTag(e).violations,
              ElementsAre(Issue("context.event_id", "REQUIRED"),
                          Issue("value", "OUT_OF_RANGE")));

  TagMappingConfig config;
  config.event_mapping["order_created"] = v1::EVENT_TYPE_CUSTOM;
  Json custom = BaseEvent("order_created");
  custom["context"]["page"]["url"] = "mailto:x";
  EXPECT_THAT(
      MapFusedTag(custom, config).violations,
      ElementsAre(Issue("partners.openai.custom_event_name", "REQUIRED"),
                  Issue("context.page.url", "INVALID_FORMAT")));
}

TEST(TagRejectionTest, AnEventWhoseNameDidNotMapGetsNoCoreFindings) {
  Json e = BaseEvent();
  e["event_name"] = 7;
  e["context"]["page"]["url"] = "mailto:x";
  EXPECT_THAT(MapFusedTag(e).violations,
              ElementsAre(Issue("event_name", "INVALID_FORMAT")));
}

// ---------------------------------------------------------------------------
// Row 7, footnote [5]: context.page.url -> source_url, required for web.

TEST(TagMapperRow7Test, MapsPageUrlToSourceUrl) {
  EXPECT_EQ(Wire(BaseEvent())["source_url"], "https://www.example.com/pricing");
}

TEST(TagMapperRow7Test, RedactsAnEmailAddressInThePageUrl) {
  Json e = BaseEvent();
  e["context"]["page"]["url"] = "https://www.example.com/p?e=jane@example.com";
  const MappedEvent mapped = MappedByFusedForm(e);
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("context.page.url", "REDACTED")));
  EXPECT_EQ(ParseJson(mapped.wire_json)["source_url"],
            "https://www.example.com/p?e=redacted");
  EXPECT_EQ(Wire(e)["source_url"], "https://www.example.com/p?e=redacted");
}

TEST(TagMapperRow7Test, AWebEventWithoutPageUrlFailsApiValidation) {
  Json e = BaseEvent();
  e["context"].erase("page");
  TagMapResult r = MapTag(e);
  ASSERT_EQ(r.outcome, Outcome::kMapped);
  EXPECT_THAT(MapEvent(r.event, kNowMs).violations,
              ElementsAre(Issue("source_url", "REQUIRED")));
}

// ---------------------------------------------------------------------------
// Rows 8-10, footnotes [6][7]: user.email, user.phone and user.id are
// placed in `user`, normalized and hashed.

TEST(TagMapperRow8Test, HashesTheNormalizedEmail) {
  Json e = BaseEvent();
  e["user"]["email"] = "  User@Example.COM ";
  EXPECT_EQ(Wire(e)["user"]["emails_sha256"],
            Json::array({kUserExampleComSha}));
}

TEST(TagMapperRow8Test, AcceptsAListOfEmails) {
  Json e = BaseEvent();
  e["user"]["email"] = {"user@example.com", "jane.doe@example.com"};
  EXPECT_EQ(MapTag(e).event.user().emails_size(), 2);
}

TEST(TagMapperRow9Test, HashesThePhoneDigitsWithoutPlus) {
  Json e = BaseEvent();
  e["user"]["phone"] = "+1 (415) 555-2671";  // E.164 with formatting
  EXPECT_EQ(Wire(e)["user"]["phone_numbers_sha256"],
            Json::array({kPhone14155552671Sha}));
}

TEST(TagMapperRow10Test, HashesTheUserIdOnlyNeverSendsItClear) {
  Json e = BaseEvent();
  e["user"]["id"] = "customer_123";
  Json wire = Wire(e);
  EXPECT_EQ(wire["user"]["external_ids_sha256"],
            Json::array({kCustomer123Sha}));
  EXPECT_EQ(wire.dump().find("customer_123"), std::string::npos);
}

TEST(TagMapperRow10Test, FormatsANumericUserIdAsAnInteger) {
  Json e = BaseEvent();
  e["user"]["id"] = 12345;
  EXPECT_THAT(MapTag(e).event.user().external_ids(), ElementsAre("12345"));
}

TEST(TagMapperRow10Test, DropsANumericUserIdADoubleCannotHoldExactly) {
  // 12345678901234567890 arrives as the double 12345678901234567168: its
  // text would be hashed as another user's id. 2^53 may have been 2^53 + 1.
  const char* ids[] = {"12345678901234567890", "9007199254740992", "1e20"};
  for (size_t i = 0; i < std::size(ids); ++i) {
    SCOPED_TRACE(i);  // not the id: tests print no identifier values
    Json e = BaseEvent();
    e["user"]["id"] = Json::parse(ids[i]);
    TagMapResult r = MapTag(e);
    EXPECT_EQ(r.outcome, Outcome::kMapped);
    EXPECT_EQ(r.event.user().external_ids_size(), 0);
    ASSERT_THAT(r.warnings, ElementsAre(Issue("user.id", "DROPPED_INVALID")));
    EXPECT_THAT(r.warnings[0].description, HasSubstr("send it as a string"));
    EXPECT_THAT(
        r.warnings[0].description,
        Not(AnyOf(HasSubstr("1234567"), HasSubstr("9007"), HasSubstr("e20"))));
    EXPECT_FALSE(Wire(e)["user"].contains("external_ids_sha256"));
  }
  Json e = BaseEvent();
  e["user"]["id"] = Json::parse("9007199254740991");  // 2^53 - 1: exact
  const TagMapResult exact = MapTag(e);
  ASSERT_EQ(exact.event.user().external_ids_size(), 1);
  // Compared, not printed: tests print no identifier values.
  EXPECT_TRUE(exact.event.user().external_ids(0) == "9007199254740991");
}

TEST(TagMapperNamesTest, HashesFirstAndLastNames) {
  Json e = BaseEvent();
  e["user"]["firstname"] = "Marie";
  e["user"]["lastname"] = " CURIE";
  Json user = Wire(e)["user"];
  EXPECT_EQ(user["first_names_sha256"], Json::array({kMarieSha}));
  EXPECT_EQ(user["last_names_sha256"], Json::array({kCurieSha}));
}

TEST(TagMapperUserTest, DropsNonStringListValuesWithAWarning) {
  Json e = BaseEvent();
  e["user"]["email"] = Json::array({"user@example.com", Json::object(), true});
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.event.user().emails_size(), 1);
  EXPECT_THAT(r.warnings,
              ElementsAre(Issue("user.email[1]", "DROPPED_INVALID"),
                          Issue("user.email[2]", "DROPPED_INVALID")));
}

TEST(TagMapperUserTest, DropsNumbersADoubleCannotHoldExactlyFromEveryList) {
  Json e = BaseEvent();
  const Json big = Json::parse("12345678901234567890");
  e["user"] = {{"email", Json::array({"user@example.com", big})},
               {"phone", big},
               {"firstname", Json::array({big})},
               {"lastname", big},
               {"country", big},
               {"city", big},
               {"zipcode", Json::array({94107, big})},
               {"state", big}};
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.outcome, Outcome::kMapped);
  const auto& user = r.event.user();
  EXPECT_EQ(user.emails_size(), 1);
  ASSERT_EQ(user.postal_codes_size(), 1);
  EXPECT_TRUE(user.postal_codes(0) == "94107");
  EXPECT_EQ(user.phone_numbers_size() + user.first_names_size() +
                user.last_names_size() + user.countries_size() +
                user.cities_size() + user.regions_size(),
            0);
  EXPECT_THAT(r.warnings,
              ElementsAre(Issue("user.email[1]", "DROPPED_INVALID"),
                          Issue("user.phone", "DROPPED_INVALID"),
                          Issue("user.firstname[0]", "DROPPED_INVALID"),
                          Issue("user.lastname", "DROPPED_INVALID"),
                          Issue("user.country", "DROPPED_INVALID"),
                          Issue("user.city", "DROPPED_INVALID"),
                          Issue("user.zipcode[1]", "DROPPED_INVALID"),
                          Issue("user.state", "DROPPED_INVALID")));
  for (const FieldIssue& w : r.warnings) {
    EXPECT_THAT(w.description, HasSubstr("send it as a string"));
  }
}

TEST(TagMapperUserTest, DropsFractionsOfMoreDigitsThanADoubleKeeps) {
  Json e = BaseEvent();
  // 0.1 + 0.2: 17 significant digits, not what anyone wrote.
  e["user"]["zipcode"] = Json::array({12.5, 0.1 + 0.2, 0.000125});
  TagMapResult r = MapTag(e);
  ASSERT_EQ(r.event.user().postal_codes_size(), 2);
  EXPECT_TRUE(r.event.user().postal_codes(0) == "12.5");
  EXPECT_TRUE(r.event.user().postal_codes(1) == "0.000125");
  EXPECT_THAT(r.warnings,
              ElementsAre(Issue("user.zipcode[1]", "DROPPED_INVALID")));
}

// ---------------------------------------------------------------------------
// Rows 11-13 (and user.state), footnote [6]: raw location lists.

TEST(TagMapperRow11Test, ConvertsAlpha3CountriesToAlpha2) {
  for (const char* country : {"USA", "usa", "US", "us"}) {
    SCOPED_TRACE(country);
    Json e = BaseEvent();
    e["user"]["country"] = country;
    EXPECT_EQ(Wire(e)["user"]["countries"], Json::array({"US"}));
  }
}

TEST(TagMapperRow12Test, SendsTheCityRaw) {
  Json e = BaseEvent();
  e["user"]["city"] = " San Francisco ";
  EXPECT_EQ(Wire(e)["user"]["cities"], Json::array({"San Francisco"}));
}

TEST(TagMapperRow13Test, SendsTheZipCodeRawAndAcceptsNumbers) {
  Json e = BaseEvent();
  e["user"]["zipcode"] = 94107;
  EXPECT_EQ(Wire(e)["user"]["postal_codes"], Json::array({"94107"}));
}

TEST(TagMapperStateTest, SendsTheStateAsARegion) {
  Json e = BaseEvent();
  e["user"]["state"] = "California";
  EXPECT_EQ(Wire(e)["user"]["regions"], Json::array({"California"}));
}

// ---------------------------------------------------------------------------
// Rows 14-15, footnote [6]: device IP and user agent.

TEST(TagMapperRow14Test, MapsTheDeviceIp) {
  Json e = BaseEvent();
  e["context"]["device"]["ip"] = "2001:DB8::0:1";
  EXPECT_EQ(Wire(e)["user"]["ip_address"], "2001:db8::1");
}

TEST(TagMapperRow15Test, MapsTheDeviceUserAgent) {
  Json e = BaseEvent();
  e["context"]["device"]["user_agent"] = "Mozilla/5.0 (X11)";
  EXPECT_EQ(Wire(e)["user"]["user_agent"], "Mozilla/5.0 (X11)");
}

// ---------------------------------------------------------------------------
// Row 16: partners.openai.opt_out -> opt_out.

TEST(TagMapperRow16Test, AcceptsBooleansAndTheirStrings) {
  const std::vector<std::pair<Json, bool>> cases = {
      {true, true},     {false, false}, {"true", true}, {"FALSE", false},
      {" True ", true}, {1, true},      {0, false},     {1.0, true},
      {"1", true},      {" 0 ", false}};
  for (const auto& [value, opt_out] : cases) {
    SCOPED_TRACE(value.dump());
    Json e = BaseEvent();
    e["partners"]["openai"]["opt_out"] = value;
    Json wire = Wire(e);
    EXPECT_EQ(wire.value("opt_out", false), opt_out);
  }
}

TEST(TagMapperRow16Test, RejectsAnUnreadableOptOut) {
  for (const Json& value : {Json("yes"), Json(2), Json(0.5), Json("01")}) {
    SCOPED_TRACE(value.dump());
    Json e = BaseEvent();
    e["partners"]["openai"]["opt_out"] = value;
    EXPECT_THAT(
        MapTag(e).violations,
        ElementsAre(Issue("partners.openai.opt_out", "INVALID_FORMAT")));
  }
}

// ---------------------------------------------------------------------------
// Rows 17-18, footnote [8]: value and currency -> data.amount in the
// currency's ISO 4217 minor units (not x 100), data.currency.

TEST(TagMapperRow17Test, ConvertsValueToMinorUnits) {
  Json wire = Wire(Purchase(129.99, "USD"));
  EXPECT_EQ(wire["data"]["amount"], 12999);
  EXPECT_EQ(wire["data"]["currency"], "USD");
}

TEST(TagMapperRow17Test, AcceptsValueAsDecimalText) {
  Json e = Purchase();
  e["value"] = "12.99";
  EXPECT_EQ(Wire(e)["data"]["amount"], 1299);
}

TEST(TagMapperRow17Test, UsesZeroDecimalsForJpy) {
  Json wire = Wire(Purchase(8900, "JPY"));
  EXPECT_EQ(wire["data"]["amount"], 8900);  // not 890000
}

TEST(TagMapperRow17Test, UsesThreeDecimalsForKwd) {
  EXPECT_EQ(Wire(Purchase(1.5, "KWD"))["data"]["amount"], 1500);  // not 150
  Json e = Purchase();
  e["value"] = "12.345";
  e["currency"] = "kwd";
  Json wire = Wire(e);
  EXPECT_EQ(wire["data"]["amount"], 12345);
  EXPECT_EQ(wire["data"]["currency"], "KWD");
}

TEST(TagMapperRow17Test, ConvertsEveryPriceAsDoubleToMinorUnitsDoes) {
  // The mapper converts most prices without formatting them; it must agree
  // with DoubleToMinorUnits (shortest decimal text, half away from zero),
  // including halves and values with more decimals than the currency.
  const CompiledTagMapping mapping = CompiledTagMapping::Default();
  TagMapResult r;
  std::vector<double> values = {0.005, 0.015,         1.005,     2.675, 1.115,
                                1e11,  123456789.125, 0.0004999, 99.995};
  for (int cents = 0; cents < 20000; cents += 7)
    values.push_back(cents / 100.0);
  for (int i = 0; i < 2000; ++i) values.push_back(i * 0.0137 + i * 1000.0);
  for (const char* currency : {"USD", "JPY", "KWD", "CLF"}) {
    const int exponent = currency[0] == 'J'   ? 0
                         : currency[0] == 'K' ? 3
                         : currency[0] == 'C' ? 4
                                              : 2;
    for (double value : values) {
      Json e = Purchase(value, currency);
      MapTagEvent(ToStruct(e.dump()), mapping, kNowMs, &r);
      absl::StatusOr<std::int64_t> want = DoubleToMinorUnits(value, exponent);
      ASSERT_TRUE(want.ok());
      ASSERT_EQ(r.event.data().amount(), *want) << currency << " " << value;
    }
  }
}

TEST(TagMapperRow17Test, RejectsANegativeValue) {
  EXPECT_THAT(MapTag(Purchase(-5)).violations,
              ElementsAre(Issue("value", "OUT_OF_RANGE")));
}

TEST(TagMapperRow17Test, RejectsAValueTooLargeForMinorUnitsSayingSo) {
  EXPECT_THAT(MapTag(Purchase(1e17)).violations,
              ElementsAre(Issue("value", "OUT_OF_RANGE",
                                "value is too large an amount to send in "
                                "minor units of its currency")));
}

// A double holds 15 significant digits: a JSON number whose digits past
// them decide its amount is refused, as the amount it arrives as may not
// be the sender's (helper-65 #3, helper-67 #1). The same value as text is
// exact; a number whose amount those digits do not change is taken.
TEST(TagMapperRow17Test, RefusesANumberWhoseAmountItsLostDigitsDecide) {
  Json e = Purchase();
  for (const char* number : {"90071992547409.91", "9000000000007.065"}) {
    SCOPED_TRACE(number);
    e["value"] = Json::parse(number);
    EXPECT_THAT(MapTag(e).violations,
                ElementsAre(Issue("value", "OUT_OF_RANGE")));
  }
  e["value"] = "90071992547409.91";
  EXPECT_EQ(Wire(e)["data"]["amount"], 9007199254740991);
  e["value"] = "9000000000007.065";
  EXPECT_EQ(Wire(e)["data"]["amount"], 900000000000707);
  e["value"] = Json::parse("9999999999999.99");  // 15 digits: exact
  EXPECT_EQ(Wire(e)["data"]["amount"], 999999999999999);
  e["value"] = Json::parse("12345678901234.5");  // past 10^15, but certain
  EXPECT_EQ(Wire(e)["data"]["amount"], 1234567890123450);
  e["value"] = Json::parse("0.005");  // a half: its text is exact
  EXPECT_EQ(Wire(e)["data"]["amount"], 1);
}

TEST(TagMapperRow17Test, RejectsAValueThatIsNotANumber) {
  Json e = Purchase();
  e["value"] = "12,99";
  EXPECT_THAT(MapTag(e).violations,
              ElementsAre(Issue("value", "INVALID_FORMAT")));
}

TEST(TagMapperRow18Test, RejectsAValueWithoutCurrency) {
  Json e = Purchase();
  e.erase("currency");
  EXPECT_THAT(MapTag(e).violations, ElementsAre(Issue("currency", "REQUIRED")));
}

TEST(TagMapperRow18Test, RejectsAnUnknownCurrency) {
  EXPECT_THAT(MapTag(Purchase(10, "EURO")).violations,
              ElementsAre(Issue("currency", "INVALID_FORMAT")));
  EXPECT_THAT(MapTag(Purchase(10, "XYZ")).violations,
              ElementsAre(Issue("currency", "INVALID_FORMAT")));
  // Gold is an ISO 4217 code, without a minor unit: the message says so.
  const auto gold = MapTag(Purchase(10, " xau ")).violations;
  ASSERT_THAT(gold, ElementsAre(Issue("currency", "INVALID_FORMAT")));
  EXPECT_THAT(gold[0].description,
              ::testing::StartsWith(
                  "currency XAU is an ISO 4217 code without a minor unit"));
}

TEST(TagMapperRow18Test, SendsACurrencyWithoutValue) {
  Json e = BaseEvent();
  e["currency"] = "eur";
  Json wire = Wire(e);
  EXPECT_EQ(wire["data"]["currency"], "EUR");
  EXPECT_FALSE(wire["data"].contains("amount"));
}

TEST(TagMapperRow18Test, ReportsTheValuesOwnProblemsWithItsCurrencys) {
  // A currency missing or unknown does not hide what is wrong with the
  // value whatever the currency: every problem at once, as for a typed
  // event.
  EXPECT_THAT(MapTag(Purchase(-2, "ZZZ")).violations,
              ElementsAre(Issue("currency", "INVALID_FORMAT"),
                          Issue("value", "OUT_OF_RANGE",
                                "value must not be negative")));
  Json e = Purchase();
  e.erase("currency");
  e["value"] = "abc";
  EXPECT_THAT(MapTag(e).violations,
              ElementsAre(Issue("currency", "REQUIRED"),
                          Issue("value", "INVALID_FORMAT")));
  // Past int64 even in a currency without minor units (JPY).
  e["value"] = 1e19;
  EXPECT_THAT(MapTag(e).violations,
              ElementsAre(Issue("currency", "REQUIRED"),
                          Issue("value", "OUT_OF_RANGE",
                                "value is too large an amount to send in "
                                "minor units of any currency")));
}

TEST(TagMapperRow18Test, LeavesWhatDependsOnTheCurrencyToTheCurrency) {
  // 1e17 is too large in cents but not in yen; 10 is a fine value.
  for (double value : {10.0, 1e17}) {
    EXPECT_THAT(MapTag(Purchase(value, "ZZZ")).violations,
                ElementsAre(Issue("currency", "INVALID_FORMAT")));
  }
}

TEST(TagMapperRow18Test, ReportsAsManyProblemsAsTheTypedEvent) {
  v1::Event typed;
  typed.set_id("evt_1");
  typed.set_type(v1::EVENT_TYPE_ORDER_CREATED);
  typed.set_timestamp_ms(kOneHourAgoMs);
  typed.set_source_url("https://www.example.com/pricing");
  typed.set_action_source(v1::ACTION_SOURCE_WEB);
  typed.mutable_data()->set_amount(-200);
  typed.mutable_data()->set_currency("ZZZ");
  EXPECT_THAT(MapEvent(typed, kNowMs).violations,
              ElementsAre(Issue("data.amount", "OUT_OF_RANGE"),
                          Issue("data.currency", "INVALID_FORMAT")));
  EXPECT_THAT(MapFusedTag(Purchase(-2, "ZZZ")).violations,
              ElementsAre(Issue("currency", "INVALID_FORMAT"),
                          Issue("value", "OUT_OF_RANGE")));
}

// ---------------------------------------------------------------------------
// Row 19, footnote [9]: plan_id only for plan_enrollment and custom data.

TEST(TagMapperRow19Test, SendsPlanIdForPlanAndCustomEvents) {
  for (const char* name : {"subscription_created", "trial_started"}) {
    SCOPED_TRACE(name);
    Json e = BaseEvent(name);
    e["partners"]["openai"]["plan_id"] = "pro_monthly";
    EXPECT_EQ(Wire(e)["data"]["plan_id"], "pro_monthly");
  }
  Json custom = BaseEvent("custom");
  custom["partners"]["openai"] = {{"plan_id", "pro_monthly"},
                                  {"custom_event_name", "upgrade"}};
  EXPECT_EQ(Wire(custom)["data"]["plan_id"], "pro_monthly");
}

TEST(TagMapperRow19Test, DropsPlanIdWithAWarningElsewhere) {
  Json e = Purchase();
  e["partners"]["openai"]["plan_id"] = "pro_monthly";
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.outcome, Outcome::kMapped);
  EXPECT_TRUE(r.event.data().plan_id().empty());
  EXPECT_THAT(r.warnings, ElementsAre(Issue("partners.openai.plan_id",
                                            "DROPPED_NOT_ALLOWED")));
}

// ---------------------------------------------------------------------------
// Rows 20-26, footnotes [10]-[12]: items -> contents.

// An item of the event model.
Json Item(const std::string& id, const std::string& name, const Json& price,
          const Json& quantity) {
  return Json{
      {"id", id},
      {"quantity", quantity},
      {"product", {{"id", "p_" + id}, {"name", name}, {"price", price}}}};
}

TEST(TagMapperRow20Test, MapsItemsToContents) {
  Json e = Purchase(59.9, "USD");
  e["items"] = {Item("sku_1", "Shoes", 49.9, 1), Item("sku_2", "Socks", 5, 2)};
  Json contents = Wire(e)["data"]["contents"];
  EXPECT_EQ(contents, Json::parse(R"([
      {"id":"sku_1","name":"Shoes","content_type":"product","quantity":1,
       "amount":4990},
      {"id":"sku_2","name":"Socks","content_type":"product","quantity":2,
       "amount":500}])"));
}

TEST(TagMapperRow20Test, DropsItemsOfCustomerActionEventsWithAWarning) {
  Json e = BaseEvent("generate_lead");  // lead_created: customer_action
  e["items"] = {Item("sku_1", "Shoes", 49.9, 1)};
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.event.data().contents_size(), 0);
  EXPECT_THAT(r.warnings, ElementsAre(Issue("items", "DROPPED_NOT_ALLOWED")));
  EXPECT_EQ(Wire(e)["data"], Json::parse(R"({"type":"customer_action"})"));
}

TEST(TagMapperRow20Test, RejectsItemsThatAreNotAListOfObjects) {
  Json e = Purchase();
  e["items"] = "sku_1";
  EXPECT_THAT(MapTag(e).violations,
              ElementsAre(Issue("items", "INVALID_FORMAT")));
  e["items"] = {Item("sku_1", "Shoes", 1, 1), "sku_2"};
  EXPECT_THAT(MapTag(e).violations,
              ElementsAre(Issue("items[1]", "INVALID_FORMAT")));
}

TEST(TagMapperRow20Test, RejectsMoreItemsThanTheApiTakes) {
  Json e = Purchase();
  e["items"] = Json::array();
  for (int i = 0; i < 251; ++i) e["items"].push_back(Json{{"id", "x"}});
  EXPECT_THAT(MapTag(e).violations, ElementsAre(Issue("items", "TOO_MANY")));
}

TEST(TagMapperRow21Test, TakesTheItemIdNotTheProductId) {
  Json e = Purchase();
  e["items"] = {Item("SKU-9", "Shoes", 1, 1)};
  EXPECT_EQ(MapTag(e).event.data().contents(0).id(), "SKU-9");
}

TEST(TagMapperRow21Test, DropsAnItemIdADoubleCannotHoldExactly) {
  Json e = Purchase();
  e["items"] = {Item("a", "A", 1, 1)};
  e["items"][0]["id"] = Json::parse("12345678901234567890");
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.outcome, Outcome::kMapped);
  ASSERT_EQ(r.event.data().contents_size(), 1);
  EXPECT_TRUE(r.event.data().contents(0).id().empty());
  ASSERT_THAT(r.warnings, ElementsAre(Issue("items[0].id", "DROPPED_INVALID")));
  EXPECT_THAT(r.warnings[0].description, HasSubstr("send it as a string"));
}

TEST(TagMapperRow22Test, TakesTheProductName) {
  Json e = Purchase();
  e["items"] = {Item("SKU-9", "Trail shoes", 1, 1)};
  EXPECT_EQ(MapTag(e).event.data().contents(0).name(), "Trail shoes");
}

// A blank item id or product name is absent, as an empty one is: the
// event is not refused for it (a typed event that sets one is).
TEST(TagMapperRow22Test, ReadsABlankItemIdOrNameAsAbsent) {
  Json e = Purchase();
  e["items"] = {Item("  ", "\t", 1, 1)};
  TagMapResult r = MapTag(e);
  ASSERT_EQ(r.outcome, Outcome::kMapped) << r.violations.size();
  ASSERT_EQ(r.event.data().contents_size(), 1);
  EXPECT_TRUE(r.event.data().contents(0).id().empty());
  EXPECT_TRUE(r.event.data().contents(0).name().empty());
}

TEST(TagMapperRow23Test, ContentTypeIsItemThenEventThenProduct) {  // [11]
  Json e = Purchase();
  e["items"] = {Item("a", "A", 1, 1), Item("b", "B", 1, 1)};
  EXPECT_EQ(MapTag(e).event.data().contents(0).content_type(), "product");
  e["content_type"] = "ticket";
  e["items"][1]["content_type"] = "seat";
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.event.data().contents(0).content_type(), "ticket");
  EXPECT_EQ(r.event.data().contents(1).content_type(), "seat");
  // A blank one is passed over as a missing one is, not refused.
  e["items"][1]["content_type"] = "  ";
  r = MapTag(e);
  ASSERT_THAT(r.violations, IsEmpty());
  EXPECT_EQ(r.event.data().contents(1).content_type(), "ticket");
  e["content_type"] = " ";
  r = MapTag(e);
  ASSERT_THAT(r.violations, IsEmpty());
  EXPECT_EQ(r.event.data().contents(1).content_type(), "product");
}

TEST(TagMapperRow24Test, ConvertsTheUnitPriceByTheItemCurrency) {
  Json e = Purchase(100, "USD");
  e["items"] = {Item("a", "A", "19.99", 3), Item("b", "B", 1200, 1)};
  e["items"][1]["currency"] = "JPY";
  TagMapResult r = MapTag(e);
  ASSERT_THAT(r.violations, IsEmpty());
  EXPECT_EQ(r.event.data().contents(0).amount(), 1999);  // unit, not x3
  EXPECT_EQ(r.event.data().contents(1).amount(), 1200);
  EXPECT_EQ(r.event.data().contents(1).currency(), "JPY");
}

TEST(TagMapperRow24Test, RejectsAPriceThatIsNotANonNegativeNumber) {
  Json e = Purchase();
  e["items"] = {Item("a", "A", 1, 1), Item("b", "B", "free", 1),
                Item("c", "C", -1, 1)};
  EXPECT_THAT(MapTag(e).violations,
              ElementsAre(Issue("items[1].product.price", "INVALID_FORMAT"),
                          Issue("items[2].product.price", "OUT_OF_RANGE")));
}

TEST(TagMapperRow25Test, AcceptsWholeQuantitiesOnly) {
  Json e = Purchase();
  e["items"] = {Item("a", "A", 1, 2.0), Item("b", "B", 1, "3"),
                Item("c", "C", 1, 2.5), Item("d", "D", 1, 0),
                // 2^53 + 1, which JSON delivers as 2^53: refused, not
                // rounded.
                Item("e", "E", 1, 9007199254740993.0),
                Item("f", "F", 1, 9007199254740991.0),
                // Whole numbers, out of range.
                Item("g", "G", 1, 1e300), Item("h", "H", 1, -1e300)};
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.event.data().contents(0).quantity(), 2);
  EXPECT_EQ(r.event.data().contents(1).quantity(), 3);
  EXPECT_THAT(r.violations,
              ElementsAre(Issue("items[2].quantity", "INVALID_FORMAT"),
                          Issue("items[3].quantity", "OUT_OF_RANGE"),
                          Issue("items[4].quantity", "OUT_OF_RANGE"),
                          Issue("items[6].quantity", "OUT_OF_RANGE"),
                          Issue("items[7].quantity", "OUT_OF_RANGE")));
}

TEST(TagMapperRow26Test, ItemCurrencyThenProductCurrencyThenEventCurrency) {
  Json e = Purchase(10, "EUR");
  e["items"] = {Item("a", "A", 1, 1), Item("b", "B", 1, 1),
                Item("c", "C", 1, 1)};
  e["items"][0]["currency"] = "GBP";
  e["items"][0]["product"]["currency"] = "CHF";  // the item's wins
  e["items"][1]["product"]["currency"] = "chf";
  Json contents = Wire(e)["data"]["contents"];
  EXPECT_EQ(contents[0]["currency"], "GBP");
  EXPECT_EQ(contents[1]["currency"], "CHF");
  // The event currency is implicit: data.currency covers the item.
  EXPECT_FALSE(contents[2].contains("currency"));
  EXPECT_EQ(contents[2]["amount"], 100);
}

TEST(TagMapperRow26Test, RequiresACurrencyForAPricedItem) {  // [12]
  Json e = BaseEvent("contents_viewed");
  e["items"] = {Item("a", "A", 1, 1)};
  EXPECT_THAT(MapTag(e).violations,
              ElementsAre(Issue("items[0].currency", "REQUIRED")));
}

TEST(TagMapperRow26Test, RejectsAnUnknownItemCurrency) {
  Json e = Purchase();
  e["items"] = {Item("a", "A", 1, 1)};
  e["items"][0]["product"]["currency"] = "EURO";
  EXPECT_THAT(
      MapTag(e).violations,
      ElementsAre(Issue("items[0].product.currency", "INVALID_FORMAT")));
}

TEST(TagMapperRow26Test, ReportsThePricesOwnProblemsWithItsCurrencys) {
  Json e = Purchase();
  e["items"] = {Item("a", "A", -1, 1), Item("b", "B", 5, 1)};
  e["items"][0]["currency"] = "ZZZ";
  e["items"][1]["currency"] = "ZZZ";  // a fine price: the currency alone
  EXPECT_THAT(MapTag(e).violations,
              ElementsAre(Issue("items[0].currency", "INVALID_FORMAT"),
                          Issue("items[0].product.price", "OUT_OF_RANGE"),
                          Issue("items[1].currency", "INVALID_FORMAT")));

  Json view = BaseEvent("contents_viewed");  // no currency anywhere
  view["items"] = {Item("a", "A", "free", 1)};
  EXPECT_THAT(MapTag(view).violations,
              ElementsAre(Issue("items[0].currency", "REQUIRED"),
                          Issue("items[0].product.price", "INVALID_FORMAT")));

  // An unknown event currency leaves the item without one too.
  Json unknown = Purchase(10, "ZZZ");
  unknown["items"] = {Item("a", "A", -1, 1)};
  EXPECT_THAT(MapTag(unknown).violations,
              ElementsAre(Issue("currency", "INVALID_FORMAT"),
                          Issue("items[0].product.price", "OUT_OF_RANGE")));
}

// ---------------------------------------------------------------------------
// A container the mapping reads properties of, present but not an object,
// is reported once: nothing under it could be read.

TEST(TagMapperContainerTest, WarnsOfAUserThatIsNotAnObject) {
  Json e = BaseEvent();
  e["user"] = "jane.doe@example.com";
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.outcome, Outcome::kMapped);
  EXPECT_THAT(r.warnings,
              ElementsAre(Issue("user", "DROPPED_INVALID",
                                "user must be an object; none of its "
                                "properties were read")));
  e["user"] = {"jane.doe@example.com"};
  EXPECT_THAT(MapTag(e).warnings,
              ElementsAre(Issue("user", "DROPPED_INVALID")));
}

TEST(TagMapperContainerTest, WarnsOfEveryContainerThatIsNotAnObject) {
  Json e = BaseEvent();
  e["partners"] = {{"openai", "opp_1"}};
  e["context"]["page"] = "https://www.example.com/pricing";
  e["context"]["device"] = 42;
  // In the mapping's order of paths, one warning per container.
  TagMapResult r = MapTag(e);
  EXPECT_THAT(r.warnings,
              ElementsAre(Issue("context.page", "DROPPED_INVALID"),
                          Issue("context.device", "DROPPED_INVALID"),
                          Issue("partners.openai", "DROPPED_INVALID")));
  e["partners"] = true;
  EXPECT_THAT(MapTag(e).warnings,
              ElementsAre(Issue("context.page", "DROPPED_INVALID"),
                          Issue("context.device", "DROPPED_INVALID"),
                          Issue("partners", "DROPPED_INVALID")));
}

// The event id sits under `context`: the event is rejected for it, and
// told why.
TEST(TagMapperContainerTest, WarnsOfAContextThatIsNotAnObject) {
  Json e = BaseEvent();
  e["context"] = "evt_1";
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.outcome, Outcome::kRejected);
  EXPECT_THAT(r.violations, ElementsAre(Issue("context.event_id", "REQUIRED")));
  EXPECT_THAT(r.warnings, ElementsAre(Issue("context", "DROPPED_INVALID")));
}

TEST(TagMapperContainerTest, NeverEchoesTheContainersValue) {
  Json e = BaseEvent();
  e["user"] = "jane.doe@example.com";
  e["partners"] = {{"openai", {"opp_secret_1"}}};
  const std::vector<FieldIssue> warnings = MapTag(e).warnings;
  EXPECT_EQ(warnings.size(), 2u);
  for (const FieldIssue& w : warnings) {
    EXPECT_THAT(w.description, Not(HasSubstr("jane")));
    EXPECT_THAT(w.description, Not(HasSubstr("opp_secret")));
  }
}

TEST(TagMapperContainerTest, StaysSilentForMissingNullAndEmptyContainers) {
  Json e = BaseEvent();
  e["user"] = nullptr;
  e["partners"] = {{"openai", nullptr}};
  e["context"]["device"] = Json::object();
  e["context"]["page"]["extra"] = "x";  // a property the mapping ignores
  EXPECT_THAT(MapTag(e).warnings, IsEmpty());
  e["user"] = "";
  e["partners"] = Json::array();
  EXPECT_THAT(MapTag(e).warnings, IsEmpty());
}

// Only containers of the compiled mapping count: `order` is one once a
// slot reads order.id.
TEST(TagMapperContainerTest, WarnsOnlyOfContainersTheMappingReads) {
  Json e = BaseEvent();
  e["order"] = "ord_1";
  EXPECT_THAT(MapTag(e).warnings, IsEmpty());
  TagMappingConfig config;
  config.field_mapping["context.event_id"] = {"order.id", "context.event_id"};
  EXPECT_THAT(MapTag(e, config).warnings,
              ElementsAre(Issue("order", "DROPPED_INVALID")));
}

// A list is a container too when the mapping indexes it ("user.emails.1").
TEST(TagMapperContainerTest, ReadsAnIndexedListAndWarnsOfAScalarInstead) {
  TagMappingConfig config;
  config.field_mapping["user.email"] = {"user.emails.1"};
  Json e = BaseEvent();
  e["user"]["emails"] = {"a@example.com", "b@example.com"};
  EXPECT_THAT(MapTag(e, config).warnings, IsEmpty());
  e["user"]["emails"] = "a@example.com";
  EXPECT_THAT(MapTag(e, config).warnings,
              ElementsAre(Issue("user.emails", "DROPPED_INVALID",
                                "user.emails must be an object or a list; "
                                "nothing under it was read")));
}

TEST(TagMapperContainerTest, WarnsOfAnItemsProductThatIsNotAnObject) {
  Json e = Purchase();
  e["items"] = {Item("sku_1", "Shoes", 1, 1), Item("sku_2", "Hat", 2, 1)};
  e["items"][1]["product"] = "Hat";
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.outcome, Outcome::kMapped);
  EXPECT_THAT(r.warnings,
              ElementsAre(Issue("items[1].product", "DROPPED_INVALID",
                                "items[1].product must be an object; none of "
                                "its properties were read")));
  EXPECT_EQ(r.event.data().contents(1).id(), "sku_2");
}

TEST(TagMapperContainerTest, NamesAnItemContainerByTheRepointedList) {
  TagMappingConfig config;
  config.field_mapping["items"] = {"products"};
  Json e = Purchase();
  e["products"] = {Item("sku_1", "Shoes", 1, 1)};
  e["products"][0]["product"] = {"Shoes"};
  EXPECT_THAT(MapTag(e, config).warnings,
              ElementsAre(Issue("products[0].product", "DROPPED_INVALID")));
}

// ---------------------------------------------------------------------------
// Footnote [7]: pre-hashed values of the event model pass through.

TEST(TagMapperPreHashedTest, PassesEventModelHashesThrough) {
  const std::string upper =
      "B4C9A289323B21A01C3E940F150EB9B8C542587F1ABFD8F0E"
      "1CC1FFC5E475514";
  Json e = BaseEvent();
  e["user"] = {{"email_sha256", upper},
               {"id_sha256", kCustomer123Sha},
               {"firstname_sha256", {kMarieSha}},
               {"lastname_sha256", kCurieSha}};
  Json user = Wire(e)["user"];
  EXPECT_EQ(user["emails_sha256"], Json::array({kUserExampleComSha}));
  EXPECT_EQ(user["external_ids_sha256"], Json::array({kCustomer123Sha}));
  EXPECT_EQ(user["first_names_sha256"], Json::array({kMarieSha}));
  EXPECT_EQ(user["last_names_sha256"], Json::array({kCurieSha}));
}

TEST(TagMapperPreHashedTest, KeepsClearValuesBeforeTheirHashes) {
  Json e = BaseEvent();
  e["user"] = {{"email", "jane.doe@example.com"},
               {"email_sha256", kUserExampleComSha}};
  EXPECT_EQ(Wire(e)["user"]["emails_sha256"].size(), 2u);
}

TEST(TagMapperPreHashedTest, DropsPhoneSha256BecauseItHashesThePlus) {
  Json e = BaseEvent();
  e["user"]["phone_sha256"] = kPhone14155552671Sha;
  TagMapResult r = MapTag(e);
  EXPECT_EQ(r.event.user().phone_numbers_sha256_size(), 0);
  EXPECT_THAT(r.warnings, ElementsAre(Issue("user.phone_sha256",
                                            "DROPPED_INCOMPATIBLE_HASH")));
}

// Hashed user properties the API cannot use are dropped with a warning
// each, not silently: an MD5 of any identifier, and a SHA-256 of a
// location, which the API takes in clear.
TEST(TagMapperPreHashedTest, WarnsOfHashedPropertiesTheApiCannotUse) {
  Json e = BaseEvent();
  e["user"] = {{"email_md5", "0123456789abcdef0123456789abcdef"},
               {"country_sha256", std::string(64, 'a')},
               {"city_sha256", std::string(64, 'b')},
               {"zipcode_sha256", std::string(64, 'c')},
               {"state_md5", "0123456789abcdef0123456789abcdef"}};
  EXPECT_THAT(MapTag(e).warnings,
              UnorderedElementsAre(
                  Issue("user.email_md5", "DROPPED_INCOMPATIBLE_HASH"),
                  Issue("user.country_sha256", "DROPPED_INCOMPATIBLE_HASH"),
                  Issue("user.city_sha256", "DROPPED_INCOMPATIBLE_HASH"),
                  Issue("user.zipcode_sha256", "DROPPED_INCOMPATIBLE_HASH"),
                  Issue("user.state_md5", "DROPPED_INCOMPATIBLE_HASH")));
  EXPECT_FALSE(Wire(e).contains("user"));
}

// A hashed property that smart mapping makes a slot's source is the slot's
// to report (here the email normalizer's MD5 warning), once.
TEST(TagMapperPreHashedTest, LeavesAHashedPropertyASlotReadsToTheSlot) {
  TagMappingConfig config;
  config.field_mapping["user.email"] = {"user.email_md5"};
  Json e = BaseEvent();
  e["user"] = {{"email_md5", "0123456789abcdef0123456789abcdef"}};
  EXPECT_THAT(MapTag(e, config).warnings, IsEmpty());
  EXPECT_THAT(MapFused(e, config).warnings,
              ElementsAre(Issue("user.email_md5", "DROPPED_INVALID")));
}

TEST(TagMapperPreHashedTest, PassesAnApiPhoneHashThroughSmartMapping) {
  TagMappingConfig config;
  config.field_mapping["user.phone"] = {"user.phone_digits_sha256"};
  Json e = BaseEvent();
  e["user"]["phone_digits_sha256"] = kPhone14155552671Sha;
  EXPECT_EQ(Wire(e, config)["user"]["phone_numbers_sha256"],
            Json::array({kPhone14155552671Sha}));
}

// A slot smart-mapped to a pre-hashed property (mapping spec §4c) reads it
// alone: the fixed pass-through would send the same hash again, which the
// mapper core drops as a duplicate on every event.
TEST(TagMapperPreHashedTest, ReadsASmartMappedPreHashedPropertyOnce) {
  TagMappingConfig config;
  config.field_mapping["user.email"] = {"user.email_sha256"};
  Json e = BaseEvent();
  e["user"]["email_sha256"] = kUserExampleComSha;
  EXPECT_EQ(Wire(e, config)["user"]["emails_sha256"],
            Json::array({kUserExampleComSha}));
  EXPECT_THAT(MapFused(e, config).warnings, IsEmpty());
}

TEST(TagMapperPreHashedTest, ReportsAnInvalidSmartMappedHashOnce) {
  TagMappingConfig config;
  config.field_mapping["user.email"] = {"user.email_sha256"};
  Json e = BaseEvent();
  e["user"]["email_sha256"] = "not a digest";  // no @ either
  EXPECT_THAT(MapFused(e, config).warnings,
              ElementsAre(Issue("user.email_sha256", "DROPPED_INVALID")));
}

TEST(TagMapperPreHashedTest, ReadsEveryFixedSourceASlotNamesOnce) {
  TagMappingConfig config;
  config.field_mapping["user.id"] = {"user.id_sha256"};
  config.field_mapping["user.firstname"] = {"user.firstname_sha256"};
  config.field_mapping["user.lastname"] = {"user.lastname_sha256"};
  Json e = BaseEvent();
  e["user"] = {{"id_sha256", kCustomer123Sha},
               {"firstname_sha256", kMarieSha},
               {"lastname_sha256", {kCurieSha}}};
  Json user = Wire(e, config)["user"];
  EXPECT_EQ(user["external_ids_sha256"], Json::array({kCustomer123Sha}));
  EXPECT_EQ(user["first_names_sha256"], Json::array({kMarieSha}));
  EXPECT_EQ(user["last_names_sha256"], Json::array({kCurieSha}));
  EXPECT_THAT(MapFused(e, config).warnings, IsEmpty());
}

// Re-pointing user.phone at user.phone_sha256 says that it holds the API's
// hash: it is sent, not dropped as the event model's.
TEST(TagMapperPreHashedTest, SendsPhoneSha256ASlotIsSmartMappedTo) {
  TagMappingConfig config;
  config.field_mapping["user.phone"] = {"user.phone_sha256"};
  Json e = BaseEvent();
  e["user"]["phone_sha256"] = kPhone14155552671Sha;
  EXPECT_EQ(Wire(e, config)["user"]["phone_numbers_sha256"],
            Json::array({kPhone14155552671Sha}));
  EXPECT_THAT(MapTag(e, config).warnings, IsEmpty());
}

// Decided by the mapping, not the event: the slot's first present source
// wins, and the pre-hashed property is only its fallback.
TEST(TagMapperPreHashedTest, APreHashedFallbackOfASlotIsReadOnlyAsSuch) {
  TagMappingConfig config;
  config.field_mapping["user.email"] = {"user.email", "user.email_sha256"};
  Json e = BaseEvent();
  e["user"] = {{"email", "jane.doe@example.com"},
               {"email_sha256", kUserExampleComSha}};
  EXPECT_EQ(Wire(e, config)["user"]["emails_sha256"].size(), 1u);
  e["user"].erase("email");
  EXPECT_EQ(Wire(e, config)["user"]["emails_sha256"],
            Json::array({kUserExampleComSha}));
}

// An event id, item id, product name or plan id that is an email address
// is refused at the tag event's own path: it would be sent in clear.
TEST(TagMapperClearFieldsTest, RefusesEmailAddressesInClearFields) {
  Json e = Purchase();
  e["context"]["event_id"] = "jane@example.com";
  e["items"] = {Item("jane@example.com", "Mug", 1, 1),
                Item("sku_2", "jane@example.com", 1, 1)};
  const MappedEvent mapped = MappedByFusedForm(e);
  EXPECT_THAT(
      mapped.violations,
      UnorderedElementsAre(Issue("context.event_id", "NOT_ALLOWED"),
                           Issue("items[0].id", "NOT_ALLOWED"),
                           Issue("items[1].product.name", "NOT_ALLOWED")));
  for (const FieldIssue& v : mapped.violations) {
    EXPECT_THAT(v.description, Not(HasSubstr("jane")));
  }
}

// ---------------------------------------------------------------------------
// Worked examples of the default event mapping.

TEST(TagMapperEventMappingTest, MapsEveryDefaultEventName) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"purchase", "order_created"},
      {"begin_checkout", "checkout_started"},
      {"generate_lead", "lead_created"},
      {"page_view", "page_viewed"},
      {"sign_up", "registration_completed"},
      {"appointment_scheduled", "appointment_scheduled"},
      {"checkout_started", "checkout_started"},
      {"contents_viewed", "contents_viewed"},
      {"items_added", "items_added"},
      {"lead_created", "lead_created"},
      {"order_created", "order_created"},
      {"page_viewed", "page_viewed"},
      {"registration_completed", "registration_completed"},
      {"subscription_created", "subscription_created"},
      {"trial_started", "trial_started"},
  };
  for (const auto& [name, type] : cases) {
    SCOPED_TRACE(name);
    EXPECT_EQ(Wire(BaseEvent(name))["type"], type);
  }
  EXPECT_EQ(DefaultTagEventMapping().size(), cases.size() + 1);  // + custom
}

// The destination maps no other name by default (spec §2, footnote [1]
// and its observations): GA4's view_item and add_to_cart, and the app
// events it does not offer, are skipped until an event_mapping entry
// names them.
TEST(TagMapperEventMappingTest, SkipsWhatTheDestinationDoesNotMap) {
  for (const char* name : {"view_item", "add_to_cart", "app_installed",
                           "app_opened", "refund", "login"}) {
    SCOPED_TRACE(name);
    TagMapResult r = MapTag(BaseEvent(name));
    EXPECT_EQ(r.outcome, TagMapResult::Outcome::kSkipped);
    EXPECT_EQ(r.skip_reason,
              absl::StrCat("event '", name, "' has no event mapping"));
  }
}

// `skip` (kSkipTagEvent) takes a name out of the mapping, a default one
// included.
TEST(TagMapperEventMappingTest, SkipsANameMappedToSkip) {
  TagMappingConfig config;
  config.event_mapping["page_view"] = kSkipTagEvent;
  config.event_mapping["view_item"] = v1::EVENT_TYPE_CONTENTS_VIEWED;
  TagMapResult r = MapTag(BaseEvent("page_view"), config);
  EXPECT_EQ(r.outcome, TagMapResult::Outcome::kSkipped);
  EXPECT_EQ(r.skip_reason,
            "event 'page_view' is mapped to skip (event_mapping)");
  EXPECT_EQ(Wire(BaseEvent("view_item"), config)["type"], "contents_viewed");
  EXPECT_EQ(Wire(BaseEvent("page_viewed"), config)["type"], "page_viewed");
}

TEST(TagMapperEventMappingTest, WorkedPurchase) {
  Json e = Purchase(42, "USD");
  e["type"] = "online";
  e["user"]["email"] = "user@example.com";
  e["items"] = {Item("sku_1", "Mug", 42, 1)};
  EXPECT_EQ(Wire(e), Json::parse(R"({
      "id":"evt_1","type":"order_created","timestamp_ms":1773889200000,
      "source_url":"https://www.example.com/pricing","action_source":"web",
      "user":{"emails_sha256":[")" +
                                 std::string(kUserExampleComSha) + R"("]},
      "data":{"type":"contents","amount":4200,"currency":"USD","contents":[
        {"id":"sku_1","name":"Mug","content_type":"product","quantity":1,
         "amount":4200}]}})"));
}

TEST(TagMapperEventMappingTest, WorkedSignUp) {
  Json e = BaseEvent("sign_up");
  e["method"] = "google";
  EXPECT_EQ(Wire(e)["data"], Json::parse(R"({"type":"customer_action"})"));
}

TEST(TagMapperEventMappingTest, WorkedViewItemAndAddToCart) {
  TagMappingConfig config;  // as deploy/config.example.yaml
  config.event_mapping["view_item"] = v1::EVENT_TYPE_CONTENTS_VIEWED;
  config.event_mapping["add_to_cart"] = v1::EVENT_TYPE_ITEMS_ADDED;
  for (const char* name : {"view_item", "add_to_cart", "begin_checkout"}) {
    SCOPED_TRACE(name);
    Json e = BaseEvent(name);
    e["value"] = 5;
    e["currency"] = "EUR";
    e["items"] = {Item("sku_1", "Mug", 5, 1)};
    Json data = Wire(e, config)["data"];
    EXPECT_EQ(data["type"], "contents");
    EXPECT_EQ(data["amount"], 500);
    EXPECT_EQ(data["contents"][0]["amount"], 500);
  }
}

// ---------------------------------------------------------------------------
// Consent.

TagMappingConfig ConsentConfig() {
  TagMappingConfig config;
  config.consent_categories = {"analytics", "ads"};
  return config;
}

TEST(TagMapperConsentTest, SkipsAnEventWithoutAConsentList) {
  TagMapResult r = MapTag(BaseEvent(), ConsentConfig());
  EXPECT_EQ(r.outcome, Outcome::kSkipped);
  EXPECT_EQ(r.skip_reason,
            "consent: the event has no user.consent_categories list");
  // One that is there but is no list is named so.
  for (const Json& categories : {Json("analytics,ads"), Json(2)}) {
    Json e = BaseEvent();
    e["user"]["consent_categories"] = categories;
    r = MapTag(e, ConsentConfig());
    EXPECT_EQ(r.outcome, Outcome::kSkipped);
    EXPECT_EQ(r.skip_reason,
              "consent: user.consent_categories is not a list (of category "
              "names)");
  }
}

TEST(TagMapperConsentTest, SkipsAnEventMissingACategory) {
  Json e = BaseEvent();
  e["user"]["consent_categories"] = {"analytics", "functional"};
  TagMapResult r = MapTag(e, ConsentConfig());
  EXPECT_EQ(r.outcome, Outcome::kSkipped);
  EXPECT_EQ(r.skip_reason, "consent: missing category 'ads'");
  e["user"]["consent_categories"] = Json::array();
  EXPECT_EQ(MapTag(e, ConsentConfig()).skip_reason,
            "consent: missing categories 'analytics', 'ads'");
}

TEST(TagMapperConsentTest, MapsAnEventWithEveryCategory) {
  Json e = BaseEvent();
  e["user"]["consent_categories"] = {"ads", "functional", "analytics"};
  EXPECT_EQ(MapTag(e, ConsentConfig()).outcome, Outcome::kMapped);
}

TEST(TagMapperConsentTest, MatchesNumericCategoryIds) {
  TagMappingConfig config;
  config.consent_categories = {"3"};
  Json e = BaseEvent();
  e["user"]["consent_categories"] = {1, 3};
  EXPECT_EQ(MapTag(e, config).outcome, Outcome::kMapped);
}

TEST(TagMapperConsentTest, ChecksConsentBeforeReadingAnythingElse) {
  // Broken in every other way, but without consent it is only skipped.
  Json e = {{"user", {{"email", true}}}, {"value", "x"}};
  TagMapResult r = MapTag(e, ConsentConfig());
  EXPECT_EQ(r.outcome, Outcome::kSkipped);
  EXPECT_THAT(r.violations, IsEmpty());
  EXPECT_THAT(r.warnings, IsEmpty());
  EXPECT_EQ(r.event.ByteSizeLong(), 0u);
}

// The result of a skipped event still names it (DESIGN: every result has its
// event_id), as for an unmapped event; the id is no personal data.
TEST(TagMapperConsentTest, ASkippedEventKeepsItsId) {
  Json e = BaseEvent("purchase");
  e["context"]["event_id"] = "order-7";
  e["user"]["consent_categories"] = {"analytics"};
  TagMapResult r = MapTag(e, ConsentConfig());
  EXPECT_EQ(r.outcome, Outcome::kSkipped);
  EXPECT_EQ(r.event_id, "order-7");
  EXPECT_THAT(r.violations, IsEmpty());
  r.event.clear_id();
  EXPECT_EQ(r.event.ByteSizeLong(), 0u);  // nothing else read
}

// ---------------------------------------------------------------------------
// Smart mapping (field_mapping).

TEST(TagMapperSmartMappingTest, TriesSourcesInPriorityOrder) {
  TagMappingConfig config;
  config.field_mapping["user.email"] = {"user.work_email", "user.email"};
  config.field_mapping["value"] = {"revenue_ttc"};
  Json e = Purchase();
  e.erase("value");
  e["revenue_ttc"] = "42.00";
  e["user"]["email"] = "jane.doe@example.com";
  TagMapResult r = MapTag(e, config);
  EXPECT_THAT(r.event.user().emails(), ElementsAre("jane.doe@example.com"));
  EXPECT_EQ(r.event.data().amount(), 4200);
  e["user"]["work_email"] = "user@example.com";
  e["user"]["email"] = "";  // empty values never win
  EXPECT_THAT(MapTag(e, config).event.user().emails(),
              ElementsAre("user@example.com"));
}

// A blank value (white space only, Unicode's included) is no value: the
// slot's next source is read, as after an empty one.
TEST(TagMapperSmartMappingTest, ReadsTheNextSourceAfterABlankValue) {
  TagMappingConfig config;
  config.field_mapping["context.page.url"] = {"url", "context.page.url"};
  config.field_mapping["context.event_id"] = {"order_id", "context.event_id"};
  config.field_mapping["user.email"] = {"user.contact.mail", "user.email"};
  config.field_mapping["items.X.id"] = {"items.X.product.id", "items.X.id"};
  Json e = Purchase();
  e["url"] = "  ";
  e["order_id"] = "\t";
  e["user"]["contact"]["mail"] = "\u3000";
  e["user"]["email"] = "user@example.com";
  e["items"] = {Item("sku_1", "Mug", 42, 1)};
  e["items"][0]["product"]["id"] = " ";
  TagMapResult r = MapTag(e, config);
  ASSERT_TRUE(r.mapped()) << ::testing::PrintToString(r.violations);
  EXPECT_THAT(r.warnings, IsEmpty());
  Json wire = Wire(e, config);
  EXPECT_EQ(wire["source_url"], "https://www.example.com/pricing");
  EXPECT_EQ(wire["id"], "evt_1");
  EXPECT_EQ(wire["user"]["emails_sha256"], Json::array({kUserExampleComSha}));
  EXPECT_EQ(wire["data"]["contents"][0]["id"], "sku_1");
}

// A blank event_name is no name.
TEST(TagMapperEventMappingTest, ABlankEventNameIsRequired) {
  TagMapResult r = MapTag(BaseEvent(" "));
  EXPECT_EQ(r.outcome, TagMapResult::Outcome::kRejected);
  EXPECT_THAT(r.violations, ElementsAre(Issue("event_name", "REQUIRED")));
}

// Property names of 1 to 3, 4 to 7, 8 to 16 and more bytes take different
// lookup paths (tag_plan.h, KeyWords); names that differ from a wanted one
// only in a middle byte must not be taken for it.
TEST(TagMapperSmartMappingTest, MatchesPropertyNamesOfEveryLength) {
  TagMappingConfig config;
  config.field_mapping["user.email"] = {"u.e"};
  config.field_mapping["user.phone"] = {"u.phone"};
  config.field_mapping["user.id"] = {"u.customer_number"};
  config.field_mapping["user.firstname"] = {"u.given_name_text"};
  Json e = Purchase();
  e["u"] = {{"e", "jane.doe@example.com"},
            {"eXe", "wrong"},    // a different middle byte
            {"phXne", "wrong"},  // a different middle byte
            {"p", "wrong"},
            {"phone", "+14155552671"},
            {"customer_numbXr", "wrong"},   // a different byte
            {"customer_number_", "wrong"},  // one byte longer
            {"customer_number", "c-1"},
            {"given_name_text", "Marie"}};
  TagMapResult r = MapTag(e, config);
  EXPECT_THAT(r.event.user().emails(), ElementsAre("jane.doe@example.com"));
  EXPECT_THAT(r.event.user().phone_numbers(), ElementsAre("+14155552671"));
  EXPECT_THAT(r.event.user().external_ids(), ElementsAre("c-1"));
  EXPECT_THAT(r.event.user().first_names(), ElementsAre("Marie"));
}

// Names of exactly 8 and 16 bytes fill a lookup word whole (no mask), and
// an empty name is masked to nothing: it must not be taken for an empty
// slot of a lookup table (tag_plan.h, kEmptySize).
TEST(TagMapperSmartMappingTest, MatchesNamesThatFillTheirWordsAndNoEmptyName) {
  TagMappingConfig config;
  config.field_mapping["user.lastname"] = {"u.abcdefgh"};
  config.field_mapping["user.city"] = {"u.abcdefghijklmnop"};
  Json e = Purchase();
  e["u"] = {{"abcdefgX", "wrong"},           // 8 bytes, the last differs
            {"abcdefghi", "wrong"},          // one byte longer
            {"abcdefghijklmnoX", "wrong"},   // 16 bytes, the last differs
            {"abcdefghijklmnopq", "wrong"},  // one byte longer
            {"", "wrong"},
            {"abcdefgh", "Curie"},
            {"abcdefghijklmnop", "Paris"}};
  e[""] = {{"", "wrong"}};
  e["user"][""] = "wrong";
  TagMapResult r = MapTag(e, config);
  ASSERT_TRUE(r.mapped()) << r.skip_reason;
  EXPECT_THAT(r.event.user().last_names(), ElementsAre("Curie"));
  EXPECT_THAT(r.event.user().cities(), ElementsAre("Paris"));
  EXPECT_THAT(r.warnings, IsEmpty());
  // The same event without the empty names maps to the same wire event.
  Json without = e;
  without.erase("");
  without["u"].erase("");
  without["user"].erase("");
  EXPECT_EQ(Wire(e, config), Wire(without, config));
}

// Names longer than 16 bytes that agree in length and in their first and
// last eight bytes share a hash whatever the seed: the lookup table falls
// back to probing and compares whole names.
TEST(TagMapperSmartMappingTest, TellsApartLongNamesThatShareTheirEnds) {
  TagMappingConfig config;
  config.field_mapping["user.email"] = {"user.contact_1_address"};
  config.field_mapping["user.phone"] = {"user.contact_2_address"};
  config.field_mapping["user.city"] = {"user.contact_3_address"};
  Json e = Purchase();
  e["user"] = {{"contact_1_address", "jane.doe@example.com"},
               {"contact_2_address", "+14155552671"},
               {"contact_4_address", "wrong"}};
  TagMapResult r = MapTag(e, config);
  EXPECT_THAT(r.event.user().emails(), ElementsAre("jane.doe@example.com"));
  EXPECT_THAT(r.event.user().phone_numbers(), ElementsAre("+14155552671"));
  EXPECT_THAT(r.event.user().cities(), IsEmpty());
}

TEST(TagMapperSmartMappingTest, ReadsItemPathsThroughX) {
  TagMappingConfig config;
  config.field_mapping["items.X.id"] = {"items.X.sku", "items.X.id"};
  config.field_mapping["items.X.product.price"] = {
      "items.X.product.variant_price", "items.X.product.price"};
  Json e = Purchase();
  e["items"] = {Item("a", "A", 10, 1), Item("b", "B", 20, 1)};
  e["items"][0]["sku"] = "SKU-A";
  e["items"][1]["product"]["variant_price"] = 15;
  TagMapResult r = MapTag(e, config);
  EXPECT_EQ(r.event.data().contents(0).id(), "SKU-A");
  EXPECT_EQ(r.event.data().contents(0).amount(), 1000);
  EXPECT_EQ(r.event.data().contents(1).id(), "b");
  EXPECT_EQ(r.event.data().contents(1).amount(), 1500);
}

TEST(TagMapperSmartMappingTest, RepointsTheItemListAndItsItemPaths) {
  TagMappingConfig config;
  config.field_mapping["items"] = {"order.lines"};
  config.field_mapping["items.X.id"] = {"items.X.sku"};
  config.field_mapping["items.X.product.name"] = {"order.lines.X.title"};
  config.field_mapping["items.X.product.price"] = {"items.X.unit_price"};
  Json e = Purchase();
  e["order"]["lines"] = {
      {{"sku", "S1"}, {"title", "Shoes"}, {"unit_price", 49.5}},
      {{"sku", "S2"}, {"title", "Socks"}, {"unit_price", "free"}}};
  TagMapResult r = MapTag(e, config);
  ASSERT_EQ(r.event.data().contents_size(), 2);
  EXPECT_EQ(r.event.data().contents(0).id(), "S1");
  EXPECT_EQ(r.event.data().contents(0).name(), "Shoes");
  EXPECT_EQ(r.event.data().contents(0).amount(), 4950);
  // Violations name the source path.
  EXPECT_THAT(r.violations, ElementsAre(Issue("order.lines[1].unit_price",
                                              "INVALID_FORMAT")));
}

TEST(TagMapperSmartMappingTest, ReadsEventLevelPathsInItemSlots) {
  TagMappingConfig config;
  config.field_mapping["items.X.currency"] = {"items.X.currency",
                                              "basket_currency"};
  Json e = BaseEvent("items_added");
  e["basket_currency"] = "GBP";
  e["items"] = {Item("a", "A", 2, 1)};
  Json contents = Wire(e, config)["data"]["contents"];
  EXPECT_EQ(contents[0]["currency"], "GBP");
  EXPECT_EQ(contents[0]["amount"], 200);
}

TEST(TagMapperSmartMappingTest, IndexesListsWithDigitSegments) {
  TagMappingConfig config;
  config.field_mapping["user.email"] = {"user.emails.1"};
  config.field_mapping["items.X.product.name"] = {"items.X.names.0"};
  Json e = Purchase();
  e["user"]["emails"] = {"a@example.com", "b@example.com"};
  e["items"] = {{{"names", {"First", "Second"}}}};
  TagMapResult r = MapTag(e, config);
  EXPECT_THAT(r.event.user().emails(), ElementsAre("b@example.com"));
  EXPECT_EQ(r.event.data().contents(0).name(), "First");
}

TEST(TagMapperSmartMappingTest, KeepsEventNameAsTheLastCustomNameFallback) {
  TagMappingConfig config;
  config.event_mapping["quote"] = v1::EVENT_TYPE_CUSTOM;
  config.field_mapping["partners.openai.custom_event_name"] = {"quote_kind"};
  Json e = BaseEvent("quote");
  EXPECT_EQ(Wire(e, config)["custom_event_name"], "quote");
  e["quote_kind"] = "quote_b2b";
  EXPECT_EQ(Wire(e, config)["custom_event_name"], "quote_b2b");
}

// ---------------------------------------------------------------------------
// Config validation.

std::string CompileError(const TagMappingConfig& config) {
  absl::Status status = ValidateTagMappingConfig(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

TEST(TagMapperConfigTest, AcceptsTheDefaultsAndEveryKnownSlot) {
  EXPECT_TRUE(ValidateTagMappingConfig({}).ok());
  TagMappingConfig config;
  for (std::string_view slot : kTagSlots) {
    config.field_mapping[std::string(slot)] = {std::string(slot)};
  }
  EXPECT_TRUE(ValidateTagMappingConfig(config).ok());
}

TEST(TagMapperConfigTest, RejectsAnUnknownSlot) {
  TagMappingConfig config;
  config.field_mapping["user.mail"] = {"user.mail"};
  EXPECT_THAT(CompileError(config), HasSubstr("unknown slot \"user.mail\""));
}

TEST(TagMapperConfigTest, RejectsASlotWithoutPaths) {
  TagMappingConfig config;
  config.field_mapping["user.email"] = {};
  EXPECT_THAT(CompileError(config),
              HasSubstr("field_mapping[\"user.email\"]: no source paths"));
}

TEST(TagMapperConfigTest, RejectsMalformedPaths) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"user.email", ""},
      {"user.email", "user..email"},
      {"user.email", "user.email."},
      {"user.email", "user.e mail"},
      {"user.email", "user.email[0]"},
      {"user.email", "user.X.email"},  // X outside an item slot
      {"items", "items.X"},            // X in the list slot itself
      {"items.X.id", "items.X"},       // X last
      {"items.X.id", "X.id"},          // X first
      {"items.X.id", "items.X.X.id"},  // X twice
      {"items.X.id", "orders.X.id"},   // not the item list
  };
  for (const auto& [slot, path] : cases) {
    SCOPED_TRACE(slot + " <- " + path);
    TagMappingConfig config;
    config.field_mapping[slot] = {path};
    EXPECT_THAT(CompileError(config), HasSubstr("field_mapping[\"" + slot +
                                                "\"]: path \"" + path + "\""));
  }
}

TEST(TagMapperConfigTest, AcceptsItemPathsNamingTheRepointedList) {
  TagMappingConfig config;
  config.field_mapping["items"] = {"products", "items"};
  config.field_mapping["items.X.id"] = {"products.X.sku", "items.X.id"};
  EXPECT_TRUE(ValidateTagMappingConfig(config).ok());
}

TEST(TagMapperConfigTest, RejectsBadEventMappingsAndOptions) {
  TagMappingConfig config;
  config.event_mapping[""] = v1::EVENT_TYPE_CUSTOM;
  config.event_mapping["refund"] = static_cast<v1::EventType>(999);
  config.default_action_source = v1::ACTION_SOURCE_UNSPECIFIED;
  config.consent_categories = {"ads", " "};
  std::string error = CompileError(config);
  EXPECT_THAT(error, HasSubstr("event_mapping: an event name is empty"));
  EXPECT_THAT(error,
              HasSubstr("event_mapping[\"refund\"]: not a valid event type"));
  EXPECT_THAT(error, HasSubstr("default_action_source"));
  EXPECT_THAT(error, HasSubstr("consent_categories: a category is empty"));
}

TEST(TagMapperConfigTest, ReportsEveryProblemAtOnce) {
  TagMappingConfig config;
  config.field_mapping["nope"] = {"a"};
  config.field_mapping["type"] = {"a..b"};
  std::string error = CompileError(config);
  EXPECT_THAT(error, HasSubstr("\"nope\""));
  EXPECT_THAT(error, HasSubstr("\"a..b\""));
}

// ---------------------------------------------------------------------------
// Golden files, reuse and parity with typed events.

TEST(TagMapperGoldenTest, MapsEveryGoldenTagEventToItsWireJsonByteForByte) {
  for (const char* name : {"purchase_two_items", "begin_checkout_jpy",
                           "subscription_kwd_app", "custom_quote_call"}) {
    SCOPED_TRACE(std::string("tests/data/tag/") + name);
    google::protobuf::Struct tag =
        ToStruct(ReadTestData(std::string("tag/") + name + ".tag.json"));
    std::string expected =
        ReadTestData(std::string("tag/") + name + ".wire.json");
    if (!expected.empty() && expected.back() == '\n') expected.pop_back();
    TagMapResult r = MapTagEvent(tag, CompiledTagMapping::Default(), kNowMs);
    ASSERT_EQ(r.outcome, Outcome::kMapped) << r.skip_reason;
    ASSERT_THAT(r.violations, IsEmpty());
    MappedEvent mapped = MapEvent(r.event, kNowMs);
    ASSERT_THAT(mapped.violations, IsEmpty());
    EXPECT_EQ(mapped.wire_json, expected);

    TagMapResult fused;
    MappedEvent fused_mapped;
    MapTagEvent(tag, CompiledTagMapping::Default(), kNowMs, &fused,
                &fused_mapped);
    ASSERT_EQ(fused.outcome, Outcome::kMapped) << fused.skip_reason;
    ASSERT_THAT(fused_mapped.violations, IsEmpty());
    EXPECT_EQ(fused_mapped.wire_json, expected);
  }
}

TEST(TagMapperGoldenTest, ReportsTheDroppedPhoneHashOfTheCustomExample) {
  TagMapResult r =
      MapTagEvent(ToStruct(ReadTestData("tag/custom_quote_call.tag.json")),
                  CompiledTagMapping::Default(), kNowMs);
  EXPECT_THAT(r.warnings, ElementsAre(Issue("user.phone_sha256",
                                            "DROPPED_INCOMPATIBLE_HASH")));
}

TEST(TagMapperReuseTest, ReusedResultsCarryNothingOver) {
  Json rich = Purchase(10, "USD");
  rich["user"]["email"] = "user@example.com";
  rich["items"] = {Item("a", "A", 1, 1)};
  rich["partners"]["openai"]["plan_id"] = "p";  // a warning
  const CompiledTagMapping mapping = CompiledTagMapping::Default();
  TagMapResult reused;
  MapTagEvent(ToStruct(rich.dump()), mapping, kNowMs, &reused);
  MapTagEvent(ToStruct(BaseEvent().dump()), mapping, kNowMs, &reused);
  TagMapResult fresh =
      MapTagEvent(ToStruct(BaseEvent().dump()), mapping, kNowMs);
  EXPECT_EQ(reused.event.SerializeAsString(), fresh.event.SerializeAsString());
  EXPECT_THAT(reused.warnings, IsEmpty());
  MapTagEvent(ToStruct(BaseEvent("refund").dump()), mapping, kNowMs, &reused);
  EXPECT_EQ(reused.outcome, Outcome::kSkipped);
  MapTagEvent(ToStruct(BaseEvent().dump()), mapping, kNowMs, &reused);
  EXPECT_EQ(reused.outcome, Outcome::kMapped);
  EXPECT_TRUE(reused.skip_reason.empty());
}

TEST(TagMapperReuseTest, ReusedFusedResultsCarryNothingOver) {
  Json rich = Purchase(10, "USD");
  rich["context"]["event_id"] = 123456;  // an id kept as text by the result
  rich["user"]["email"] = {"user@example.com", 42};
  rich["items"] = {Item("a", "A", 1, 1), Item("b", "B", 2, 2)};
  rich["partners"]["openai"]["plan_id"] = "p";  // a warning
  const CompiledTagMapping mapping = CompiledTagMapping::Default();
  auto fused = [&](const Json& tag, TagMapResult* result, MappedEvent* out) {
    MapTagEvent(ToStruct(tag.dump()), mapping, kNowMs, result, out);
  };
  TagMapResult reused;
  MappedEvent reused_mapped;
  fused(rich, &reused, &reused_mapped);
  EXPECT_EQ(reused.event_id, "123456");
  fused(Purchase(10, "USD"), &reused, &reused_mapped);
  TagMapResult fresh;
  MappedEvent fresh_mapped;
  fused(Purchase(10, "USD"), &fresh, &fresh_mapped);
  EXPECT_EQ(reused.event_id, "evt_1");
  EXPECT_THAT(reused.warnings, IsEmpty());
  EXPECT_EQ(reused_mapped.wire_json, fresh_mapped.wire_json);
  EXPECT_EQ(reused_mapped.warnings, fresh_mapped.warnings);

  Json refund = BaseEvent("refund");
  refund["context"]["event_id"] = "r_1";
  fused(refund, &reused, &reused_mapped);
  EXPECT_EQ(reused.outcome, Outcome::kSkipped);
  EXPECT_EQ(reused.event_id, "r_1");
  EXPECT_TRUE(reused_mapped.wire_json.empty());
  fused(rich, &reused, &reused_mapped);
  EXPECT_EQ(reused.outcome, Outcome::kMapped);
  EXPECT_TRUE(reused.skip_reason.empty());
  EXPECT_EQ(reused_mapped.id, "123456");
}

// MapTagEventGroup maps a request in groups of kTagGroup: every event must
// come out exactly as MapTagEvent maps it alone, whatever the group held
// before (here 40 events: mapped, skipped, rejected and with warnings,
// over three groups, the last one short).
TEST(TagMapperGroupTest, GroupsGiveWhatEachEventGivesAlone) {
  google::protobuf::RepeatedPtrField<google::protobuf::Struct> events;
  for (int i = 0; i < 40; ++i) {
    Json tag;
    switch (i % 4) {
      case 0:
        tag = Purchase(10 + i, "USD");
        tag["items"] = {Item("a", "A", 1, 1), Item("b", "B", 2, 2)};
        break;
      case 1:
        tag = BaseEvent("refund");  // skipped
        break;
      case 2:
        tag = BaseEvent();
        tag["context"].erase("event_id");  // rejected
        break;
      default:
        tag = Purchase(5, "JPY");
        tag["partners"]["openai"]["plan_id"] = "p";  // a warning
        tag["user"]["email"] = "not an email";       // dropped
        break;
    }
    tag["context"]["event_id"] = absl::StrCat("evt_", i);
    if (i % 4 == 2) tag["context"].erase("event_id");
    *events.Add() = ToStruct(tag.dump());
  }
  const CompiledTagMapping mapping = CompiledTagMapping::Default();
  std::array<TagMapResult, kTagGroup> tags;
  std::array<MappedEvent, kTagGroup> mapped;
  // The tree form, on trees reused group after group as the gateway does.
  std::vector<TagTree> trees(kTagGroup);
  std::array<TagMapResult, kTagGroup> tree_tags;
  std::array<MappedEvent, kTagGroup> tree_mapped;
  int compared = 0;
  for (int first = 0; first < events.size(); first += kTagGroup) {
    const int count = std::min(kTagGroup, events.size() - first);
    MapTagEventGroup(events, first, count, mapping, kNowMs, tags.data(),
                     mapped.data());
    for (int g = 0; g < count; ++g) {
      ASSERT_TRUE(
          ParseTagTree(events[first + g].SerializeAsString(), &trees[g]).ok());
    }
    MapTagEventGroup(
        absl::MakeConstSpan(trees.data(), static_cast<size_t>(count)), mapping,
        kNowMs, tree_tags.data(), tree_mapped.data());
    for (int g = 0; g < count; ++g) {
      SCOPED_TRACE(absl::StrCat("tree form ", first + g));
      EXPECT_EQ(tree_tags[g].outcome, tags[g].outcome);
      EXPECT_EQ(tree_tags[g].skip_reason, tags[g].skip_reason);
      EXPECT_EQ(tree_tags[g].event_id, tags[g].event_id);
      EXPECT_EQ(tree_tags[g].violations, tags[g].violations);
      EXPECT_EQ(tree_tags[g].warnings, tags[g].warnings);
      EXPECT_EQ(tree_mapped[g].wire_json, mapped[g].wire_json);
      EXPECT_EQ(tree_mapped[g].violations, mapped[g].violations);
      EXPECT_EQ(tree_mapped[g].warnings, mapped[g].warnings);
      EXPECT_EQ(tree_mapped[g].id, mapped[g].id);
    }
    for (int g = 0; g < count; ++g) {
      TagMapResult alone;
      MappedEvent alone_mapped;
      MapTagEvent(events[first + g], mapping, kNowMs, &alone, &alone_mapped);
      SCOPED_TRACE(first + g);
      EXPECT_EQ(tags[g].outcome, alone.outcome);
      EXPECT_EQ(tags[g].skip_reason, alone.skip_reason);
      EXPECT_EQ(tags[g].event_id, alone.event_id);
      EXPECT_EQ(tags[g].violations, alone.violations);
      EXPECT_EQ(tags[g].warnings, alone.warnings);
      EXPECT_EQ(mapped[g].wire_json, alone_mapped.wire_json);
      EXPECT_EQ(mapped[g].violations, alone_mapped.violations);
      EXPECT_EQ(mapped[g].warnings, alone_mapped.warnings);
      EXPECT_EQ(mapped[g].id, alone_mapped.id);
      ++compared;
    }
  }
  EXPECT_EQ(compared, 40);
  // The last group held events 32..39: 32 is mapped, 33 skipped, 34
  // rejected.
  EXPECT_EQ(tags[0].outcome, Outcome::kMapped);
  EXPECT_EQ(tags[1].outcome, Outcome::kSkipped);
  EXPECT_EQ(tags[2].outcome, Outcome::kRejected);
  EXPECT_TRUE(mapped[1].wire_json.empty());
}

TEST(TagMapperParityTest, GivesTheSameWireJsonAsTheEquivalentTypedEvent) {
  Json tag = Purchase(129.99, "USD");
  tag["context"]["event_id"] = "order_1";
  tag["type"] = "online";
  tag["partners"]["openai"]["oppref"] = "opp_1";
  tag["user"] = {{"email", " Jane.Doe@Example.com "},
                 {"phone", "+1 (415) 555-2671"},
                 {"id", "customer_000123456"}};
  tag["context"]["device"] = {{"ip", "203.0.113.42"},
                              {"user_agent", "Mozilla/5.0"}};
  tag["items"] = {Item("sku_1", "Shoes", 29.99, 1),
                  Item("sku_2", "Socks", 39.99, 2)};

  v1::Event typed;
  typed.set_id("order_1");
  typed.set_type(v1::EVENT_TYPE_ORDER_CREATED);
  typed.set_timestamp_ms(kOneHourAgoMs);
  typed.set_source_url("https://www.example.com/pricing");
  typed.set_action_source(v1::ACTION_SOURCE_WEB);
  typed.set_oppref("opp_1");
  typed.mutable_user()->add_emails(" Jane.Doe@Example.com ");
  typed.mutable_user()->add_phone_numbers("+1 (415) 555-2671");
  typed.mutable_user()->add_external_ids("customer_000123456");
  typed.mutable_user()->set_ip_address("203.0.113.42");
  typed.mutable_user()->set_user_agent("Mozilla/5.0");
  typed.mutable_data()->set_amount(12999);
  typed.mutable_data()->set_currency("USD");
  for (int i = 0; i < 2; ++i) {
    v1::Content* c = typed.mutable_data()->add_contents();
    c->set_id(i == 0 ? "sku_1" : "sku_2");
    c->set_name(i == 0 ? "Shoes" : "Socks");
    c->set_content_type("product");
    c->set_quantity(i + 1);
    c->set_amount(i == 0 ? 2999 : 3999);
  }

  TagMapResult r = MapTag(tag);
  ASSERT_TRUE(r.mapped());
  EXPECT_EQ(MapEvent(r.event, kNowMs).wire_json,
            MapEvent(typed, kNowMs).wire_json);
}

}  // namespace
}  // namespace conversions::mapping
