// Event-level rules of MapEvent (spec sections 2 and 4): every violation of
// the envelope fields, and the shape of the wire event. The data object is
// in event_mapper_data_test.cc, the user object in event_mapper_user_test.cc,
// golden events in golden_event_test.cc.
#include "mapping/event_mapper.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "tests/mapping/mapper_test_util.h"
#include "tests/mapping/test_util.h"

namespace conversions::mapping {
namespace {

using ::conversions::testing::EventFromText;
using ::conversions::testing::Issue;
using ::conversions::testing::kNowMs;
using ::conversions::testing::kOneHourAgoMs;
using ::conversions::testing::MapToJson;
using ::conversions::testing::ParseJson;
using ::conversions::testing::ValidEvent;
using ::conversions::testing::ValidEventOfType;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr std::int64_t kSevenDaysMs = 604'800'000;
constexpr std::int64_t kTenMinutesMs = 600'000;

std::vector<FieldIssue> Violations(const v1::Event& event) {
  return MapEvent(event, kNowMs).violations;
}

TEST(EventMapperTest, MapsTheSpecWebPurchase) {
  v1::Event event = EventFromText(R"pb(
    id: "order_12345"
    type: EVENT_TYPE_ORDER_CREATED
    timestamp_ms: 1773892800000
    source_url: "https://shop.example.com/checkout/confirmation"
    action_source: ACTION_SOURCE_WEB
    user {
      emails: " User@Example.com "
      external_ids: "customer_123"
      countries: "US"
      cities: "San Francisco"
      postal_codes: "94107"
      ip_address: "203.0.113.1"
      user_agent: "Mozilla/5.0"
    }
    data {
      amount: 2599
      currency: "usd"
      contents {
        id: "sku_123"
        name: "Starter bundle"
        content_type: "product"
        quantity: 1
      }
    }
  )pb");
  MappedEvent mapped = MapEvent(event, kNowMs);
  ASSERT_TRUE(mapped.ok()) << mapped.violations[0].description;
  EXPECT_EQ(
      mapped.wire_json,
      R"({"id":"order_12345","type":"order_created","timestamp_ms":1773892800000,)"
      R"("source_url":"https://shop.example.com/checkout/confirmation","action_source":"web",)"
      R"("user":{"emails_sha256":["b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514"],)"
      R"("external_ids_sha256":["18f69bcd2f9cc9c38195e722b2a5590429840ea5090971d2256e026926e55fa1"],)"
      R"("postal_codes":["94107"],"cities":["San Francisco"],"countries":["US"],)"
      R"("ip_address":"203.0.113.1","user_agent":"Mozilla/5.0"},)"
      R"("data":{"type":"contents","amount":2599,"currency":"USD",)"
      R"("contents":[{"id":"sku_123","name":"Starter bundle","content_type":"product","quantity":1}]}})");
  EXPECT_EQ(mapped.event_name, "order_created");
  EXPECT_TRUE(ParseJson(mapped.wire_json).is_object());
}

TEST(EventMapperTest, MapsTheMinimalValidEvent) {
  MappedEvent mapped = MapEvent(ValidEvent(), kNowMs);
  ASSERT_THAT(mapped.violations, IsEmpty());
  EXPECT_THAT(mapped.warnings, IsEmpty());
  EXPECT_EQ(
      mapped.wire_json,
      R"({"id":"evt_1","type":"page_viewed","timestamp_ms":1773889200000,)"
      R"("source_url":"https://www.example.com/pricing",)"
      R"("action_source":"web","data":{"type":"contents"}})");
  EXPECT_EQ(mapped.event_name, "page_viewed");
  EXPECT_EQ(mapped.id, "evt_1");
  EXPECT_EQ(mapped.timestamp_ms, kOneHourAgoMs);
}

// --- id ---

TEST(EventMapperIdTest, RejectsAMissingId) {
  v1::Event event = ValidEvent();
  event.clear_id();
  EXPECT_THAT(Violations(event), ElementsAre(Issue("id", "REQUIRED")));
}

TEST(EventMapperIdTest, RejectsABlankId) {
  v1::Event event = ValidEvent();
  event.set_id(" \t ");
  std::vector<FieldIssue> violations = Violations(event);
  ASSERT_THAT(violations, ElementsAre(Issue("id", "REQUIRED")));
  EXPECT_EQ(violations[0].description, "id is blank (white space only)");
}

// An id is sent and stored as it is, and deduplicates: an email address
// there is refused. An '@' in another id is a value.
TEST(EventMapperIdTest, RefusesAnIdThatIsAnEmailAddress) {
  v1::Event event = ValidEvent();
  event.set_id("Jane.Doe@example.com");
  std::vector<FieldIssue> violations = Violations(event);
  ASSERT_THAT(violations, ElementsAre(Issue("id", "NOT_ALLOWED")));
  EXPECT_THAT(violations[0].description, Not(HasSubstr("Jane")));
  event.set_id("order@1001");
  EXPECT_THAT(Violations(event), IsEmpty());
}

TEST(EventMapperIdTest, AcceptsAnIdOf256Bytes) {
  v1::Event event = ValidEvent();
  event.set_id(std::string(256, 'i'));
  EXPECT_THAT(Violations(event), IsEmpty());
}

TEST(EventMapperIdTest, RejectsAnIdOver256Bytes) {
  v1::Event event = ValidEvent();
  event.set_id(std::string(257, 'i'));
  EXPECT_THAT(Violations(event), ElementsAre(Issue("id", "TOO_LONG")));
}

TEST(EventMapperIdTest, RejectsAnIdThatIsNotUtf8) {
  v1::Event event = ValidEvent();
  event.set_id("order\xFF");
  EXPECT_THAT(Violations(event), ElementsAre(Issue("id", "INVALID_UTF8")));
}

// The id must equal the Pixel's event_id for dedup: never trimmed or
// rewritten.
TEST(EventMapperIdTest, SendsTheIdByteForByte) {
  v1::Event event = ValidEvent();
  event.set_id(" Order #42/\"a\" ");
  MappedEvent mapped = MapEvent(event, kNowMs);
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(ParseJson(mapped.wire_json)["id"], " Order #42/\"a\" ");
  EXPECT_EQ(mapped.id, " Order #42/\"a\" ");
}

// --- type ---

TEST(EventMapperTypeTest, RejectsAMissingType) {
  v1::Event event = ValidEvent();
  event.clear_type();
  EXPECT_THAT(Violations(event), ElementsAre(Issue("type", "REQUIRED")));
}

TEST(EventMapperTypeTest, RejectsAnUnknownEnumValue) {
  v1::Event event = ValidEvent();
  event.set_type(static_cast<v1::EventType>(99));
  EXPECT_THAT(Violations(event), ElementsAre(Issue("type", "INVALID_FORMAT")));
}

struct TypeCase {
  v1::EventType type;
  const char* name;
  const char* data_type;
};

// The table of spec section 4: every event type and its data shape.
TEST(EventMapperTypeTest, DerivesDataTypeFromEveryEventType) {
  const TypeCase kCases[] = {
      {v1::EVENT_TYPE_APP_INSTALLED, "app_installed", "customer_action"},
      {v1::EVENT_TYPE_APP_OPENED, "app_opened", "customer_action"},
      {v1::EVENT_TYPE_APPOINTMENT_SCHEDULED, "appointment_scheduled",
       "customer_action"},
      {v1::EVENT_TYPE_CHECKOUT_STARTED, "checkout_started", "contents"},
      {v1::EVENT_TYPE_CONTENTS_VIEWED, "contents_viewed", "contents"},
      {v1::EVENT_TYPE_CUSTOM, "custom", "custom"},
      {v1::EVENT_TYPE_ITEMS_ADDED, "items_added", "contents"},
      {v1::EVENT_TYPE_LEAD_CREATED, "lead_created", "customer_action"},
      {v1::EVENT_TYPE_ORDER_CREATED, "order_created", "contents"},
      {v1::EVENT_TYPE_PAGE_VIEWED, "page_viewed", "contents"},
      {v1::EVENT_TYPE_REGISTRATION_COMPLETED, "registration_completed",
       "customer_action"},
      {v1::EVENT_TYPE_SUBSCRIPTION_CREATED, "subscription_created",
       "plan_enrollment"},
      {v1::EVENT_TYPE_TRIAL_STARTED, "trial_started", "plan_enrollment"},
  };
  for (const TypeCase& c : kCases) {
    SCOPED_TRACE(c.name);
    nlohmann::json wire = MapToJson(ValidEventOfType(c.type));
    EXPECT_EQ(wire["type"], c.name);
    EXPECT_EQ(wire["data"]["type"], c.data_type);
  }
}

// --- timestamp_ms: [now - 7 days, now + 10 minutes], 0 means now ---

std::vector<FieldIssue> TimestampViolations(std::int64_t timestamp_ms) {
  v1::Event event = ValidEvent();
  event.set_timestamp_ms(timestamp_ms);
  return Violations(event);
}

// The API takes events of the last 7 days; the gateway needs 10 s of that
// window left on receipt to send one in time (Limits::kReceiptMarginMs).
TEST(EventMapperTimestampTest, AcceptsSevenDaysAgoLessTheReceiptMargin) {
  EXPECT_THAT(TimestampViolations(kNowMs - kSevenDaysMs + 10'000), IsEmpty());
}

TEST(EventMapperTimestampTest, RejectsAnEventWithLessThanTheMarginLeft) {
  for (std::int64_t left : {0, 1, 4'999, 9'999}) {
    SCOPED_TRACE(left);
    std::vector<FieldIssue> violations =
        TimestampViolations(kNowMs - kSevenDaysMs + left);
    ASSERT_THAT(violations, ElementsAre(Issue("timestamp_ms", "OUT_OF_RANGE")));
    EXPECT_THAT(violations[0].description,
                HasSubstr("less than 10 s of the API's 7-day window"));
  }
}

TEST(EventMapperTimestampTest, RejectsOneMillisecondOlderThanSevenDays) {
  EXPECT_THAT(TimestampViolations(kNowMs - kSevenDaysMs - 1),
              ElementsAre(Issue("timestamp_ms", "OUT_OF_RANGE")));
}

TEST(EventMapperTimestampTest, AcceptsExactlyTenMinutesInTheFuture) {
  EXPECT_THAT(TimestampViolations(kNowMs + kTenMinutesMs), IsEmpty());
}

TEST(EventMapperTimestampTest, RejectsOneMillisecondBeyondTenMinutesAhead) {
  EXPECT_THAT(TimestampViolations(kNowMs + kTenMinutesMs + 1),
              ElementsAre(Issue("timestamp_ms", "OUT_OF_RANGE")));
}

TEST(EventMapperTimestampTest, RejectsANegativeTimestamp) {
  EXPECT_THAT(TimestampViolations(-1),
              ElementsAre(Issue("timestamp_ms", "OUT_OF_RANGE")));
}

TEST(EventMapperTimestampTest, HintsAtSecondsWhenTheValueLooksLikeSeconds) {
  std::vector<FieldIssue> violations = TimestampViolations(kNowMs / 1000);
  ASSERT_THAT(violations, ElementsAre(Issue("timestamp_ms", "OUT_OF_RANGE")));
  EXPECT_THAT(violations[0].description, HasSubstr("seconds"));
}

TEST(EventMapperTimestampTest, HintsAtMicroAndNanosecondsInTheFuture) {
  std::vector<FieldIssue> micro = TimestampViolations(kNowMs * 1000);
  ASSERT_THAT(micro, ElementsAre(Issue("timestamp_ms", "OUT_OF_RANGE")));
  EXPECT_THAT(micro[0].description,
              HasSubstr("looks like microseconds; send milliseconds"));
  std::vector<FieldIssue> nano = TimestampViolations(kNowMs * 1'000'000);
  ASSERT_THAT(nano, ElementsAre(Issue("timestamp_ms", "OUT_OF_RANGE")));
  EXPECT_THAT(nano[0].description,
              HasSubstr("looks like nanoseconds; send milliseconds"));
  // A day ahead, in milliseconds: no hint.
  std::vector<FieldIssue> ahead = TimestampViolations(kNowMs + 86'400'000);
  ASSERT_THAT(ahead, ElementsAre(Issue("timestamp_ms", "OUT_OF_RANGE")));
  EXPECT_THAT(ahead[0].description, ::testing::Not(HasSubstr("looks like")));
}

// A small number is not seconds of any recent time: no hint.
TEST(EventMapperTimestampTest, GivesNoSecondsHintForASmallNumber) {
  std::vector<FieldIssue> violations = TimestampViolations(5);
  ASSERT_THAT(violations, ElementsAre(Issue("timestamp_ms", "OUT_OF_RANGE")));
  EXPECT_THAT(violations[0].description, ::testing::Not(HasSubstr("seconds")));
}

TEST(EventMapperTimestampTest, TreatsZeroAsTheReceiveTime) {
  v1::Event event = ValidEvent();
  event.set_timestamp_ms(0);
  MappedEvent mapped = MapEvent(event, kNowMs);
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(mapped.timestamp_ms, kNowMs);
  EXPECT_EQ(ParseJson(mapped.wire_json)["timestamp_ms"], kNowMs);
}

TEST(EventMapperTimestampTest, SendsTheTimestampAsAJsonInteger) {
  nlohmann::json wire = MapToJson(ValidEvent());
  EXPECT_TRUE(wire["timestamp_ms"].is_number_integer());
  EXPECT_EQ(wire["timestamp_ms"].get<std::int64_t>(), kOneHourAgoMs);
}

TEST(WithinWindowTest, IncludesBothBoundaries) {
  EXPECT_TRUE(WithinWindow(kNowMs - kSevenDaysMs, kNowMs));
  EXPECT_TRUE(WithinWindow(kNowMs + kTenMinutesMs, kNowMs));
  EXPECT_TRUE(WithinWindow(kNowMs, kNowMs));
}

TEST(WithinWindowTest, ExcludesOneMillisecondPastEitherBoundary) {
  EXPECT_FALSE(WithinWindow(kNowMs - kSevenDaysMs - 1, kNowMs));
  EXPECT_FALSE(WithinWindow(kNowMs + kTenMinutesMs + 1, kNowMs));
}

// A queued event goes stale: the same timestamp leaves the window later.
TEST(WithinWindowTest, RejectsAStoredEventOnceItIsOlderThanSevenDays) {
  const std::int64_t event_time = kNowMs;
  EXPECT_TRUE(WithinWindow(event_time, kNowMs + kSevenDaysMs));
  EXPECT_FALSE(WithinWindow(event_time, kNowMs + kSevenDaysMs + 1));
}

// --- custom_event_name ---

v1::Event CustomEvent(const std::string& name) {
  v1::Event event = ValidEvent();
  event.set_type(v1::EVENT_TYPE_CUSTOM);
  event.set_custom_event_name(name);
  return event;
}

TEST(EventMapperCustomNameTest, RequiresANameForCustomEvents) {
  EXPECT_THAT(Violations(CustomEvent("")),
              ElementsAre(Issue("custom_event_name", "REQUIRED")));
}

TEST(EventMapperCustomNameTest, RejectsNamesThatBreakThePattern) {
  for (const std::string& name :
       {std::string("-quote"), std::string("quote_"), std::string("_"),
        std::string("quote requested"), std::string("quote.requested"),
        std::string("quote/requested"), std::string("caf\xC3\xA9"),
        std::string(" quote"), std::string(65, 'q')}) {
    SCOPED_TRACE(name);
    EXPECT_THAT(Violations(CustomEvent(name)),
                ElementsAre(Issue("custom_event_name", "INVALID_FORMAT")));
  }
}

TEST(EventMapperCustomNameTest, AcceptsOneCharacter) {
  EXPECT_THAT(Violations(CustomEvent("q")), IsEmpty());
}

TEST(EventMapperCustomNameTest, AcceptsSixtyFourCharacters) {
  EXPECT_THAT(Violations(CustomEvent("Q" + std::string(62, '_') + "9")),
              IsEmpty());
}

TEST(EventMapperCustomNameTest, AcceptsInnerUnderscoresAndHyphens) {
  EXPECT_THAT(Violations(CustomEvent("quote-requested_v2")), IsEmpty());
}

TEST(EventMapperCustomNameTest, RejectsAStandardEventNameInAnyCase) {
  for (const char* name : {"order_created", "Order_Created", "PAGE_VIEWED",
                           "Lead_Created", "trial_started"}) {
    SCOPED_TRACE(name);
    EXPECT_THAT(Violations(CustomEvent(name)),
                ElementsAre(Issue("custom_event_name", "RESERVED")));
  }
}

TEST(EventMapperCustomNameTest, RejectsANameOnANonCustomEvent) {
  v1::Event event = ValidEvent();
  event.set_custom_event_name("quote_requested");
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("custom_event_name", "NOT_ALLOWED")));
}

TEST(EventMapperCustomNameTest, SendsTheNameLowerCased) {
  MappedEvent mapped = MapEvent(CustomEvent("Quote_Requested-V2"), kNowMs);
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(ParseJson(mapped.wire_json)["custom_event_name"],
            "quote_requested-v2");
}

// The dedup key uses the custom name in place of the event type (spec 7).
TEST(EventMapperCustomNameTest, UsesTheLowerCasedNameAsTheDedupName) {
  MappedEvent mapped = MapEvent(CustomEvent("Quote_Requested"), kNowMs);
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(mapped.event_name, "quote_requested");
}

TEST(EventMapperCustomNameTest, OmitsTheNameForStandardEvents) {
  EXPECT_FALSE(MapToJson(ValidEvent()).contains("custom_event_name"));
}

// --- oppref ---

TEST(EventMapperOpprefTest, SendsOpprefByteForByte) {
  v1::Event event = ValidEvent();
  event.set_oppref(" AbC%2Fx==\t");
  EXPECT_EQ(MapToJson(event)["oppref"], " AbC%2Fx==\t");
}

TEST(EventMapperOpprefTest, AcceptsOpprefOf1024Bytes) {
  v1::Event event = ValidEvent();
  event.set_oppref(std::string(1024, 'o'));
  EXPECT_THAT(Violations(event), IsEmpty());
}

TEST(EventMapperOpprefTest, RejectsOpprefOver1024Bytes) {
  v1::Event event = ValidEvent();
  event.set_oppref(std::string(1025, 'o'));
  EXPECT_THAT(Violations(event), ElementsAre(Issue("oppref", "TOO_LONG")));
}

TEST(EventMapperOpprefTest, RejectsOpprefThatIsNotUtf8) {
  v1::Event event = ValidEvent();
  event.set_oppref("\xC3");
  EXPECT_THAT(Violations(event), ElementsAre(Issue("oppref", "INVALID_UTF8")));
}

// Sent in clear: an email address put there by mistake is dropped with a
// warning that does not repeat it; the event is sent without it. An '@'
// that is no email address is the opaque value's own.
TEST(EventMapperOpprefTest, DropsAnOpprefThatIsAnEmailAddress) {
  v1::Event event = ValidEvent();
  event.set_oppref(" Jane.Doe@example.com");
  mapping::MappedEvent mapped = mapping::MapEvent(event, kNowMs);
  ASSERT_THAT(mapped.violations, IsEmpty());
  ASSERT_THAT(mapped.warnings, ElementsAre(Issue("oppref", "DROPPED_INVALID")));
  EXPECT_THAT(mapped.warnings[0].description, Not(HasSubstr("Jane")));
  EXPECT_FALSE(ParseJson(mapped.wire_json).contains("oppref"));

  event.set_oppref("ab@cd");
  EXPECT_EQ(MapToJson(event)["oppref"], "ab@cd");
}

TEST(EventMapperOpprefTest, OmitsAnEmptyOppref) {
  EXPECT_FALSE(MapToJson(ValidEvent()).contains("oppref"));
}

// --- action_source ---

TEST(EventMapperActionSourceTest, RequiresAnActionSource) {
  v1::Event event = ValidEvent();
  event.clear_action_source();
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("action_source", "REQUIRED")));
}

TEST(EventMapperActionSourceTest, RejectsAnUnknownEnumValue) {
  v1::Event event = ValidEvent();
  event.set_action_source(static_cast<v1::ActionSource>(42));
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("action_source", "INVALID_FORMAT")));
}

TEST(EventMapperActionSourceTest, RequiresMobileAppForAppInstalled) {
  v1::Event event = ValidEvent();
  event.set_type(v1::EVENT_TYPE_APP_INSTALLED);
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("action_source", "INVALID_FORMAT")));
}

TEST(EventMapperActionSourceTest, RequiresMobileAppForAppOpened) {
  v1::Event event = ValidEvent();
  event.set_type(v1::EVENT_TYPE_APP_OPENED);
  event.set_action_source(v1::ACTION_SOURCE_OTHER);
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("action_source", "INVALID_FORMAT")));
}

TEST(EventMapperActionSourceTest, AllowsMobileAppForOtherEvents) {
  v1::Event event = ValidEvent();
  event.set_type(v1::EVENT_TYPE_ORDER_CREATED);
  event.set_action_source(v1::ACTION_SOURCE_MOBILE_APP);
  EXPECT_THAT(Violations(event), IsEmpty());
}

TEST(EventMapperActionSourceTest, SendsEveryActionSourceByItsApiName) {
  const char* kNames[] = {
      "",           "web",   "mobile_app", "offline", "physical_store",
      "phone_call", "email", "other"};
  for (int i = 1; i <= 7; ++i) {
    v1::Event event = ValidEvent();
    event.set_action_source(static_cast<v1::ActionSource>(i));
    EXPECT_EQ(MapToJson(event)["action_source"], kNames[i]);
  }
}

// --- source_url ---

TEST(EventMapperSourceUrlTest, RequiresASourceUrlForWebEvents) {
  v1::Event event = ValidEvent();
  event.clear_source_url();
  EXPECT_THAT(Violations(event), ElementsAre(Issue("source_url", "REQUIRED")));
}

TEST(EventMapperSourceUrlTest, DoesNotRequireASourceUrlOffTheWeb) {
  v1::Event event = ValidEvent();
  event.clear_source_url();
  event.set_action_source(v1::ACTION_SOURCE_PHYSICAL_STORE);
  EXPECT_THAT(Violations(event), IsEmpty());
}

TEST(EventMapperSourceUrlTest, RejectsRelativeUrls) {
  for (const char* url : {"/checkout", "checkout/confirmation",
                          "//shop.example.com/checkout", "shop.example.com"}) {
    SCOPED_TRACE(url);
    v1::Event event = ValidEvent();
    event.set_source_url(url);
    EXPECT_THAT(Violations(event),
                ElementsAre(Issue("source_url", "INVALID_FORMAT")));
  }
}

TEST(EventMapperSourceUrlTest, RejectsSchemesOtherThanHttpAndHttps) {
  for (const char* url : {"ftp://files.example.com/a", "file:///etc/passwd",
                          "javascript:alert(1)", "android-app://com.example",
                          "mailto:a@example.com"}) {
    SCOPED_TRACE(url);
    v1::Event event = ValidEvent();
    event.set_source_url(url);
    EXPECT_THAT(Violations(event),
                ElementsAre(Issue("source_url", "INVALID_FORMAT")));
  }
}

TEST(EventMapperSourceUrlTest, RejectsUrlsWithoutAHost) {
  for (const char* url : {"https://", "https:///path", "https://:443/",
                          "https://user@/x", "https://[]/"}) {
    SCOPED_TRACE(url);
    v1::Event event = ValidEvent();
    event.set_source_url(url);
    EXPECT_THAT(Violations(event),
                ElementsAre(Issue("source_url", "INVALID_FORMAT")));
  }
}

TEST(EventMapperSourceUrlTest, RejectsWhiteSpaceAndBadPorts) {
  for (const char* url :
       {"https://shop.example.com/a b", " https://shop.example.com/",
        "https://shop.example.com:80a/"}) {
    SCOPED_TRACE(url);
    v1::Event event = ValidEvent();
    event.set_source_url(url);
    EXPECT_THAT(Violations(event),
                ElementsAre(Issue("source_url", "INVALID_FORMAT")));
  }
}

// A port is a number up to 65535, as URL parsers (WHATWG) read it.
TEST(EventMapperSourceUrlTest, RejectsPortsAbove65535) {
  for (const char* url :
       {"https://shop.example.com:65536/", "https://shop.example.com:99999/x",
        "https://shop.example.com:1234567/", "https://[::1]:70000/"}) {
    SCOPED_TRACE(url);
    v1::Event event = ValidEvent();
    event.set_source_url(url);
    std::vector<FieldIssue> violations = Violations(event);
    ASSERT_THAT(violations, ElementsAre(Issue("source_url", "INVALID_FORMAT")));
    EXPECT_EQ(violations[0].description, "source_url has a port above 65535");
  }
}

// User information ("user:password@" before the host) would carry a
// password to the API, and into the spool: refused, on the web and off it,
// with a message that does not repeat it.
TEST(EventMapperSourceUrlTest, RejectsUserInformation) {
  for (auto [url, source] :
       {std::pair{"https://user:pw@example.com/", v1::ACTION_SOURCE_WEB},
        std::pair{"http://token@example.com", v1::ACTION_SOURCE_WEB},
        std::pair{"myapp://user:pw@host/x", v1::ACTION_SOURCE_MOBILE_APP}}) {
    SCOPED_TRACE(url);
    v1::Event event = ValidEvent();
    event.set_action_source(source);
    event.set_source_url(url);
    std::vector<FieldIssue> violations = Violations(event);
    ASSERT_THAT(violations, ElementsAre(Issue("source_url", "INVALID_FORMAT")));
    EXPECT_THAT(violations[0].description,
                HasSubstr("must not carry user information"));
    EXPECT_THAT(violations[0].description, Not(HasSubstr("pw")));
  }
}

TEST(EventMapperSourceUrlTest, AcceptsAbsoluteHttpAndHttpsUrls) {
  for (const char* url :
       {"https://shop.example.com/checkout", "http://example.com",
        "HTTPS://Shop.Example.com/A?b=c#d", "https://example.com:8443/x",
        "https://[2001:db8::1]:443/x", "https://example.com:65535/",
        "https://example.com:/x", "https://example.com/a@b?c=d@e"}) {
    SCOPED_TRACE(url);
    v1::Event event = ValidEvent();
    event.set_source_url(url);
    EXPECT_THAT(Violations(event), IsEmpty());
    EXPECT_EQ(MapToJson(event)["source_url"], url);
  }
}

// An email address in the URL would reach the spool and the API in clear:
// it is replaced, with a warning that does not repeat it, and the event is
// sent.
TEST(EventMapperSourceUrlTest, RedactsEmailAddressesWithAWarning) {
  v1::Event event = ValidEvent();
  event.set_source_url(
      "https://shop.example.com/done?email=jane.doe%40example.com&o=1");
  mapping::MappedEvent mapped = mapping::MapEvent(event, kNowMs);
  ASSERT_THAT(mapped.violations, IsEmpty());
  ASSERT_THAT(mapped.warnings, ElementsAre(Issue("source_url", "REDACTED")));
  EXPECT_THAT(mapped.warnings[0].description, Not(HasSubstr("jane")));
  EXPECT_EQ(ParseJson(mapped.wire_json)["source_url"],
            "https://shop.example.com/done?email=redacted&o=1");
  EXPECT_EQ(mapped.wire_json.find("jane"), std::string::npos);
}

TEST(EventMapperSourceUrlTest, ChecksASourceUrlOffTheWebToo) {
  v1::Event event = ValidEvent();
  event.set_action_source(v1::ACTION_SOURCE_OFFLINE);
  event.set_source_url("/relative");
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("source_url", "INVALID_FORMAT")));
}

// Off the web the spec asks only for a scheme and a host: an app's deep
// link is a source URL; a relative or host-less one is not.
TEST(EventMapperSourceUrlTest, AcceptsADeepLinkForAnAppEvent) {
  for (const char* url :
       {"myapp://product/1", "com.example.shop://checkout?x=1",
        "android-app://com.example", "https://shop.example.com/a"}) {
    SCOPED_TRACE(url);
    v1::Event event = ValidEvent();
    event.set_action_source(v1::ACTION_SOURCE_MOBILE_APP);
    event.set_source_url(url);
    EXPECT_THAT(Violations(event), IsEmpty());
    EXPECT_EQ(MapToJson(event)["source_url"], url);
  }
  // An http(s) URL is checked as on the web: its port and brackets too.
  for (const char* url :
       {"myapp:/product", "myapp://", "1app://x", "my app://x", "://x",
        "myapp:///path", "myapp://:1", "https://shop.example.com:80a/",
        "https://[::1", "http://"}) {
    SCOPED_TRACE(url);
    v1::Event event = ValidEvent();
    event.set_action_source(v1::ACTION_SOURCE_MOBILE_APP);
    event.set_source_url(url);
    std::vector<FieldIssue> violations = Violations(event);
    ASSERT_THAT(violations, ElementsAre(Issue("source_url", "INVALID_FORMAT")));
    EXPECT_THAT(violations[0].description, HasSubstr("scheme and a host"));
  }
}

TEST(EventMapperSourceUrlTest, RejectsASourceUrlOver4096Bytes) {
  v1::Event event = ValidEvent();
  event.set_source_url("https://example.com/" + std::string(4077, 'p'));
  ASSERT_EQ(event.source_url().size(), 4097u);
  EXPECT_THAT(Violations(event), ElementsAre(Issue("source_url", "TOO_LONG")));
}

TEST(EventMapperSourceUrlTest, RejectsASourceUrlThatIsNotUtf8) {
  v1::Event event = ValidEvent();
  event.set_source_url("https://example.com/\xFF");
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("source_url", "INVALID_UTF8")));
}

// --- opt_out ---

TEST(EventMapperOptOutTest, SendsOptOutWhenTrue) {
  v1::Event event = ValidEvent();
  event.set_opt_out(true);
  nlohmann::json wire = MapToJson(event);
  ASSERT_TRUE(wire.contains("opt_out"));
  EXPECT_EQ(wire["opt_out"], true);
}

TEST(EventMapperOptOutTest, OmitsOptOutWhenFalse) {
  EXPECT_FALSE(MapToJson(ValidEvent()).contains("opt_out"));
}

// --- every violation at once ---

TEST(EventMapperTest, CollectsEveryViolationOfAnEvent) {
  v1::Event event = ValidEvent();
  event.clear_id();                                   // 1
  event.set_timestamp_ms(kNowMs - kSevenDaysMs - 1);  // 2
  event.clear_source_url();                           // 3: web needs it
  event.mutable_data()->set_amount(-100);             // 4: negative
  //                                                     5: and no currency
  MappedEvent mapped = MapEvent(event, kNowMs);
  EXPECT_THAT(mapped.violations,
              UnorderedElementsAre(Issue("id", "REQUIRED"),
                                   Issue("timestamp_ms", "OUT_OF_RANGE"),
                                   Issue("source_url", "REQUIRED"),
                                   Issue("data.amount", "OUT_OF_RANGE"),
                                   Issue("data.currency", "REQUIRED")));
  EXPECT_FALSE(mapped.ok());
}

TEST(EventMapperTest, WritesNoWireJsonForARejectedEvent) {
  v1::Event event = ValidEvent();
  event.clear_id();
  MappedEvent mapped = MapEvent(event, kNowMs);
  EXPECT_FALSE(mapped.ok());
  EXPECT_EQ(mapped.wire_json, "");
  EXPECT_EQ(mapped.event_name, "");
}

TEST(EventMapperTest, DescribesEveryViolation) {
  v1::Event event = ValidEvent();
  event.clear_id();
  event.clear_type();
  event.clear_action_source();
  for (const FieldIssue& issue : MapEvent(event, kNowMs).violations) {
    EXPECT_FALSE(issue.description.empty()) << issue.field;
  }
}

TEST(EventMapperTest, ClearsAReusedResult) {
  v1::Event bad = ValidEvent();
  bad.clear_id();
  bad.mutable_user()->add_emails("not an email");
  MappedEvent result;
  MapEvent(bad, kNowMs, &result);
  ASSERT_FALSE(result.ok());
  ASSERT_FALSE(result.warnings.empty());

  MapEvent(ValidEvent(), kNowMs, &result);
  EXPECT_TRUE(result.ok());
  EXPECT_THAT(result.warnings, IsEmpty());
  EXPECT_EQ(result.wire_json, MapEvent(ValidEvent(), kNowMs).wire_json);
  EXPECT_EQ(result.id, "evt_1");
}

TEST(EventMapperTest, MapsTheSameEventToTheSameBytes) {
  v1::Event event = ValidEvent();
  event.mutable_user()->add_emails("a@example.com");
  event.mutable_data()->add_contents()->set_id("x");
  EXPECT_EQ(MapEvent(event, kNowMs).wire_json,
            MapEvent(event, kNowMs).wire_json);
}

}  // namespace
}  // namespace conversions::mapping
