#include "mapping/event_types.h"

#include <array>

namespace conversions::mapping {
namespace {

struct EventTypeInfo {
  v1::EventType type;
  std::string_view name;
  DataType data_type;
};

constexpr std::array<EventTypeInfo, 13> kEventTypes = {{
    {v1::EVENT_TYPE_APP_INSTALLED, "app_installed", DataType::kCustomerAction},
    {v1::EVENT_TYPE_APP_OPENED, "app_opened", DataType::kCustomerAction},
    {v1::EVENT_TYPE_APPOINTMENT_SCHEDULED, "appointment_scheduled",
     DataType::kCustomerAction},
    {v1::EVENT_TYPE_CHECKOUT_STARTED, "checkout_started", DataType::kContents},
    {v1::EVENT_TYPE_CONTENTS_VIEWED, "contents_viewed", DataType::kContents},
    {v1::EVENT_TYPE_CUSTOM, "custom", DataType::kCustom},
    {v1::EVENT_TYPE_ITEMS_ADDED, "items_added", DataType::kContents},
    {v1::EVENT_TYPE_LEAD_CREATED, "lead_created", DataType::kCustomerAction},
    {v1::EVENT_TYPE_ORDER_CREATED, "order_created", DataType::kContents},
    {v1::EVENT_TYPE_PAGE_VIEWED, "page_viewed", DataType::kContents},
    {v1::EVENT_TYPE_REGISTRATION_COMPLETED, "registration_completed",
     DataType::kCustomerAction},
    {v1::EVENT_TYPE_SUBSCRIPTION_CREATED, "subscription_created",
     DataType::kPlanEnrollment},
    {v1::EVENT_TYPE_TRIAL_STARTED, "trial_started", DataType::kPlanEnrollment},
}};

constexpr std::array<std::string_view, 8> kActionSources = {
    "",           "web",   "mobile_app", "offline", "physical_store",
    "phone_call", "email", "other"};

// kEventTypes lists the types in enum order, 1 to 13, so that Find, which
// runs several times per event, is an index rather than a scan.
constexpr bool InEnumOrder() {
  for (size_t i = 0; i < kEventTypes.size(); ++i) {
    if (static_cast<size_t>(kEventTypes[i].type) != i + 1) return false;
  }
  return true;
}
static_assert(InEnumOrder(), "kEventTypes must be in enum order from 1");

const EventTypeInfo* Find(v1::EventType type) {
  auto index = static_cast<size_t>(type) - 1;  // wraps for 0 and below
  return index < kEventTypes.size() ? &kEventTypes[index] : nullptr;
}

}  // namespace

std::string_view EventTypeName(v1::EventType type) {
  const EventTypeInfo* info = Find(type);
  return info ? info->name : std::string_view();
}

std::optional<v1::EventType> EventTypeFromName(std::string_view name) {
  for (const auto& info : kEventTypes) {
    if (info.name == name) return info.type;
  }
  return std::nullopt;
}

DataType DataTypeOf(v1::EventType type) {
  const EventTypeInfo* info = Find(type);
  return info ? info->data_type : DataType::kCustom;
}

std::string_view DataTypeName(DataType type) {
  switch (type) {
    case DataType::kContents:
      return "contents";
    case DataType::kCustomerAction:
      return "customer_action";
    case DataType::kPlanEnrollment:
      return "plan_enrollment";
    case DataType::kCustom:
      return "custom";
  }
  return "custom";
}

std::string_view ActionSourceName(v1::ActionSource source) {
  int index = static_cast<int>(source);
  if (index <= 0 || index >= static_cast<int>(kActionSources.size())) {
    return {};
  }
  return kActionSources[index];
}

std::optional<v1::ActionSource> ActionSourceFromName(std::string_view name) {
  for (size_t i = 1; i < kActionSources.size(); ++i) {
    if (kActionSources[i] == name) return static_cast<v1::ActionSource>(i);
  }
  return std::nullopt;
}

bool IsAppEvent(v1::EventType type) {
  return type == v1::EVENT_TYPE_APP_INSTALLED ||
         type == v1::EVENT_TYPE_APP_OPENED;
}

}  // namespace conversions::mapping
