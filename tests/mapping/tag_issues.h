// Compares the mapper core's issues of a tag event, which name the tag
// event's paths ("context.page.url", "user.email[2]"), with those of the
// same event mapped as a typed event ("source_url", "user.emails[1]"), for
// the tests and the fuzzer that run both forms of the tag mapping.
#ifndef CONVERSIONS_TESTS_MAPPING_TAG_ISSUES_H_
#define CONVERSIONS_TESTS_MAPPING_TAG_ISSUES_H_

#include <string>
#include <vector>

#include "mapping/event_mapper.h"

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

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_MAPPING_TAG_ISSUES_H_
