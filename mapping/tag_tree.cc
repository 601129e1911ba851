// How ParseTagTree reads a Struct's wire bytes, and how TagTreeFromStruct
// copies a parsed one.
//
// The parser is a recursive descent over the four messages involved
// (Struct, its map entry, Value, ListValue), mirroring protobuf 3.21's
// generated parsers (struct.pb.cc, map_entry_lite.h, parse_context.h):
//   - a field whose tag is not the exact tag of a known field (another
//     number, or a known number with another wire type) is unknown, and
//     skipped as protobuf's UnknownFieldParse does; tag 0, field number 0,
//     an end-group tag outside its group, and wire types 6 and 7 are errors;
//   - varints keep their low 64 bits (tags: 32 bits) and may be up to 10
//     (tags and sizes: 5) bytes long;
//   - every nested message and group takes one level of the recursion
//     budget of 100 (ParseContext::depth_), the root taking none;
//   - every read is bounded by the enclosing message's end, which protobuf
//     gets to the same outcome by checking its limit after the fact.
//
// Merging: protobuf parses a message field that occurs again into the
// message it already has. In a Struct, that happens to a Value's
// struct_value and list_value fields, and to a map entry's value field. So
// a value being parsed stays open (a Pending) until its map entry or list
// element ends: the entries (items) of its object (list) accumulate on a
// stack, and are deduplicated (last value wins) and copied into the tree's
// arrays only then. Another kind's field discards them, as protobuf's
// clear_kind() does. Objects and lists nest as calls do, so the pending
// entries of an inner value always sit above those of the outer ones.
#include "mapping/tag_tree.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>

#include "absl/strings/str_cat.h"
#include "mapping/unicode.h"

namespace conversions::mapping {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

size_t TagTree::capacity_bytes() const {
  return nodes_.capacity() * sizeof(Node) +
         entries_.capacity() * sizeof(Entry) +
         items_.capacity() * sizeof(std::uint32_t) + buffer_.capacity() +
         entry_stack_.capacity() * sizeof(Entry) +
         item_stack_.capacity() * sizeof(std::uint32_t) +
         dedupe_table_.capacity() * sizeof(std::uint32_t);
}

void TagTree::Clear() {
  nodes_.clear();
  Node root;
  root.kind = Value::kStructValue;
  root.first = 0;
  nodes_.push_back(root);
  entries_.clear();
  items_.clear();
  buffer_.assign(kTagTreePadding, '\0');
  padding_ = kTagTreePadding;
  entry_stack_.clear();
  item_stack_.clear();
}

namespace internal {

class TagTreeBuilder {
 public:
  explicit TagTreeBuilder(TagTree* tree) : t_(*tree) {}

  absl::Status Parse(std::string_view wire, int max_depth);
  void FromStruct(const Struct& s);

 private:
  using Node = TagTree::Node;
  using Entry = TagTree::Entry;

  // Wire tags of the fields this parser knows.
  static constexpr std::uint32_t kFieldsTag = 10;  // Struct.fields, LEN
  static constexpr std::uint32_t kKeyTag = 10;     // entry key, LEN
  static constexpr std::uint32_t kValueTag = 18;   // entry value, LEN
  static constexpr std::uint32_t kNullTag = 8;     // Value.null_value, VARINT
  static constexpr std::uint32_t kNumberTag = 17;  // Value.number_value, I64
  static constexpr std::uint32_t kStringTag = 26;  // Value.string_value, LEN
  static constexpr std::uint32_t kBoolTag = 32;    // Value.bool_value, VARINT
  static constexpr std::uint32_t kStructTag = 42;  // Value.struct_value, LEN
  static constexpr std::uint32_t kListTag = 50;    // Value.list_value, LEN
  static constexpr std::uint32_t kValuesTag = 10;  // ListValue.values, LEN
  // Objects with more entries than this are deduplicated through a hash
  // table rather than a 64-bit filter and a scan.
  static constexpr size_t kSmallObject = 16;

  // A value whose fields are still being parsed (see the file comment).
  struct Pending {
    std::uint32_t node;
    std::uint32_t entry_base;  // entry_stack_ size when it began
    std::uint32_t item_base;   // item_stack_ size when it began
  };

  bool Fail(const char* what, const char* at) {
    if (error_ == nullptr) {
      error_ = what;
      error_at_ = at;
    }
    return false;
  }

  // Wire primitives. Each advances `p`, never past `end`.
  bool ReadTag(const char*& p, const char* end, std::uint32_t* tag);
  bool ReadVarint(const char*& p, const char* end, std::uint64_t* value);
  bool ReadSize(const char*& p, const char* end, std::uint32_t* size);
  // Reads a length-delimited UTF-8 string, as an offset into the buffer.
  bool ReadText(const char*& p, const char* end, std::uint32_t* offset,
                std::uint32_t* size);
  bool SkipField(std::uint32_t tag, const char*& p, const char* end, int depth);
  bool SkipGroup(std::uint32_t tag, const char*& p, const char* end, int depth);

  // Message bodies: [p, end) is the message; `depth` the levels left.
  bool ParseStruct(const char* p, const char* end, int depth);
  bool ParseEntry(const char* p, const char* end, int depth);
  bool ParseValue(const char* p, const char* end, const Pending& v, int depth);
  bool ParseList(const char* p, const char* end, int depth);

  std::uint32_t NewNode() {
    t_.nodes_.emplace_back();
    return static_cast<std::uint32_t>(t_.nodes_.size() - 1);
  }
  Pending Open(std::uint32_t node) const {
    return {node, static_cast<std::uint32_t>(t_.entry_stack_.size()),
            static_cast<std::uint32_t>(t_.item_stack_.size())};
  }
  // Drops what `v` had pending (its kind changes).
  void Discard(const Pending& v) {
    t_.entry_stack_.resize(v.entry_base);
    t_.item_stack_.resize(v.item_base);
  }
  // Moves `v`'s pending entries or items into the tree's arrays.
  void Close(const Pending& v);
  // Removes the earlier entries of repeated keys from `e[0, n)`, in place,
  // each key keeping its first position and its last value; returns the
  // number left.
  size_t Dedupe(Entry* e, size_t n);
  std::string_view Key(const Entry& e) const {
    return t_.text(e.key_offset, e.key_size);
  }

  // TagTreeFromStruct.
  std::uint32_t AppendText(const std::string& s);
  void CopyValue(const Value& v, std::uint32_t node);
  void CopyStruct(const Struct& s, std::uint32_t node);

  TagTree& t_;
  const char* base_ = nullptr;  // the buffer's first byte
  const char* error_ = nullptr;
  const char* error_at_ = nullptr;
};

bool TagTreeBuilder::ReadTag(const char*& p, const char* end,
                             std::uint32_t* tag) {
  if (p < end && static_cast<unsigned char>(*p) < 0x80) {
    *tag = static_cast<unsigned char>(*p++);
    return true;
  }
  std::uint32_t result = 0;
  for (int i = 0; i < 5; ++i) {
    if (p == end) return Fail("truncated tag", p);
    const auto byte = static_cast<unsigned char>(*p++);
    // Bits above 32 are dropped, as protobuf's ReadTag does.
    result |= static_cast<std::uint32_t>(byte & 0x7f) << (7 * i);
    if (byte < 0x80) {
      *tag = result;
      return true;
    }
  }
  return Fail("tag longer than 5 bytes", p);
}

bool TagTreeBuilder::ReadVarint(const char*& p, const char* end,
                                std::uint64_t* value) {
  if (p < end && static_cast<unsigned char>(*p) < 0x80) {
    *value = static_cast<unsigned char>(*p++);
    return true;
  }
  std::uint64_t result = 0;
  for (int i = 0; i < 10; ++i) {
    if (p == end) return Fail("truncated varint", p);
    const auto byte = static_cast<unsigned char>(*p++);
    // Bits above 64 are dropped, as protobuf's VarintParse does.
    result |= static_cast<std::uint64_t>(byte & 0x7f) << (7 * i);
    if (byte < 0x80) {
      *value = result;
      return true;
    }
  }
  return Fail("varint longer than 10 bytes", p);
}

bool TagTreeBuilder::ReadSize(const char*& p, const char* end,
                              std::uint32_t* size) {
  const char* start = p;
  std::uint32_t result = 0;
  for (int i = 0;; ++i) {
    if (p == end) return Fail("truncated length", start);
    const auto byte = static_cast<unsigned char>(*p++);
    // protobuf's ReadSize: at most 5 bytes, below 2^31.
    if (i == 4 && byte >= 8) return Fail("length too large", start);
    result |= static_cast<std::uint32_t>(byte & 0x7f) << (7 * i);
    if (byte < 0x80) break;
  }
  if (result > static_cast<std::uint64_t>(end - p)) {
    return Fail("length past the end of its message", start);
  }
  *size = result;
  return true;
}

bool TagTreeBuilder::ReadText(const char*& p, const char* end,
                              std::uint32_t* offset, std::uint32_t* size) {
  const char* start = p;
  if (!ReadSize(p, end, size)) return false;
  if (!IsValidUtf8(std::string_view(p, *size))) {
    return Fail("string or key not valid UTF-8", start);
  }
  *offset = static_cast<std::uint32_t>(p - base_);
  p += *size;
  return true;
}

// As protobuf's FieldParser, for a tag that its message does not know.
bool TagTreeBuilder::SkipField(std::uint32_t tag, const char*& p,
                               const char* end, int depth) {
  const char* start = p;
  if (tag == 0) return Fail("tag 0", start);
  if ((tag & 7) == 4) return Fail("end-group tag outside a group", start);
  if ((tag >> 3) == 0) return Fail("field number 0", start);
  switch (tag & 7) {
    case 0: {
      std::uint64_t ignored;
      return ReadVarint(p, end, &ignored);
    }
    case 1:
      if (end - p < 8) return Fail("truncated fixed64", start);
      p += 8;
      return true;
    case 2: {
      std::uint32_t size;
      if (!ReadSize(p, end, &size)) return false;
      p += size;
      return true;
    }
    case 3:
      if (depth <= 0) return Fail("nesting deeper than 100", start);
      return SkipGroup(tag, p, end, depth - 1);
    case 5:
      if (end - p < 4) return Fail("truncated fixed32", start);
      p += 4;
      return true;
    default:
      return Fail("invalid wire type", start);
  }
}

// Skips a group's fields up to its end-group tag, which must have its
// start tag's number (ParseContext::ConsumeEndGroup).
bool TagTreeBuilder::SkipGroup(std::uint32_t start_tag, const char*& p,
                               const char* end, int depth) {
  while (p < end) {
    const char* at = p;
    std::uint32_t tag;
    if (!ReadTag(p, end, &tag)) return false;
    if ((tag & 7) == 4) {
      if (tag == start_tag + 1) return true;
      return Fail("end-group tag of another group", at);
    }
    if (!SkipField(tag, p, end, depth)) return false;
  }
  return Fail("group without its end-group tag", p);
}

bool TagTreeBuilder::ParseStruct(const char* p, const char* end, int depth) {
  while (p < end) {
    std::uint32_t tag;
    if (!ReadTag(p, end, &tag)) return false;
    if (tag != kFieldsTag) {
      if (!SkipField(tag, p, end, depth)) return false;
      continue;
    }
    std::uint32_t size;
    if (!ReadSize(p, end, &size)) return false;
    if (depth <= 0) return Fail("nesting deeper than 100", p);
    if (!ParseEntry(p, p + size, depth - 1)) return false;
    p += size;
  }
  return true;
}

// A map entry: its key (the last one; "" if none) and its value (all its
// value fields merged; no kind if none).
bool TagTreeBuilder::ParseEntry(const char* p, const char* end, int depth) {
  std::uint32_t key_offset = 0;
  std::uint32_t key_size = 0;
  const Pending value = Open(NewNode());
  while (p < end) {
    std::uint32_t tag;
    if (!ReadTag(p, end, &tag)) return false;
    if (tag == kKeyTag) {
      if (!ReadText(p, end, &key_offset, &key_size)) return false;
    } else if (tag == kValueTag) {
      std::uint32_t size;
      if (!ReadSize(p, end, &size)) return false;
      if (depth <= 0) return Fail("nesting deeper than 100", p);
      if (!ParseValue(p, p + size, value, depth - 1)) return false;
      p += size;
    } else if (!SkipField(tag, p, end, depth)) {
      return false;
    }
  }
  Close(value);
  t_.entry_stack_.push_back({key_offset, key_size, value.node});
  return true;
}

// One Value message, merged into `v` (which earlier value fields of the same
// map entry may have set).
bool TagTreeBuilder::ParseValue(const char* p, const char* end,
                                const Pending& v, int depth) {
  while (p < end) {
    std::uint32_t tag;
    if (!ReadTag(p, end, &tag)) return false;
    switch (tag) {
      case kNullTag: {
        std::uint64_t number;
        if (!ReadVarint(p, end, &number)) return false;
        Discard(v);
        Node& n = t_.nodes_[v.node];
        n.kind = Value::kNullValue;
        // As protobuf's static_cast to the enum: the low 32 bits.
        n.null_enum = static_cast<std::int32_t>(number);
        continue;
      }
      case kNumberTag: {
        if (end - p < 8) return Fail("truncated fixed64", p);
        Discard(v);
        Node& n = t_.nodes_[v.node];
        n.kind = Value::kNumberValue;
        std::memcpy(&n.number, p, 8);  // little-endian, as protobuf assumes
        p += 8;
        continue;
      }
      case kStringTag: {
        std::uint32_t offset, size;
        if (!ReadText(p, end, &offset, &size)) return false;
        Discard(v);
        Node& n = t_.nodes_[v.node];
        n.kind = Value::kStringValue;
        n.first = offset;
        n.size = size;
        continue;
      }
      case kBoolTag: {
        std::uint64_t number;
        if (!ReadVarint(p, end, &number)) return false;
        Discard(v);
        Node& n = t_.nodes_[v.node];
        n.kind = Value::kBoolValue;
        n.bool_value = number != 0;
        continue;
      }
      case kStructTag:
      case kListTag: {
        std::uint32_t size;
        if (!ReadSize(p, end, &size)) return false;
        if (depth <= 0) return Fail("nesting deeper than 100", p);
        const auto kind = static_cast<std::uint8_t>(
            tag == kStructTag ? Value::kStructValue : Value::kListValue);
        // The same kind again merges (its entries or items stay pending).
        if (t_.nodes_[v.node].kind != kind) {
          Discard(v);
          t_.nodes_[v.node].kind = kind;
        }
        const bool ok = tag == kStructTag ? ParseStruct(p, p + size, depth - 1)
                                          : ParseList(p, p + size, depth - 1);
        if (!ok) return false;
        p += size;
        continue;
      }
      default:
        if (!SkipField(tag, p, end, depth)) return false;
    }
  }
  return true;
}

bool TagTreeBuilder::ParseList(const char* p, const char* end, int depth) {
  while (p < end) {
    std::uint32_t tag;
    if (!ReadTag(p, end, &tag)) return false;
    if (tag != kValuesTag) {
      if (!SkipField(tag, p, end, depth)) return false;
      continue;
    }
    std::uint32_t size;
    if (!ReadSize(p, end, &size)) return false;
    if (depth <= 0) return Fail("nesting deeper than 100", p);
    const Pending element = Open(NewNode());
    if (!ParseValue(p, p + size, element, depth - 1)) return false;
    p += size;
    Close(element);
    t_.item_stack_.push_back(element.node);
  }
  return true;
}

void TagTreeBuilder::Close(const Pending& v) {
  Node& n = t_.nodes_[v.node];
  if (n.kind == Value::kStructValue) {
    Entry* e = t_.entry_stack_.data() + v.entry_base;
    size_t count = t_.entry_stack_.size() - v.entry_base;
    if (count > 1) count = Dedupe(e, count);
    n.first = static_cast<std::uint32_t>(t_.entries_.size());
    n.size = static_cast<std::uint32_t>(count);
    t_.entries_.insert(t_.entries_.end(), e, e + count);
    t_.entry_stack_.resize(v.entry_base);
  } else if (n.kind == Value::kListValue) {
    const std::uint32_t* items = t_.item_stack_.data() + v.item_base;
    const size_t count = t_.item_stack_.size() - v.item_base;
    n.first = static_cast<std::uint32_t>(t_.items_.size());
    n.size = static_cast<std::uint32_t>(count);
    t_.items_.insert(t_.items_.end(), items, items + count);
    t_.item_stack_.resize(v.item_base);
  }
}

size_t TagTreeBuilder::Dedupe(Entry* e, size_t n) {
  size_t kept = 0;
  if (n <= kSmallObject) {
    // A 64-bit filter of (length, first and last eight bytes): only a key
    // whose bit is taken is compared with the kept keys. The padding after
    // the buffer makes the 8-byte loads safe for short keys.
    std::uint64_t seen = 0;
    for (size_t i = 0; i < n; ++i) {
      const Entry cur = e[i];
      const char* k = base_ + cur.key_offset;
      std::uint64_t head, tail;
      std::memcpy(&head, k, 8);
      std::memcpy(&tail, k + (cur.key_size > 8 ? cur.key_size - 8 : 0), 8);
      if (cur.key_size < 8) {
        head &= (std::uint64_t{1} << (8 * cur.key_size)) - 1;
        tail = head;
      }
      const std::uint64_t mixed =
          (head ^ (tail * 31) ^ cur.key_size) * 0x9E3779B97F4A7C15ULL;
      const std::uint64_t bit = std::uint64_t{1} << (mixed >> 58);
      if (seen & bit) {
        bool replaced = false;
        for (size_t j = 0; j < kept && !replaced; ++j) {
          if (e[j].key_size == cur.key_size && Key(e[j]) == Key(cur)) {
            e[j].value = cur.value;
            replaced = true;
          }
        }
        if (replaced) continue;
      }
      seen |= bit;
      e[kept++] = cur;
    }
    return kept;
  }
  // An open-addressing table of kept positions + 1 (0: empty).
  size_t slots = 64;
  while (slots < 2 * n) slots *= 2;
  std::vector<std::uint32_t>& table = t_.dedupe_table_;
  table.assign(slots, 0);
  const std::hash<std::string_view> hash;
  for (size_t i = 0; i < n; ++i) {
    const Entry cur = e[i];
    const std::string_view key = Key(cur);
    size_t slot = hash(key) & (slots - 1);
    for (;; slot = (slot + 1) & (slots - 1)) {
      const std::uint32_t at = table[slot];
      if (at == 0) {
        table[slot] = static_cast<std::uint32_t>(kept + 1);
        e[kept++] = cur;
        break;
      }
      if (Key(e[at - 1]) == key) {
        e[at - 1].value = cur.value;
        break;
      }
    }
  }
  return kept;
}

absl::Status TagTreeBuilder::Parse(std::string_view wire, int max_depth) {
  t_.Clear();
  // protobuf parses at most INT_MAX bytes; offsets here are 32 bits.
  if (wire.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError("tag event: larger than 2 GiB");
  }
  t_.buffer_.assign(wire.data(), wire.size());
  t_.buffer_.append(kTagTreePadding, '\0');
  base_ = t_.buffer_.data();
  const Pending root = Open(0);
  if (!ParseStruct(base_, base_ + wire.size(), max_depth)) {
    const size_t at = static_cast<size_t>(error_at_ - base_);
    const char* what = error_;
    t_.Clear();
    return absl::InvalidArgumentError(absl::StrCat(
        "tag event: malformed google.protobuf.Struct bytes: ", what,
        " (at byte ", at, ")"));
  }
  Close(root);
  return absl::OkStatus();
}

std::uint32_t TagTreeBuilder::AppendText(const std::string& s) {
  const auto offset = static_cast<std::uint32_t>(t_.buffer_.size());
  t_.buffer_.append(s);
  return offset;
}

void TagTreeBuilder::CopyValue(const Value& v, std::uint32_t node) {
  switch (v.kind_case()) {
    case Value::kNullValue:
      t_.nodes_[node].kind = Value::kNullValue;
      t_.nodes_[node].null_enum = v.null_value();
      break;
    case Value::kNumberValue:
      t_.nodes_[node].kind = Value::kNumberValue;
      t_.nodes_[node].number = v.number_value();
      break;
    case Value::kStringValue: {
      const std::uint32_t offset = AppendText(v.string_value());
      Node& n = t_.nodes_[node];
      n.kind = Value::kStringValue;
      n.first = offset;
      n.size = static_cast<std::uint32_t>(v.string_value().size());
      break;
    }
    case Value::kBoolValue:
      t_.nodes_[node].kind = Value::kBoolValue;
      t_.nodes_[node].bool_value = v.bool_value();
      break;
    case Value::kStructValue:
      CopyStruct(v.struct_value(), node);
      break;
    case Value::kListValue: {
      const ListValue& list = v.list_value();
      const auto first = static_cast<std::uint32_t>(t_.items_.size());
      const auto count = static_cast<std::uint32_t>(list.values_size());
      Node& n = t_.nodes_[node];
      n.kind = Value::kListValue;
      n.first = first;
      n.size = count;
      // The range first, then each element's own ranges after it.
      t_.items_.resize(first + count);
      for (std::uint32_t i = 0; i < count; ++i) {
        const std::uint32_t child = NewNode();
        t_.items_[first + i] = child;
        CopyValue(list.values(static_cast<int>(i)), child);
      }
      break;
    }
    case Value::KIND_NOT_SET:
      break;
  }
}

void TagTreeBuilder::CopyStruct(const Struct& s, std::uint32_t node) {
  const auto first = static_cast<std::uint32_t>(t_.entries_.size());
  const auto count = static_cast<std::uint32_t>(s.fields_size());
  Node& n = t_.nodes_[node];
  n.kind = Value::kStructValue;
  n.first = first;
  n.size = count;
  t_.entries_.resize(first + count);
  std::uint32_t i = first;
  for (const auto& [key, value] : s.fields()) {
    const std::uint32_t child = NewNode();
    t_.entries_[i++] = {AppendText(key), static_cast<std::uint32_t>(key.size()),
                        child};
    CopyValue(value, child);
  }
}

void TagTreeBuilder::FromStruct(const Struct& s) {
  t_.Clear();
  t_.buffer_.clear();
  CopyStruct(s, 0);
  t_.buffer_.append(kTagTreePadding, '\0');
  base_ = t_.buffer_.data();
}

}  // namespace internal

absl::Status ParseTagTree(std::string_view wire, TagTree* tree, int max_depth) {
  return internal::TagTreeBuilder(tree).Parse(wire, max_depth);
}

void TagTreeFromStruct(const google::protobuf::Struct& s, TagTree* tree) {
  internal::TagTreeBuilder(tree).FromStruct(s);
}

TagTreeWriter::TagTreeWriter(TagTree* tree) : t_(*tree) {
  t_.Clear();
  // Text goes in as it comes; the padding follows it at Finish.
  t_.buffer_.clear();
  t_.padding_ = 0;
  open_.push_back({0, 0, true});
}

std::uint32_t TagTreeWriter::Append(std::string_view text) {
  const auto offset = static_cast<std::uint32_t>(t_.buffer_.size());
  t_.buffer_.append(text.data(), text.size());
  return offset;
}

void TagTreeWriter::Key(std::string_view key) {
  key_offset_ = Append(key);
  key_size_ = static_cast<std::uint32_t>(key.size());
}

std::uint32_t TagTreeWriter::NewValue(std::uint8_t kind) {
  const auto node = static_cast<std::uint32_t>(t_.nodes_.size());
  t_.nodes_.emplace_back();
  t_.nodes_.back().kind = kind;
  if (open_.back().object) {
    t_.entry_stack_.push_back({key_offset_, key_size_, node});
  } else {
    t_.item_stack_.push_back(node);
  }
  return node;
}

void TagTreeWriter::Null() {
  t_.nodes_[NewValue(Value::kNullValue)].null_enum =
      google::protobuf::NULL_VALUE;
}

void TagTreeWriter::Number(double value) {
  t_.nodes_[NewValue(Value::kNumberValue)].number = value;
}

void TagTreeWriter::Bool(bool value) {
  t_.nodes_[NewValue(Value::kBoolValue)].bool_value = value;
}

void TagTreeWriter::String(std::string_view value) {
  const std::uint32_t node = NewValue(Value::kStringValue);
  t_.nodes_[node].first = Append(value);
  t_.nodes_[node].size = static_cast<std::uint32_t>(value.size());
}

void TagTreeWriter::StartObject() {
  const std::uint32_t node = NewValue(Value::kStructValue);
  open_.push_back(
      {node, static_cast<std::uint32_t>(t_.entry_stack_.size()), true});
}

void TagTreeWriter::StartList() {
  const std::uint32_t node = NewValue(Value::kListValue);
  open_.push_back(
      {node, static_cast<std::uint32_t>(t_.item_stack_.size()), false});
}

bool TagTreeWriter::HasRepeatedKey(size_t base) const {
  const TagTree::Entry* e = t_.entry_stack_.data() + base;
  const size_t n = t_.entry_stack_.size() - base;
  auto key = [&](const TagTree::Entry& entry) {
    return std::string_view(t_.buffer_.data() + entry.key_offset,
                            entry.key_size);
  };
  if (n <= 16) {
    for (size_t i = 1; i < n; ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (e[i].key_size == e[j].key_size && key(e[i]) == key(e[j])) {
          return true;
        }
      }
    }
    return false;
  }
  std::vector<std::string_view> keys;
  keys.reserve(n);
  for (size_t i = 0; i < n; ++i) keys.push_back(key(e[i]));
  std::sort(keys.begin(), keys.end());
  return std::adjacent_find(keys.begin(), keys.end()) != keys.end();
}

bool TagTreeWriter::EndObject() {
  const Open o = open_.back();
  open_.pop_back();
  if (HasRepeatedKey(o.base)) ok_ = false;
  const TagTree::Entry* e = t_.entry_stack_.data() + o.base;
  const size_t count = t_.entry_stack_.size() - o.base;
  TagTree::Node& n = t_.nodes_[o.node];
  n.first = static_cast<std::uint32_t>(t_.entries_.size());
  n.size = static_cast<std::uint32_t>(count);
  t_.entries_.insert(t_.entries_.end(), e, e + count);
  t_.entry_stack_.resize(o.base);
  return ok_;
}

void TagTreeWriter::EndList() {
  const Open o = open_.back();
  open_.pop_back();
  const std::uint32_t* items = t_.item_stack_.data() + o.base;
  const size_t count = t_.item_stack_.size() - o.base;
  TagTree::Node& n = t_.nodes_[o.node];
  n.first = static_cast<std::uint32_t>(t_.items_.size());
  n.size = static_cast<std::uint32_t>(count);
  t_.items_.insert(t_.items_.end(), items, items + count);
  t_.item_stack_.resize(o.base);
}

bool TagTreeWriter::Finish() {
  const bool ok = EndObject();
  t_.buffer_.append(kTagTreePadding, '\0');
  t_.padding_ = kTagTreePadding;
  return ok;
}

}  // namespace conversions::mapping
