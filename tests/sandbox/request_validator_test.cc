#include "tests/sandbox/request_validator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/sandbox/sandbox_test_util.h"

namespace conversions::sandbox {
namespace {

using ::conversions::sandbox::testing::Batch;
using ::conversions::sandbox::testing::json;
using ::conversions::sandbox::testing::kNowMs;
using ::conversions::sandbox::testing::MinimalEvent;
using ::conversions::sandbox::testing::WebPurchase;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(RequestValidatorTest, ValidBatchYieldsDedupNames) {
  json custom = MinimalEvent("c", "custom");
  custom["custom_event_name"] = "Quote_Requested";
  BatchCheck check =
      ValidateEventsBody(Batch({WebPurchase("o"), custom}), kNowMs);
  EXPECT_THAT(check.violations, IsEmpty());
  EXPECT_FALSE(check.validate_only);
  EXPECT_THAT(check.event_names,
              ElementsAre("order_created", "quote_requested"));
}

TEST(RequestValidatorTest, CollectsEveryViolationInEventOrder) {
  json first = WebPurchase("a");
  first.erase("id");
  first["data"]["amount"] = -5;
  json second = WebPurchase("b");
  second["type"] = "purchase";
  BatchCheck check = ValidateEventsBody(Batch({first, second}), kNowMs);
  EXPECT_THAT(check.violations,
              ElementsAre(Field(&Violation::field, "events[0].id"),
                          Field(&Violation::field, "events[0].data.amount"),
                          Field(&Violation::field, "events[1].type")));
  EXPECT_THAT(check.event_names, IsEmpty());
}

TEST(RequestValidatorTest, TimestampWindowBoundsAreInclusive) {
  json oldest = WebPurchase("a");
  oldest["timestamp_ms"] = kNowMs - kMaxEventAgeMs;
  json newest = WebPurchase("b");
  newest["timestamp_ms"] = kNowMs + kMaxFutureSkewMs;
  EXPECT_TRUE(ValidateEventsBody(Batch({oldest, newest}), kNowMs).ok());
  oldest["timestamp_ms"] = kNowMs - kMaxEventAgeMs - 1;
  newest["timestamp_ms"] = kNowMs + kMaxFutureSkewMs + 1;
  EXPECT_THAT(ValidateEventsBody(Batch({oldest, newest}), kNowMs).violations,
              SizeIs(2));
}

TEST(RequestValidatorTest, ReadsValidateOnly) {
  json body = Batch({WebPurchase("a")});
  body["validate_only"] = true;
  EXPECT_TRUE(ValidateEventsBody(body, kNowMs).validate_only);
}

TEST(RequestValidatorTest, KnowsCommonCurrenciesInAnyCase) {
  for (const char* code : {"USD", "EUR", "GBP", "JPY", "KWD", "BHD", "CHF",
                           "CAD", "AUD", "INR", "BRL", "cny", "Sek"}) {
    EXPECT_TRUE(IsKnownCurrency(code)) << code;
  }
  for (const char* code : {"", "US", "USDD", "ABC", "U$D", "XXX"}) {
    EXPECT_FALSE(IsKnownCurrency(code)) << code;
  }
}

TEST(RequestValidatorTest, FormatViolationsCapsTheList) {
  std::vector<Violation> violations = {
      {"a", "one"}, {"b", "two"}, {"", "three"}};
  EXPECT_EQ(FormatViolations(violations), "a: one; b: two; three");
  EXPECT_EQ(FormatViolations(violations, 1), "a: one (and 2 more)");
}

}  // namespace
}  // namespace conversions::sandbox
