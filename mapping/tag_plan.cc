// Compiles a TagMappingConfig into a TagPlan: validates every setting,
// merges the event mapping with the defaults, and builds the prefix trees of
// the source paths (see tag_plan.h).
#include "mapping/tag_plan.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/event_types.h"
#include "mapping/tag_mapper.h"
#include "mapping/unicode.h"

namespace conversions::mapping {
namespace {

using internal::ChildIndex;
using internal::kItemCurrency;
using internal::kItems;
using internal::kSlotCount;
using internal::PathNode;
using internal::PathTree;
using internal::SourcePath;
using internal::TagPlan;

// Debian's abseil has its own string_view type; StrCat takes only that.
absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && IsAsciiWhitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiWhitespace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsItemSlot(size_t slot) {
  return kTagSlots[slot].substr(0, 8) == "items.X.";
}

// The event model's names of the default event mapping; the API's names
// map to themselves, but for the app events (the destination offers
// neither).
constexpr std::array<std::pair<std::string_view, v1::EventType>, 5>
    kEventModelNames = {{
        {"begin_checkout", v1::EVENT_TYPE_CHECKOUT_STARTED},
        {"generate_lead", v1::EVENT_TYPE_LEAD_CREATED},
        {"page_view", v1::EVENT_TYPE_PAGE_VIEWED},
        {"purchase", v1::EVENT_TYPE_ORDER_CREATED},
        {"sign_up", v1::EVENT_TYPE_REGISTRATION_COMPLETED},
    }};

bool IsValidSegment(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    out.push_back(path.substr(start, dot == std::string_view::npos
                                         ? std::string_view::npos
                                         : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

std::string Join(const std::vector<std::string_view>& segments, size_t begin,
                 size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) out += '.';
    out.append(segments[i]);
  }
  return out;
}

class Compiler {
 public:
  explicit Compiler(const TagMappingConfig& config) : config_(config) {}

  absl::StatusOr<std::shared_ptr<const TagPlan>> Run() {
    auto plan = std::make_shared<TagPlan>();
    plan_ = plan.get();
    CompileEventMapping();
    CompileOptions();
    for (const auto& [slot, paths] : config_.field_mapping) {
      if (std::find(kTagSlots.begin(), kTagSlots.end(), slot) ==
          kTagSlots.end()) {
        errors_.push_back(
            absl::StrCat("field_mapping: unknown slot \"", slot, "\""));
      } else if (paths.empty()) {
        errors_.push_back(
            absl::StrCat("field_mapping[\"", slot, "\"]: no source paths"));
      }
    }
    // The items slot first: item paths may name its paths before ".X.".
    CompileSlot(kItems);
    for (size_t slot = 0; slot < kSlotCount; ++slot) {
      if (slot != kItems) CompileSlot(slot);
    }
    plan_->event_name = Fixed("event_name");
    plan_->email_sha256 = Fixed("user.email_sha256");
    plan_->id_sha256 = Fixed("user.id_sha256");
    plan_->firstname_sha256 = Fixed("user.firstname_sha256");
    plan_->lastname_sha256 = Fixed("user.lastname_sha256");
    // A pre-hashed source that a slot reads too is read by the slot alone:
    // its fixed node becomes one that no walk reaches, always missing, so
    // that the mapper reads it without a test.
    int unreached = -1;
    for (int TagPlan::*fixed :
         {&TagPlan::email_sha256, &TagPlan::id_sha256,
          &TagPlan::firstname_sha256, &TagPlan::lastname_sha256}) {
      if (!ReadBySlot(plan_->*fixed)) continue;
      if (unreached < 0) {
        unreached = static_cast<int>(plan_->event.nodes.size());
        plan_->event.nodes.emplace_back();  // in no node's children
      }
      plan_->*fixed = unreached;
    }
    CompileUnusableHashes();
    Index(&plan_->event);
    Index(&plan_->items);
    for (size_t slot = 0; slot < kSlotCount; ++slot) {
      for (const SourcePath& source : plan_->slots[slot]) {
        plan_->slot_values[slot].push_back(static_cast<std::uint32_t>(
            source.per_item ? plan_->event.nodes.size() + 1 + source.node
                            : source.node));
      }
    }
    if (!errors_.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid tag mapping: ", absl::StrJoin(errors_, "; ")));
    }
    return std::shared_ptr<const TagPlan>(std::move(plan));
  }

 private:
  void CompileEventMapping() {
    std::map<std::string, v1::EventType> merged;
    for (const auto& [name, type] : DefaultTagEventMapping()) {
      merged.emplace(std::string(name), type);
    }
    for (const auto& [name, type] : config_.event_mapping) {
      if (name.empty()) {
        errors_.push_back("event_mapping: an event name is empty");
      } else if (!v1::EventType_IsValid(type)) {
        errors_.push_back(absl::StrCat("event_mapping[\"", name,
                                       "\"]: not a valid event type"));
      } else {
        merged[name] = type;
      }
    }
    for (const auto& [name, type] : merged) {
      plan_->event_names.roots.nodes.push_back(
          static_cast<int>(plan_->event_names.nodes.size()));
      plan_->event_names.nodes.emplace_back().key = name;
      plan_->event_types.push_back(type);
    }
    Index(plan_->event_names, &plan_->event_names.roots);
  }

  void CompileOptions() {
    plan_->default_action_source = config_.default_action_source;
    if (config_.default_action_source == v1::ACTION_SOURCE_UNSPECIFIED ||
        !v1::ActionSource_IsValid(config_.default_action_source)) {
      errors_.push_back("default_action_source: not a valid action source");
    }
    for (const std::string& category : config_.consent_categories) {
      if (TrimAscii(category).empty()) {
        errors_.push_back("consent_categories: a category is empty");
      }
    }
    plan_->consent_categories = config_.consent_categories;
  }

  void CompileSlot(size_t slot) {
    std::vector<std::string> defaults;
    const std::vector<std::string>* paths = &defaults;
    auto it = config_.field_mapping.find(std::string(kTagSlots[slot]));
    if (it != config_.field_mapping.end()) {
      paths = &it->second;
    } else if (slot == kItemCurrency) {
      // Footnote [12] and the event model: Product carries the currency.
      defaults = {"items.X.currency", "items.X.product.currency"};
    } else {
      defaults = {std::string(kTagSlots[slot])};
    }
    for (const std::string& path : *paths) CompilePath(slot, path);
  }

  void CompilePath(size_t slot, const std::string& path) {
    const std::string where = absl::StrCat(
        "field_mapping[\"", Sv(kTagSlots[slot]), "\"]: path \"", path, "\"");
    std::vector<std::string_view> segments = Split(path);
    size_t x = segments.size();  // the position of the X segment
    for (size_t i = 0; i < segments.size(); ++i) {
      if (!IsValidSegment(segments[i])) {
        errors_.push_back(absl::StrCat(
            where, segments[i].empty() ? " has an empty segment"
                                       : " has a segment with characters "
                                         "other than [A-Za-z0-9_-]"));
        return;
      }
      if (segments[i] != "X") continue;
      if (!IsItemSlot(slot)) {
        errors_.push_back(
            absl::StrCat(where,
                         ": X (the current item) is allowed only in items.X.* "
                         "slots"));
        return;
      }
      if (x != segments.size()) {
        errors_.push_back(absl::StrCat(where, " has more than one X"));
        return;
      }
      x = i;
    }
    SourcePath source;
    if (x == segments.size()) {  // an event-level path
      source.node = AddNodes(&plan_->event, segments, 0, x);
      source.display = path;
    } else {
      if (x == 0 || x + 1 == segments.size()) {
        errors_.push_back(absl::StrCat(
            where, ": X must follow the item list and precede a property"));
        return;
      }
      std::string list = Join(segments, 0, x);
      bool names_list = list == "items";
      for (const SourcePath& items : plan_->slots[kItems]) {
        names_list |= items.display == list;
      }
      if (!names_list) {
        errors_.push_back(absl::StrCat(
            where,
            ": the list before X must be \"items\" or a path of the "
            "items slot"));
        return;
      }
      source.per_item = true;
      source.node = AddNodes(&plan_->items, segments, x + 1, segments.size());
      source.display = Join(segments, x + 1, segments.size());
    }
    plan_->slots[slot].push_back(std::move(source));
  }

  // Whether `node` of the event tree is a source of some slot: smart
  // mapping re-pointed a slot at a fixed source ("user.email" ->
  // "user.email_sha256", mapping spec §4c).
  bool ReadBySlot(int node) const {
    for (const std::vector<SourcePath>& sources : plan_->slots) {
      for (const SourcePath& source : sources) {
        if (!source.per_item && source.node == node) return true;
      }
    }
    return false;
  }

  void CompileUnusableHashes() {
    struct Prop {
      const char* name;
      bool in_clear;  // the API takes it in clear only (spec 5a)
    };
    constexpr Prop kProps[] = {
        {"email", false},     {"phone", false},    {"id", false},
        {"firstname", false}, {"lastname", false}, {"country", true},
        {"city", true},       {"state", true},     {"zipcode", true}};
    auto add = [this](std::string path, std::string description) {
      const int node = Fixed(path);
      if (ReadBySlot(node)) return;
      plan_->unusable_hashes.push_back(
          {node, std::move(path), std::move(description)});
    };
    // The event model hashes phone numbers in E.164 with their '+'; a
    // slot that reads such a property (`user.phone: user.phone_sha256`)
    // says it holds the API's hash instead.
    add("user.phone_sha256",
        "the event model hashes phone numbers in E.164 with '+', the API "
        "hashes the digits without it: such a hash cannot match");
    for (const Prop& p : kProps) {
      add(absl::StrCat("user.", p.name, "_md5"),
          absl::StrCat(
              "the API takes no MD5 hashes; send user.", p.name,
              p.in_clear ? "" : absl::StrCat(" or user.", p.name, "_sha256")));
      if (p.in_clear) {
        add(absl::StrCat("user.", p.name, "_sha256"),
            absl::StrCat("the API takes ", p.name,
                         " in clear and cannot match a hash of it; send "
                         "user.",
                         p.name));
      }
    }
  }

  int Fixed(std::string_view path) {
    std::vector<std::string_view> segments = Split(path);
    return AddNodes(&plan_->event, segments, 0, segments.size());
  }

  // Adds segments [begin, end) to a prefix tree; returns the last node.
  static int AddNodes(PathTree* tree,
                      const std::vector<std::string_view>& segments,
                      size_t begin, size_t end) {
    int parent = -1;
    for (size_t i = begin; i < end; ++i) {
      ChildIndex& siblings =
          parent < 0 ? tree->roots : tree->nodes[parent].children;
      int found = -1;
      for (int n : siblings.nodes) {
        if (tree->nodes[n].key == segments[i]) found = n;
      }
      if (found < 0) {
        found = static_cast<int>(tree->nodes.size());
        siblings.nodes.push_back(found);  // before `siblings` may move
        PathNode node;
        node.key = std::string(segments[i]);
        int index = 0;
        auto [ptr, ec] = std::from_chars(
            node.key.data(), node.key.data() + node.key.size(), index);
        if (ec == std::errc() && ptr == node.key.data() + node.key.size()) {
          node.index = index;
        }
        tree->nodes.push_back(std::move(node));
      }
      parent = found;
    }
    return parent;
  }

  // Builds the hash table of every node's children.
  static void Index(PathTree* tree) {
    Index(*tree, &tree->roots);
    for (PathNode& node : tree->nodes) Index(*tree, &node.children);
  }
  // Looks for a seed and a table of 4 to 16 slots per child that put every
  // child in its home slot; failing that (names longer than 16 bytes that
  // agree in length and their first and last eight bytes), probes
  // linearly in a table at most a quarter full.
  static void Index(const PathTree& tree, ChildIndex* index) {
    size_t size = 8;
    while (size < 4 * index->nodes.size()) size *= 2;
    for (size_t tries = 0; tries < 3; ++tries, size *= 2) {
      std::uint64_t seed = 0x9E3779B97F4A7C15ull;
      for (int attempt = 0; attempt < 64; ++attempt) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        if (Fill(tree, size, seed | 1, /*perfect=*/true, index)) return;
      }
    }
    size = 8;
    while (size < 4 * index->nodes.size()) size *= 2;
    Fill(tree, size, 1, /*perfect=*/false, index);
  }
  // Fills `index` with a table of `size` slots; with `perfect`, returns
  // false when two children share a home slot.
  static bool Fill(const PathTree& tree, size_t size, std::uint64_t seed,
                   bool perfect, ChildIndex* index) {
    index->slots.assign(size, ChildIndex::Slot());
    index->mask = static_cast<std::uint32_t>(size - 1);
    index->shift = 64;
    for (size_t s = size; s > 1; s /= 2) --index->shift;
    index->seed = seed;
    index->perfect = perfect;
    for (int n : index->nodes) {
      const std::string& key = tree.nodes[n].key;
      ChildIndex::Slot slot;
      internal::KeyWords(key, &slot.head, &slot.tail);
      slot.size = static_cast<std::uint32_t>(key.size());
      slot.node = n;
      slot.parent = !tree.nodes[n].children.nodes.empty();
      std::uint32_t i = internal::NameHash(slot.head, slot.tail, key.size(),
                                           seed, index->shift);
      if (perfect && index->slots[i].node >= 0) return false;
      while (index->slots[i].node >= 0) i = (i + 1) & index->mask;
      index->slots[i] = slot;
    }
    return true;
  }

  const TagMappingConfig& config_;
  TagPlan* plan_ = nullptr;
  std::vector<std::string> errors_;
};

}  // namespace

std::vector<std::pair<std::string_view, v1::EventType>>
DefaultTagEventMapping() {
  std::vector<std::pair<std::string_view, v1::EventType>> out(
      kEventModelNames.begin(), kEventModelNames.end());
  for (int t = v1::EventType_MIN; t <= v1::EventType_MAX; ++t) {
    auto type = static_cast<v1::EventType>(t);
    std::string_view name = EventTypeName(type);
    if (!name.empty() && type != v1::EVENT_TYPE_APP_INSTALLED &&
        type != v1::EVENT_TYPE_APP_OPENED) {
      out.emplace_back(name, type);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

CompiledTagMapping CompiledTagMapping::Default() {
  static const CompiledTagMapping* const kDefault =
      new CompiledTagMapping(*CompileTagMapping(TagMappingConfig()));
  return *kDefault;
}

absl::StatusOr<CompiledTagMapping> CompileTagMapping(
    const TagMappingConfig& config) {
  absl::StatusOr<std::shared_ptr<const TagPlan>> plan = Compiler(config).Run();
  if (!plan.ok()) return plan.status();
  return CompiledTagMapping(*std::move(plan));
}

absl::Status ValidateTagMappingConfig(const TagMappingConfig& config) {
  return CompileTagMapping(config).status();
}

}  // namespace conversions::mapping
