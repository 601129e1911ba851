// Checks the RapidJSON fast path against the full nlohmann path: whatever
// the fast path accepts, the full path must accept too, with the same dedup
// names, ids, validate_only flag and event values; and the everyday valid
// bodies must take the fast path.
#include "tests/sandbox/accepted_batch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "tests/sandbox/request_validator.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace conversions::sandbox {
namespace {

using ::conversions::sandbox::testing::Batch;
using ::conversions::sandbox::testing::json;
using ::conversions::sandbox::testing::kEmailHash;
using ::conversions::sandbox::testing::kNowMs;
using ::conversions::sandbox::testing::MinimalEvent;
using ::conversions::sandbox::testing::WebPurchase;

// Runs both paths on `body`; fails the test if the fast path accepts what
// the full path rejects or reads it differently. Returns whether the fast
// path accepted.
bool FastPathAgrees(const std::string& body) {
  SCOPED_TRACE(body.size() < 400 ? body : body.substr(0, 400) + "...");
  std::optional<AcceptedBatch> fast = ParseAcceptedBatch(body, kNowMs);
  if (!fast.has_value()) return false;
  const json full = json::parse(body, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(full.is_discarded()) << "fast path parsed what nlohmann cannot";
  if (full.is_discarded()) return true;
  const BatchCheck check = ValidateEventsBody(full, kNowMs);
  EXPECT_TRUE(check.ok()) << FormatViolations(check.violations);
  if (!check.ok()) return true;
  EXPECT_EQ(fast->validate_only, check.validate_only);
  const json& events = full.at("events");
  EXPECT_EQ(fast->events.size(), events.size());
  for (size_t i = 0; i < fast->events.size() && i < events.size(); ++i) {
    EXPECT_EQ(fast->events[i].name, check.event_names[i]) << i;
    EXPECT_EQ(fast->events[i].id, events[i].at("id").get<std::string>()) << i;
    // dump() sorts keys and tells 1 from 1.0, so equal text means equal
    // values of equal types.
    const json recorded =
        json::parse(fast->events[i].json, nullptr, /*allow_exceptions=*/false);
    EXPECT_EQ(recorded.dump(), events[i].dump()) << i;
  }
  return true;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

// A valid one-event body whose custom data holds `value` (raw JSON text).
std::string CustomDataBody(const std::string& value) {
  json event = MinimalEvent("c", "custom");
  event["data"]["x"] = "@";
  return absl::StrReplaceAll(Batch({event}).dump(), {{"\"@\"", value}});
}

// A valid one-event body where `field` of the first content (a string
// field) is `value` (raw JSON text).
std::string ContentNameBody(const std::string& value) {
  json event = WebPurchase("o");
  event["data"]["contents"][0]["name"] = "@";
  return absl::StrReplaceAll(Batch({event}).dump(), {{"\"@\"", value}});
}

TEST(AcceptedBatchTest, TakesEverydayValidBodies) {
  std::vector<json> events = {WebPurchase("o-1")};
  for (const char* type :
       {"app_installed", "app_opened", "appointment_scheduled",
        "checkout_started", "contents_viewed", "custom", "items_added",
        "lead_created", "order_created", "page_viewed",
        "registration_completed", "subscription_created", "trial_started"}) {
    events.push_back(MinimalEvent(absl::StrCat("id-", type), type));
  }
  EXPECT_TRUE(FastPathAgrees(Batch(events).dump()));

  json body = Batch({WebPurchase("o-2")});
  body["validate_only"] = true;
  body["integration_source"] = " My.Bridge-1 ";
  EXPECT_TRUE(FastPathAgrees(body.dump()));
  EXPECT_TRUE(FastPathAgrees(body.dump(2)));

  json custom = MinimalEvent("c-1", "custom");
  custom["custom_event_name"] = "Quote_Requested";
  custom["data"]["plan_id"] = "pro";
  custom["data"]["score"] = 0.25;
  custom["data"]["tags"] = {"a", {{"b", nullptr}}, 3, -4, true};
  EXPECT_TRUE(FastPathAgrees(Batch({custom}).dump()));
}

TEST(AcceptedBatchTest, TakesEveryGoldenWireEvent) {
  std::vector<json> events;
  for (const char* name :
       {"app_install", "checkout_jpy", "custom_quote_requested",
        "items_added_kwd", "lead_unicode_names", "offline_order_with_drops",
        "page_view_prehashed", "phone_call_appointment",
        "subscription_pro_monthly", "trial_started_opt_out",
        "web_purchase_three_contents"}) {
    const std::string text = ReadFile(absl::StrCat(
        CONVERSIONS_TEST_DATA_DIR, "/golden/", name, ".wire.json"));
    ASSERT_FALSE(text.empty()) << name;
    events.push_back(json::parse(text));
  }
  EXPECT_TRUE(FastPathAgrees(Batch(events).dump()));
}

TEST(AcceptedBatchTest, NumbersRoundTripExactly) {
  for (const char* number : {"0",
                             "-0",
                             "1",
                             "-1",
                             "0.1",
                             "-0.0",
                             "1.5",
                             "1e3",
                             "1E-7",
                             "2.5e+10",
                             "123456.789",
                             "3.141592653589793238462643383279",
                             "5e-324",
                             "2.2250738585072014e-308",
                             "1.7976931348623157e308",
                             "1e-400",
                             "9007199254740993",
                             "9223372036854775807",
                             "9223372036854775808",
                             "18446744073709551615",
                             "18446744073709551616",
                             "-9223372036854775808",
                             "-9223372036854775809",
                             "100000000000000000000000000000",
                             "0.30000000000000004"}) {
    EXPECT_TRUE(FastPathAgrees(CustomDataBody(number))) << number;
  }
}

TEST(AcceptedBatchTest, IntegerRulesMatchForEveryNumberForm) {
  for (const char* number :
       {"1", "0", "-0", "1.0", "1e0", "2599", "-1", "9223372036854775807",
        "9223372036854775808", "1e400", "-1e400"}) {
    json event = WebPurchase("o");
    event["data"]["contents"][0]["quantity"] = "@q";
    event["data"]["contents"][0]["amount"] = "@a";
    event["timestamp_ms"] = "@t";
    std::string body = Batch({event}).dump();
    FastPathAgrees(
        absl::StrReplaceAll(body, {{"\"@q\"", number},
                                   {"\"@a\"", "1"},
                                   {"\"@t\"", std::to_string(kNowMs)}}));
    FastPathAgrees(
        absl::StrReplaceAll(body, {{"\"@q\"", "1"},
                                   {"\"@a\"", number},
                                   {"\"@t\"", std::to_string(kNowMs)}}));
    FastPathAgrees(absl::StrReplaceAll(
        body, {{"\"@q\"", "1"}, {"\"@a\"", "1"}, {"\"@t\"", number}}));
  }
  // A timestamp written as a float is not an integer, even when whole.
  json event = WebPurchase("o");
  event["timestamp_ms"] = static_cast<double>(kNowMs);
  EXPECT_FALSE(FastPathAgrees(Batch({event}).dump()));
}

TEST(AcceptedBatchTest, StringsNlohmannRejectsAreNotAccepted) {
  for (const char* raw : {
           "\"\xff\"",              // not UTF-8
           "\"\xc0\x80\"",          // overlong NUL
           "\"\xe0\x80\xaf\"",      // overlong '/'
           "\"\xed\xa0\x80\"",      // encoded surrogate
           "\"\xf4\x90\x80\x80\"",  // above U+10FFFF
           "\"\xe2\x82\"",          // truncated
           "\"\x80\"",              // lone continuation byte
           "\"\\udc00\"",           // lone low surrogate
           "\"\\ud800\"",           // lone high surrogate
           "\"\\ud800\\u0041\"",    // high surrogate, then no low one
           "\"\\udc00\\ud800\"",    // reversed pair
           "\"a\tb\"",              // unescaped control character
           "\"\\x41\"",             // unknown escape
           "'single'",              // not JSON
       }) {
    EXPECT_FALSE(FastPathAgrees(ContentNameBody(raw))) << raw;
  }
}

TEST(AcceptedBatchTest, StringsBothAcceptRoundTrip) {
  for (const char* raw : {
           "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",  // raw UTF-8
           "\"\\u00e9\\u20ac\"",                             // escaped BMP
           "\"\\ud83d\\ude00\"",                             // escaped pair
           "\"\\\\udc00\"",    // a backslash, then text
           "\"\\u0000 nul\"",  // escaped NUL
           "\"\\\"\\/\\b\\f\\n\\r\\t\"",
           "\"\x7f\"",
       }) {
    FastPathAgrees(ContentNameBody(raw));
  }
  EXPECT_TRUE(FastPathAgrees(ContentNameBody("\"caf\xc3\xa9\"")));
  EXPECT_TRUE(FastPathAgrees(ContentNameBody("\"\\u00e9\\t\"")));
}

// Every control character, escaped in the body, is escaped again in the
// recorded event, wherever it falls in a 16-byte block: RapidJSON 1.1.0's
// SIMD writer left 0x1A - 0x1F raw in aligned blocks, and an event id
// holding one made GET /_sandbox/events answer 500 from then on.
TEST(AcceptedBatchTest, ControlCharactersAreEscapedAtEveryOffset) {
  for (int c = 0; c < 0x20; ++c) {
    for (int offset = 0; offset < 32; ++offset) {
      const std::string value = absl::StrCat("\"", std::string(offset, 'a'),
                                             absl::StrFormat("\\u%04x", c),
                                             std::string(40, 'b'), "\"");
      json event = MinimalEvent("@", "order_created");
      const std::string body =
          absl::StrReplaceAll(Batch({event}).dump(), {{"\"@\"", value}});
      EXPECT_TRUE(FastPathAgrees(body)) << c << " at " << offset;
      EXPECT_TRUE(FastPathAgrees(ContentNameBody(value)))
          << c << " at " << offset;
    }
  }
}

TEST(AcceptedBatchTest, DocumentsNlohmannRejectsAreNotAccepted) {
  const std::string valid = Batch({WebPurchase("o")}).dump();
  for (const std::string& body : {
           std::string(""),
           std::string("   "),
           valid + "x",
           valid + ",",
           valid + valid,
           valid + std::string("\0", 1),
           valid + std::string("\0garbage", 8),
           valid.substr(0, valid.size() - 1),
           std::string("/* c */") + valid,
           absl::StrReplaceAll(valid, {{"2599", "NaN"}}),
           absl::StrReplaceAll(valid, {{"2599", "Infinity"}}),
           absl::StrReplaceAll(valid, {{"2599", "02599"}}),
           absl::StrReplaceAll(valid, {{"2599", "+2599"}}),
           absl::StrReplaceAll(valid, {{"2599", "2599."}}),
           absl::StrReplaceAll(valid, {{"2599", ".5"}}),
           absl::StrReplaceAll(valid, {{"2599", "1e"}}),
           absl::StrReplaceAll(valid, {{"2599", "-"}}),
           absl::StrReplaceAll(valid, {{"]}", "],}"}}),
           absl::StrReplaceAll(valid, {{"\"web\"", "web"}}),
       }) {
    EXPECT_NE(body, valid);
    EXPECT_FALSE(FastPathAgrees(body));
  }
  // Whitespace nlohmann skips, and a byte order mark it skips too (the fast
  // path leaves that body to the full path).
  EXPECT_TRUE(FastPathAgrees(" \t\r\n" + valid + " \n"));
  FastPathAgrees("\xEF\xBB\xBF" + valid);
}

TEST(AcceptedBatchTest, RepeatedKeysAreReadAsNlohmannReadsThem) {
  // nlohmann keeps the last copy of a repeated key; where that decides the
  // outcome or the dedup key, the fast path must not pick the first.
  const std::string valid = Batch({WebPurchase("o")}).dump();
  for (const std::string& body : {
           // Body level.
           absl::StrCat("{\"validate_only\":true,\"validate_only\":false,",
                        valid.substr(1)),
           absl::StrCat("{\"validate_only\":1,\"validate_only\":false,",
                        valid.substr(1)),
           absl::StrCat("{\"events\":[],", valid.substr(1)),
           // Event level: the id decides the dedup key.
           absl::StrReplaceAll(valid,
                               {{"\"id\":\"o\"", "\"id\":\"o\",\"id\":\"p\""}}),
           absl::StrReplaceAll(valid,
                               {{"\"id\":\"o\"", "\"id\":\"o\",\"id\":7"}}),
           absl::StrReplaceAll(
               valid, {{"\"type\":\"order_created\"",
                        "\"type\":\"order_created\",\"type\":\"lead\""}}),
           // Data level.
           absl::StrReplaceAll(valid,
                               {{"\"type\":\"contents\"",
                                 "\"type\":\"contents\",\"type\":\"custom\""}}),
           absl::StrReplaceAll(valid,
                               {{"\"currency\":\"USD\"",
                                 "\"currency\":\"USD\",\"currency\":\"usd\""}}),
           // User level.
           absl::StrReplaceAll(
               valid, {{"\"countries\":[\"US\"]",
                        "\"countries\":[\"US\"],\"countries\":[\"CA\"]"}}),
           absl::StrReplaceAll(valid,
                               {{"\"countries\":[\"US\"]",
                                 "\"countries\":[\"US\"],\"countries\":[1]"}}),
           // Content level.
           absl::StrReplaceAll(
               valid, {{"\"quantity\":1", "\"quantity\":1,\"quantity\":0"}}),
           absl::StrReplaceAll(
               valid, {{"\"quantity\":1", "\"quantity\":1,\"quantity\":2"}}),
       }) {
    FastPathAgrees(body);
  }
  // Inside custom data a repeated key is recorded; reading it back keeps the
  // last copy, as before.
  EXPECT_TRUE(FastPathAgrees(CustomDataBody("{\"k\":1,\"k\":2}")));
}

TEST(AcceptedBatchTest, DeepNestingDoesNotExhaustTheStack) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  json body = Batch({WebPurchase("o")});
  body["deep"] = "@";
  EXPECT_FALSE(
      FastPathAgrees(absl::StrReplaceAll(body.dump(), {{"\"@\"", deep}})));
  // Valid custom data nested past the fast path's depth limit goes to the
  // full path; below it, the fast path records it.
  EXPECT_FALSE(FastPathAgrees(
      CustomDataBody(std::string(300, '[') + std::string(300, ']'))));
  EXPECT_TRUE(FastPathAgrees(
      CustomDataBody(std::string(200, '[') + std::string(200, ']'))));
}

TEST(AcceptedBatchTest, ReusedParserReadsEachBodyAfresh) {
  // 1,000 purchases with a long free-form custom property outgrow the
  // parser's first tree pool (1 MB), so the second call starts from a grown
  // one; small and rejected bodies in between must leave nothing behind.
  std::vector<json> big;
  for (int i = 0; i < 1000; ++i) {
    json event = MinimalEvent(absl::StrCat("big-", i), "custom");
    event["data"]["list"] = json::array();
    for (int k = 0; k < 100; ++k) event["data"]["list"].push_back(k);
    big.push_back(std::move(event));
  }
  const std::string big_body = Batch(big).dump();
  const std::string small_body = Batch({WebPurchase("small")}).dump();
  BatchParser parser;
  for (int round = 0; round < 3; ++round) {
    std::optional<AcceptedBatch> batch = parser.Parse(big_body, kNowMs);
    ASSERT_TRUE(batch.has_value());
    ASSERT_EQ(batch->events.size(), 1000u);
    EXPECT_EQ(batch->events[999].id, "big-999");
    EXPECT_EQ(json::parse(batch->events[999].json), big[999]);
    EXPECT_FALSE(parser.Parse("{\"events\": [", kNowMs).has_value());
    batch = parser.Parse(small_body, kNowMs, /*with_json=*/false);
    ASSERT_TRUE(batch.has_value());
    ASSERT_EQ(batch->events.size(), 1u);
    EXPECT_EQ(batch->events[0].id, "small");
    EXPECT_EQ(batch->events[0].name, "order_created");
    EXPECT_TRUE(batch->events[0].json.empty());
  }
}

TEST(AcceptedBatchTest, BrokenRulesAreLeftToTheFullPath) {
  json web = WebPurchase("o");
  web.erase("source_url");
  json app = MinimalEvent("a", "app_opened");
  app.erase("action_source");
  json custom = MinimalEvent("c", "custom");
  custom["custom_event_name"] = "Order_Created";
  json user = WebPurchase("u");
  user["user"]["email"] = "user@example.com";
  json hash = WebPurchase("h");
  hash["user"]["emails_sha256"] =
      json::array({absl::AsciiStrToUpper(kEmailHash)});
  json currency = WebPurchase("m");
  currency["data"].erase("currency");
  json old = WebPurchase("t");
  old["timestamp_ms"] = kNowMs - kMaxEventAgeMs - 1;
  json ip = WebPurchase("i");
  ip["user"]["ip_address"] = "not-an-ip";
  json gaid = WebPurchase("g");
  gaid["user"]["android_advertising_id"] = "not-a-uuid";
  for (const json& event :
       {web, app, custom, user, hash, currency, old, ip, gaid}) {
    EXPECT_FALSE(FastPathAgrees(Batch({WebPurchase("ok"), event}).dump()))
        << event.dump();
  }
}

}  // namespace
}  // namespace conversions::sandbox
