// The data object of MapEvent (spec section 3): amounts and currencies,
// contents, plan_id and custom properties, with every violation.
#include <gmock/gmock.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "mapping/event_mapper.h"
#include "mapping/event_types.h"
#include "tests/mapping/mapper_test_util.h"
#include "tests/mapping/test_util.h"

namespace conversions::mapping {
namespace {

using ::conversions::testing::Issue;
using ::conversions::testing::kNowMs;
using ::conversions::testing::MapToJson;
using ::conversions::testing::ParseJson;
using ::conversions::testing::ValidEvent;
using ::conversions::testing::ValidEventOfType;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

std::vector<FieldIssue> Violations(const v1::Event& event) {
  return MapEvent(event, kNowMs).violations;
}

// --- data: amounts and currencies ---

TEST(EventMapperDataTest, SendsAmountAndUpperCasedCurrency) {
  v1::Event event = ValidEvent();
  event.mutable_data()->set_amount(12999);
  event.mutable_data()->set_currency("usd");
  nlohmann::json data = MapToJson(event)["data"];
  EXPECT_EQ(data["amount"], 12999);
  EXPECT_EQ(data["currency"], "USD");
}

TEST(EventMapperDataTest, SendsAZeroAmount) {
  v1::Event event = ValidEvent();
  event.mutable_data()->set_amount(0);
  event.mutable_data()->set_currency("EUR");
  EXPECT_EQ(MapToJson(event)["data"]["amount"], 0);
}

TEST(EventMapperDataTest, OmitsAnUnsetAmount) {
  v1::Event event = ValidEvent();
  event.mutable_data()->set_currency("EUR");
  nlohmann::json data = MapToJson(event)["data"];
  EXPECT_FALSE(data.contains("amount"));
  EXPECT_EQ(data["currency"], "EUR");
}

TEST(EventMapperDataTest, RequiresACurrencyWithAnAmount) {
  v1::Event event = ValidEvent();
  event.mutable_data()->set_amount(100);
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("data.currency", "REQUIRED")));
}

TEST(EventMapperDataTest, RejectsAnInvalidCurrency) {
  for (const char* currency :
       {"US", "USDD", "XYZ", "12$", "u sd", "\xE2\x82\xAC"}) {
    SCOPED_TRACE(currency);
    v1::Event event = ValidEvent();
    event.mutable_data()->set_amount(100);
    event.mutable_data()->set_currency(currency);
    EXPECT_THAT(Violations(event),
                ElementsAre(Issue("data.currency", "INVALID_FORMAT")));
  }
}

TEST(EventMapperDataTest, RejectsAnInvalidCurrencyWithoutAnAmount) {
  v1::Event event = ValidEvent();
  event.mutable_data()->set_currency("ABC");
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("data.currency", "INVALID_FORMAT")));
}

// ISO 4217's codes without a minor unit are valid codes, but no amount can
// be given in minor units of them: the message says so, naming the code
// (never other text of the event).
TEST(EventMapperDataTest, SaysWhyACodeWithoutAMinorUnitIsRefused) {
  for (const char* currency : {"XAU", "xdr", "XXX"}) {
    SCOPED_TRACE(currency);
    v1::Event event = ValidEvent();
    event.mutable_data()->set_currency(currency);
    mapping::MappedEvent mapped = mapping::MapEvent(event, kNowMs);
    ASSERT_THAT(mapped.violations,
                ElementsAre(Issue("data.currency", "INVALID_FORMAT")));
    EXPECT_THAT(mapped.violations[0].description,
                ::testing::HasSubstr(
                    " is an ISO 4217 code without a minor unit (a precious "
                    "metal, a fund or test code, or no currency)"));
    EXPECT_THAT(mapped.violations[0].description,
                ::testing::StartsWith("data.currency X"));
  }
  v1::Event event = ValidEvent();
  event.mutable_data()->set_currency("ABC");
  EXPECT_EQ(mapping::MapEvent(event, kNowMs).violations.at(0).description,
            "data.currency is not an ISO 4217 currency code");
}

TEST(EventMapperDataTest, RejectsANegativeAmount) {
  v1::Event event = ValidEvent();
  event.mutable_data()->set_amount(-1);
  event.mutable_data()->set_currency("USD");
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("data.amount", "OUT_OF_RANGE")));
}

// Amounts and quantities stay in the range every JSON reader holds
// exactly (RFC 8259 section 6), as a tag event's already do.
TEST(EventMapperDataTest, RejectsAnAmountAbove2To53Less1) {
  v1::Event event = ValidEvent();
  event.mutable_data()->set_currency("USD");
  event.mutable_data()->set_amount(9007199254740991);
  EXPECT_THAT(Violations(event), IsEmpty());
  event.mutable_data()->set_amount(9007199254740992);
  std::vector<FieldIssue> violations = Violations(event);
  ASSERT_THAT(violations, ElementsAre(Issue("data.amount", "OUT_OF_RANGE")));
  EXPECT_THAT(violations[0].description,
              ::testing::StartsWith("data.amount must be at most 2^53 - 1"));
}

// --- data: contents ---

v1::Event EventWithContent(const std::string& content_text) {
  v1::Event event = ValidEvent();
  event.set_type(v1::EVENT_TYPE_ORDER_CREATED);
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      content_text, event.mutable_data()->add_contents()));
  return event;
}

TEST(EventMapperContentsTest, SendsEveryContentFieldInOrder) {
  v1::Event event = EventWithContent(R"pb(
    id: "sku_1"
    group_id: "grp"
    name: "Tee"
    content_type: "product"
    quantity: 2
    amount: 1999
    currency: "eur"
    variant { key: "size" value: "M" }
  )pb");
  MappedEvent mapped = MapEvent(event, kNowMs);
  ASSERT_TRUE(mapped.ok());
  EXPECT_THAT(
      mapped.wire_json,
      HasSubstr(R"("data":{"type":"contents","contents":[{"id":"sku_1",)"
                R"("group_id":"grp","name":"Tee","content_type":"product",)"
                R"("quantity":2,"amount":1999,"currency":"EUR",)"
                R"("variant_dict":{"size":"M"}}]})"));
}

TEST(EventMapperContentsTest, SendsAnEmptyContentAsAnEmptyObject) {
  v1::Event event = EventWithContent("");
  EXPECT_EQ(MapToJson(event)["data"]["contents"],
            nlohmann::json::parse("[{}]"));
}

TEST(EventMapperContentsTest, SortsVariantEntriesIntoVariantDict) {
  v1::Event event = EventWithContent(R"pb(
    variant { key: "size" value: "medium" }
    variant { key: "color" value: "blue" }
    variant { key: "Material" value: "cotton" }
    variant { key: "fit" value: "" }
  )pb");
  MappedEvent mapped = MapEvent(event, kNowMs);
  ASSERT_TRUE(mapped.ok());
  EXPECT_THAT(mapped.wire_json,
              HasSubstr(R"("variant_dict":{"Material":"cotton","color":"blue",)"
                        R"("fit":"","size":"medium"})"));
}

TEST(EventMapperContentsTest, RejectsContentsForEveryCustomerActionType) {
  for (v1::EventType type :
       {v1::EVENT_TYPE_APP_INSTALLED, v1::EVENT_TYPE_APP_OPENED,
        v1::EVENT_TYPE_APPOINTMENT_SCHEDULED, v1::EVENT_TYPE_LEAD_CREATED,
        v1::EVENT_TYPE_REGISTRATION_COMPLETED}) {
    SCOPED_TRACE(EventTypeName(type));
    v1::Event event = ValidEventOfType(type);
    event.mutable_data()->add_contents()->set_id("sku");
    EXPECT_THAT(Violations(event),
                ElementsAre(Issue("data.contents", "NOT_ALLOWED")));
  }
}

TEST(EventMapperContentsTest, AcceptsContentsForEveryOtherType) {
  for (v1::EventType type :
       {v1::EVENT_TYPE_CHECKOUT_STARTED, v1::EVENT_TYPE_CONTENTS_VIEWED,
        v1::EVENT_TYPE_CUSTOM, v1::EVENT_TYPE_ITEMS_ADDED,
        v1::EVENT_TYPE_ORDER_CREATED, v1::EVENT_TYPE_PAGE_VIEWED,
        v1::EVENT_TYPE_SUBSCRIPTION_CREATED, v1::EVENT_TYPE_TRIAL_STARTED}) {
    SCOPED_TRACE(EventTypeName(type));
    v1::Event event = ValidEventOfType(type);
    event.mutable_data()->add_contents()->set_id("sku");
    EXPECT_THAT(Violations(event), IsEmpty());
  }
}

TEST(EventMapperContentsTest, AcceptsTwoHundredFiftyItems) {
  v1::Event event = EventWithContent("id: \"a\"");
  for (int i = 1; i < 250; ++i) event.mutable_data()->add_contents();
  EXPECT_THAT(Violations(event), IsEmpty());
}

TEST(EventMapperContentsTest, RejectsMoreThanTwoHundredFiftyItems) {
  v1::Event event = EventWithContent("id: \"a\"");
  for (int i = 1; i < 251; ++i) event.mutable_data()->add_contents();
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("data.contents", "TOO_MANY")));
}

TEST(EventMapperContentsTest, RejectsZeroQuantity) {
  EXPECT_THAT(Violations(EventWithContent("quantity: 0")),
              ElementsAre(Issue("data.contents[0].quantity", "OUT_OF_RANGE")));
}

TEST(EventMapperContentsTest, RejectsNegativeQuantity) {
  EXPECT_THAT(Violations(EventWithContent("quantity: -3")),
              ElementsAre(Issue("data.contents[0].quantity", "OUT_OF_RANGE")));
}

TEST(EventMapperContentsTest, RejectsQuantitiesAndAmountsAbove2To53Less1) {
  EXPECT_THAT(Violations(EventWithContent(
                  "quantity: 9007199254740991 amount: 9007199254740991 "
                  "currency: \"USD\"")),
              IsEmpty());
  EXPECT_THAT(Violations(EventWithContent(
                  "quantity: 9223372036854775807 amount: 9007199254740992 "
                  "currency: \"USD\"")),
              ElementsAre(Issue("data.contents[0].quantity", "OUT_OF_RANGE"),
                          Issue("data.contents[0].amount", "OUT_OF_RANGE")));
}

TEST(EventMapperContentsTest, SendsQuantityAsAJsonInteger) {
  nlohmann::json wire = MapToJson(EventWithContent("quantity: 1"));
  EXPECT_TRUE(wire["data"]["contents"][0]["quantity"].is_number_integer());
}

TEST(EventMapperContentsTest, RejectsANegativeItemAmount) {
  EXPECT_THAT(Violations(EventWithContent("amount: -5 currency: \"USD\"")),
              ElementsAre(Issue("data.contents[0].amount", "OUT_OF_RANGE")));
}

TEST(EventMapperContentsTest, RejectsAnItemAmountWithoutAnyCurrency) {
  v1::Event event = EventWithContent("id: \"a\"");
  event.mutable_data()->add_contents()->set_amount(500);
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("data.contents[1].currency", "REQUIRED")));
}

TEST(EventMapperContentsTest, AcceptsAnItemAmountInTheEventCurrency) {
  v1::Event event = EventWithContent("amount: 500");
  event.mutable_data()->set_currency("USD");
  EXPECT_THAT(Violations(event), IsEmpty());
}

TEST(EventMapperContentsTest, AcceptsAnItemAmountWithItsOwnCurrency) {
  EXPECT_THAT(Violations(EventWithContent("amount: 500 currency: \"gbp\"")),
              IsEmpty());
}

TEST(EventMapperContentsTest, RejectsAnInvalidItemCurrency) {
  EXPECT_THAT(
      Violations(EventWithContent("currency: \"DOLLARS\"")),
      ElementsAre(Issue("data.contents[0].currency", "INVALID_FORMAT")));
}

TEST(EventMapperContentsTest, RejectsABlankContentType) {
  EXPECT_THAT(
      Violations(EventWithContent("content_type: \"  \"")),
      ElementsAre(Issue("data.contents[0].content_type", "INVALID_FORMAT")));
}

// As content_type: a content's id, group id or name of white space only
// (also Unicode's) is refused; an empty one is not set.
TEST(EventMapperContentsTest, RejectsBlankIdsGroupIdsAndNames) {
  EXPECT_THAT(Violations(EventWithContent(
                  "id: \" \" group_id: \"\\t\" name: \"\\302\\240\"")),
              ElementsAre(Issue("data.contents[0].id", "INVALID_FORMAT"),
                          Issue("data.contents[0].group_id", "INVALID_FORMAT"),
                          Issue("data.contents[0].name", "INVALID_FORMAT")));
  EXPECT_THAT(Violations(EventWithContent(
                  "id: \" a\" group_id: \"\" name: \"\\302\\240b\"")),
              IsEmpty());
}

// A content field or a plan id that is an email address would be sent
// and stored in clear: refused, as in custom properties. One with an '@'
// that is no address, or an address inside other text, is a value.
TEST(EventMapperContentsTest, RefusesEmailAddressesInClear) {
  std::vector<FieldIssue> violations = Violations(
      EventWithContent("id: \"Jane.Doe@example.com\" group_id: \" a@b.co\" "
                       "name: \"x@y.org\" content_type: \"p@q.net\""));
  ASSERT_THAT(
      violations,
      ElementsAre(Issue("data.contents[0].id", "NOT_ALLOWED"),
                  Issue("data.contents[0].group_id", "NOT_ALLOWED"),
                  Issue("data.contents[0].name", "NOT_ALLOWED"),
                  Issue("data.contents[0].content_type", "NOT_ALLOWED")));
  EXPECT_THAT(violations[0].description, Not(HasSubstr("Jane")));
  EXPECT_EQ(violations[0].description,
            "data.contents[0].id is an email address: clear-text identifiers "
            "are neither stored nor sent; an email address goes in "
            "user.emails, which the gateway hashes");
  EXPECT_THAT(Violations(EventWithContent(
                  "id: \"sku@2\" name: \"Gift card for jane@example.com\"")),
              IsEmpty());

  v1::Event plan = ValidEventOfType(v1::EVENT_TYPE_TRIAL_STARTED);
  plan.mutable_data()->set_plan_id("jane@example.com");
  EXPECT_THAT(Violations(plan),
              ElementsAre(Issue("data.plan_id", "NOT_ALLOWED")));
}

// An event's wire JSON is at most Limits::kEventWireBytes: 250 contents
// with every field at its cap pass, but not once JSON escapes (six bytes
// for a control character) take the encoding past 1 MiB.
TEST(EventMapperContentsTest, RefusesAnEventWhoseWireJsonIsOver1MiB) {
  v1::Event fits = ValidEvent();
  v1::Event escaped = ValidEvent();
  for (int i = 0; i < 250; ++i) {
    v1::Content* c = fits.mutable_data()->add_contents();
    c->set_id(std::string(256, 'i'));
    c->set_name(std::string(512, 'n'));
    c = escaped.mutable_data()->add_contents();
    c->set_id(std::string(256, '\x01'));
    c->set_name(std::string(512, '\x01'));
  }
  MappedEvent mapped = MapEvent(fits, kNowMs);
  EXPECT_TRUE(mapped.ok());
  EXPECT_LE(mapped.wire_json.size(), Limits::kEventWireBytes);
  mapped = MapEvent(escaped, kNowMs);
  ASSERT_THAT(mapped.violations,
              ElementsAre(Issue("data.contents", "TOO_LONG")));
  EXPECT_THAT(mapped.violations[0].description,
              HasSubstr("more than the 1048576 one event may take"));
  EXPECT_TRUE(mapped.wire_json.empty());
  EXPECT_TRUE(mapped.id.empty());
}

// The cap is inclusive: an event whose wire JSON is exactly 1 MiB is
// mapped, one byte more is refused. The bytes are made up with escapes: a
// control character takes six ("\u0001"), a quote two.
TEST(EventMapperContentsTest, TakesAWireJsonOfExactly1MiB) {
  v1::Event event = ValidEvent();
  for (int i = 0; i < 250; ++i) {
    v1::Content* c = event.mutable_data()->add_contents();
    c->set_id(std::string(256, 'i'));
    c->set_name(std::string(512, 'n'));
  }
  const size_t plain = MapEvent(event, kNowMs).wire_json.size();
  ASSERT_LT(plain, Limits::kEventWireBytes);
  // Each id's and name's characters, in turn, escaped until the JSON is
  // 1 MiB; the last name ends with an 'n' still.
  size_t missing = Limits::kEventWireBytes - plain;
  for (int i = 0; i < 250 && missing > 0; ++i) {
    v1::Content* c = event.mutable_data()->mutable_contents(i);
    for (std::string* text : {c->mutable_id(), c->mutable_name()}) {
      for (size_t k = 0; k + 1 < text->size() && missing > 0; ++k) {
        (*text)[k] = missing >= 5 ? '\x01' : '"';
        missing -= missing >= 5 ? 5 : 1;
      }
    }
  }
  ASSERT_EQ(missing, 0u);
  MappedEvent mapped = MapEvent(event, kNowMs);
  EXPECT_TRUE(mapped.ok()) << ::testing::PrintToString(mapped.violations);
  EXPECT_EQ(mapped.wire_json.size(), Limits::kEventWireBytes);
  // One more byte: an 'n' left in the last name becomes a quote.
  std::string* last =
      event.mutable_data()->mutable_contents(249)->mutable_name();
  ASSERT_EQ(last->back(), 'n');
  last->back() = '"';
  mapped = MapEvent(event, kNowMs);
  EXPECT_THAT(mapped.violations,
              ElementsAre(Issue("data.contents", "TOO_LONG")));
  EXPECT_THAT(mapped.violations.empty() ? "" : mapped.violations[0].description,
              HasSubstr("would be 1048577 bytes"));
}

// A value that is both too long and blank is reported once, for its length.
TEST(EventMapperContentsTest, ReportsAnOverlongBlankValueOnce) {
  v1::Event event = ValidEvent();
  v1::Content* c = event.mutable_data()->add_contents();
  c->set_id(std::string(257, ' '));
  c->set_content_type(std::string(129, ' '));
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("data.contents[0].id", "TOO_LONG"),
                          Issue("data.contents[0].content_type", "TOO_LONG")));
}

TEST(EventMapperContentsTest, RejectsOverlongContentFields) {
  v1::Event event = ValidEvent();
  v1::Content* c = event.mutable_data()->add_contents();
  c->set_id(std::string(257, 'i'));
  c->set_group_id(std::string(257, 'g'));
  c->set_name(std::string(64 * 1024 + 1, 'n'));
  c->set_content_type(std::string(129, 't'));
  EXPECT_THAT(
      Violations(event),
      UnorderedElementsAre(Issue("data.contents[0].id", "TOO_LONG"),
                           Issue("data.contents[0].group_id", "TOO_LONG"),
                           Issue("data.contents[0].name", "TOO_LONG"),
                           Issue("data.contents[0].content_type", "TOO_LONG")));
}

// A content name is description, not a key: one past 512 bytes (up to
// 64 KiB) is sent cut at a character boundary, with a warning, instead of
// costing the conversion.
TEST(EventMapperContentsTest, CutsAnOverlongContentNameAtACharacterBoundary) {
  v1::Event event = ValidEvent();
  v1::Content* c = event.mutable_data()->add_contents();
  c->set_id("sku");
  // 511 ASCII bytes, then "é" (2 bytes) straddles the 512-byte cap.
  c->set_name(std::string(511, 'n') + "\xC3\xA9tail");
  MappedEvent mapped = MapEvent(event, kNowMs);
  ASSERT_TRUE(mapped.ok()) << ::testing::PrintToString(mapped.violations);
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("data.contents[0].name", "TRUNCATED")));
  const nlohmann::json wire = ParseJson(mapped.wire_json);
  EXPECT_EQ(wire["data"]["contents"][0]["name"], std::string(511, 'n'));
}

TEST(EventMapperContentsTest, AcceptsContentFieldsAtTheirLimits) {
  v1::Event event = ValidEvent();
  v1::Content* c = event.mutable_data()->add_contents();
  c->set_id(std::string(256, 'i'));
  c->set_group_id(std::string(256, 'g'));
  c->set_name(std::string(512, 'n'));
  c->set_content_type(std::string(128, 't'));
  EXPECT_THAT(Violations(event), IsEmpty());
}

TEST(EventMapperContentsTest, RejectsAContentNameThatIsNotUtf8) {
  v1::Event event = EventWithContent("id: \"a\"");
  event.mutable_data()->mutable_contents(0)->set_name("caf\xC3");
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("data.contents[0].name", "INVALID_UTF8")));
}

TEST(EventMapperContentsTest, RejectsMoreThan32VariantEntries) {
  v1::Event event = EventWithContent("id: \"a\"");
  auto* variant = event.mutable_data()->mutable_contents(0)->mutable_variant();
  for (int i = 0; i < 33; ++i) (*variant)["k" + std::to_string(i)] = "v";
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("data.contents[0].variant", "TOO_MANY")));
}

// Protobuf maps iterate in no fixed order: the violations of map entries
// come in key order, whatever order the entries were added in.
TEST(EventMapperContentsTest, VariantViolationsComeInKeyOrder) {
  const std::vector<std::string> keys = {"zeta",  "alpha", "mid",  "beta",
                                         "omega", "kappa", "delta"};
  std::vector<std::vector<FieldIssue>> seen;
  for (bool reversed : {false, true}) {
    v1::Event event = EventWithContent("id: \"a\"");
    auto* variant =
        event.mutable_data()->mutable_contents(0)->mutable_variant();
    std::vector<std::string> order = keys;
    if (reversed) std::reverse(order.begin(), order.end());
    for (const std::string& key : order) (*variant)[key] = "caf\xC3";
    seen.push_back(Violations(event));
  }
  ASSERT_EQ(seen[0].size(), keys.size());
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_EQ(seen[0].front().field, "data.contents[0].variant[\"alpha\"]");
  EXPECT_EQ(seen[0].back().field, "data.contents[0].variant[\"zeta\"]");
}

TEST(EventMapperContentsTest, Accepts32VariantEntries) {
  v1::Event event = EventWithContent("id: \"a\"");
  auto* variant = event.mutable_data()->mutable_contents(0)->mutable_variant();
  for (int i = 0; i < 32; ++i) (*variant)["k" + std::to_string(i)] = "v";
  EXPECT_THAT(Violations(event), IsEmpty());
}

TEST(EventMapperContentsTest, RejectsAnEmptyVariantKey) {
  EXPECT_THAT(
      Violations(EventWithContent(R"pb(variant { key: "" value: "x" })pb")),
      ElementsAre(Issue("data.contents[0].variant[\"\"]", "INVALID_FORMAT")));
}

TEST(EventMapperContentsTest, RejectsAVariantKeyOver128Bytes) {
  v1::Event event = EventWithContent("id: \"a\"");
  std::string key(129, 'k');
  (*event.mutable_data()->mutable_contents(0)->mutable_variant())[key] = "v";
  std::vector<FieldIssue> violations = Violations(event);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].reason, "TOO_LONG");
  // The key is named by its first 64 characters, not repeated whole.
  const std::string shown =
      "data.contents[0].variant[\"" + std::string(64, 'k') + "...\"]";
  EXPECT_EQ(violations[0].field, shown);
  EXPECT_EQ(violations[0].description.find(key), std::string::npos);
}

TEST(EventMapperContentsTest, RejectsAVariantValueOver256Bytes) {
  v1::Event event = EventWithContent("id: \"a\"");
  (*event.mutable_data()->mutable_contents(0)->mutable_variant())["size"] =
      std::string(257, 'v');
  EXPECT_THAT(
      Violations(event),
      ElementsAre(Issue("data.contents[0].variant[\"size\"]", "TOO_LONG")));
}

// --- data: plan_id ---

TEST(EventMapperPlanIdTest, SendsPlanIdForSubscriptionTrialAndCustomEvents) {
  for (v1::EventType type :
       {v1::EVENT_TYPE_SUBSCRIPTION_CREATED, v1::EVENT_TYPE_TRIAL_STARTED,
        v1::EVENT_TYPE_CUSTOM}) {
    SCOPED_TRACE(EventTypeName(type));
    v1::Event event = ValidEventOfType(type);
    event.mutable_data()->set_plan_id("pro_monthly");
    EXPECT_EQ(MapToJson(event)["data"]["plan_id"], "pro_monthly");
  }
}

TEST(EventMapperPlanIdTest, RejectsPlanIdForEveryOtherType) {
  for (v1::EventType type :
       {v1::EVENT_TYPE_APP_INSTALLED, v1::EVENT_TYPE_APP_OPENED,
        v1::EVENT_TYPE_APPOINTMENT_SCHEDULED, v1::EVENT_TYPE_CHECKOUT_STARTED,
        v1::EVENT_TYPE_CONTENTS_VIEWED, v1::EVENT_TYPE_ITEMS_ADDED,
        v1::EVENT_TYPE_LEAD_CREATED, v1::EVENT_TYPE_ORDER_CREATED,
        v1::EVENT_TYPE_PAGE_VIEWED, v1::EVENT_TYPE_REGISTRATION_COMPLETED}) {
    SCOPED_TRACE(EventTypeName(type));
    v1::Event event = ValidEventOfType(type);
    event.mutable_data()->set_plan_id("pro_monthly");
    EXPECT_THAT(Violations(event),
                ElementsAre(Issue("data.plan_id", "NOT_ALLOWED")));
  }
}

TEST(EventMapperPlanIdTest, RejectsABlankPlanId) {
  v1::Event event = ValidEventOfType(v1::EVENT_TYPE_TRIAL_STARTED);
  event.mutable_data()->set_plan_id("   ");
  std::vector<FieldIssue> violations = Violations(event);
  ASSERT_THAT(violations, ElementsAre(Issue("data.plan_id", "INVALID_FORMAT")));
  EXPECT_EQ(violations[0].description, "data.plan_id must not be blank");
}

TEST(EventMapperPlanIdTest, RejectsAPlanIdOver256Bytes) {
  v1::Event event = ValidEventOfType(v1::EVENT_TYPE_TRIAL_STARTED);
  event.mutable_data()->set_plan_id(std::string(257, 'p'));
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("data.plan_id", "TOO_LONG")));
}

// --- data: custom properties ---

v1::Event CustomEventWithProperties(const std::string& struct_text) {
  v1::Event event = ValidEventOfType(v1::EVENT_TYPE_CUSTOM);
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      struct_text, event.mutable_data()->mutable_custom_properties()));
  return event;
}

TEST(EventMapperCustomPropertiesTest, ViolationsComeInKeyOrder) {
  const std::vector<std::string> keys = {"zeta",  "alpha", "mid",  "beta",
                                         "omega", "kappa", "delta"};
  std::vector<std::vector<FieldIssue>> seen;
  for (bool reversed : {false, true}) {
    v1::Event event = ValidEventOfType(v1::EVENT_TYPE_CUSTOM);
    auto* fields =
        event.mutable_data()->mutable_custom_properties()->mutable_fields();
    std::vector<std::string> order = keys;
    if (reversed) std::reverse(order.begin(), order.end());
    for (const std::string& key : order) {
      (*fields)[key].set_string_value("caf\xC3");
    }
    seen.push_back(Violations(event));
  }
  ASSERT_EQ(seen[0].size(), keys.size());
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_EQ(seen[0].front().field, "data.custom_properties.alpha");
  EXPECT_EQ(seen[0].back().field, "data.custom_properties.zeta");
}

TEST(EventMapperCustomPropertiesTest, SortsKeysAndWritesWholeNumbersAsInts) {
  v1::Event event = CustomEventWithProperties(R"pb(
    fields {
      key: "zeta"
      value { number_value: 3 }
    }
    fields {
      key: "alpha"
      value { number_value: 2.5 }
    }
    fields {
      key: "nested"
      value {
        struct_value {
          fields {
            key: "b"
            value { bool_value: false }
          }
          fields {
            key: "a"
            value { null_value: NULL_VALUE }
          }
          fields {
            key: "C"
            value { number_value: -7 }
          }
        }
      }
    }
    fields {
      key: "list"
      value {
        list_value {
          values { number_value: 2 }
          values { string_value: "x" }
          values {
            struct_value {
              fields {
                key: "y"
                value { number_value: 1e20 }
              }
              fields {
                key: "x"
                value { number_value: 1 }
              }
            }
          }
        }
      }
    }
  )pb");
  event.mutable_data()->set_plan_id("p");
  MappedEvent mapped = MapEvent(event, kNowMs);
  ASSERT_TRUE(mapped.ok());
  EXPECT_THAT(mapped.wire_json,
              HasSubstr(R"("data":{"type":"custom","plan_id":"p","alpha":2.5,)"
                        R"("list":[2,"x",{"x":1,"y":1e+20}],)"
                        R"("nested":{"C":-7,"a":null,"b":false},"zeta":3}})"));
  nlohmann::json data = ParseJson(mapped.wire_json)["data"];
  EXPECT_TRUE(data["zeta"].is_number_integer());
  EXPECT_TRUE(data["nested"]["C"].is_number_integer());
  EXPECT_EQ(data["list"][2]["y"].get<double>(), 1e20);
}

TEST(EventMapperCustomPropertiesTest, KeepsUnicodeKeysAndValues) {
  v1::Event event = CustomEventWithProperties(R"pb(
    fields {
      key: "größe"
      value { string_value: "Ștefănescu \"quoted\"" }
    }
  )pb");
  nlohmann::json data = MapToJson(event)["data"];
  EXPECT_EQ(data["größe"], "Ștefănescu \"quoted\"");
}

TEST(EventMapperCustomPropertiesTest, RejectsThemOnNonCustomEvents) {
  v1::Event event = ValidEvent();
  (*event.mutable_data()->mutable_custom_properties()->mutable_fields())["k"]
      .set_string_value("v");
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("data.custom_properties", "NOT_ALLOWED")));
}

TEST(EventMapperCustomPropertiesTest, IgnoresAnEmptyStructOnNonCustomEvents) {
  v1::Event event = ValidEvent();
  event.mutable_data()->mutable_custom_properties();
  EXPECT_THAT(Violations(event), IsEmpty());
}

TEST(EventMapperCustomPropertiesTest, RejectsEveryReservedKey) {
  for (const char* key : {"type", "amount", "currency", "contents", "plan_id",
                          "custom_event_name"}) {
    SCOPED_TRACE(key);
    v1::Event event = ValidEventOfType(v1::EVENT_TYPE_CUSTOM);
    (*event.mutable_data()->mutable_custom_properties()->mutable_fields())[key]
        .set_string_value("x");
    EXPECT_THAT(Violations(event),
                ElementsAre(Issue(std::string("data.custom_properties.") + key,
                                  "RESERVED")));
  }
}

TEST(EventMapperCustomPropertiesTest, AllowsKeysThatOnlyResembleReservedOnes) {
  v1::Event event = CustomEventWithProperties(R"pb(
    fields {
      key: "Type"
      value { string_value: "x" }
    }
    fields {
      key: "amount_usd"
      value { number_value: 1 }
    }
  )pb");
  EXPECT_THAT(Violations(event), IsEmpty());
}

// Nests `levels` objects, counting custom_properties itself as level 1.
v1::Event CustomEventNested(int levels) {
  v1::Event event = ValidEventOfType(v1::EVENT_TYPE_CUSTOM);
  google::protobuf::Struct* s =
      event.mutable_data()->mutable_custom_properties();
  for (int i = 1; i < levels; ++i) {
    s = (*s->mutable_fields())["n"].mutable_struct_value();
  }
  (*s->mutable_fields())["leaf"].set_number_value(1);
  return event;
}

TEST(EventMapperCustomPropertiesTest, AcceptsEightLevels) {
  EXPECT_THAT(Violations(CustomEventNested(8)), IsEmpty());
}

TEST(EventMapperCustomPropertiesTest, RejectsNineLevels) {
  std::vector<FieldIssue> violations = Violations(CustomEventNested(9));
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].reason, "TOO_LONG");
  EXPECT_THAT(violations[0].field,
              ::testing::StartsWith("data.custom_properties"));
}

TEST(EventMapperCustomPropertiesTest, CountsListsAsLevels) {
  v1::Event event = CustomEventNested(7);
  google::protobuf::Struct* s =
      event.mutable_data()->mutable_custom_properties();
  for (int i = 1; i < 7; ++i)
    s = (*s->mutable_fields())["n"].mutable_struct_value();
  // Level 8 is a list, level 9 a list inside it.
  auto* outer = (*s->mutable_fields())["l"].mutable_list_value();
  outer->add_values()->mutable_list_value()->add_values()->set_number_value(1);
  std::vector<FieldIssue> violations = Violations(event);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].reason, "TOO_LONG");
}

TEST(EventMapperCustomPropertiesTest, RejectsMoreThan16KiBOnceEncoded) {
  v1::Event event = ValidEventOfType(v1::EVENT_TYPE_CUSTOM);
  // {"k":"vvv..."} is 8 bytes plus the value.
  (*event.mutable_data()->mutable_custom_properties()->mutable_fields())["k"]
      .set_string_value(std::string(16 * 1024, 'v'));
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("data.custom_properties", "TOO_LONG")));
}

TEST(EventMapperCustomPropertiesTest, AcceptsExactly16KiBOnceEncoded) {
  v1::Event event = ValidEventOfType(v1::EVENT_TYPE_CUSTOM);
  (*event.mutable_data()->mutable_custom_properties()->mutable_fields())["k"]
      .set_string_value(std::string(16 * 1024 - 8, 'v'));
  EXPECT_THAT(Violations(event), IsEmpty());
}

TEST(EventMapperCustomPropertiesTest, RejectsAStringThatIsNotUtf8) {
  v1::Event event = ValidEventOfType(v1::EVENT_TYPE_CUSTOM);
  (*event.mutable_data()->mutable_custom_properties()->mutable_fields())["note"]
      .set_string_value("bad\xFF");
  EXPECT_THAT(
      Violations(event),
      ElementsAre(Issue("data.custom_properties.note", "INVALID_UTF8")));
}

TEST(EventMapperCustomPropertiesTest, RejectsNonFiniteNumbers) {
  v1::Event event = ValidEventOfType(v1::EVENT_TYPE_CUSTOM);
  (*event.mutable_data()->mutable_custom_properties()->mutable_fields())["x"]
      .set_number_value(std::nan(""));
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("data.custom_properties.x", "INVALID_FORMAT")));
}

TEST(EventMapperCustomPropertiesTest, RejectsAnEmptyKey) {
  v1::Event event = ValidEventOfType(v1::EVENT_TYPE_CUSTOM);
  (*event.mutable_data()->mutable_custom_properties()->mutable_fields())[""]
      .set_bool_value(true);
  EXPECT_THAT(Violations(event),
              ElementsAre(Issue("data.custom_properties", "INVALID_FORMAT")));
}

// Identifiers in clear must not reach the spool or the API by way of a
// custom property: an email address anywhere (lists and nested objects
// too), and a name or phone number under the keys the OpenAI plugin's
// validator forbids. The messages never repeat the value.
TEST(EventMapperCustomPropertiesTest, RejectsIdentifiersInClear) {
  v1::Event event = CustomEventWithProperties(R"pb(
    fields {
      key: "contact"
      value { string_value: " Jane.Doe@Example.com " }
    }
    fields {
      key: "First_Name"
      value { string_value: "Jane" }
    }
    fields {
      key: "phone"
      value { string_value: "+1 (415) 555-2671" }
    }
    fields {
      key: "nested"
      value { list_value { values { string_value: "ops@example.org" } } }
    }
  )pb");
  const std::vector<FieldIssue> violations = Violations(event);
  EXPECT_THAT(
      violations,
      ElementsAre(Issue("data.custom_properties.First_Name", "NOT_ALLOWED"),
                  Issue("data.custom_properties.contact", "NOT_ALLOWED"),
                  Issue("data.custom_properties.nested[0]", "NOT_ALLOWED"),
                  Issue("data.custom_properties.phone", "NOT_ALLOWED")));
  for (const FieldIssue& v : violations) {
    EXPECT_THAT(v.description, Not(HasSubstr("example")));
    EXPECT_THAT(v.description, Not(HasSubstr("Jane")));
    EXPECT_THAT(v.description, Not(HasSubstr("555")));
  }
}

// What only resembles an identifier stays: an '@' in other text, a name
// key with a blank value, a "phone" that is no phone number, a boolean.
TEST(EventMapperCustomPropertiesTest, KeepsValuesThatOnlyResembleIdentifiers) {
  v1::Event event = CustomEventWithProperties(R"pb(
    fields {
      key: "handle"
      value { string_value: "@jane" }
    }
    fields {
      key: "note"
      value { string_value: "meet @ 5pm at example.com" }
    }
    fields {
      key: "last_name"
      value { string_value: " " }
    }
    fields {
      key: "phone"
      value { string_value: "ios" }
    }
    fields {
      key: "email"
      value { bool_value: true }
    }
  )pb");
  EXPECT_THAT(Violations(event), IsEmpty());
}

}  // namespace
}  // namespace conversions::mapping
