// Names what the mapper core finds in a tag event by the tag event's own
// paths (NameByTagPaths, tag_plan.h). Cold: only events with issues come
// here, after MapEventView.
//
// The core reports the fields of the event it reads by their names in a
// typed event ("source_url", "user.emails[1]", "data.contents[0].amount").
// For a tag event the caller knows none of them: each is renamed after the
// property the value came from ("context.page.url", "user.email[2]",
// "items[3].product.price"), found again through the plan.
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "mapping/event_mapper.h"
#include "mapping/tag_plan.h"
// The value readers are static, for tag_mapper.cc's hot path; this file
// uses only Resolve, Present and IsExactAsText of them.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "mapping/tag_values.h"
#pragma GCC diagnostic pop

namespace conversions::mapping::internal {
namespace {

using google::protobuf::Value;

// The core's user lists and their sources: a slot, or a fixed pre-hashed
// property (`fixed`, a node of TagPlan::event, shown as `fixed_path`).
struct UserListSource {
  std::string_view core;
  int slot;
  int TagPlan::*fixed;
  std::string_view fixed_path;
};
constexpr UserListSource kUserLists[] = {
    {"user.emails", kEmail, nullptr, {}},
    {"user.emails_sha256", -1, &TagPlan::email_sha256, "user.email_sha256"},
    {"user.phone_numbers", kPhone, nullptr, {}},
    {"user.external_ids", kUserId, nullptr, {}},
    {"user.external_ids_sha256", -1, &TagPlan::id_sha256, "user.id_sha256"},
    {"user.first_names", kFirstName, nullptr, {}},
    {"user.first_names_sha256", -1, &TagPlan::firstname_sha256,
     "user.firstname_sha256"},
    {"user.last_names", kLastName, nullptr, {}},
    {"user.last_names_sha256", -1, &TagPlan::lastname_sha256,
     "user.lastname_sha256"},
    {"user.regions", kState, nullptr, {}},
    {"user.postal_codes", kZipcode, nullptr, {}},
    {"user.cities", kCity, nullptr, {}},
    {"user.countries", kCountry, nullptr, {}},
};

// The core's other fields of the event, and of each content.
constexpr std::pair<std::string_view, Slot> kEventFields[] = {
    {"id", kEventId},
    {"timestamp_ms", kEventTimestamp},
    {"custom_event_name", kCustomEventName},
    {"oppref", kOppref},
    {"action_source", kType},
    {"source_url", kPageUrl},
    {"opt_out", kOptOut},
    {"user.ip_address", kIp},
    {"user.user_agent", kUserAgent},
    {"data.amount", kValue},
    {"data.currency", kCurrency},
    {"data.plan_id", kPlanId},
    {"data.contents", kItems},
};
constexpr std::pair<std::string_view, Slot> kContentFields[] = {
    {"id", kItemId},
    {"name", kItemName},
    {"content_type", kItemContentType},
    {"quantity", kItemQuantity},
    {"amount", kItemPrice},
    {"currency", kItemCurrency},
};

class TagPathNamer {
 public:
  TagPathNamer(const TagTree& tree, const TagPlan& plan)
      : tree_(tree),
        plan_(plan),
        event_values_(plan.event.nodes.size() + 1),  // + Resolve's mark
        item_values_(plan.items.nodes.size() + 1) {
    Resolve(tree.root(), plan.event, event_values_.data());
  }

  // The tag event's path of the value the core names `path`; "" when it
  // has none (the value was a default, or the core's name is unknown).
  std::string Name(std::string_view path) {
    if (path == "type") return "event_name";  // through the event mapping
    std::string_view base = path;
    int index = -1;
    std::string_view rest;
    if (size_t open = path.find('['); open != std::string_view::npos) {
      size_t close = path.find(']', open);
      if (close == std::string_view::npos) return "";
      base = path.substr(0, open);
      if (!absl::SimpleAtoi(Sv(path.substr(open + 1, close - open - 1)),
                            &index)) {
        return "";
      }
      rest = path.substr(close + 1);
    }
    if (base == "data.contents" && index >= 0) return ContentPath(index, rest);
    if (!rest.empty()) return "";
    for (const UserListSource& list : kUserLists) {
      if (list.core != base) continue;
      std::uint32_t value;
      std::string display;
      if (list.slot >= 0) {
        Found f = First(static_cast<size_t>(list.slot));
        if (!f) return "";
        value = f.value.index();
        display = f.source->display;
      } else {
        value = event_values_[static_cast<size_t>(plan_.*list.fixed)];
        display = std::string(list.fixed_path);
      }
      if (index < 0) return display;
      // A fixed list the core named must have been present; if not, the
      // name is unknown.
      if (value == kMissing) return "";
      return ElementPath(TagValue(&tree_, value), display, index);
    }
    if (index >= 0) return "";
    for (const auto& [core, slot] : kEventFields) {
      if (core != base) continue;
      Found f = First(slot);
      if (slot == kCustomEventName &&
          (!f || (f.value.kind_case() != Value::kStringValue &&
                  f.value.kind_case() != Value::kNumberValue))) {
        return "event_name";  // the name's last fallback
      }
      return f ? f.source->display : FirstPath(slot);
    }
    return "";
  }

 private:
  struct Found {
    TagValue value{nullptr, 0};  // valid when `source` is set
    const SourcePath* source = nullptr;
    explicit operator bool() const { return source != nullptr; }
  };

  // As TagMapper::First.
  Found First(size_t slot) const {
    for (const SourcePath& source : plan_.slots[slot]) {
      const std::uint32_t v = source.per_item ? item_values_[source.node]
                                              : event_values_[source.node];
      if (Present(tree_, v)) return {TagValue(&tree_, v), &source};
    }
    return {};
  }

  // A slot without a value: its first source, where the value belongs.
  std::string FirstPath(size_t slot) const {
    return plan_.slots[slot].empty() ? "" : plan_.slots[slot].front().display;
  }

  // Element `index` of a user list as TagMapper::AddTexts built it: the
  // value itself, or the index-th element of a list that AsText reads
  // (nulls, other kinds and inexact numbers were left out).
  static std::string ElementPath(TagValue value, const std::string& display,
                                 int index) {
    if (value.kind_case() != Value::kListValue) {
      return index == 0 ? display : "";
    }
    const TagList values = value.list_value();
    for (int i = 0, kept = 0; i < values.size(); ++i) {
      const Value::KindCase kind = values.values(i).kind_case();
      if (kind != Value::kStringValue &&
          !(kind == Value::kNumberValue &&
            IsExactAsText(values.values(i).number_value()))) {
        continue;
      }
      if (kept++ == index) return absl::StrCat(display, "[", i, "]");
    }
    return "";
  }

  // data.contents[index] and its `rest` (".amount"): the index-th item
  // that is an object, as TagMapper::MapData made one content of each.
  std::string ContentPath(int index, std::string_view rest) {
    Found items = First(kItems);
    if (!items || items.value.kind_case() != Value::kListValue) return "";
    const TagList list = items.value.list_value();
    int item = -1;
    for (int i = 0, objects = 0; i < list.size(); ++i) {
      if (list.values(i).kind_case() != Value::kStructValue) continue;
      if (objects++ == index) {
        item = i;
        break;
      }
    }
    if (item < 0) return "";
    std::string prefix = absl::StrCat(items.source->display, "[", item, "]");
    if (rest.empty()) return prefix;
    if (rest.front() != '.') return "";
    rest.remove_prefix(1);
    Resolve(list.values(item).struct_value(), plan_.items, item_values_.data());
    for (const auto& [core, slot] : kContentFields) {
      if (core != rest) continue;
      Found f = First(slot);
      if (!f && slot == kItemContentType) f = First(kContentType);
      const SourcePath* source = f ? f.source
                                 : plan_.slots[slot].empty()
                                     ? nullptr
                                     : &plan_.slots[slot].front();
      if (source == nullptr) return "";
      return source->per_item ? absl::StrCat(prefix, ".", source->display)
                              : source->display;
    }
    return "";
  }

  const TagTree& tree_;
  const TagPlan& plan_;
  // Node indexes of tree_, or kMissing (tag_values.h).
  std::vector<std::uint32_t> event_values_;
  std::vector<std::uint32_t> item_values_;
};

}  // namespace

void NameByTagPaths(const TagTree& event, const TagPlan& plan,
                    MappedEvent* mapped) {
  TagPathNamer namer(event, plan);
  for (std::vector<FieldIssue>* issues :
       {&mapped->violations, &mapped->warnings}) {
    for (FieldIssue& issue : *issues) {
      std::string name = namer.Name(issue.field);
      if (name.empty()) continue;
      const std::string& old = issue.field;
      if (issue.description.size() > old.size() &&
          issue.description.compare(0, old.size(), old) == 0 &&
          issue.description[old.size()] == ' ') {
        issue.description.replace(0, old.size(), name);
      }
      issue.field = std::move(name);
    }
  }
}

}  // namespace conversions::mapping::internal
