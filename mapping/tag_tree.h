// A tag event (one google.protobuf.Struct) as a flat, allocation-light tree,
// read straight from the Struct's wire bytes (ParseTagTree) or copied from a
// parsed Struct (TagTreeFromStruct).
//
// Why: parsing a Struct with protobuf allocates for every map entry and
// costs several times a typed event; walking protobuf's Map is most of the
// tag mapping's own cost. A TagTree holds the same content in four arrays
// (nodes, object entries, list items, and one byte buffer for every string
// and key) that are reused across events: Clear() and the parsers keep their
// capacity, so a warmed-up tree parses an event without allocating.
//
// Reading: TagValue, TagStruct and TagList are small handles (a tree pointer
// and an index) whose accessors mirror google::protobuf::Value, Struct and
// ListValue (kind_case(), string_value(), fields(), values_size(), ...), so
// that code written against `const google::protobuf::Value&` ports with few
// changes. Like protobuf's, an accessor of another kind returns its default
// ("", 0, false, an empty struct or list). Handles are valid until the tree
// is next cleared, parsed into, assigned or destroyed.
//
// Strings and keys are views into the tree's buffer, which is followed by at
// least kTagTreePadding zero bytes: a reader may load 16 bytes from the start
// of any key or string without reading past the buffer (the tag mapper's
// name lookup, KeyWords in tag_plan.h, loads two 8-byte words whatever the
// length). Views are not NUL-terminated.
//
// Key order: every object holds each key once. ParseTagTree keeps the wire
// order of each key's first occurrence (with its last value);
// TagTreeFromStruct keeps the Map's iteration order, which protobuf leaves
// unspecified. Readers must not depend on the order of keys.
//
// Pure: no I/O, no clock, no logging.
#ifndef CONVERSIONS_MAPPING_TAG_TREE_H_
#define CONVERSIONS_MAPPING_TAG_TREE_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/struct.pb.h"

namespace conversions::mapping {

class TagTree;
class TagStruct;
class TagList;

namespace internal {
class TagTreeBuilder;
}  // namespace internal
class TagTreeWriter;

// Zero bytes after the end of a tree's buffer (see the file comment).
inline constexpr size_t kTagTreePadding = 16;

// One value of a tree: the counterpart of `const google::protobuf::Value&`.
class TagValue {
 public:
  TagValue(const TagTree* tree, std::uint32_t index)
      : tree_(tree), index_(index) {}

  // KIND_NOT_SET for a Value with no kind (a map entry without a value).
  google::protobuf::Value::KindCase kind_case() const;
  bool has_struct_value() const;
  bool has_list_value() const;

  // The value of its kind, or the kind's default for another kind.
  google::protobuf::NullValue null_value() const;
  double number_value() const;
  std::string_view string_value() const;
  bool bool_value() const;
  TagStruct struct_value() const;
  TagList list_value() const;

  // The node's index in its tree.
  std::uint32_t index() const { return index_; }

 private:
  const TagTree* tree_;
  std::uint32_t index_;
};

// An object: the counterpart of `const google::protobuf::Struct&`. Iterable
// as (key, value) pairs, as protobuf's Map: `for (const auto& [key, value] :
// s.fields())`, `auto it = s.fields().find(k); it->second`.
class TagStruct {
 public:
  using Field = std::pair<std::string_view, TagValue>;

  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = Field;
    using difference_type = std::ptrdiff_t;
    using reference = Field;
    // operator-> hands out a copy of the pair.
    struct pointer {
      Field field;
      const Field* operator->() const { return &field; }
    };

    const_iterator(const TagTree* tree, std::uint32_t entry)
        : tree_(tree), entry_(entry) {}
    Field operator*() const;
    pointer operator->() const { return {**this}; }
    const_iterator& operator++() {
      ++entry_;
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++entry_;
      return old;
    }
    bool operator==(const const_iterator& o) const {
      return entry_ == o.entry_;
    }
    bool operator!=(const const_iterator& o) const {
      return entry_ != o.entry_;
    }

   private:
    const TagTree* tree_;
    std::uint32_t entry_;  // into the tree's entries
  };
  using iterator = const_iterator;

  TagStruct(const TagTree* tree, std::uint32_t first, std::uint32_t size)
      : tree_(tree), first_(first), size_(size) {}

  int fields_size() const { return static_cast<int>(size_); }
  // The map itself, as Struct::fields(): a copy of this handle (by value,
  // so that `for (... : v.struct_value().fields())` does not dangle).
  TagStruct fields() const { return *this; }
  int size() const { return static_cast<int>(size_); }
  bool empty() const { return size_ == 0; }
  const_iterator begin() const { return {tree_, first_}; }
  const_iterator end() const { return {tree_, first_ + size_}; }
  // The field named `key`, or end(). A linear scan: objects are small, and
  // the tag mapper looks names up in its own tables instead.
  const_iterator find(std::string_view key) const;

 private:
  const TagTree* tree_;
  std::uint32_t first_;  // into the tree's entries
  std::uint32_t size_;
};

// A list: the counterpart of `const google::protobuf::ListValue&`.
// Iterable as TagValues.
class TagList {
 public:
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = TagValue;
    using difference_type = std::ptrdiff_t;
    using reference = TagValue;
    using pointer = void;

    const_iterator(const TagTree* tree, std::uint32_t item)
        : tree_(tree), item_(item) {}
    TagValue operator*() const;
    const_iterator& operator++() {
      ++item_;
      return *this;
    }
    bool operator==(const const_iterator& o) const { return item_ == o.item_; }
    bool operator!=(const const_iterator& o) const { return item_ != o.item_; }

   private:
    const TagTree* tree_;
    std::uint32_t item_;  // into the tree's items
  };
  using iterator = const_iterator;

  TagList(const TagTree* tree, std::uint32_t first, std::uint32_t size)
      : tree_(tree), first_(first), size_(size) {}

  int values_size() const { return static_cast<int>(size_); }
  // Requires 0 <= i < values_size().
  TagValue values(int i) const;
  // The elements, as ListValue::values(): a copy of this handle.
  TagList values() const { return *this; }
  int size() const { return static_cast<int>(size_); }
  bool empty() const { return size_ == 0; }
  const_iterator begin() const { return {tree_, first_}; }
  const_iterator end() const { return {tree_, first_ + size_}; }

 private:
  const TagTree* tree_;
  std::uint32_t first_;  // into the tree's items
  std::uint32_t size_;
};

// One tag event. Node 0 is the root object. Copyable: everything inside is
// an index or an offset, never a pointer.
class TagTree {
 public:
  TagTree() { Clear(); }

  // Empties the tree (an empty root object), keeping every array's capacity.
  void Clear();

  // The root object, and the same as a value.
  TagStruct root() const { return root_value().struct_value(); }
  TagValue root_value() const { return TagValue(this, 0); }

  // Sizes, for tests and metrics: nodes (reachable or not: values replaced
  // by a later duplicate key stay in the array), and the capacity in bytes
  // of all the tree's arrays.
  size_t node_count() const { return nodes_.size(); }
  size_t capacity_bytes() const;

  // The bytes that strings and keys point into, without the padding.
  std::string_view buffer() const {
    return std::string_view(buffer_).substr(0, buffer_.size() - padding_);
  }

 private:
  friend class TagValue;
  friend class TagStruct;
  friend class TagList;
  friend class internal::TagTreeBuilder;
  friend class TagTreeWriter;

  // 16 bytes. Which member of the union holds the value depends on kind.
  struct Node {
    std::uint8_t kind = google::protobuf::Value::KIND_NOT_SET;
    bool bool_value = false;
    std::uint32_t size = 0;  // strings: bytes; objects: entries; lists: items
    union {
      double number = 0;       // kNumberValue
      std::int32_t null_enum;  // kNullValue: the NullValue as sent
      std::uint32_t first;     // kStringValue: the offset into buffer_;
                               // kStructValue: into entries_;
                               // kListValue: into items_
    };
  };
  struct Entry {
    std::uint32_t key_offset;  // into buffer_
    std::uint32_t key_size;
    std::uint32_t value;  // into nodes_
  };

  const Node& node(std::uint32_t i) const { return nodes_[i]; }
  std::string_view text(std::uint32_t offset, std::uint32_t size) const {
    return std::string_view(buffer_.data() + offset, size);
  }

  std::vector<Node> nodes_;
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> items_;
  // Strings and keys, then `padding_` (>= kTagTreePadding) zero bytes.
  std::string buffer_;
  size_t padding_ = 0;

  // Scratch space of the builders, kept for its capacity.
  std::vector<Entry> entry_stack_;
  std::vector<std::uint32_t> item_stack_;
  std::vector<std::uint32_t> dedupe_table_;
};

// Parses the serialized bytes of one google.protobuf.Struct into `*tree`,
// with protobuf 3.21's semantics: it succeeds exactly when
// Struct::ParseFromString does, and the tree then holds the same content.
// In particular: the last entry of a duplicated key wins, replacing the
// earlier value with all its children; an entry without a key has key "",
// one without a value a value with no kind; of several fields of Value's
// oneof the last wins, except that repeated struct_value (list_value)
// fields merge as protobuf merges messages (keys replaced, elements
// appended), as do repeated values of one map entry; unknown fields
// (groups included) are skipped; every key and string_value, even one
// later replaced, must be valid UTF-8; messages and groups nest at most
// `max_depth` deep below the root: protobuf's recursion limit of 100 for a
// Struct parsed on its own, one less for a Struct that is a field of the
// message parsed (an event of a TrackEventsRequest), and so on. Returns
// InvalidArgument for bytes protobuf rejects (the message names the
// problem and its byte offset); `*tree` is then empty.
inline constexpr int kProtobufRecursionLimit = 100;
absl::Status ParseTagTree(std::string_view wire, TagTree* tree,
                          int max_depth = kProtobufRecursionLimit);

// Copies a parsed Struct into `*tree` (for callers that already have one:
// the HTTP JSON path, tests). Gives the same tree as ParseTagTree of the
// Struct's serialized bytes, but for the order of keys.
void TagTreeFromStruct(const google::protobuf::Struct& s, TagTree* tree);

// Builds a tree from its values in document order, for readers of other
// encodings than a Struct's wire bytes (POST /v1/track's JSON:
// service/track_json.h). The caller gives a well-formed sequence: inside
// an object, a Key before each value; every Start matched by its End;
// then Finish. Keys and strings are copied. Unlike ParseTagTree, a key
// that occurs twice in one object is not merged: protobuf's JSON parser
// refuses such an object ("Repeated map key"), so EndObject and Finish
// return false for it, and the tree is then not to be read (only cleared,
// assigned or parsed into). Capacity is kept, as by the parsers.
class TagTreeWriter {
 public:
  // Clears `tree`; its root object is then open.
  explicit TagTreeWriter(TagTree* tree);

  TagTreeWriter(const TagTreeWriter&) = delete;
  TagTreeWriter& operator=(const TagTreeWriter&) = delete;

  // The key of the next value, inside an object.
  void Key(std::string_view key);
  // A value: a property's (after its Key) or a list's next element.
  void Null();
  void Number(double value);
  void Bool(bool value);
  void String(std::string_view value);
  void StartObject();
  // Returns false if the object holds a key twice.
  bool EndObject();
  void StartList();
  void EndList();
  // Closes the root object and ends the tree. Returns false if the root
  // holds a key twice, or any object did.
  bool Finish();

 private:
  struct Open {
    std::uint32_t node;
    std::uint32_t base;  // entry_stack_ (object) or item_stack_ (list) size
    bool object;
  };
  // A new node of `kind` for the next value, recorded in its parent.
  std::uint32_t NewValue(std::uint8_t kind);
  std::uint32_t Append(std::string_view text);
  bool HasRepeatedKey(size_t base) const;

  TagTree& t_;
  std::vector<Open> open_;
  std::uint32_t key_offset_ = 0;
  std::uint32_t key_size_ = 0;
  bool ok_ = true;
};

// ---------------------------------------------------------------------------
// Inline definitions: the accessors sit on the mapper's hot path.

inline google::protobuf::Value::KindCase TagValue::kind_case() const {
  return static_cast<google::protobuf::Value::KindCase>(
      tree_->node(index_).kind);
}
inline bool TagValue::has_struct_value() const {
  return kind_case() == google::protobuf::Value::kStructValue;
}
inline bool TagValue::has_list_value() const {
  return kind_case() == google::protobuf::Value::kListValue;
}
inline google::protobuf::NullValue TagValue::null_value() const {
  const TagTree::Node& n = tree_->node(index_);
  return n.kind == google::protobuf::Value::kNullValue
             ? static_cast<google::protobuf::NullValue>(n.null_enum)
             : google::protobuf::NULL_VALUE;
}
inline double TagValue::number_value() const {
  const TagTree::Node& n = tree_->node(index_);
  return n.kind == google::protobuf::Value::kNumberValue ? n.number : 0.0;
}
inline std::string_view TagValue::string_value() const {
  const TagTree::Node& n = tree_->node(index_);
  return n.kind == google::protobuf::Value::kStringValue
             ? tree_->text(n.first, n.size)
             : std::string_view();
}
inline bool TagValue::bool_value() const {
  const TagTree::Node& n = tree_->node(index_);
  return n.kind == google::protobuf::Value::kBoolValue && n.bool_value;
}
inline TagStruct TagValue::struct_value() const {
  const TagTree::Node& n = tree_->node(index_);
  return n.kind == google::protobuf::Value::kStructValue
             ? TagStruct(tree_, n.first, n.size)
             : TagStruct(tree_, 0, 0);
}
inline TagList TagValue::list_value() const {
  const TagTree::Node& n = tree_->node(index_);
  return n.kind == google::protobuf::Value::kListValue
             ? TagList(tree_, n.first, n.size)
             : TagList(tree_, 0, 0);
}

inline TagStruct::Field TagStruct::const_iterator::operator*() const {
  const TagTree::Entry& e = tree_->entries_[entry_];
  return {tree_->text(e.key_offset, e.key_size), TagValue(tree_, e.value)};
}

inline TagStruct::const_iterator TagStruct::find(std::string_view key) const {
  for (std::uint32_t i = first_; i < first_ + size_; ++i) {
    const TagTree::Entry& e = tree_->entries_[i];
    if (e.key_size == key.size() &&
        tree_->text(e.key_offset, e.key_size) == key) {
      return {tree_, i};
    }
  }
  return end();
}

inline TagValue TagList::const_iterator::operator*() const {
  return TagValue(tree_, tree_->items_[item_]);
}
inline TagValue TagList::values(int i) const {
  return TagValue(tree_, tree_->items_[first_ + static_cast<std::uint32_t>(i)]);
}

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_TAG_TREE_H_
