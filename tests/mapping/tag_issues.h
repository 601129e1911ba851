// Compares the mapper core's issues of a tag event, which name the tag
// event's paths ("context.page.url", "user.email[2]"), with those of the
// same event mapped as a typed event ("source_url", "user.emails[1]"), for
// the tests and the fuzzer that run both forms of the tag mapping.
#ifndef CONVERSIONS_TESTS_MAPPING_TAG_ISSUES_H_
#define CONVERSIONS_TESTS_MAPPING_TAG_ISSUES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "mapping/event_mapper.h"
#include "mapping/tag_mapper.h"

namespace conversions::testing {

// Whether `tag` are `typed` but for their names: as many, in the same
// order, each with the same reason and a non-empty field, and the same
// description, or one that starts with the typed field's name where the
// tag one starts with the tag field's.
inline bool SameIssuesButPaths(const std::vector<mapping::FieldIssue>& tag,
                               const std::vector<mapping::FieldIssue>& typed) {
  if (tag.size() != typed.size()) return false;
  for (size_t i = 0; i < tag.size(); ++i) {
    const mapping::FieldIssue& a = tag[i];
    const mapping::FieldIssue& b = typed[i];
    if (a.reason != b.reason || a.field.empty()) return false;
    if (a.description == b.description) continue;
    if (b.description.rfind(b.field + " ", 0) != 0 ||
        a.description != a.field + b.description.substr(b.field.size())) {
      return false;
    }
  }
  return true;
}

// The issues the fused form of MapTagEvent reports for an event its typed
// form (`typed`) rejected: the tag mapping's own, then, if the event's
// name mapped, MapEvent's of `typed.event` (the fields read), without a
// REQUIRED id or custom name the tag mapping could not read. Tag-event
// paths aside: compare with SameIssuesButPaths.
inline void ExpectedRejectedIssues(const mapping::TagMapResult& typed,
                                   std::int64_t now_ms,
                                   std::vector<mapping::FieldIssue>* violations,
                                   std::vector<mapping::FieldIssue>* warnings) {
  *violations = typed.violations;
  *warnings = typed.warnings;
  if (!typed.view_filled) return;
  mapping::MappedEvent core = mapping::MapEvent(typed.event, now_ms);
  for (const mapping::FieldIssue& v : core.violations) {
    const bool repeated = v.reason == "REQUIRED" &&
                          ((v.field == "id" && typed.event.id().empty()) ||
                           (v.field == "custom_event_name" &&
                            typed.event.custom_event_name().empty()));
    if (!repeated) violations->push_back(v);
  }
  warnings->insert(warnings->end(), core.warnings.begin(), core.warnings.end());
}

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_MAPPING_TAG_ISSUES_H_
