// One case per rule the sandbox enforces on POST /v1/events, each checked
// end to end over HTTP: the batch fails with 400, the message names the
// field, and nothing is recorded.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "tests/sandbox/sandbox_test_util.h"

namespace conversions::sandbox {
namespace {

using ::conversions::sandbox::testing::Batch;
using ::conversions::sandbox::testing::json;
using ::conversions::sandbox::testing::kEmailHash;
using ::conversions::sandbox::testing::kNowMs;
using ::conversions::sandbox::testing::MinimalEvent;
using ::conversions::sandbox::testing::SandboxTest;
using ::conversions::sandbox::testing::WebPurchase;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;

struct RuleCase {
  // Test name suffix.
  std::string name;
  // Breaks the request body {"events": [valid, valid]}; most cases break
  // events[1], so the message must name index 1.
  std::function<void(json& body)> mutate;
  // The field path the error message must name.
  std::string field;
};

json& Bad(json& body) { return body["events"][1]; }

std::vector<RuleCase> Cases() {
  return {
      // Request envelope.
      {"EventsMissing", [](json& b) { b.erase("events"); }, "events"},
      {"EventsNotArray", [](json& b) { b["events"] = json::object(); },
       "events"},
      {"EventsEmpty", [](json& b) { b["events"] = json::array(); }, "events"},
      {"EventsOverThousand",
       [](json& b) {
         b["events"] = json::array();
         for (int i = 0; i < 1001; ++i) {
           b["events"].push_back(MinimalEvent(std::to_string(i), "custom"));
         }
       },
       "events"},
      {"BodyUnknownKey", [](json& b) { b["partial_failure"] = true; },
       "partial_failure"},
      {"ValidateOnlyNotBool", [](json& b) { b["validate_only"] = "true"; },
       "validate_only"},
      {"IntegrationSourceBadFirstChar",
       [](json& b) { b["integration_source"] = "-bridge"; },
       "integration_source"},
      {"IntegrationSourceTooLong",
       [](json& b) { b["integration_source"] = std::string(65, 'a'); },
       "integration_source"},
      {"IntegrationSourceBadChar",
       [](json& b) { b["integration_source"] = "my bridge"; },
       "integration_source"},
      {"IntegrationSourceNotString",
       [](json& b) { b["integration_source"] = 7; }, "integration_source"},
      // Event keys.
      {"EventNotObject", [](json& b) { Bad(b) = "order"; }, "events[1]"},
      {"EventUnknownKey", [](json& b) { Bad(b)["event_name"] = "x"; },
       "events[1].event_name"},
      {"IdMissing", [](json& b) { Bad(b).erase("id"); }, "events[1].id"},
      {"IdEmpty", [](json& b) { Bad(b)["id"] = ""; }, "events[1].id"},
      {"IdNotString", [](json& b) { Bad(b)["id"] = 42; }, "events[1].id"},
      {"TypeMissing", [](json& b) { Bad(b).erase("type"); }, "events[1].type"},
      {"TypeUnknown", [](json& b) { Bad(b)["type"] = "purchase"; },
       "events[1].type"},
      {"TimestampMissing", [](json& b) { Bad(b).erase("timestamp_ms"); },
       "events[1].timestamp_ms"},
      {"TimestampNotInteger",
       [](json& b) { Bad(b)["timestamp_ms"] = 1773892800000.5; },
       "events[1].timestamp_ms"},
      {"TimestampString",
       [](json& b) { Bad(b)["timestamp_ms"] = std::to_string(kNowMs); },
       "events[1].timestamp_ms"},
      {"TimestampOlderThanSevenDays",
       [](json& b) { Bad(b)["timestamp_ms"] = kNowMs - 7 * kDayMs - 1; },
       "events[1].timestamp_ms"},
      {"TimestampInSeconds",
       [](json& b) { Bad(b)["timestamp_ms"] = kNowMs / 1000; },
       "events[1].timestamp_ms"},
      {"TimestampTooFarInFuture",
       [](json& b) { Bad(b)["timestamp_ms"] = kNowMs + 10 * 60 * 1000 + 1; },
       "events[1].timestamp_ms"},
      // custom_event_name.
      {"CustomNameMissing",
       [](json& b) {
         Bad(b) = MinimalEvent("c", "custom");
         Bad(b).erase("custom_event_name");
       },
       "events[1].custom_event_name"},
      {"CustomNameBadPattern",
       [](json& b) {
         Bad(b) = MinimalEvent("c", "custom");
         Bad(b)["custom_event_name"] = "_quote";
       },
       "events[1].custom_event_name"},
      {"CustomNameBadChar",
       [](json& b) {
         Bad(b) = MinimalEvent("c", "custom");
         Bad(b)["custom_event_name"] = "quote requested";
       },
       "events[1].custom_event_name"},
      {"CustomNameTooLong",
       [](json& b) {
         Bad(b) = MinimalEvent("c", "custom");
         Bad(b)["custom_event_name"] = std::string(65, 'q');
       },
       "events[1].custom_event_name"},
      {"CustomNameIsStandardName",
       [](json& b) {
         Bad(b) = MinimalEvent("c", "custom");
         Bad(b)["custom_event_name"] = "Order_Created";
       },
       "events[1].custom_event_name"},
      {"CustomNameOnStandardEvent",
       [](json& b) { Bad(b)["custom_event_name"] = "quote"; },
       "events[1].custom_event_name"},
      // action_source and source_url.
      {"ActionSourceUnknown", [](json& b) { Bad(b)["action_source"] = "app"; },
       "events[1].action_source"},
      {"AppEventNotMobileApp",
       [](json& b) {
         Bad(b) = MinimalEvent("a", "app_installed");
         Bad(b)["action_source"] = "web";
         Bad(b)["source_url"] = "https://example.com/";
       },
       "events[1].action_source"},
      {"AppEventWithoutActionSource",
       [](json& b) {
         Bad(b) = MinimalEvent("a", "app_opened");
         Bad(b).erase("action_source");
       },
       "events[1].action_source"},
      {"SourceUrlMissingForWeb", [](json& b) { Bad(b).erase("source_url"); },
       "events[1].source_url"},
      {"SourceUrlRelative", [](json& b) { Bad(b)["source_url"] = "/checkout"; },
       "events[1].source_url"},
      {"SourceUrlNotHttp",
       [](json& b) { Bad(b)["source_url"] = "ftp://shop.example.com/"; },
       "events[1].source_url"},
      {"SourceUrlNoHost", [](json& b) { Bad(b)["source_url"] = "https:///x"; },
       "events[1].source_url"},
      {"SourceUrlAppLinkWithoutHost",
       [](json& b) {
         Bad(b) = MinimalEvent("a", "app_opened");
         Bad(b)["source_url"] = "myapp:///product/1";
       },
       "events[1].source_url"},
      {"SourceUrlAppLinkBadScheme",
       [](json& b) {
         Bad(b) = MinimalEvent("a", "app_opened");
         Bad(b)["source_url"] = "1app://product/1";
       },
       "events[1].source_url"},
      {"OptOutNotBool", [](json& b) { Bad(b)["opt_out"] = "yes"; },
       "events[1].opt_out"},
      {"OpprefNotString", [](json& b) { Bad(b)["oppref"] = 5; },
       "events[1].oppref"},
      // data.
      {"DataMissing", [](json& b) { Bad(b).erase("data"); }, "events[1].data"},
      {"DataTypeMissing", [](json& b) { Bad(b)["data"].erase("type"); },
       "events[1].data.type"},
      {"DataTypeUnknown", [](json& b) { Bad(b)["data"]["type"] = "order"; },
       "events[1].data.type"},
      {"DataTypeMismatch",
       [](json& b) { Bad(b)["data"]["type"] = "customer_action"; },
       "events[1].data.type"},
      {"ContentsOnCustomerAction",
       [](json& b) {
         Bad(b) = MinimalEvent("l", "lead_created");
         Bad(b)["data"]["contents"] = json::array();
       },
       "events[1].data.contents"},
      {"PlanIdOnContents", [](json& b) { Bad(b)["data"]["plan_id"] = "pro"; },
       "events[1].data.plan_id"},
      {"PlanIdOnCustomerAction",
       [](json& b) {
         Bad(b) = MinimalEvent("l", "registration_completed");
         Bad(b)["data"]["plan_id"] = "pro";
       },
       "events[1].data.plan_id"},
      {"FreeFormKeyOnContents", [](json& b) { Bad(b)["data"]["coupon"] = "X"; },
       "events[1].data.coupon"},
      {"AmountWithoutCurrency",
       [](json& b) { Bad(b)["data"].erase("currency"); },
       "events[1].data.currency"},
      {"AmountNegative", [](json& b) { Bad(b)["data"]["amount"] = -1; },
       "events[1].data.amount"},
      {"AmountFloat", [](json& b) { Bad(b)["data"]["amount"] = 25.99; },
       "events[1].data.amount"},
      {"AmountString", [](json& b) { Bad(b)["data"]["amount"] = "2599"; },
       "events[1].data.amount"},
      {"CurrencyNotThreeLetters",
       [](json& b) { Bad(b)["data"]["currency"] = "US"; },
       "events[1].data.currency"},
      {"CurrencyUnknown", [](json& b) { Bad(b)["data"]["currency"] = "ABC"; },
       "events[1].data.currency"},
      {"ContentsNotArray",
       [](json& b) { Bad(b)["data"]["contents"] = json::object(); },
       "events[1].data.contents"},
      {"ContentQuantityZero",
       [](json& b) { Bad(b)["data"]["contents"][0]["quantity"] = 0; },
       "events[1].data.contents[0].quantity"},
      {"ContentQuantityString",
       [](json& b) { Bad(b)["data"]["contents"][0]["quantity"] = "1"; },
       "events[1].data.contents[0].quantity"},
      {"ContentAmountWithoutAnyCurrency",
       [](json& b) {
         Bad(b)["data"].erase("amount");
         Bad(b)["data"].erase("currency");
       },
       "events[1].data.contents[0].currency"},
      {"ContentCurrencyUnknown",
       [](json& b) { Bad(b)["data"]["contents"][0]["currency"] = "EURO"; },
       "events[1].data.contents[0].currency"},
      {"ContentUnknownKey",
       [](json& b) { Bad(b)["data"]["contents"][0]["price"] = 1; },
       "events[1].data.contents[0].price"},
      {"ContentTypeEmpty",
       [](json& b) { Bad(b)["data"]["contents"][0]["content_type"] = ""; },
       "events[1].data.contents[0].content_type"},
      {"VariantDictNotStrings",
       [](json& b) {
         Bad(b)["data"]["contents"][0]["variant_dict"] = {{"size", 42}};
       },
       "events[1].data.contents[0].variant_dict.size"},
      // user.
      {"UserNotObject", [](json& b) { Bad(b)["user"] = json::array(); },
       "events[1].user"},
      {"HashUppercase",
       [](json& b) {
         Bad(b)["user"]["emails_sha256"] =
             json::array({"B4C9A289323B21A01C3E940F150EB9B8C542587F1ABFD8F0E1CC"
                          "1FFC5E475514"});
       },
       "events[1].user.emails_sha256[0]"},
      {"HashWrongLength",
       [](json& b) {
         Bad(b)["user"]["phone_numbers_sha256"] =
             json::array({kEmailHash, std::string(63, 'a')});
       },
       "events[1].user.phone_numbers_sha256[1]"},
      {"HashListNotArray",
       [](json& b) { Bad(b)["user"]["external_ids_sha256"] = kEmailHash; },
       "events[1].user.external_ids_sha256"},
      {"RawEmail",
       [](json& b) { Bad(b)["user"]["email"] = "user@example.com"; },
       "events[1].user.email"},
      {"RawPhone", [](json& b) { Bad(b)["user"]["phone"] = "+14155552671"; },
       "events[1].user.phone"},
      {"RawFirstNames",
       [](json& b) { Bad(b)["user"]["first_names"] = json::array({"ada"}); },
       "events[1].user.first_names"},
      {"UserUnknownKey",
       [](json& b) { Bad(b)["user"]["email_sha256"] = kEmailHash; },
       "events[1].user.email_sha256"},
      {"RawListNotStrings",
       [](json& b) { Bad(b)["user"]["cities"] = json::array({1}); },
       "events[1].user.cities[0]"},
      {"UserAgentEmpty", [](json& b) { Bad(b)["user"]["user_agent"] = ""; },
       "events[1].user.user_agent"},
      {"ObrefBlank", [](json& b) { Bad(b)["user"]["obref"] = "  "; },
       "events[1].user.obref"},
      // Spec 5a: "a valid IPv4 or IPv6 address"; a GAID in UUID format.
      {"IpAddressNotAnAddress",
       [](json& b) { Bad(b)["user"]["ip_address"] = "not-an-ip"; },
       "events[1].user.ip_address"},
      {"IpAddressWithPort",
       [](json& b) { Bad(b)["user"]["ip_address"] = "203.0.113.1:8080"; },
       "events[1].user.ip_address"},
      {"IpAddressNotString", [](json& b) { Bad(b)["user"]["ip_address"] = 1; },
       "events[1].user.ip_address"},
      {"AdvertisingIdNotUuid",
       [](json& b) {
         Bad(b)["user"]["android_advertising_id"] =
             "38400000-8cf0-11bd-b23e-10b96e40000";
       },
       "events[1].user.android_advertising_id"},
      {"AdvertisingIdIdfaBraces",
       [](json& b) {
         Bad(b)["user"]["android_advertising_id"] =
             "{38400000-8cf0-11bd-b23e-10b96e40000d}";
       },
       "events[1].user.android_advertising_id"},
  };
}

class SandboxRuleTest : public SandboxTest,
                        public ::testing::WithParamInterface<RuleCase> {};

TEST_P(SandboxRuleTest, RejectsBatchNamingTheField) {
  json body = Batch({WebPurchase("good"), WebPurchase("bad")});
  GetParam().mutate(body);
  httplib::Result res = PostEvents(body);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 400) << res->body;
  EXPECT_EQ(BodyOf(res)["error"]["type"], "invalid_request_error");
  EXPECT_THAT(ErrorMessage(res), HasSubstr(GetParam().field + ": "));
  EXPECT_THAT(sandbox_->AcceptedEvents(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    Rules, SandboxRuleTest, ::testing::ValuesIn(Cases()),
    [](const ::testing::TestParamInfo<RuleCase>& param_info) {
      return param_info.param.name;
    });

}  // namespace
}  // namespace conversions::sandbox
