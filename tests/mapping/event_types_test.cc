#include "mapping/event_types.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace conversions::mapping {
namespace {

TEST(EventTypeNameTest, NamesEveryEventTypeAsTheApiDoes) {
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_APP_INSTALLED), "app_installed");
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_APP_OPENED), "app_opened");
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_APPOINTMENT_SCHEDULED),
            "appointment_scheduled");
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_CHECKOUT_STARTED), "checkout_started");
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_CONTENTS_VIEWED), "contents_viewed");
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_CUSTOM), "custom");
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_ITEMS_ADDED), "items_added");
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_LEAD_CREATED), "lead_created");
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_ORDER_CREATED), "order_created");
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_PAGE_VIEWED), "page_viewed");
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_REGISTRATION_COMPLETED),
            "registration_completed");
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_SUBSCRIPTION_CREATED),
            "subscription_created");
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_TRIAL_STARTED), "trial_started");
}

TEST(EventTypeNameTest, GivesNoNameForUnspecifiedOrUnknownTypes) {
  EXPECT_EQ(EventTypeName(v1::EVENT_TYPE_UNSPECIFIED), "");
  EXPECT_EQ(EventTypeName(static_cast<v1::EventType>(99)), "");
}

TEST(EventTypeFromNameTest, RoundTripsEveryEventType) {
  std::set<std::string_view> names;
  for (int i = 1; i <= 13; ++i) {
    auto type = static_cast<v1::EventType>(i);
    std::string_view name = EventTypeName(type);
    names.insert(name);
    EXPECT_EQ(EventTypeFromName(name), type) << name;
  }
  EXPECT_EQ(names.size(), 13u);
}

TEST(EventTypeFromNameTest, MatchesOnlyTheExactLowerCaseName) {
  EXPECT_EQ(EventTypeFromName("Order_Created"), std::nullopt);
  EXPECT_EQ(EventTypeFromName("order_created "), std::nullopt);
  EXPECT_EQ(EventTypeFromName("purchase"), std::nullopt);
  EXPECT_EQ(EventTypeFromName(""), std::nullopt);
}

TEST(DataTypeOfTest, FollowsTheSpecTable) {
  EXPECT_EQ(DataTypeOf(v1::EVENT_TYPE_APP_INSTALLED),
            DataType::kCustomerAction);
  EXPECT_EQ(DataTypeOf(v1::EVENT_TYPE_APP_OPENED), DataType::kCustomerAction);
  EXPECT_EQ(DataTypeOf(v1::EVENT_TYPE_APPOINTMENT_SCHEDULED),
            DataType::kCustomerAction);
  EXPECT_EQ(DataTypeOf(v1::EVENT_TYPE_CHECKOUT_STARTED), DataType::kContents);
  EXPECT_EQ(DataTypeOf(v1::EVENT_TYPE_CONTENTS_VIEWED), DataType::kContents);
  EXPECT_EQ(DataTypeOf(v1::EVENT_TYPE_CUSTOM), DataType::kCustom);
  EXPECT_EQ(DataTypeOf(v1::EVENT_TYPE_ITEMS_ADDED), DataType::kContents);
  EXPECT_EQ(DataTypeOf(v1::EVENT_TYPE_LEAD_CREATED), DataType::kCustomerAction);
  EXPECT_EQ(DataTypeOf(v1::EVENT_TYPE_ORDER_CREATED), DataType::kContents);
  EXPECT_EQ(DataTypeOf(v1::EVENT_TYPE_PAGE_VIEWED), DataType::kContents);
  EXPECT_EQ(DataTypeOf(v1::EVENT_TYPE_REGISTRATION_COMPLETED),
            DataType::kCustomerAction);
  EXPECT_EQ(DataTypeOf(v1::EVENT_TYPE_SUBSCRIPTION_CREATED),
            DataType::kPlanEnrollment);
  EXPECT_EQ(DataTypeOf(v1::EVENT_TYPE_TRIAL_STARTED),
            DataType::kPlanEnrollment);
}

TEST(DataTypeNameTest, NamesEveryShapeAsTheApiDoes) {
  EXPECT_EQ(DataTypeName(DataType::kContents), "contents");
  EXPECT_EQ(DataTypeName(DataType::kCustomerAction), "customer_action");
  EXPECT_EQ(DataTypeName(DataType::kPlanEnrollment), "plan_enrollment");
  EXPECT_EQ(DataTypeName(DataType::kCustom), "custom");
}

TEST(ActionSourceNameTest, NamesEveryActionSourceAsTheApiDoes) {
  EXPECT_EQ(ActionSourceName(v1::ACTION_SOURCE_WEB), "web");
  EXPECT_EQ(ActionSourceName(v1::ACTION_SOURCE_MOBILE_APP), "mobile_app");
  EXPECT_EQ(ActionSourceName(v1::ACTION_SOURCE_OFFLINE), "offline");
  EXPECT_EQ(ActionSourceName(v1::ACTION_SOURCE_PHYSICAL_STORE),
            "physical_store");
  EXPECT_EQ(ActionSourceName(v1::ACTION_SOURCE_PHONE_CALL), "phone_call");
  EXPECT_EQ(ActionSourceName(v1::ACTION_SOURCE_EMAIL), "email");
  EXPECT_EQ(ActionSourceName(v1::ACTION_SOURCE_OTHER), "other");
}

TEST(ActionSourceNameTest, GivesNoNameForUnspecifiedOrUnknownSources) {
  EXPECT_EQ(ActionSourceName(v1::ACTION_SOURCE_UNSPECIFIED), "");
  EXPECT_EQ(ActionSourceName(static_cast<v1::ActionSource>(8)), "");
  EXPECT_EQ(ActionSourceName(static_cast<v1::ActionSource>(-1)), "");
}

TEST(ActionSourceFromNameTest, RoundTripsEveryActionSource) {
  for (int i = 1; i <= 7; ++i) {
    auto source = static_cast<v1::ActionSource>(i);
    EXPECT_EQ(ActionSourceFromName(ActionSourceName(source)), source);
  }
  EXPECT_EQ(ActionSourceFromName("WEB"), std::nullopt);
  EXPECT_EQ(ActionSourceFromName(""), std::nullopt);
}

TEST(IsAppEventTest, IsTrueOnlyForAppInstalledAndAppOpened) {
  for (int i = 0; i <= 13; ++i) {
    auto type = static_cast<v1::EventType>(i);
    EXPECT_EQ(IsAppEvent(type), type == v1::EVENT_TYPE_APP_INSTALLED ||
                                    type == v1::EVENT_TYPE_APP_OPENED)
        << i;
  }
}

TEST(AllowsContentsTest, RejectsContentsOnlyForCustomerAction) {
  EXPECT_TRUE(AllowsContents(DataType::kContents));
  EXPECT_TRUE(AllowsContents(DataType::kPlanEnrollment));
  EXPECT_TRUE(AllowsContents(DataType::kCustom));
  EXPECT_FALSE(AllowsContents(DataType::kCustomerAction));
}

TEST(AllowsPlanIdTest, AllowsPlanIdOnlyForPlanEnrollmentAndCustom) {
  EXPECT_TRUE(AllowsPlanId(DataType::kPlanEnrollment));
  EXPECT_TRUE(AllowsPlanId(DataType::kCustom));
  EXPECT_FALSE(AllowsPlanId(DataType::kContents));
  EXPECT_FALSE(AllowsPlanId(DataType::kCustomerAction));
}

}  // namespace
}  // namespace conversions::mapping
