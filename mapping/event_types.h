// Event types, data shapes and action sources: their wire names and rules.
#ifndef CONVERSIONS_MAPPING_EVENT_TYPES_H_
#define CONVERSIONS_MAPPING_EVENT_TYPES_H_

#include <optional>
#include <string_view>

#include "conversions/v1/event.pb.h"

namespace conversions::mapping {

// The shape of an event's `data` object, fixed by its event type.
enum class DataType { kContents, kCustomerAction, kPlanEnrollment, kCustom };

// Returns the API's name of an event type ("order_created"), or an empty
// view for EVENT_TYPE_UNSPECIFIED and values outside the enum.
std::string_view EventTypeName(v1::EventType type);

// Returns the event type whose API name is `name` (exact, lower case).
std::optional<v1::EventType> EventTypeFromName(std::string_view name);

// Returns the data shape the API requires for an event type.
DataType DataTypeOf(v1::EventType type);

// Returns the API's name of a data shape ("customer_action").
std::string_view DataTypeName(DataType type);

// Returns the API's name of an action source ("physical_store"), or an empty
// view for ACTION_SOURCE_UNSPECIFIED and values outside the enum.
std::string_view ActionSourceName(v1::ActionSource source);

// Returns the action source whose API name is `name` (exact, lower case).
std::optional<v1::ActionSource> ActionSourceFromName(std::string_view name);

// Returns true for the app lifecycle events, which need action_source
// mobile_app.
bool IsAppEvent(v1::EventType type);

// Returns true when data of this shape may carry `contents`.
inline bool AllowsContents(DataType type) {
  return type != DataType::kCustomerAction;
}

// Returns true when data of this shape may carry `plan_id`.
inline bool AllowsPlanId(DataType type) {
  return type == DataType::kPlanEnrollment || type == DataType::kCustom;
}

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_EVENT_TYPES_H_
