// Golden events: tests/data/golden/<name>.event.textproto maps, at kNowMs, to
// exactly tests/data/golden/<name>.wire.json. The expected JSON was written
// from the spec, with hashes from sha256sum, not copied from the mapper.
// Also runs every identifier vector through MapEvent.
//
// Each test loops over its files with SCOPED_TRACE naming the file: one
// process per golden file would cost more than the mapping itself.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "mapping/event_mapper.h"
#include "tests/mapping/golden_vectors.h"
#include "tests/mapping/mapper_test_util.h"
#include "tests/mapping/test_util.h"

namespace conversions::mapping {
namespace {

using ::conversions::testing::EventFromText;
using ::conversions::testing::GoldenEventNames;
using ::conversions::testing::Issue;
using ::conversions::testing::kNowMs;
using ::conversions::testing::ParseJson;
using ::conversions::testing::ReadTestData;
using ::conversions::testing::ReadVectorRows;
using ::conversions::testing::RowLocation;
using ::conversions::testing::ValidEvent;
using ::conversions::testing::VectorRow;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Returns the golden wire JSON without its final newline.
std::string ExpectedWire(const std::string& name) {
  std::string text = ReadTestData("golden/" + name + ".wire.json");
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

MappedEvent MapGolden(const std::string& name) {
  return MapEvent(
      EventFromText(ReadTestData("golden/" + name + ".event.textproto")),
      kNowMs);
}

TEST(GoldenEventTest, MapsEveryGoldenEventToItsWireJsonByteForByte) {
  for (const std::string& name : GoldenEventNames()) {
    SCOPED_TRACE("tests/data/golden/" + name);
    MappedEvent mapped = MapGolden(name);
    ASSERT_THAT(mapped.violations, IsEmpty());
    EXPECT_EQ(mapped.wire_json, ExpectedWire(name));
  }
}

TEST(GoldenEventTest, ParsesEveryGoldenEventAsTheExpectedJsonValue) {
  for (const std::string& name : GoldenEventNames()) {
    SCOPED_TRACE("tests/data/golden/" + name);
    MappedEvent mapped = MapGolden(name);
    ASSERT_TRUE(mapped.ok());
    nlohmann::json actual = ParseJson(mapped.wire_json);
    nlohmann::json expected = ParseJson(ExpectedWire(name));
    EXPECT_EQ(actual, expected)
        << "diff: " << nlohmann::json::diff(actual, expected).dump();
    // Compact JSON: an order-keeping parser prints it back unchanged.
    EXPECT_EQ(nlohmann::ordered_json::parse(mapped.wire_json).dump(),
              mapped.wire_json);
  }
}

TEST(GoldenEventTest, KeepsEveryGoldenWireJsonOnOneLine) {
  for (const std::string& name : GoldenEventNames()) {
    SCOPED_TRACE("tests/data/golden/" + name);
    EXPECT_EQ(ExpectedWire(name).find('\n'), std::string::npos);
  }
}

TEST(GoldenDirectoryTest, HoldsAtLeastEightEvents) {
  EXPECT_GE(GoldenEventNames().size(), 8u);
}

TEST(GoldenDirectoryTest, CoversEveryDataShape) {
  std::set<std::string> data_types;
  for (const std::string& name : GoldenEventNames()) {
    data_types.insert(
        ParseJson(ExpectedWire(name))["data"]["type"].get<std::string>());
  }
  EXPECT_EQ(data_types, (std::set<std::string>{"contents", "customer_action",
                                               "custom", "plan_enrollment"}));
}

// --- identifier vectors through the whole mapper ---

struct ListKeys {
  const char* field;     // "user.emails"
  const char* wire_key;  // "emails_sha256"
};

const std::map<std::string, ListKeys>& KeysByKind() {
  static const auto* keys = new std::map<std::string, ListKeys>{
      {"email", {"user.emails", "emails_sha256"}},
      {"phone", {"user.phone_numbers", "phone_numbers_sha256"}},
      {"external_id", {"user.external_ids", "external_ids_sha256"}},
      {"name", {"user.first_names", "first_names_sha256"}},
  };
  return *keys;
}

void CheckRowThroughMapper(const VectorRow& row) {
  auto keys = KeysByKind().find(row.kind);
  ASSERT_NE(keys, KeysByKind().end());
  v1::Event event = ValidEvent();
  v1::UserData* u = event.mutable_user();
  if (row.kind == "email") u->add_emails(row.input);
  if (row.kind == "phone") u->add_phone_numbers(row.input);
  if (row.kind == "external_id") u->add_external_ids(row.input);
  if (row.kind == "name") u->add_first_names(row.input);
  MappedEvent mapped = MapEvent(event, kNowMs);
  ASSERT_TRUE(mapped.ok());
  nlohmann::json wire = ParseJson(mapped.wire_json);
  if (row.dropped()) {
    EXPECT_THAT(
        mapped.warnings,
        ElementsAre(Issue(std::string(keys->second.field) + "[0]", row.last)));
    EXPECT_FALSE(wire.contains("user"));
  } else {
    EXPECT_THAT(mapped.warnings, IsEmpty());
    EXPECT_EQ(wire["user"][keys->second.wire_key],
              nlohmann::json::array({row.last}));
  }
}

TEST(IdentifierVectorMapperTest, MapsEveryVectorAsTheGoldenFileSays) {
  std::vector<VectorRow> rows = ReadVectorRows("identifier_vectors.tsv");
  ASSERT_FALSE(rows.empty());
  for (const VectorRow& row : rows) {
    SCOPED_TRACE(RowLocation(row));
    CheckRowThroughMapper(row);
  }
}

}  // namespace
}  // namespace conversions::mapping
