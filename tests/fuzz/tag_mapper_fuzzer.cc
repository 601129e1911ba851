// Feeds arbitrary text, parsed as the JSON of a google.protobuf.Struct (a
// tag event of the event model, as TrackEvents and POST /v1/track receive
// it from callers), through both forms of the tag mapping:
//   - the fused form, which the gateway runs: MapTagEvent straight to the
//     wire event, reading the event through string views;
//   - the typed form: MapTagEvent to a conversions.v1.Event, then MapEvent.
// The fused form runs on the Struct (copied into a TagTree) and on a
// TagTree parsed from the Struct's serialized bytes (ParseTagTree, whose
// key order differs): the two must give exactly the same result. The
// fused and typed forms must agree on outcome, skip reason, event id,
// issues and, for a mapped event, everything MapEvent gives (its issues
// but for their names, which are the tag event's paths in the fused form);
// a mapped event's wire JSON must parse as an object with an id. Run with the
// default mapping and with a smart mapping that re-points slots (an items.X.
// path among them). Any disagreement aborts, which libFuzzer reports as a
// crash; the sanitizers of the fuzz build catch reads past a view's string.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "mapping/event_mapper.h"
#include "mapping/tag_mapper.h"
#include "mapping/tag_tree.h"
#include "tests/mapping/tag_issues.h"

namespace {

using conversions::mapping::CompiledTagMapping;
using conversions::mapping::MappedEvent;
using conversions::mapping::TagMapResult;

constexpr std::int64_t kNowMs = 1773892800000;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

CompiledTagMapping SmartMapping() {
  conversions::mapping::TagMappingConfig config;
  config.field_mapping["user.email"] = {"user.contact.mail", "user.email"};
  config.field_mapping["context.event_id"] = {"order.id", "context.event_id"};
  config.field_mapping["items"] = {"products", "items"};
  config.field_mapping["items.X.id"] = {"items.X.sku", "items.X.id"};
  config.field_mapping["value"] = {"order.total", "value"};
  // A fixed pre-hashed source re-pointed to: the slot alone reads it.
  config.field_mapping["user.id"] = {"user.id_sha256", "user.id"};
  config.event_mapping["add_to_wishlist"] = conversions::v1::EVENT_TYPE_CUSTOM;
  config.consent_categories = {};
  auto compiled = conversions::mapping::CompileTagMapping(config);
  Check(compiled.ok(), "the fuzzer's smart mapping does not compile");
  return *compiled;
}

void CheckBothForms(const google::protobuf::Struct& event,
                    const CompiledTagMapping& mapping) {
  TagMapResult typed =
      conversions::mapping::MapTagEvent(event, mapping, kNowMs);
  TagMapResult fused;
  MappedEvent mapped;
  conversions::mapping::MapTagEvent(event, mapping, kNowMs, &fused, &mapped);
  {
    conversions::mapping::TagTree tree;
    Check(conversions::mapping::ParseTagTree(event.SerializeAsString(), &tree)
              .ok(),
          "a serialized Struct does not parse as a TagTree");
    TagMapResult from_tree;
    MappedEvent mapped_tree;
    conversions::mapping::MapTagEvent(tree, mapping, kNowMs, &from_tree,
                                      &mapped_tree);
    Check(from_tree.outcome == fused.outcome &&
              from_tree.skip_reason == fused.skip_reason &&
              from_tree.event_id == fused.event_id &&
              from_tree.violations == fused.violations &&
              from_tree.warnings == fused.warnings,
          "the tree and Struct forms' tag results differ");
    Check(mapped_tree.violations == mapped.violations &&
              mapped_tree.warnings == mapped.warnings &&
              mapped_tree.wire_json == mapped.wire_json &&
              mapped_tree.event_name == mapped.event_name &&
              mapped_tree.id == mapped.id &&
              mapped_tree.timestamp_ms == mapped.timestamp_ms,
          "the tree and Struct forms' mapped events differ");
  }
  Check(fused.outcome == typed.outcome, "outcomes differ");
  Check(fused.skip_reason == typed.skip_reason, "skip reasons differ");
  Check(fused.event_id == typed.event_id, "event ids differ");
  if (!typed.mapped()) {
    Check(mapped.wire_json.empty() && mapped.violations.empty(),
          "an event that is not mapped has a mapping");
  }
  if (typed.outcome == TagMapResult::Outcome::kRejected && typed.view_filled) {
    // The tag mapping's issues, then MapEvent's of the fields it read.
    std::vector<conversions::mapping::FieldIssue> violations, warnings;
    conversions::testing::ExpectedRejectedIssues(typed, kNowMs, &violations,
                                                 &warnings);
    Check(
        conversions::testing::SameIssuesButPaths(fused.violations, violations),
        "violations of a rejected event differ");
    Check(conversions::testing::SameIssuesButPaths(fused.warnings, warnings),
          "warnings of a rejected event differ");
    Check(fused.violations.size() >= typed.violations.size() &&
              std::equal(typed.violations.begin(), typed.violations.end(),
                         fused.violations.begin()),
          "the tag mapping's own violations do not come first");
    return;
  }
  Check(fused.violations == typed.violations, "tag violations differ");
  Check(fused.warnings == typed.warnings, "tag warnings differ");
  if (!typed.mapped()) return;
  MappedEvent expected = conversions::mapping::MapEvent(typed.event, kNowMs);
  // The fused form names the tag event's paths, the typed one its own.
  Check(conversions::testing::SameIssuesButPaths(mapped.violations,
                                                 expected.violations),
        "violations differ");
  Check(conversions::testing::SameIssuesButPaths(mapped.warnings,
                                                 expected.warnings),
        "warnings differ");
  Check(mapped.wire_json == expected.wire_json, "wire JSON differs");
  Check(mapped.event_name == expected.event_name, "event names differ");
  Check(mapped.id == expected.id, "ids differ");
  Check(mapped.timestamp_ms == expected.timestamp_ms, "timestamps differ");
  if (!mapped.ok()) return;
  nlohmann::json wire = nlohmann::json::parse(mapped.wire_json, nullptr, false);
  Check(!wire.is_discarded() && wire.is_object(), "wire JSON does not parse");
  Check(wire.contains("id") && wire["id"].is_string(), "id missing");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  google::protobuf::Struct event;
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (!google::protobuf::util::JsonStringToMessage(text, &event).ok()) {
    return 0;
  }
  static const CompiledTagMapping kDefault = CompiledTagMapping::Default();
  static const CompiledTagMapping kSmart = SmartMapping();
  CheckBothForms(event, kDefault);
  CheckBothForms(event, kSmart);
  return 0;
}
