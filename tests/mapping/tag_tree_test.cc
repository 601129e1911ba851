// Tests of TagTree, ParseTagTree and TagTreeFromStruct. Wire bytes are
// written by hand where protobuf's serializer cannot produce them (repeated
// oneof fields, entries without a key, unknown fields, malformed input);
// every such test also checks that protobuf 3.21's Struct::ParseFromString
// accepts or rejects the same bytes and reads the same content, since that
// equivalence is ParseTagTree's contract.
#include "mapping/tag_tree.h"

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "tests/mapping/tag_tree_util.h"

namespace conversions::mapping {
namespace {

using ::conversions::testing::TagTreeDiff;
using ::conversions::testing::TagTreePaddingDiff;
using google::protobuf::Value;

// ---------------------------------------------------------------------------
// Wire writers.

std::string Varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string Tag(int field, int wire_type) {
  return Varint((static_cast<std::uint64_t>(field) << 3) | wire_type);
}
std::string Len(int field, std::string_view body) {
  return Tag(field, 2) + Varint(body.size()) + std::string(body);
}
// Value messages.
std::string NullV() { return Tag(1, 0) + Varint(0); }
std::string NumberV(double d) {
  char bytes[8];
  std::memcpy(bytes, &d, 8);
  return Tag(2, 1) + std::string(bytes, 8);
}
std::string StringV(std::string_view s) { return Len(3, s); }
std::string BoolV(bool b) { return Tag(4, 0) + Varint(b ? 1 : 0); }
std::string StructV(std::string_view struct_body) {
  return Len(5, struct_body);
}
std::string ListV(std::string_view list_body) { return Len(6, list_body); }
// A Struct's map entry, and a ListValue's element.
std::string Entry(std::string_view key, std::string_view value) {
  return Len(1, Len(1, key) + Len(2, value));
}
std::string Element(std::string_view value) { return Len(1, value); }

// Parses `wire` both ways; expects the same outcome and, on success, the
// same content. Returns whether it parsed.
bool ParsesAsProtobuf(const std::string& wire, TagTree* tree) {
  google::protobuf::LogSilencer quiet;  // protobuf logs bad UTF-8
  google::protobuf::Struct expected;
  const bool protobuf_ok = expected.ParseFromString(wire);
  const absl::Status status = ParseTagTree(wire, tree);
  EXPECT_EQ(status.ok(), protobuf_ok) << status;
  if (status.ok() && protobuf_ok) {
    EXPECT_EQ(TagTreeDiff(*tree, expected), "");
    EXPECT_EQ(TagTreePaddingDiff(*tree), "");
  }
  return status.ok();
}

google::protobuf::Struct StructFromJson(const std::string& json) {
  google::protobuf::Struct s;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &s).ok());
  return s;
}

// A purchase as a tag-management data layer sends it.
google::protobuf::Struct Purchase() {
  return StructFromJson(R"({
    "event_name": "purchase", "id": "ORD-1001", "type": "online",
    "value": 129.99, "currency": "USD", "coupon": null, "test": false,
    "context": {
      "event_id": "order_8f14e45f", "event_timestamp": 1773892740000,
      "page": {"url": "https://shop.example.com/checkout", "lang": "en"},
      "device": {"ip": "203.0.113.42", "user_agent": "Mozilla/5.0"}
    },
    "user": {"email": " Jane.Doe@Example.com ", "phone": "+1 415 555 2671",
             "id": "customer_123", "consent_categories": ["1", "2"],
             "name": "Zoë Ünal"},
    "items": [
      {"id": "sku_1000", "quantity": 1,
       "product": {"id": "P0", "name": "Trail shoes", "price": 29.99,
                   "tags": [], "dims": {}}},
      {"id": "sku_1001", "quantity": 2,
       "product": {"id": "P1", "name": "Socks", "price": 39.99}}
    ]
  })");
}

// ---------------------------------------------------------------------------
// Kinds and shape.

TEST(TagTreeTest, ParsesEveryKind) {
  const std::string wire =
      Entry("n", NullV()) + Entry("num", NumberV(-2.5)) +
      Entry("s", StringV("héllo")) + Entry("t", BoolV(true)) +
      Entry("f", BoolV(false)) + Entry("o", StructV(Entry("k", NumberV(1)))) +
      Entry("l", ListV(Element(StringV("a")) + Element(NumberV(2)))) +
      Len(1, Len(1, "unset"));  // an entry without a value
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  const TagStruct root = tree.root();
  ASSERT_EQ(root.fields_size(), 8);
  auto get = [&](std::string_view key) {
    auto it = root.fields().find(key);
    EXPECT_NE(it, root.end()) << key;
    return it->second;
  };
  EXPECT_EQ(get("n").kind_case(), Value::kNullValue);
  EXPECT_EQ(get("n").null_value(), google::protobuf::NULL_VALUE);
  EXPECT_EQ(get("num").kind_case(), Value::kNumberValue);
  EXPECT_EQ(get("num").number_value(), -2.5);
  EXPECT_EQ(get("s").kind_case(), Value::kStringValue);
  EXPECT_EQ(get("s").string_value(), "héllo");
  EXPECT_EQ(get("t").kind_case(), Value::kBoolValue);
  EXPECT_TRUE(get("t").bool_value());
  EXPECT_FALSE(get("f").bool_value());
  EXPECT_TRUE(get("o").has_struct_value());
  EXPECT_EQ(get("o").struct_value().fields_size(), 1);
  EXPECT_EQ(get("o").struct_value().begin()->first, "k");
  EXPECT_EQ(get("o").struct_value().begin()->second.number_value(), 1);
  ASSERT_TRUE(get("l").has_list_value());
  ASSERT_EQ(get("l").list_value().values_size(), 2);
  EXPECT_EQ(get("l").list_value().values(0).string_value(), "a");
  EXPECT_EQ(get("l").list_value().values(1).number_value(), 2);
  EXPECT_EQ(get("unset").kind_case(), Value::KIND_NOT_SET);
  EXPECT_EQ(root.find("absent"), root.end());
}

TEST(TagTreeTest, AccessorsOfAnotherKindReturnDefaults) {
  TagTree tree;
  ASSERT_TRUE(ParseTagTree(Entry("num", NumberV(7)), &tree).ok());
  const TagValue v = tree.root().begin()->second;
  EXPECT_EQ(v.string_value(), "");
  EXPECT_FALSE(v.bool_value());
  EXPECT_EQ(v.struct_value().fields_size(), 0);
  EXPECT_EQ(v.list_value().values_size(), 0);
  EXPECT_EQ(tree.root_value().number_value(), 0);
}

TEST(TagTreeTest, ParsesNestedObjectsAndLists) {
  // {"a": [{"b": [[1], {"c": "deep"}]}]}
  const std::string inner =
      Entry("b", ListV(Element(ListV(Element(NumberV(1)))) +
                       Element(StructV(Entry("c", StringV("deep"))))));
  const std::string wire = Entry("a", ListV(Element(StructV(inner))));
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  const TagValue b = tree.root()
                         .find("a")
                         ->second.list_value()
                         .values(0)
                         .struct_value()
                         .find("b")
                         ->second;
  EXPECT_EQ(b.list_value().values(0).list_value().values(0).number_value(), 1);
  EXPECT_EQ(
      b.list_value().values(1).struct_value().find("c")->second.string_value(),
      "deep");
}

TEST(TagTreeTest, EmptyInputIsAnEmptyObject) {
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf("", &tree));
  EXPECT_EQ(tree.root().fields_size(), 0);
}

// ---------------------------------------------------------------------------
// Protobuf's merge semantics.

TEST(TagTreeTest, DuplicateKeyLastWinsAndReplacesChildren) {
  const std::string wire =
      Entry("a", StructV(Entry("x", NumberV(1)) + Entry("y", NumberV(2)))) +
      Entry("b", StringV("kept")) + Entry("a", StructV(Entry("z", NumberV(3))));
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  ASSERT_EQ(tree.root().fields_size(), 2);
  const TagStruct a = tree.root().find("a")->second.struct_value();
  ASSERT_EQ(a.fields_size(), 1);  // x and y are gone, not merged
  EXPECT_EQ(a.begin()->first, "z");
  // Wire order of first occurrence.
  EXPECT_EQ(tree.root().begin()->first, "a");
}

TEST(TagTreeTest, DuplicateKeyWithoutValueClearsTheValue) {
  const std::string wire =
      Entry("a", StringV("first")) + Len(1, Len(1, "a"));  // no value
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  EXPECT_EQ(tree.root().find("a")->second.kind_case(), Value::KIND_NOT_SET);
}

TEST(TagTreeTest, ManyDuplicateKeysInALargeObject) {
  // More entries than the small-object path takes: the hash table path.
  std::string wire;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 40; ++i) {
      wire += Entry("key_" + std::to_string(i), NumberV(round * 100 + i));
    }
  }
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  ASSERT_EQ(tree.root().fields_size(), 40);
  EXPECT_EQ(tree.root().find("key_7")->second.number_value(), 207);
}

TEST(TagTreeTest, EntryWithoutKeyHasEmptyKey) {
  const std::string wire = Len(1, Len(2, StringV("v")));
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  ASSERT_EQ(tree.root().fields_size(), 1);
  EXPECT_EQ(tree.root().begin()->first, "");
  EXPECT_EQ(tree.root().begin()->second.string_value(), "v");
}

TEST(TagTreeTest, EntryWithValueBeforeKeyAndRepeatedKey) {
  // value, key "x", key "y": the last key names the value.
  const std::string wire =
      Len(1, Len(2, NumberV(1)) + Len(1, "x") + Len(1, "y"));
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  ASSERT_EQ(tree.root().fields_size(), 1);
  EXPECT_EQ(tree.root().begin()->first, "y");
}

TEST(TagTreeTest, LastOneofFieldWins) {
  const std::string wire =
      Entry("a", StringV("s") + NumberV(1) + BoolV(true)) +
      Entry("b", StructV(Entry("x", NullV())) + StringV("after struct")) +
      Entry("c", ListV(Element(NullV())) + StructV(Entry("x", NullV()))) +
      Entry("d", NumberV(1) + NullV());
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  EXPECT_TRUE(tree.root().find("a")->second.bool_value());
  EXPECT_EQ(tree.root().find("b")->second.string_value(), "after struct");
  EXPECT_EQ(tree.root().find("c")->second.struct_value().fields_size(), 1);
  EXPECT_EQ(tree.root().find("d")->second.kind_case(), Value::kNullValue);
}

TEST(TagTreeTest, RepeatedStructValueMerges) {
  // Message fields merge: keys of the second struct_value replace those of
  // the first, the others stay.
  const std::string wire =
      Entry("o", StructV(Entry("x", NumberV(1)) + Entry("y", NumberV(2))) +
                     StructV(Entry("y", NumberV(3)) + Entry("z", NumberV(4))));
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  const TagStruct o = tree.root().find("o")->second.struct_value();
  ASSERT_EQ(o.fields_size(), 3);
  EXPECT_EQ(o.find("y")->second.number_value(), 3);
}

TEST(TagTreeTest, RepeatedListValueAppends) {
  const std::string wire =
      Entry("l", ListV(Element(NumberV(1))) +
                     ListV(Element(NumberV(2)) + Element(NumberV(3))));
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  EXPECT_EQ(tree.root().find("l")->second.list_value().values_size(), 3);
}

TEST(TagTreeTest, MergeStopsAtAnotherKind) {
  // struct, string, struct: the string clears the first struct.
  const std::string wire =
      Entry("o", StructV(Entry("x", NumberV(1))) + StringV("s") +
                     StructV(Entry("y", NumberV(2))));
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  const TagStruct o = tree.root().find("o")->second.struct_value();
  ASSERT_EQ(o.fields_size(), 1);
  EXPECT_EQ(o.begin()->first, "y");
}

TEST(TagTreeTest, RepeatedValuesOfOneEntryMerge) {
  // One map entry with two value fields: protobuf merges the two Values.
  const std::string wire =
      Len(1, Len(1, "o") + Len(2, StructV(Entry("x", NumberV(1)))) +
                 Len(2, StructV(Entry("y", NumberV(2)))) +
                 Len(2, Tag(9, 0) + Varint(1)));  // an empty Value merges
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  EXPECT_EQ(tree.root().find("o")->second.struct_value().fields_size(), 2);
}

TEST(TagTreeTest, ConcatenatedStructsMerge) {
  google::protobuf::Struct first = StructFromJson(R"({"a": {"x": 1}, "b": 1})");
  google::protobuf::Struct second = StructFromJson(R"({"a": {"y": 2}})");
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(
      first.SerializeAsString() + second.SerializeAsString(), &tree));
  EXPECT_EQ(tree.root().fields_size(), 2);
}

TEST(TagTreeTest, NullValueKeepsItsNumber) {
  // NullValue is an open enum: protobuf keeps the low 32 bits of any number.
  const std::string wire = Entry("n", Tag(1, 0) + Varint(0x1'0000'0007ULL));
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  EXPECT_EQ(static_cast<int>(tree.root().begin()->second.null_value()), 7);
}

TEST(TagTreeTest, BoolIsAnyNonZeroVarintModulo2To64) {
  // Ten bytes whose only set bit is bit 70: zero in 64 bits, so false.
  const std::string wire =
      Entry("t", Tag(4, 0) + Varint(2)) +
      Entry("f", Tag(4, 0) + std::string(9, '\x80') + std::string(1, '\x02'));
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  EXPECT_TRUE(tree.root().find("t")->second.bool_value());
  EXPECT_EQ(tree.root().find("f")->second.kind_case(), Value::kBoolValue);
  EXPECT_FALSE(tree.root().find("f")->second.bool_value());
}

// ---------------------------------------------------------------------------
// Unknown fields.

TEST(TagTreeTest, SkipsUnknownFieldsOfEveryWireType) {
  const std::string unknown =
      Tag(20, 0) + Varint(300) + Tag(21, 1) + std::string(8, 'x') +
      Len(22, "\xff not UTF-8 but unknown") + Tag(23, 3) + Tag(1, 0) +
      Varint(1) + Tag(24, 3) + Tag(24, 4) +
      Tag(23, 4) +  // a group holding a field and a nested group
      Tag(25, 5) + std::string(4, 'y');
  // Known field numbers with another wire type are unknown fields too.
  const std::string wrong_type =
      Tag(2, 0) + Varint(5) + Tag(3, 5) + std::string(4, 'z');
  const std::string value =
      unknown + wrong_type + StringV("v") + Tag(5, 0) + Varint(1);
  const std::string list = unknown + Element(value) + Tag(1, 0) + Varint(1);
  const std::string entry =
      Len(1, unknown + Len(1, "k") + Tag(1, 0) + Varint(1) + Len(2, value) +
                 Tag(2, 5) + std::string(4, 'w'));
  const std::string wire = unknown + entry + Entry("l", ListV(list)) +
                           Tag(1, 0) + Varint(3) + unknown;
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  EXPECT_EQ(tree.root().fields_size(), 2);
  EXPECT_EQ(tree.root().find("k")->second.string_value(), "v");
  EXPECT_EQ(tree.root().find("l")->second.list_value().values_size(), 1);
}

TEST(TagTreeTest, AcceptsNonCanonicalVarints) {
  // Tag 10 as two bytes, a length as five, and a tag whose fifth byte
  // carries bits above 32, which protobuf drops (so it is tag 10 again).
  const std::string wire = std::string("\x8a\x00", 2) +
                           std::string("\x88\x80\x80\x80\x00", 5) +
                           Len(1, "k") + Len(2, StringV("v")) +
                           std::string("\x8a\x80\x80\x80\x10", 5) +
                           Varint(Len(1, "j").size()) + Len(1, "j");
  TagTree tree;
  ASSERT_TRUE(ParsesAsProtobuf(wire, &tree));
  EXPECT_EQ(tree.root().fields_size(), 2);
}

// ---------------------------------------------------------------------------
// Malformed input: each rejected, as protobuf rejects it.

struct MalformedCase {
  const char* name;
  std::string wire;
};

TEST(TagTreeTest, RejectsMalformedInput) {
  const std::string good = Entry("k", StringV("v"));
  const MalformedCase cases[] = {
      {"truncated tag", "\x8a"},
      {"tag longer than 5 bytes", std::string(5, '\x80') + "\x01"},
      {"truncated varint", Tag(20, 0) + "\x80"},
      {"varint longer than 10 bytes",
       Tag(20, 0) + std::string(10, '\x80') + "\x01"},
      {"truncated length", Tag(1, 2) + "\x80"},
      {"length past the end", Tag(1, 2) + Varint(5) + "abc"},
      {"length past its message", Len(1, Tag(1, 2) + Varint(4) + "k") + "vv"},
      {"length of 2^31 or more", Tag(20, 2) + "\xff\xff\xff\xff\x0f"},
      {"truncated fixed64", Tag(20, 1) + "1234567"},
      {"truncated fixed32", Tag(20, 5) + "123"},
      {"truncated number value", Entry("k", Tag(2, 1) + "1234")},
      {"wire type 6", good + Tag(20, 6)},
      {"wire type 7", Tag(20, 7) + good},
      {"tag 0", good + std::string(1, '\0')},
      {"field number 0", Tag(0, 0) + Varint(1)},
      {"end group outside a group", Tag(20, 4) + good},
      {"end group inside an entry", Len(1, Len(1, "k") + Tag(3, 4))},
      {"end group inside a value", Entry("k", Tag(7, 4))},
      {"group without end", Tag(20, 3) + Tag(1, 0) + Varint(1)},
      {"group ended by another number", Tag(20, 3) + Tag(21, 4)},
      {"group cut by its message's end", Entry("k", Tag(20, 3)) + Tag(20, 4)},
      {"tag 0 in a group", Tag(20, 3) + std::string(1, '\0') + Tag(20, 4)},
      {"truncated value message", Tag(1, 2) + Varint(3) + Tag(2, 2) + "\x05"},
  };
  for (const MalformedCase& c : cases) {
    SCOPED_TRACE(c.name);
    TagTree tree;
    ASSERT_TRUE(ParseTagTree(good, &tree).ok());
    EXPECT_FALSE(ParsesAsProtobuf(c.wire, &tree));
    const absl::Status status = ParseTagTree(c.wire, &tree);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(tree.root().fields_size(), 0);  // an error leaves it empty
  }
}

TEST(TagTreeTest, RejectsInvalidUtf8InKeysAndStrings) {
  const MalformedCase cases[] = {
      {"key", Entry("\xff", NullV())},
      {"string value", Entry("k", StringV("ab\xc3"))},
      {"overlong", Entry("k", StringV("\xc0\x80"))},
      {"surrogate", Entry("k", StringV("\xed\xa0\x80"))},
      {"above U+10FFFF", Entry("k", StringV("\xf4\x90\x80\x80"))},
      {"string value later replaced",
       Entry("k", StringV("\xff") + StringV("fine"))},
      {"key later replaced", Len(1, Len(1, "\xfe") + Len(1, "k"))},
      {"in a list", Entry("l", ListV(Element(StringV("\x80"))))},
  };
  for (const MalformedCase& c : cases) {
    SCOPED_TRACE(c.name);
    TagTree tree;
    EXPECT_FALSE(ParsesAsProtobuf(c.wire, &tree));
  }
}

TEST(TagTreeTest, AcceptsValidMultibyteUtf8) {
  TagTree tree;
  EXPECT_TRUE(ParsesAsProtobuf(
      Entry("clé", StringV("日本 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf")), &tree));
}

// ---------------------------------------------------------------------------
// Recursion limit.

// {"a": [[...[null]...]]} with `lists` nested lists. The entry and the top
// Value take 2 levels of protobuf's 100, each list 2 more (ListValue and
// its element's Value).
std::string NestedLists(int lists, const std::string& innermost = NullV()) {
  std::string value = innermost;
  for (int i = 0; i < lists; ++i) value = ListV(Element(value));
  return Entry("a", value);
}

TEST(TagTreeTest, NestingOf100MessagesParses) {
  TagTree tree;
  EXPECT_TRUE(ParsesAsProtobuf(NestedLists(49), &tree));  // 100 levels
}

TEST(TagTreeTest, NestingDeeperThan100IsRejected) {
  TagTree tree;
  EXPECT_FALSE(ParsesAsProtobuf(NestedLists(50), &tree));  // 102 levels
  // 100 message levels and an unknown group inside: 101.
  EXPECT_FALSE(ParsesAsProtobuf(
      NestedLists(49, NullV() + Tag(9, 3) + Tag(9, 4)), &tree));
  // The same with an unknown length-delimited field: no level.
  EXPECT_TRUE(ParsesAsProtobuf(NestedLists(49, NullV() + Len(9, "x")), &tree));
}

TEST(TagTreeTest, DeepUnknownGroupsCountTowardsTheLimit) {
  std::string open, close;
  for (int i = 0; i < 100; ++i) {
    open += Tag(20, 3);
    close += Tag(20, 4);
  }
  TagTree tree;
  EXPECT_TRUE(ParsesAsProtobuf(open + close, &tree));
  EXPECT_FALSE(ParsesAsProtobuf(open + Tag(20, 3) + Tag(20, 4) + close, &tree));
}

// ---------------------------------------------------------------------------
// Buffer, reuse, and the copy from a Struct.

TEST(TagTreeTest, BufferIsFollowedByZeroPadding) {
  // A key and a string that end the wire bytes: 16-byte loads from their
  // start stay inside the tree's buffer and its padding.
  TagTree tree;
  ASSERT_TRUE(ParseTagTree(Entry("k", StringV("end")), &tree).ok());
  EXPECT_EQ(TagTreePaddingDiff(tree), "");
  const std::string_view s = tree.root().begin()->second.string_value();
  EXPECT_EQ(s.data() + s.size(), tree.buffer().data() + tree.buffer().size());
  char loaded[16];
  std::memcpy(loaded, s.data(), 16);  // ASan would flag a read past the end
  EXPECT_EQ(std::string_view(loaded, 3), "end");
  EXPECT_EQ(loaded[3], '\0');

  TagTreeFromStruct(Purchase(), &tree);
  EXPECT_EQ(TagTreePaddingDiff(tree), "");
  tree.Clear();
  EXPECT_EQ(TagTreePaddingDiff(tree), "");
}

TEST(TagTreeTest, ClearKeepsCapacityForTheNextEvent) {
  const std::string wire = Purchase().SerializeAsString();
  TagTree tree;
  ASSERT_TRUE(ParseTagTree(wire, &tree).ok());
  const size_t capacity = tree.capacity_bytes();
  tree.Clear();
  EXPECT_EQ(tree.root().fields_size(), 0);
  EXPECT_EQ(tree.node_count(), 1u);
  EXPECT_EQ(tree.capacity_bytes(), capacity);
  ASSERT_TRUE(ParseTagTree(wire, &tree).ok());
  EXPECT_EQ(tree.capacity_bytes(), capacity);  // nothing grew
  EXPECT_EQ(TagTreeDiff(tree, Purchase()), "");
}

TEST(TagTreeTest, ReusedTreeHoldsOnlyTheLatestEvent) {
  TagTree tree;
  ASSERT_TRUE(ParseTagTree(Purchase().SerializeAsString(), &tree).ok());
  ASSERT_TRUE(ParseTagTree(Entry("only", BoolV(true)), &tree).ok());
  ASSERT_EQ(tree.root().fields_size(), 1);
  EXPECT_EQ(tree.root().begin()->first, "only");
}

TEST(TagTreeTest, ParseEqualsFromStructForAPurchase) {
  const google::protobuf::Struct purchase = Purchase();
  TagTree parsed, copied;
  ASSERT_TRUE(ParsesAsProtobuf(purchase.SerializeAsString(), &parsed));
  TagTreeFromStruct(purchase, &copied);
  EXPECT_EQ(TagTreeDiff(parsed, copied), "");
  EXPECT_EQ(TagTreeDiff(copied, purchase), "");
  EXPECT_EQ(TagTreePaddingDiff(copied), "");

  // Spot checks through the accessors, as the mapper reads.
  const TagStruct root = parsed.root();
  EXPECT_EQ(root.fields().find("event_name")->second.string_value(),
            "purchase");
  const TagList items = root.find("items")->second.list_value();
  ASSERT_EQ(items.values_size(), 2);
  int quantity = 0;
  for (TagValue item : items.values()) {
    quantity += static_cast<int>(
        item.struct_value().find("quantity")->second.number_value());
  }
  EXPECT_EQ(quantity, 3);
  const TagStruct product =
      items.values(0).struct_value().find("product")->second.struct_value();
  EXPECT_EQ(product.find("price")->second.number_value(), 29.99);
  EXPECT_EQ(root.find("user")
                ->second.struct_value()
                .find("name")
                ->second.string_value(),
            "Zoë Ünal");
  EXPECT_EQ(root.find("coupon")->second.kind_case(), Value::kNullValue);
  int visited = 0;
  for (const auto& [key, value] : root.fields()) {
    visited += !key.empty() && value.kind_case() != Value::KIND_NOT_SET;
  }
  EXPECT_EQ(visited, root.fields_size());
}

TEST(TagTreeTest, FromStructCopiesEveryKind) {
  google::protobuf::Struct s = Purchase();
  (*s.mutable_fields())["unset"];  // a Value with no kind
  (*s.mutable_fields())["nan"].set_number_value(std::nan(""));
  TagTree tree;
  TagTreeFromStruct(s, &tree);
  EXPECT_EQ(TagTreeDiff(tree, s), "");
  EXPECT_EQ(tree.root().find("unset")->second.kind_case(), Value::KIND_NOT_SET);
  // And the same through the wire.
  TagTree parsed;
  ASSERT_TRUE(ParsesAsProtobuf(s.SerializeAsString(), &parsed));
  EXPECT_EQ(TagTreeDiff(parsed, tree), "");
}

TEST(TagTreeTest, CopiesAreIndependent) {
  TagTree tree;
  ASSERT_TRUE(ParseTagTree(Entry("k", StringV("v")), &tree).ok());
  const TagTree copy = tree;
  tree.Clear();
  EXPECT_EQ(copy.root().find("k")->second.string_value(), "v");
}

}  // namespace
}  // namespace conversions::mapping
