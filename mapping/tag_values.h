// The value readers of the tag mapper (tag_mapper.cc): finding the values of
// a compiled plan's source paths in one walk of an event (Resolve), and
// reading them as text, numbers, money and action sources. Internal to the
// mapping library: include tag_mapper.h instead.
//
// Only tag_mapper.cc includes this header. Its functions keep the internal
// linkage they had in that file's unnamed namespace, and are not `inline`
// unless they were, so that GCC inlines them into the mapper's hot path
// exactly as before: declared `inline` with external linkage, they came out
// inlined differently and tag_mapper.o's code grew from 48.8 to 57.3 KB.
// AsText alone is forced inline, its number case out of line
// (NumberAsText): called out of line, it was a stall after each value read.
#ifndef CONVERSIONS_MAPPING_TAG_VALUES_H_
#define CONVERSIONS_MAPPING_TAG_VALUES_H_

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "conversions/v1/event.pb.h"
#include "google/protobuf/struct.pb.h"
#include "mapping/event_view.h"
#include "mapping/tag_plan.h"
#include "mapping/tag_tree.h"
#include "mapping/unicode.h"

namespace conversions::mapping {
namespace internal {

using google::protobuf::Value;

// Whole numbers up to 2^53 are exact in a double (JSON numbers).
constexpr double kMaxExactInteger = 9007199254740992.0;

// Debian's abseil has its own string_view type; StrCat takes only that.
static absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

static std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && IsAsciiWhitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiWhitespace(s.back())) s.remove_suffix(1);
  return s;
}

// Empties `*s` when it holds white space only (Unicode's, as the core
// trims).
static void ClearIfBlank(std::string_view* s) {
  if (IsBlank(*s)) *s = {};
}

static char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// ---------------------------------------------------------------------------
// Reading values.
//
// The value of each node of a PathTree is the index of a TagTree node
// (TagValue::index()), or kMissing: four bytes per plan node, read back
// with the tree the mapper holds.

// The value of a plan node whose property the event does not have.
constexpr std::uint32_t kMissing = 0xFFFFFFFF;

// Resolve's mark, in the entry after the nodes' (out[tree.nodes.size()]),
// that a node with children held a value it could not look into for some
// of them (a string, a number, a bool or null; a list, for a child that is
// not an index): kMissing when there was none. Set on the cold side of the
// kind tests Resolve makes anyway, so that a well-formed event pays one
// store and one test for it; the mapper then looks for the container
// (TagMapper::ReportUnreadContainers).
constexpr std::uint32_t kUnreadContainer = 0;

static void ResolveChildren(TagValue value, const ChildIndex& children,
                            const PathTree& tree, std::uint32_t* out);

// Records `value` as the value of `node`, then finds its children's.
static inline void ResolveValue(TagValue value, int node, const PathTree& tree,
                                std::uint32_t* out) {
  out[node] = value.index();
  const ChildIndex& children = tree.nodes[node].children;
  if (!children.nodes.empty()) ResolveChildren(value, children, tree, out);
}

// As ResolveValue, for a node found through a ChildIndex slot, which tells
// whether it has children without reading the node.
static inline void ResolveSlot(TagValue value, const ChildIndex::Slot& slot,
                               const PathTree& tree, std::uint32_t* out) {
  out[slot.node] = value.index();
  if (slot.parent) {
    ResolveChildren(value, tree.nodes[slot.node].children, tree, out);
  }
}

// Resolves the properties of `object` that `find(key)` gives a slot for,
// of which there are `wanted`: one walk of the object. Each key occurs once
// in a TagTree object, so the walk stops once every wanted property is
// found.
template <typename FindSlot>
static inline void ResolveFound(TagStruct object, size_t wanted,
                                const PathTree& tree, std::uint32_t* out,
                                FindSlot find) {
  for (const auto& [key, value] : object) {
    const ChildIndex::Slot* slot = find(key);
    if (slot == nullptr) continue;
    ResolveSlot(value, *slot, tree, out);
    if (--wanted == 0) break;  // every wanted property found
  }
}

// Finds the properties of `object` that are children in `wanted` (a tree's
// keys may be read 16 bytes at a time, as FindSlot does).
static void ResolveStruct(TagStruct object, const ChildIndex& wanted,
                          const PathTree& tree, std::uint32_t* out) {
  if (wanted.nodes.empty()) return;
  if (!wanted.perfect) {
    ResolveFound(object, wanted.nodes.size(), tree, out,
                 [&](std::string_view key) {
                   return wanted.FindWantedSlot(key, tree.nodes);
                 });
    return;
  }
  // The table's fields by value, which the calls of ResolveSlot would
  // otherwise have made the walk reload for every key.
  ResolveFound(object, wanted.nodes.size(), tree, out,
               [slots = wanted.slots.data(), seed = wanted.seed,
                shift = wanted.shift, &tree](std::string_view key) {
                 return ChildIndex::FindPerfectSlot(key, slots, seed, shift,
                                                    tree.nodes);
               });
}

static void ResolveChildren(TagValue value, const ChildIndex& children,
                            const PathTree& tree, std::uint32_t* out) {
  if (value.kind_case() == Value::kStructValue) {
    ResolveStruct(value.struct_value(), children, tree, out);
  } else if (value.kind_case() == Value::kListValue) {
    const TagList list = value.list_value();
    for (int n : children.nodes) {
      int index = tree.nodes[n].index;
      if (index < 0) {
        out[tree.nodes.size()] = kUnreadContainer;  // a name, not an index
      } else if (index < list.values_size()) {
        ResolveValue(list.values(index), n, tree, out);
      }
    }
  } else {
    out[tree.nodes.size()] = kUnreadContainer;  // a scalar or null
  }
}

// Finds the value of every node of `tree` under `root`; nodes whose
// property is missing get kMissing. `out` holds tree.nodes.size() + 1
// entries: the last is the kUnreadContainer mark, else kMissing.
static void Resolve(TagStruct root, const PathTree& tree, std::uint32_t* out) {
  std::fill(out, out + tree.nodes.size() + 1, kMissing);
  ResolveStruct(root, tree.roots, tree, out);
}

// Present: neither missing, null, "", white space only, [] nor {}. So a
// slot's next source path is read after a blank value, as after an empty
// one.
static bool Present(const TagTree& t, std::uint32_t node) {
  if (node == kMissing) return false;
  const TagValue v(&t, node);
  // Tests rather than a switch: a jump table's indirect branch is one more
  // prediction for the mapper core to evict between two events.
  const Value::KindCase kind = v.kind_case();
  if (kind == Value::kStringValue) {
    const std::string_view s = v.string_value();
    return !s.empty() && !TrimWhitespace(s).empty();
  }
  if (kind == Value::kNumberValue || kind == Value::kBoolValue) return true;
  if (kind == Value::kListValue) return v.list_value().values_size() > 0;
  if (kind == Value::kStructValue) return v.struct_value().fields_size() > 0;
  return false;
}

static bool IsWholeNumber(double d) {
  return std::isfinite(d) && std::floor(d) == d &&
         std::fabs(d) <= kMaxExactInteger;
}

// Whether `d` is a whole number no other integer rounds to (|d| < 2^53, as
// JavaScript's Number.isSafeInteger): 2^53 may have been 2^53 + 1 in the
// JSON text. For ids, where a neighbour is another event.
static bool IsSafeInteger(double d) {
  return IsWholeNumber(d) && std::fabs(d) < kMaxExactInteger;
}

// Writes a number as text (whole numbers without a fraction) into `buf`.
static std::string_view FormatNumber(double d, char (&buf)[32]) {
  std::to_chars_result r =
      IsWholeNumber(d)
          ? std::to_chars(buf, buf + sizeof(buf), static_cast<std::int64_t>(d))
          : std::to_chars(buf, buf + sizeof(buf), d);
  return {buf, static_cast<size_t>(r.ptr - buf)};
}

// The most significant digits a decimal may have and still come back from
// the nearest double (DBL_DIG).
constexpr int kExactDigits = 15;

// IsExactAsText for a number that is not a whole number below 2^53: cold
// and out of line, off the hot path of AsText.
[[gnu::cold, gnu::noinline]] static bool IsExactFraction(double d) {
  if (!std::isfinite(d) || std::floor(d) == d) return false;  // |d| >= 2^53
  char buf[32];
  int digits = 0;
  bool leading = true;  // zeros before the first other digit do not count
  for (char c : FormatNumber(d, buf)) {
    if (c == 'e') break;  // the exponent of "1.5e-07"
    if (c < '0' || c > '9' || (leading && c == '0')) continue;
    leading = false;
    ++digits;
  }
  return digits <= kExactDigits;
}

// Whether the text of `d` (FormatNumber) is surely the number the caller
// wrote, as an identifier read as text needs: a whole number below 2^53
// (IsSafeInteger), or a finite fraction of at most kExactDigits significant
// digits. Past that, the JSON number was rounded to the nearest double and
// its text may be another value: 12345678901234567890 arrives as
// 12345678901234567168, which would be hashed as someone else's id.
static bool IsExactAsText(double d) {
  return IsSafeInteger(d) || IsExactFraction(d);
}

// AsText of a value that is not a string: out of line, so that AsText,
// which the mapper runs for most values it reads, inlines to a test.
[[gnu::noinline]] static bool NumberAsText(TagValue v, EventView* view,
                                           std::string_view* out) {
  if (v.kind_case() == Value::kNumberValue && IsExactAsText(v.number_value())) {
    char buf[32];
    *out = view->Keep(FormatNumber(v.number_value(), buf));
    return true;
  }
  return false;
}
// Reads a string, or a number IsExactAsText as text, into `*out` (numbers
// are kept in `view`); returns false for other kinds and other numbers.
[[gnu::always_inline]] static inline bool AsText(TagValue v, EventView* view,
                                                 std::string_view* out) {
  if (v.kind_case() == Value::kStringValue) {
    *out = v.string_value();
    return true;
  }
  return NumberAsText(v, view, out);
}

// Whether `v` is a finite number that AsText refuses for not being exact.
static bool IsInexactNumber(TagValue v) {
  return v.kind_case() == Value::kNumberValue &&
         std::isfinite(v.number_value()) && !IsExactAsText(v.number_value());
}

// Parses a number, or a string holding one (surrounding spaces allowed).
static std::optional<double> AsNumber(TagValue v) {
  if (v.kind_case() == Value::kNumberValue) {
    if (!std::isfinite(v.number_value())) return std::nullopt;
    return v.number_value();
  }
  if (v.kind_case() != Value::kStringValue) return std::nullopt;
  std::string_view s = TrimAscii(v.string_value());
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double d = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() ||
      !std::isfinite(d)) {
    return std::nullopt;
  }
  return d;
}

// Converts a non-negative price without formatting it: when x * 10^e is
// within 1e-6 of a whole number n below 10^12, DoubleToMinorUnits (which
// rounds the shortest decimal text of x) gives n too, since that text is
// within half an ulp of x. Returns nullopt when the slow path must decide.
static std::optional<std::int64_t> FastMinorUnits(double major, int exponent) {
  constexpr double kScale[] = {1, 10, 100, 1000, 10000};
  if (exponent < 0 || exponent > 4) return std::nullopt;
  const double scaled = major * kScale[exponent];
  if (!(scaled >= 0 && scaled < 1e12)) return std::nullopt;  // also NaN
  const auto whole = static_cast<std::int64_t>(scaled + 0.5);
  const double error = scaled - static_cast<double>(whole);
  if (error > 1e-6 || error < -1e-6) return std::nullopt;
  return whole;
}

// The action sources of the event model's `type` and of the API.
constexpr std::array<std::pair<std::string_view, v1::ActionSource>, 11>
    kActionSourceNames = {{
        {"online", v1::ACTION_SOURCE_WEB},
        {"offline", v1::ACTION_SOURCE_OFFLINE},
        {"call", v1::ACTION_SOURCE_PHONE_CALL},
        {"store", v1::ACTION_SOURCE_PHYSICAL_STORE},
        {"app", v1::ACTION_SOURCE_MOBILE_APP},
        {"email", v1::ACTION_SOURCE_EMAIL},
        {"web", v1::ACTION_SOURCE_WEB},
        {"mobile_app", v1::ACTION_SOURCE_MOBILE_APP},
        {"physical_store", v1::ACTION_SOURCE_PHYSICAL_STORE},
        {"phone_call", v1::ACTION_SOURCE_PHONE_CALL},
        {"other", v1::ACTION_SOURCE_OTHER},
    }};

static std::optional<v1::ActionSource> ActionSourceOf(std::string_view value) {
  value = TrimAscii(value);
  for (const auto& [name, source] : kActionSourceNames) {
    if (name.size() != value.size()) continue;
    bool equal = true;
    for (size_t i = 0; i < name.size() && equal; ++i) {
      equal = AsciiLower(value[i]) == name[i];
    }
    if (equal) return source;
  }
  return std::nullopt;
}

// An event name as it may appear in a skip reason: at most 64 characters,
// and only when it looks like an event name ("purchase", "Order
// Completed", "step_2_done"): letters, digits, spaces and _ - . : /, with
// at least one letter, no @ and fewer than five digits; beyond ASCII,
// letters only (not full-width digits or ＠). Anything else (an
// email, a phone number, a customer id sent in the wrong property) is not
// repeated back, since skip reasons go to logs and clients.
static std::string QuoteName(std::string_view name) {
  if (!IsValidUtf8(name)) return "(not valid UTF-8)";
  std::string_view cut = TruncateCodePoints(name, 64);
  int digits = 0;
  bool letter = false;
  bool plain = true;
  for (const char c : cut) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z')) {
      letter = true;
    } else if (u >= '0' && u <= '9') {
      ++digits;
    } else if (c != ' ' && c != '_' && c != '-' && c != '.' && c != ':' &&
               c != '/') {
      plain = false;
    }
  }
  if (!plain || !letter || digits >= 5 || !NonAsciiAreLetters(cut)) {
    return "(whose name is not shown: it does not look like an event name)";
  }
  return absl::StrCat("'", Sv(cut), cut.size() < name.size() ? "...'" : "'");
}

}  // namespace internal
}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_TAG_VALUES_H_
