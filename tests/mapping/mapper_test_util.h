// Helpers for the event mapper tests: a valid base event, issue matchers,
// and printing of FieldIssue for failure messages.
#ifndef CONVERSIONS_TESTS_MAPPING_MAPPER_TEST_UTIL_H_
#define CONVERSIONS_TESTS_MAPPING_MAPPER_TEST_UTIL_H_

#include <gmock/gmock.h>

#include <ostream>
#include <string>

#include "mapping/event_mapper.h"
#include "tests/mapping/test_util.h"

namespace conversions::mapping {

// Prints an issue as field/reason/description. Issues never hold identifier
// values, so they are safe to print.
inline void PrintTo(const FieldIssue& issue, std::ostream* os) {
  *os << "{" << issue.field << ", " << issue.reason << ", " << issue.description
      << "}";
}

}  // namespace conversions::mapping

namespace conversions::testing {

// Matches a FieldIssue by field path and reason code.
inline ::testing::Matcher<const mapping::FieldIssue&> Issue(
    const std::string& field, const std::string& reason) {
  return ::testing::AllOf(
      ::testing::Field("field", &mapping::FieldIssue::field, field),
      ::testing::Field("reason", &mapping::FieldIssue::reason, reason));
}

// One hour before kNowMs: well inside the API's window.
inline constexpr std::int64_t kOneHourAgoMs = kNowMs - 3'600'000;

// Returns a minimal valid event: a web page view an hour ago. Tests change
// one thing and expect exactly the issue that change causes.
inline v1::Event ValidEvent() {
  v1::Event event;
  event.set_id("evt_1");
  event.set_type(v1::EVENT_TYPE_PAGE_VIEWED);
  event.set_timestamp_ms(kOneHourAgoMs);
  event.set_source_url("https://www.example.com/pricing");
  event.set_action_source(v1::ACTION_SOURCE_WEB);
  return event;
}

// Returns a valid event of `type`: mobile_app for the app events, a custom
// event name for custom events.
inline v1::Event ValidEventOfType(v1::EventType type) {
  v1::Event event = ValidEvent();
  event.set_type(type);
  if (type == v1::EVENT_TYPE_APP_INSTALLED ||
      type == v1::EVENT_TYPE_APP_OPENED) {
    event.set_action_source(v1::ACTION_SOURCE_MOBILE_APP);
    event.clear_source_url();
  }
  if (type == v1::EVENT_TYPE_CUSTOM) event.set_custom_event_name("my_event");
  return event;
}

// Maps `event` at kNowMs and returns the parsed wire JSON; fails the test
// when the event is rejected.
inline nlohmann::json MapToJson(const v1::Event& event) {
  mapping::MappedEvent mapped = mapping::MapEvent(event, kNowMs);
  EXPECT_THAT(mapped.violations, ::testing::IsEmpty());
  if (!mapped.ok()) return nlohmann::json();
  return ParseJson(mapped.wire_json);
}

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_MAPPING_MAPPER_TEST_UTIL_H_
