// Content comparisons of TagTrees, shared by tag_tree_test and
// tag_tree_fuzzer: two trees (or a tree and a protobuf Value) are the same
// when their kinds and scalars are (numbers bit for bit, NaN included) and
// their objects hold the same keys, each once, with the same values. The
// order of keys does not count; the order of list elements does.
#ifndef CONVERSIONS_TESTS_MAPPING_TAG_TREE_UTIL_H_
#define CONVERSIONS_TESTS_MAPPING_TAG_TREE_UTIL_H_

#include <google/protobuf/struct.pb.h>

#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "mapping/tag_tree.h"

namespace conversions::testing {

// How an object's values are held while comparing: TagValues by value,
// protobuf Values by address.
inline mapping::TagValue Hold(mapping::TagValue v) { return v; }
inline const google::protobuf::Value* Hold(const google::protobuf::Value& v) {
  return &v;
}
inline mapping::TagValue Held(mapping::TagValue v) { return v; }
inline const google::protobuf::Value& Held(const google::protobuf::Value* v) {
  return *v;
}

// Returns "" when `a` and `b` (a TagValue or a protobuf Value) hold the same
// content, else the path of the first difference and what differs.
template <typename Other>
std::string TagValueDiff(mapping::TagValue a, const Other& b,
                         const std::string& path = "$") {
  using google::protobuf::Value;
  if (a.kind_case() != b.kind_case()) return path + ": kinds differ";
  switch (a.kind_case()) {
    case Value::kNullValue:
      if (a.null_value() != b.null_value()) return path + ": null enums differ";
      return "";
    case Value::kNumberValue: {
      const double x = a.number_value(), y = b.number_value();
      if (std::memcmp(&x, &y, sizeof x) != 0) return path + ": numbers differ";
      return "";
    }
    case Value::kStringValue:
      if (a.string_value() != b.string_value()) {
        return path + ": strings differ";
      }
      return "";
    case Value::kBoolValue:
      if (a.bool_value() != b.bool_value()) return path + ": bools differ";
      return "";
    case Value::kStructValue: {
      std::unordered_map<std::string_view, mapping::TagValue> fields_a;
      std::unordered_map<std::string_view,
                         decltype(Hold(std::declval<const Other&>()))>
          fields_b;
      for (const auto& [key, value] : a.struct_value().fields()) {
        fields_a.emplace(key, value);
      }
      for (const auto& [key, value] : b.struct_value().fields()) {
        fields_b.emplace(key, Hold(value));
      }
      if (static_cast<int>(fields_a.size()) != a.struct_value().fields_size() ||
          static_cast<int>(fields_b.size()) != b.struct_value().fields_size()) {
        return path + ": an object holds a key twice";
      }
      if (fields_a.size() != fields_b.size()) {
        return path + ": objects have different sizes";
      }
      for (const auto& [key, value] : fields_a) {
        auto it = fields_b.find(key);
        if (it == fields_b.end()) return path + ": keys differ";
        std::string diff = TagValueDiff(value, Held(it->second),
                                        path + "." + std::string(key));
        if (!diff.empty()) return diff;
      }
      return "";
    }
    case Value::kListValue: {
      const mapping::TagList x = a.list_value();
      const auto& y = b.list_value();
      if (x.values_size() != y.values_size()) {
        return path + ": lists have different sizes";
      }
      for (int i = 0; i < x.values_size(); ++i) {
        std::string diff = TagValueDiff(x.values(i), y.values(i),
                                        path + "[" + std::to_string(i) + "]");
        if (!diff.empty()) return diff;
      }
      return "";
    }
    case Value::KIND_NOT_SET:
      return "";
  }
  return path + ": unknown kind";
}

inline std::string TagTreeDiff(const mapping::TagTree& a,
                               const mapping::TagTree& b) {
  return TagValueDiff(a.root_value(), b.root_value());
}

inline std::string TagTreeDiff(const mapping::TagTree& a,
                               const google::protobuf::Struct& b) {
  google::protobuf::Value root;
  *root.mutable_struct_value() = b;
  return TagValueDiff(a.root_value(), root);
}

// Returns "" when every key and string of `tree` lies inside its buffer and
// the buffer is followed by kTagTreePadding zero bytes.
inline std::string TagTreePaddingDiff(const mapping::TagTree& tree) {
  const std::string_view buffer = tree.buffer();
  for (size_t i = 0; i < mapping::kTagTreePadding; ++i) {
    if (buffer.data()[buffer.size() + i] != '\0') return "padding not zero";
  }
  auto inside = [&](std::string_view s) {
    return s.data() >= buffer.data() &&
           s.data() + s.size() <= buffer.data() + buffer.size();
  };
  std::string diff;
  auto walk = [&](auto& self, mapping::TagValue v) -> void {
    if (v.kind_case() == google::protobuf::Value::kStringValue &&
        !inside(v.string_value())) {
      diff = "a string outside the buffer";
    }
    for (const auto& [key, value] : v.struct_value().fields()) {
      if (!inside(key)) diff = "a key outside the buffer";
      self(self, value);
    }
    for (mapping::TagValue element : v.list_value().values()) {
      self(self, element);
    }
  };
  walk(walk, tree.root_value());
  return diff;
}

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_MAPPING_TAG_TREE_UTIL_H_
