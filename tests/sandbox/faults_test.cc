#include "tests/sandbox/faults.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace conversions::sandbox {
namespace {

using ::nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(FaultsTest, ParsesEveryFaultKind) {
  absl::StatusOr<Faults> faults = FaultsFromJson(json::parse(R"({
    "status_sequence": [{"status": 429, "retry_after": "1"},
                        {"status": 503, "retry_after": 7}, {"status": 500}],
    "latency_ms": 50, "drop_connections": 2, "poison_ids": ["x", "y"],
    "auth_failures": 3})"));
  ASSERT_TRUE(faults.ok()) << faults.status();
  ASSERT_EQ(faults->status_sequence.size(), 3u);
  EXPECT_EQ(faults->status_sequence[0].status, 429);
  EXPECT_EQ(faults->status_sequence[0].retry_after, "1");
  EXPECT_EQ(faults->status_sequence[1].retry_after, "7");
  EXPECT_EQ(faults->status_sequence[2].retry_after, "");
  EXPECT_EQ(faults->latency, std::chrono::milliseconds(50));
  EXPECT_EQ(faults->drop_connections, 2);
  EXPECT_THAT(faults->poison_ids, ElementsAre("x", "y"));
  EXPECT_EQ(faults->auth_failures, 3);
}

TEST(FaultsTest, RoundTripsThroughJson) {
  Faults faults;
  faults.status_sequence = {{429, "2"}, {502, ""}};
  faults.latency = std::chrono::milliseconds(5);
  faults.poison_ids = {"p"};
  absl::StatusOr<Faults> parsed = FaultsFromJson(FaultsToJson(faults));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FaultsToJson(*parsed), FaultsToJson(faults));
}

TEST(FaultsTest, RejectsBadInput) {
  for (const char* text :
       {R"([])", R"({"latency": 5})", R"({"latency_ms": -1})",
        R"({"latency_ms": 1.5})", R"({"status_sequence": [{"status": 99}]})",
        R"({"status_sequence": [{"retry_after": "1"}]})",
        R"({"status_sequence": [{"status": 429, "body": "x"}]})",
        R"({"poison_ids": [1]})", R"({"auth_failures": "1"})"}) {
    absl::StatusOr<Faults> faults = FaultsFromJson(json::parse(text));
    EXPECT_EQ(faults.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
  }
  EXPECT_THAT(
      std::string(
          FaultsFromJson(json::parse(R"({"x": 1})")).status().message()),
      HasSubstr("x: unknown field"));
}

}  // namespace
}  // namespace conversions::sandbox
