// A spool whose disk fills up: the append that does not fit fails as
// RESOURCE_EXHAUSTED marked disk_full (storage_status.h), nothing of it
// stays (sent again once there is room, its events are accepted, not
// duplicates), and every event accepted before is still there.
//
// The disk is a small tmpfs mounted over the test's folder in a mount
// namespace of the test's own, which needs root (CAP_SYS_ADMIN); without
// it the test is skipped and says so.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "service/storage_status.h"
#include "tests/service/private_tmpfs.h"
#include "tests/service/spool_test_util.h"

namespace conversions::service {
namespace {

class SpoolDiskFullTest : public SpoolFixture {
 protected:
  void SetUp() override {
    if (std::string why = disk_.Mount(dir_.path(), "2m"); !why.empty()) {
      GTEST_SKIP() << why;
    }
  }

  testing::PrivateTmpfs disk_;
};

std::vector<SpoolEvent> Batch(int first, int count) {
  std::vector<SpoolEvent> events;
  for (int i = first; i < first + count; ++i) {
    SpoolEvent e = Event("evt_" + std::to_string(i));  // {"id":"evt_i"}
    e.wire_json.append(1000, ' ');                     // about 1 KB a payload
    events.push_back(std::move(e));
  }
  return events;
}

TEST_F(SpoolDiskFullTest, AFullDiskRefusesTheAppendAndKeepsNothingOfIt) {
  auto spool = OpenSpool();
  ASSERT_NE(spool, nullptr);
  constexpr int kBatch = 50;
  int accepted = 0;
  absl::Status failure;
  for (int first = 0; first < 100'000; first += kBatch) {
    auto outcomes = AppendSync(*spool, Batch(first, kBatch));
    if (!outcomes.ok()) {
      failure = outcomes.status();
      break;
    }
    for (AppendOutcome o : *outcomes) {
      ASSERT_EQ(o, AppendOutcome::kAccepted);
      ++accepted;
    }
  }
  ASSERT_FALSE(failure.ok()) << "2 MiB never filled up";
  ASSERT_GT(accepted, 0);
  EXPECT_EQ(failure.code(), absl::StatusCode::kResourceExhausted) << failure;
  EXPECT_EQ(StoreFailureOf(failure), StoreFailure::kDiskFull) << failure;
  EXPECT_TRUE(absl::StartsWith(failure.message(), "the spool's disk is full: "))
      << failure;
  EXPECT_EQ(spool->QueuedCount(), accepted);

  // With room again, the refused batch is new to the spool: accepted.
  ASSERT_EQ(disk_.Resize("64m"), "");
  auto again = AppendSync(*spool, Batch(accepted, kBatch));
  ASSERT_TRUE(again.ok()) << again.status();
  for (AppendOutcome o : *again) EXPECT_EQ(o, AppendOutcome::kAccepted);
  accepted += kBatch;
  EXPECT_EQ(spool->QueuedCount(), accepted);

  // Every accepted event is there to deliver, each once, with its payload.
  int claimed = 0;
  for (;;) {
    auto batch = spool->Claim(lane_, kNow, 1000, 64 << 20);
    ASSERT_TRUE(batch.ok()) << batch.status();
    if (batch->empty()) break;
    std::vector<std::int64_t> rows;
    for (const ClaimedEvent& e : *batch) {
      EXPECT_EQ(e.wire_json,
                R"({"id":")" + e.event_id + R"("})" + std::string(1000, ' '));
      rows.push_back(e.row_id);
    }
    claimed += static_cast<int>(batch->size());
    ASSERT_TRUE(spool->MarkDelivered(rows, kNow, 1).ok());
  }
  EXPECT_EQ(claimed, accepted);
}

}  // namespace
}  // namespace conversions::service
