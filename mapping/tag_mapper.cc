// Maps one tag event, a TagTree, with a compiled plan (tag_plan.h): finds
// every source path's value in one walk of the event, then fills an EventView
// (event_view.h) slot by slot, with views of the event's strings, for the
// mapper core to read. Messages name source paths and never quote
// identifier values. The walk and the readers of values are in tag_values.h.
#include "mapping/tag_mapper.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/event_mapper_core_support.h"
#include "mapping/event_types.h"
#include "mapping/event_view.h"
#include "mapping/iso_codes.h"
#include "mapping/money.h"
#include "mapping/tag_plan.h"
#include "mapping/tag_values.h"
#include "mapping/unicode.h"

namespace conversions::mapping {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using internal::ActionSourceOf;
using internal::AsciiLower;
using internal::AsNumber;
using internal::AsText;
using internal::ChildIndex;
using internal::ClearIfBlank;
using internal::ContentView;
using internal::DataView;
using internal::EventView;
using internal::FastMinorUnits;
using internal::IsInexactNumber;
using internal::IsSafeInteger;
using internal::IsWholeNumber;
using internal::kCity;
using internal::kContentType;
using internal::kCountry;
using internal::kCurrency;
using internal::kCustomEventName;
using internal::kEmail;
using internal::kEventId;
using internal::kEventTimestamp;
using internal::kFirstName;
using internal::kIp;
using internal::kItemContentType;
using internal::kItemCurrency;
using internal::kItemId;
using internal::kItemName;
using internal::kItemPrice;
using internal::kItemQuantity;
using internal::kItems;
using internal::kLastName;
using internal::kMissing;
using internal::kOppref;
using internal::kOptOut;
using internal::kPageUrl;
using internal::kPhone;
using internal::kPlanId;
using internal::kState;
using internal::kType;
using internal::kUserAgent;
using internal::kUserId;
using internal::kValue;
using internal::kZipcode;
using internal::PathNode;
using internal::PathTree;
using internal::Present;
using internal::QuoteName;
using internal::Resolve;
using internal::SourcePath;
using internal::Sv;
using internal::TagPlan;
using internal::TextList;
using internal::TrimAscii;
using internal::UserView;

// Violation and warning reasons, beyond those of event_mapper.cc.
constexpr char kRequired[] = "REQUIRED";
constexpr char kInvalidFormat[] = "INVALID_FORMAT";
constexpr char kOutOfRange[] = "OUT_OF_RANGE";
constexpr char kTooMany[] = "TOO_MANY";
constexpr char kDroppedInvalid[] = "DROPPED_INVALID";
constexpr char kDroppedNotAllowed[] = "DROPPED_NOT_ALLOWED";
constexpr char kDroppedIncompatibleHash[] = "DROPPED_INCOMPATIBLE_HASH";
constexpr char kDefaulted[] = "DEFAULTED";
constexpr char kNormalized[] = "NORMALIZED";

// The warning for a number read as text (an identifier, say) that a double
// cannot be trusted to hold as the caller wrote it (IsExactAsText).
constexpr char kInexactNumber[] =
    "value is a number a double cannot hold exactly (a whole number of 2^53 "
    "or more, or more than 15 significant digits): send it as a string";

// ---------------------------------------------------------------------------
// Mapping one event.

class TagMapper {
 public:
  TagMapper(const TagTree& tree, const TagPlan& plan, std::int64_t now_ms,
            TagMapResult* result)
      : tree_(tree),
        plan_(plan),
        now_ms_(now_ms),
        result_(result),
        view_(result->view) {}

  void Run() {
    std::vector<std::uint32_t>& scratch = result_->scratch;
    // Each tree's values, then Resolve's kUnreadContainer mark.
    scratch.resize(plan_.event.nodes.size() + plan_.items.nodes.size() + 2);
    event_values_ = scratch.data();
    item_values_ = scratch.data() + plan_.event.nodes.size() + 1;
    item_mark_ = scratch.data() + scratch.size() - 1;
    Resolve(tree_.root(), plan_.event, event_values_);
    if (!plan_.consent_categories.empty() && !HasConsent()) {
      // Nothing but the id is read, for the result to name the event.
      result_->outcome = TagMapResult::Outcome::kSkipped;
      ReadEventId(/*report=*/false);
      return;
    }

    if (!MapEventType()) {
      // The result still names the event, skipped or rejected.
      ReadEventId(/*report=*/false);
      return;
    }
    if (event_values_[plan_.event.nodes.size()] != kMissing) {
      ReportUnreadContainers(/*item=*/false);
    }
    MapEnvelope();
    MapUser();
    MapData();
    result_->view_filled = true;
    result_->outcome = result_->violations.empty()
                           ? TagMapResult::Outcome::kMapped
                           : TagMapResult::Outcome::kRejected;
  }

 private:
  // A slot's winning value and the source that gave it.
  struct Found {
    TagValue value{nullptr, 0};  // valid when `source` is set
    const SourcePath* source = nullptr;
    explicit operator bool() const { return source != nullptr; }
  };

  Found First(size_t slot) const {
    const std::vector<std::uint32_t>& values = plan_.slot_values[slot];
    for (size_t i = 0; i < values.size(); ++i) {
      // event_values_ is the start of the values item_values_ follows.
      const std::uint32_t v = event_values_[values[i]];
      if (Present(tree_, v))
        return {TagValue(&tree_, v), &plan_.slots[slot][i]};
    }
    return {};
  }

  // The source path of a value for messages: "items[1].product.price".
  std::string PathOf(const SourcePath& source) const {
    if (!source.per_item) return source.display;
    return absl::StrCat(items_source_->display, "[", item_index_, "].",
                        source.display);
  }
  std::string PathOf(const Found& found) const { return PathOf(*found.source); }
  // The path of a slot's first source, for a value that is missing.
  std::string SlotPath(size_t slot) const {
    return plan_.slots[slot].empty() ? std::string(kTagSlots[slot])
                                     : PathOf(plan_.slots[slot].front());
  }

  // Cold and out of line, as is every message built for them: the happy
  // path stays small, next to the mapper core it runs with.
  [[gnu::cold, gnu::noinline]] void Violation(std::string field,
                                              const char* reason,
                                              std::string description) {
    result_->violations.push_back(
        {std::move(field), reason, std::move(description)});
  }
  [[gnu::cold, gnu::noinline]] void Warning(std::string field,
                                            const char* reason,
                                            std::string description) {
    result_->warnings.push_back(
        {std::move(field), reason, std::move(description)});
  }

  // Out of line and cold, with every message: a violation of the value
  // `f` gave, described as its path followed by `suffix`; a warning that
  // drops it, Text having refused it (`description` says what it must be,
  // unless it is a number Text refused for not being exact); a violation of
  // a slot without a value, at the slot's first path.
  [[gnu::cold, gnu::noinline]] void ViolationAt(const Found& f,
                                                const char* reason,
                                                const char* suffix) {
    std::string field = PathOf(f);
    std::string description = absl::StrCat(field, suffix);
    Violation(std::move(field), reason, std::move(description));
  }
  [[gnu::cold, gnu::noinline]] void DropUnread(const Found& f,
                                               const char* description) {
    Warning(PathOf(f), kDroppedInvalid,
            IsInexactNumber(f.value) ? kInexactNumber : description);
  }
  [[gnu::cold, gnu::noinline]] void SlotViolation(size_t slot,
                                                  const char* reason,
                                                  const char* suffix) {
    std::string field = SlotPath(slot);
    std::string description = absl::StrCat(field, suffix);
    Violation(std::move(field), reason, std::move(description));
  }

  // Reads user.consent_categories directly: nothing else is read before the
  // consent rule passes.
  [[gnu::noinline]] bool HasConsent() {
    std::optional<TagList> granted;
    bool present = false;  // but not a list
    const TagStruct root = tree_.root();
    auto user = root.find(plan_.user_key);
    if (user != root.end() && user->second.kind_case() == Value::kStructValue) {
      const TagStruct fields = user->second.struct_value();
      auto it = fields.find(plan_.consent_categories_key);
      if (it != fields.end() && it->second.kind_case() == Value::kListValue) {
        granted = it->second.list_value();
      } else {
        present = it != fields.end() &&
                  it->second.kind_case() != Value::kNullValue &&
                  it->second.kind_case() != Value::KIND_NOT_SET;
      }
    }
    if (!granted) {
      result_->skip_reason =
          present ? "consent: user.consent_categories is not a list (of "
                    "category names)"
                  : "consent: the event has no user.consent_categories list";
      return false;
    }
    std::vector<std::string> missing;
    std::string_view text;
    for (const std::string& category : plan_.consent_categories) {
      bool found = false;
      for (const TagValue v : *granted) {
        if (AsText(v, &view_, &text) &&
            TrimAscii(text) == TrimAscii(category)) {
          found = true;
          break;
        }
      }
      if (!found) missing.push_back(category);
    }
    if (missing.empty()) return true;
    result_->skip_reason =
        absl::StrCat("consent: missing ",
                     missing.size() == 1 ? "category '" : "categories '",
                     absl::StrJoin(missing, "', '"), "'");
    return false;
  }

  // Warns of each container of `paths` under `children` (a node with
  // children: `user`, `context.page`, an item's `product`) whose value
  // Resolve could not look into, a string, say, where an object belongs:
  // none of the properties the plan reads under it were read. A container
  // that is missing, null or empty stays silent, as a missing property
  // does. `values` are the tree's values; `prefix` is the path of the
  // nodes' parent ("" for the roots, "items[0]" for an item's). Cold: only
  // an event whose Resolve set the kUnreadContainer mark comes here. The
  // message names the path, never the value.
  [[gnu::cold, gnu::noinline]] void ReportUnreadContainers(
      const PathTree& paths, const ChildIndex& children,
      const std::uint32_t* values, const std::string& prefix) {
    for (int n : children.nodes) {
      const PathNode& node = paths.nodes[n];
      if (node.children.nodes.empty() || !Present(tree_, values[n])) continue;
      std::string path =
          prefix.empty() ? node.key : absl::StrCat(prefix, ".", node.key);
      // A list is read through children that are indexes ("emails.0").
      bool indexed = false;
      for (int child : node.children.nodes) {
        indexed |= paths.nodes[child].index >= 0;
      }
      const Value::KindCase kind = TagValue(&tree_, values[n]).kind_case();
      if (kind == Value::kStructValue ||
          (kind == Value::kListValue && indexed)) {
        ReportUnreadContainers(paths, node.children, values, path);
        continue;
      }
      std::string description = absl::StrCat(
          path, indexed
                    ? " must be an object or a list; nothing under it was read"
                    : " must be an object; none of its properties were read");
      Warning(std::move(path), kDroppedInvalid, std::move(description));
    }
  }

  // ReportUnreadContainers of the event, or of the current item.
  [[gnu::cold, gnu::noinline]] void ReportUnreadContainers(bool item) {
    if (item) {
      ReportUnreadContainers(
          plan_.items, plan_.items.roots, item_values_,
          absl::StrCat(items_source_->display, "[", item_index_, "]"));
    } else {
      ReportUnreadContainers(plan_.event, plan_.event.roots, event_values_,
                             std::string());
    }
  }

  [[gnu::cold, gnu::noinline]] void SkipUnmapped() {
    result_->outcome = TagMapResult::Outcome::kSkipped;
    result_->skip_reason =
        absl::StrCat("event ", QuoteName(event_name_), " has no event mapping");
  }

  [[gnu::cold, gnu::noinline]] void SkipMappedToSkip() {
    result_->outcome = TagMapResult::Outcome::kSkipped;
    result_->skip_reason = absl::StrCat("event ", QuoteName(event_name_),
                                        " is mapped to skip (event_mapping)");
  }

  // Resolves event_name through the event mapping; false when the event is
  // skipped or rejected.
  bool MapEventType() {
    const std::uint32_t node = event_values_[plan_.event_name];
    const bool present = Present(tree_, node);
    if (!present || TagValue(&tree_, node).kind_case() != Value::kStringValue) {
      Violation("event_name", present ? kInvalidFormat : kRequired,
                "event_name must be a non-empty string");
      result_->outcome = TagMapResult::Outcome::kRejected;
      return false;
    }
    // A string of the tree: FindSlot may load 16 bytes from its start.
    event_name_ = TagValue(&tree_, node).string_value();
    const int mapped =
        plan_.event_names.roots.Find(event_name_, plan_.event_names.nodes);
    if (mapped < 0) {
      SkipUnmapped();
      return false;
    }
    type_ = plan_.event_types[static_cast<size_t>(mapped)];
    if (type_ == kSkipTagEvent) {
      SkipMappedToSkip();
      return false;
    }
    view_.type_ = type_;
    return true;
  }

  // Reads a string or a number as text; false for other kinds.
  bool Text(TagValue v, std::string_view* out) {
    return AsText(v, &view_, out);
  }

  // Reads the event id (a string, or a whole number below 2^53); with
  // `report`, a missing or unusable one is a violation.
  void ReadEventId(bool report) {
    Found f = First(kEventId);
    if (!f) {
      if (report) {
        SlotViolation(kEventId, kRequired,
                      " is required: it is the event id the API "
                      "deduplicates on");
      }
      return;
    }
    const TagValue v = f.value;
    if (v.kind_case() == Value::kStringValue) {
      view_.id_ = v.string_value();
    } else if (v.kind_case() == Value::kNumberValue &&
               IsSafeInteger(v.number_value())) {
      Text(v, &view_.id_);
    } else if (!report) {
      return;
    } else if (v.kind_case() == Value::kNumberValue) {
      ViolationAt(f, kInvalidFormat,
                  " must be a string or a whole number below 2^53 "
                  "(9007199254740992); send larger ids as strings");
    } else {
      ViolationAt(f, kInvalidFormat, " must be a string or a number");
    }
  }

  void MapEnvelope() {
    // id: mandatory [*].
    ReadEventId(/*report=*/true);

    // timestamp_ms: epoch ms, a number or a string holding one, coerced
    // to whole milliseconds (a fraction of one is dropped); now when
    // absent [2] (or 0, as for a typed event, with a warning).
    if (Found f = First(kEventTimestamp)) {
      std::optional<double> ms = AsNumber(f.value);
      if (ms && IsWholeNumber(std::floor(*ms))) {
        view_.timestamp_ms_ = static_cast<std::int64_t>(std::floor(*ms));
        if (view_.timestamp_ms_ == 0) ReportZeroTimestamp(f);
      } else {
        ViolationAt(f, kInvalidFormat,
                    " must be Unix epoch milliseconds, as a number or a "
                    "string holding one");
      }
    } else {
      view_.timestamp_ms_ = now_ms_;
    }

    // custom_event_name: custom events only, then event_name [3].
    if (type_ == v1::EVENT_TYPE_CUSTOM) {
      Found f = First(kCustomEventName);
      if (!f || !Text(f.value, &view_.custom_event_name_)) {
        CustomNameFromEventName();
      }
    }

    if (Found f = First(kOppref)) {
      if (!Text(f.value, &view_.oppref_)) {
        DropUnread(f, "oppref must be a string");
      }
    }
    MapActionSource();
    if (Found f = First(kPageUrl)) {
      if (!Text(f.value, &view_.source_url_)) {
        DropUnread(f, "the page URL must be a string");
      }
      // Data layers pad values as they do others (white space is never
      // part of a URL): trimmed as the other text properties are.
      view_.source_url_ = TrimAscii(view_.source_url_);
    }
    if (Found f = First(kOptOut)) {
      const TagValue v = f.value;
      std::string_view text = v.kind_case() == Value::kStringValue
                                  ? TrimAscii(v.string_value())
                                  : std::string_view();
      // Data layers also write flags as 1 and 0, numbers or strings.
      const bool number = v.kind_case() == Value::kNumberValue;
      if (v.kind_case() == Value::kBoolValue) {
        view_.opt_out_ = v.bool_value();
      } else if (EqualsLowerAscii(text, "true") || text == "1" ||
                 (number && v.number_value() == 1)) {
        view_.opt_out_ = true;
      } else if (!EqualsLowerAscii(text, "false") && text != "0" &&
                 !(number && v.number_value() == 0)) {
        // An opt-out that cannot be read must not be taken as "no".
        ViolationAt(f, kInvalidFormat,
                    " must be a boolean, \"true\" or \"false\", or 1 or 0");
      }
    }
  }

  // Compares ASCII case-insensitively with a lower-case `b`.
  static bool EqualsLowerAscii(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (AsciiLower(a[i]) != b[i]) return false;
    }
    return true;
  }

  // action_source from `type` [4]: the event model's values and the API's,
  // any case; else the default (mobile_app for app events).
  void MapActionSource() {
    const v1::ActionSource fallback = IsAppEvent(type_)
                                          ? v1::ACTION_SOURCE_MOBILE_APP
                                          : plan_.default_action_source;
    Found f = First(kType);
    std::optional<v1::ActionSource> source;
    if (f && f.value.kind_case() == Value::kStringValue) {
      source = ActionSourceOf(f.value.string_value());
    }
    if (f && !source) ReportActionSource(f, fallback);
    view_.action_source_ = source.value_or(fallback);
  }

  // A custom event's name when no property gives one: its event_name [3],
  // made a valid custom event name if it is not one, as a tag model's own
  // names ("Video Playback Started") are not: lower case, each run of other
  // characters one '_', trimmed to start and end with a letter or digit,
  // at most 64 characters; the warning says what is sent. (A name with no
  // letter or digit is sent as it is, and refused.)
  [[gnu::cold, gnu::noinline]] void CustomNameFromEventName() {
    std::string name;
    if (!internal::core::IsValidCustomEventName(event_name_)) {
      name = CustomEventNameFromEventName(event_name_);
    }
    std::string lower = name.empty() ? std::string(event_name_) : name;
    std::transform(lower.begin(), lower.end(), lower.begin(), AsciiLower);
    if (EventTypeFromName(lower).has_value()) {
      const std::string suffix =
          name.empty() || name == event_name_
              ? std::string(
                    " is required when event_name is a standard event name")
              : absl::StrCat(
                    " is required when event_name, made a custom "
                    "event name, is a standard event name (\"",
                    name, "\")");
      SlotViolation(kCustomEventName, kRequired, suffix.c_str());
      return;
    }
    if (name.empty()) {
      view_.custom_event_name_ = event_name_;
      return;
    }
    view_.custom_event_name_ = view_.Keep(name);
    Warning("event_name", kNormalized,
            absl::StrCat("event_name is not a valid custom event name (1 to "
                         "64 letters, digits, '_' or '-', starting and ending "
                         "with a letter or digit): sent as custom_event_name "
                         "\"",
                         name, "\""));
  }

  // A timestamp of 0 is read as none, as for a typed event, but said: it
  // more likely is a caller's bug than a wish for the current time.
  [[gnu::cold, gnu::noinline]] void ReportZeroTimestamp(const Found& f) {
    Warning(PathOf(f), kDefaulted,
            absl::StrCat(PathOf(f),
                         " is 0, read as absent: the current time is used "
                         "(send Unix epoch milliseconds, or leave it out)"));
  }

  [[gnu::cold, gnu::noinline]] void ReportActionSource(
      const Found& f, v1::ActionSource fallback) {
    Warning(PathOf(f), kDefaulted,
            absl::StrCat(PathOf(f),
                         " is not an action source (online, offline, call, "
                         "store, app, email, web, mobile_app, "
                         "physical_store, phone_call or other); used ",
                         Sv(ActionSourceName(fallback))));
  }

  // Adds a string, a number, or a list of them to a user list.
  // The path is built only for a warning: `found` gives it, else `path`.
  void AddTexts(TagValue v, const Found* found, std::string_view path,
                TextList* out) {
    std::string_view text;
    if (v.kind_case() == Value::kListValue) {
      const TagList values = v.list_value();
      for (int i = 0; i < values.size(); ++i) {
        const TagValue element = values.values(i);
        if (element.kind_case() == Value::kNullValue) continue;
        if (Text(element, &text)) {
          out->push_back(text);
        } else {
          DropText(element, found, path, i);
        }
      }
    } else if (Text(v, &text)) {
      out->push_back(text);
    } else {
      DropText(v, found, path, -1);
    }
  }

  // AddTexts' warning for `v`, element `index` of a list, or the value
  // (-1).
  [[gnu::cold, gnu::noinline]] void DropText(TagValue v, const Found* found,
                                             std::string_view path, int index) {
    std::string field = found ? PathOf(*found) : std::string(path);
    if (index >= 0) absl::StrAppend(&field, "[", index, "]");
    Warning(std::move(field), kDroppedInvalid,
            IsInexactNumber(v) ? kInexactNumber
            : index < 0        ? "value must be a string or a list of strings"
                               : "value must be a string");
  }

  void AddSlot(size_t slot, TextList* out) {
    if (Found f = First(slot)) AddTexts(f.value, &f, {}, out);
  }

  void AddFixed(int node, std::string_view path, TextList* out) {
    const std::uint32_t v = event_values_[node];
    if (Present(tree_, v)) AddTexts(TagValue(&tree_, v), nullptr, path, out);
  }

  // A blank string is read as absent, as an empty one is (the core refuses
  // a blank content id or name that a typed event sets).
  void AddScalar(size_t slot, std::string_view* out) {
    Found f = First(slot);
    if (f && !Text(f.value, out)) {
      DropUnread(f, "value must be a string");
    }
    ClearIfBlank(out);
  }

  void MapUser() {
    UserView* u = &view_.user_;
    AddSlot(kEmail, &u->emails_);
    AddSlot(kPhone, &u->phone_numbers_);
    AddSlot(kUserId, &u->external_ids_);
    AddSlot(kFirstName, &u->first_names_);
    AddSlot(kLastName, &u->last_names_);
    AddFixed(plan_.email_sha256, "user.email_sha256", &u->emails_sha256_);
    AddFixed(plan_.id_sha256, "user.id_sha256", &u->external_ids_sha256_);
    AddFixed(plan_.firstname_sha256, "user.firstname_sha256",
             &u->first_names_sha256_);
    AddFixed(plan_.lastname_sha256, "user.lastname_sha256",
             &u->last_names_sha256_);
    for (const TagPlan::UnusableHash& h : plan_.unusable_hashes) {
      if (Present(tree_, event_values_[h.node])) {
        Warning(h.path, kDroppedIncompatibleHash, h.description);
      }
    }
    AddSlot(kCountry, &u->countries_);
    AddSlot(kCity, &u->cities_);
    AddSlot(kZipcode, &u->postal_codes_);
    AddSlot(kState, &u->regions_);
    AddScalar(kIp, &u->ip_address_);
    AddScalar(kUserAgent, &u->user_agent_);
  }

  // A currency: trimmed, upper-cased ISO 4217 code.
  struct Currency {
    bool present = false;  // a value was found
    bool valid = false;
    int exponent = 0;
    std::array<char, 3> code{};
    std::string_view view() const { return {code.data(), code.size()}; }
  };

  // Reads into `*out` in place: a returned Currency, copied by parts, costs
  // a stalled load when read back at once.
  void ReadCurrency(const Found& f, Currency* out) {
    Currency& c = *out;
    // Field by field: `c = Currency()` goes through a stack copy that stalls.
    c.present = false;
    c.valid = false;
    c.exponent = 0;
    if (!f) return;
    c.present = true;
    std::string_view s = f.value.kind_case() == Value::kStringValue
                             ? TrimAscii(f.value.string_value())
                             : std::string_view();
    if (s.size() == 3) {
      for (size_t i = 0; i < 3; ++i) {
        c.code[i] =
            (s[i] >= 'a' && s[i] <= 'z') ? static_cast<char>(s[i] - 32) : s[i];
      }
      if (std::optional<int> e = CurrencyExponent(c.view())) {
        c.valid = true;
        c.exponent = *e;
        return;
      }
    }
    ViolationAt(f, kInvalidFormat, CurrencyProblem(s).c_str());
  }

  // Converts a number or decimal text of major units to minor units.
  std::optional<std::int64_t> ReadMoney(const Found& f, int exponent) {
    const TagValue v = f.value;
    if (v.kind_case() == Value::kNumberValue && v.number_value() >= 0) {
      if (std::optional<std::int64_t> fast =
              FastMinorUnits(v.number_value(), exponent)) {
        return *fast;
      }
    }
    return ReadMoneySlowly(f, exponent);
  }

  // ReadMoney for text, negative numbers and numbers FastMinorUnits leaves.
  // `of` names the currency in the message of an amount too large.
  [[gnu::noinline]] std::optional<std::int64_t> ReadMoneySlowly(
      const Found& f, int exponent, const char* of = "its currency") {
    const TagValue v = f.value;
    absl::StatusOr<std::int64_t> minor = absl::InvalidArgumentError("");
    if (v.kind_case() == Value::kNumberValue) {
      minor = DoubleToMinorUnits(v.number_value(), exponent);
    } else if (v.kind_case() == Value::kStringValue) {
      minor = DecimalToMinorUnits(TrimAscii(v.string_value()), exponent);
    }
    if (!minor.ok()) {
      const bool too_large =
          minor.status().code() == absl::StatusCode::kOutOfRange;
      Violation(PathOf(f), too_large ? kOutOfRange : kInvalidFormat,
                too_large
                    ? absl::StrCat(PathOf(f),
                                   " is too large an amount to send in minor "
                                   "units of ",
                                   of)
                    : absl::StrCat(PathOf(f),
                                   " must be a number of major units "
                                   "(12.99 or \"12.99\")"));
      return std::nullopt;
    }
    if (*minor < 0 ||
        (v.kind_case() == Value::kNumberValue && v.number_value() < 0)) {
      ViolationAt(f, kOutOfRange, " must not be negative");
      return std::nullopt;
    }
    // A double holds 15 significant digits: past them a number may come to
    // another amount than the sender's, and is not sent a minor unit off
    // without a word (MinorUnitsAreCertain).
    if (v.kind_case() == Value::kNumberValue &&
        !MinorUnitsAreCertain(v.number_value(), exponent, *minor)) {
      ViolationAt(f, kOutOfRange,
                  " is a JSON number with more digits than a number holds "
                  "exactly (15), and the ones past them decide its amount: "
                  "send it as a string (\"90071992547409.91\")");
      return std::nullopt;
    }
    return *minor;
  }

  // The data problems ReportItemsOrPlan reports.
  enum DataProblem {
    kPlanNotAllowed,
    kItemsNotAllowed,
    kItemsNotAList,
    kTooManyItems,
    kItemNotAnObject,  // the item at item_index_
  };

  [[gnu::cold, gnu::noinline]] void ReportItemsOrPlan(const Found& f,
                                                      DataProblem problem) {
    const std::string path = PathOf(f);
    switch (problem) {
      case kPlanNotAllowed:
        Warning(path, kDroppedNotAllowed,
                absl::StrCat("plan_id is sent only for subscription_created, "
                             "trial_started and custom events, not ",
                             Sv(EventTypeName(type_))));
        break;
      case kItemsNotAllowed:
        Warning(path, kDroppedNotAllowed,
                absl::StrCat("items are sent only when data.type is not "
                             "customer_action, as for ",
                             Sv(EventTypeName(type_))));
        break;
      case kItemsNotAList:
        Violation(path, kInvalidFormat,
                  absl::StrCat(path, " must be a list of items"));
        break;
      case kTooManyItems:
        Violation(
            path, kTooMany,
            absl::StrCat(path, " has more than ", Limits::kContents, " items"));
        break;
      case kItemNotAnObject:
        Violation(absl::StrCat(path, "[", item_index_, "]"), kInvalidFormat,
                  "each item must be an object");
        break;
    }
  }

  // Reports the problems of an amount `f` whose currency is missing or not
  // valid (reported apart) that no currency would cure: not a number,
  // negative, or too large even in minor units of a currency without any
  // (exponent 0, the smallest), as a typed event's amount is checked
  // whatever its currency.
  [[gnu::cold, gnu::noinline]] void CheckAmountWithoutCurrency(const Found& f) {
    ReadMoneySlowly(f, /*exponent=*/0, "any currency");
  }

  [[gnu::cold, gnu::noinline]] void RequireCurrency(const Found& value) {
    Violation(SlotPath(kCurrency), kRequired,
              absl::StrCat(SlotPath(kCurrency), " is required when ",
                           PathOf(value), " is set"));
  }

  void MapData() {
    DataView* d = &view_.data_;
    const DataType data_type = DataTypeOf(type_);
    ReadCurrency(First(kCurrency), &event_currency_);
    if (event_currency_.valid) d->currency_.assign(event_currency_.view());
    if (Found f = First(kValue)) {
      if (event_currency_.valid) {
        if (auto minor = ReadMoney(f, event_currency_.exponent)) {
          d->has_amount_ = true;
          d->amount_ = *minor;
        }
      } else {
        // The currency's problem first (ReadCurrency reported an invalid
        // one), then the value's own.
        if (!event_currency_.present) RequireCurrency(f);
        CheckAmountWithoutCurrency(f);
      }
    }

    if (Found f = First(kPlanId)) {
      if (!AllowsPlanId(data_type)) {
        ReportItemsOrPlan(f, kPlanNotAllowed);
      } else if (!Text(f.value, &d->plan_id_)) {
        DropUnread(f, "plan_id must be a string");
      } else {
        ClearIfBlank(&d->plan_id_);
      }
    }

    Found items = First(kItems);
    if (!items) return;
    items_source_ = items.source;
    if (!AllowsContents(data_type)) {
      ReportItemsOrPlan(items, kItemsNotAllowed);
      return;
    }
    if (items.value.kind_case() != Value::kListValue) {
      ReportItemsOrPlan(items, kItemsNotAList);
      return;
    }
    const TagList list = items.value.list_value();
    if (static_cast<size_t>(list.size()) > Limits::kContents) {
      ReportItemsOrPlan(items, kTooManyItems);
      return;
    }
    // The event-level content type, read once for every item [11].
    Found event_content_type = First(kContentType);
    for (item_index_ = 0; item_index_ < list.size(); ++item_index_) {
      const TagValue item = list.values(item_index_);
      if (item.kind_case() != Value::kStructValue) {
        ReportItemsOrPlan(items, kItemNotAnObject);
        continue;
      }
      Resolve(item.struct_value(), plan_.items, item_values_);
      if (*item_mark_ != kMissing) ReportUnreadContainers(/*item=*/true);
      MapItem(event_content_type, &d->contents_.emplace_back());
    }
  }

  void MapItem(const Found& event_content_type, ContentView* c) {
    AddScalar(kItemId, &c->id_);
    AddScalar(kItemName, &c->name_);
    // Priority [11]: the item's, the event's, "product"; a blank one is
    // passed over as a missing one is.
    auto blank = [](const Found& f) {
      return f && f.value.kind_case() == Value::kStringValue &&
             TrimAscii(f.value.string_value()).empty();
    };
    Found type = First(kItemContentType);
    if (!type || blank(type)) type = event_content_type;
    if (blank(type)) type = Found();
    if (!type || !Text(type.value, &c->content_type_)) {
      if (type) {
        DropUnread(type, "value must be a string");
      }
      c->content_type_ = "product";
    }

    // The item's currency [12]; an item without one uses the event's, which
    // stays implicit on the wire (data.currency covers it).
    Currency currency;
    ReadCurrency(First(kItemCurrency), &currency);
    if (currency.valid) c->currency_.assign(currency.view());
    if (Found price = First(kItemPrice)) {
      const Currency& used = !currency.present && event_currency_.valid
                                 ? event_currency_
                                 : currency;
      if (used.valid) {
        if (auto minor = ReadMoney(price, used.exponent)) {
          c->has_amount_ = true;
          c->amount_ = *minor;
        }
      } else {
        // As for the event's value: the currency's problem, then the
        // price's own.
        if (!currency.present && !event_currency_.present) {
          SlotViolation(kItemCurrency, kRequired,
                        " is required when the item has a price and "
                        "the event has no currency");
        }
        CheckAmountWithoutCurrency(price);
      }
    }

    if (Found f = First(kItemQuantity)) {
      std::optional<double> q = AsNumber(f.value);
      // 1e300 is a whole number, only out of range.
      if (!q || !std::isfinite(*q) || std::floor(*q) != *q) {
        ViolationAt(f, kInvalidFormat, " must be a whole number");
      } else if (*q <= 0) {
        ViolationAt(f, kOutOfRange, " must be positive");
      } else if (!IsSafeInteger(*q)) {
        // 2^53 + 1 in the JSON text arrives as 2^53: not what was sent.
        ViolationAt(f, kOutOfRange,
                    " must be below 2^53 (9007199254740992): a larger JSON "
                    "number is rounded");
      } else {
        c->has_quantity_ = true;
        c->quantity_ = static_cast<std::int64_t>(*q);
      }
    }
  }

  const TagTree& tree_;
  const TagPlan& plan_;
  const std::int64_t now_ms_;
  TagMapResult* const result_;
  EventView& view_;

  // Per event node, and per item node of the current item: node indexes of
  // tree_, or kMissing.
  std::uint32_t* event_values_ = nullptr;
  std::uint32_t* item_values_ = nullptr;
  // Resolve's kUnreadContainer mark of the current item (the event's
  // follows event_values_).
  const std::uint32_t* item_mark_ = nullptr;
  std::string_view event_name_;
  v1::EventType type_ = v1::EVENT_TYPE_UNSPECIFIED;
  Currency event_currency_;
  const SourcePath* items_source_ = nullptr;  // the items slot's winner
  int item_index_ = 0;
};

// MapEventView for a mapped tag event, with the tag event's paths.
void MapView(const TagTree& event, const CompiledTagMapping& mapping,
             const TagMapResult& tag, std::int64_t now_ms,
             MappedEvent* mapped) {
  internal::MapEventView(tag.view, now_ms, mapped);
  if (!mapped->violations.empty() || !mapped->warnings.empty()) {
    internal::NameByTagPaths(event, mapping.plan(), mapped);
  }
}

void ClearMapped(MappedEvent* mapped) {
  mapped->violations.clear();
  mapped->warnings.clear();
  mapped->wire_json.clear();
  mapped->event_name.clear();
  mapped->id.clear();
  mapped->timestamp_ms = 0;
}

// For an event `tag` rejected: adds the issues the mapper core finds in the
// fields the tag mapping could read, named by the tag event's paths, so
// that the caller learns of every problem at once; then clears `*mapped`.
// Leaves out the core's REQUIRED for an id or custom name the tag mapping
// could not read: the tag mapping reported it already.
[[gnu::cold, gnu::noinline]] void AddCoreIssues(
    const TagTree& event, const CompiledTagMapping& mapping,
    std::int64_t now_ms, TagMapResult* tag, MappedEvent* mapped) {
  if (tag->view_filled) {
    internal::MapEventView(tag->view, now_ms, mapped);
    const internal::EventView& view = tag->view;
    auto& violations = mapped->violations;
    violations.erase(
        std::remove_if(violations.begin(), violations.end(),
                       [&](const FieldIssue& v) {
                         return v.reason == std::string_view(kRequired) &&
                                ((v.field == "id" && view.id().empty()) ||
                                 (v.field == "custom_event_name" &&
                                  view.custom_event_name().empty()));
                       }),
        violations.end());
    if (!mapped->violations.empty() || !mapped->warnings.empty()) {
      internal::NameByTagPaths(event, mapping.plan(), mapped);
    }
    for (FieldIssue& v : mapped->violations) {
      tag->violations.push_back(std::move(v));
    }
    for (FieldIssue& w : mapped->warnings)
      tag->warnings.push_back(std::move(w));
  }
  ClearMapped(mapped);
}

}  // namespace

namespace internal {

void MapTagEventToView(const TagTree& event, const CompiledTagMapping& mapping,
                       std::int64_t now_ms, TagMapResult* result) {
  result->outcome = TagMapResult::Outcome::kMapped;
  result->skip_reason.clear();
  result->violations.clear();
  result->warnings.clear();
  result->view.Clear();
  result->view_filled = false;
  TagMapper(event, mapping.plan(), now_ms, result).Run();
  result->event_id.assign(result->view.id());
}

void MapTagEventToView(const Struct& event, const CompiledTagMapping& mapping,
                       std::int64_t now_ms, TagMapResult* result) {
  TagTreeFromStruct(event, &result->tree);
  MapTagEventToView(result->tree, mapping, now_ms, result);
}

}  // namespace internal

void MapTagEvent(const TagTree& event, const CompiledTagMapping& mapping,
                 std::int64_t now_ms, TagMapResult* tag, MappedEvent* mapped) {
  internal::MapTagEventToView(event, mapping, now_ms, tag);
  if (tag->mapped()) {
    MapView(event, mapping, *tag, now_ms, mapped);
  } else if (tag->outcome == TagMapResult::Outcome::kRejected) {
    AddCoreIssues(event, mapping, now_ms, tag, mapped);
  } else {
    ClearMapped(mapped);
  }
}

void MapTagEvent(const Struct& event, const CompiledTagMapping& mapping,
                 std::int64_t now_ms, TagMapResult* tag, MappedEvent* mapped) {
  TagTreeFromStruct(event, &tag->tree);
  MapTagEvent(tag->tree, mapping, now_ms, tag, mapped);
}

void MapTagEventGroup(absl::Span<const TagTree> events,
                      const CompiledTagMapping& mapping, std::int64_t now_ms,
                      TagMapResult* tags, MappedEvent* mapped) {
  const size_t count = events.size();
  for (size_t i = 0; i < count; ++i) {
    internal::MapTagEventToView(events[i], mapping, now_ms, &tags[i]);
  }
  for (size_t i = 0; i < count; ++i) {
    if (tags[i].mapped()) {
      MapView(events[i], mapping, tags[i], now_ms, &mapped[i]);
    } else if (tags[i].outcome == TagMapResult::Outcome::kRejected) {
      AddCoreIssues(events[i], mapping, now_ms, &tags[i], &mapped[i]);
    } else {
      ClearMapped(&mapped[i]);
    }
  }
}

void MapTagEventGroup(const google::protobuf::RepeatedPtrField<Struct>& events,
                      int first, int count, const CompiledTagMapping& mapping,
                      std::int64_t now_ms, TagMapResult* tags,
                      MappedEvent* mapped) {
  // Each event's tree lives in its result, as for MapTagEvent; the tree
  // form then maps the group.
  for (int i = 0; i < count; ++i) {
    TagTreeFromStruct(events[first + i], &tags[i].tree);
  }
  for (int i = 0; i < count; ++i) {
    internal::MapTagEventToView(tags[i].tree, mapping, now_ms, &tags[i]);
  }
  for (int i = 0; i < count; ++i) {
    if (tags[i].mapped()) {
      MapView(tags[i].tree, mapping, tags[i], now_ms, &mapped[i]);
    } else if (tags[i].outcome == TagMapResult::Outcome::kRejected) {
      AddCoreIssues(tags[i].tree, mapping, now_ms, &tags[i], &mapped[i]);
    } else {
      ClearMapped(&mapped[i]);
    }
  }
}

void MapTagEvent(const TagTree& event, const CompiledTagMapping& mapping,
                 std::int64_t now_ms, TagMapResult* result) {
  internal::MapTagEventToView(event, mapping, now_ms, result);
  internal::ToTypedEvent(result->view, &result->event);
}

void MapTagEvent(const Struct& event, const CompiledTagMapping& mapping,
                 std::int64_t now_ms, TagMapResult* result) {
  internal::MapTagEventToView(event, mapping, now_ms, result);
  internal::ToTypedEvent(result->view, &result->event);
}

TagMapResult MapTagEvent(const TagTree& event,
                         const CompiledTagMapping& mapping,
                         std::int64_t now_ms) {
  TagMapResult result;
  MapTagEvent(event, mapping, now_ms, &result);
  return result;
}

TagMapResult MapTagEvent(const Struct& event, const CompiledTagMapping& mapping,
                         std::int64_t now_ms) {
  TagMapResult result;
  MapTagEvent(event, mapping, now_ms, &result);
  return result;
}

std::string CustomEventNameFromEventName(std::string_view event_name) {
  std::string name;
  if (internal::core::IsValidCustomEventName(event_name)) {
    for (char c : event_name) name.push_back(AsciiLower(c));
    return name;
  }
  for (char c : event_name) {
    if (internal::core::IsAsciiAlnum(c) || c == '-') {
      name.push_back(AsciiLower(c));
    } else if (!name.empty() && name.back() != '_') {
      name.push_back('_');
    }
  }
  name.resize(std::min(name.size(), Limits::kCustomEventNameChars));
  while (!name.empty() && (name.back() == '_' || name.back() == '-')) {
    name.pop_back();
  }
  while (!name.empty() && (name.front() == '_' || name.front() == '-')) {
    name.erase(0, 1);
  }
  return name;
}

}  // namespace conversions::mapping
