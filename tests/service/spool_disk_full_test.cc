// A spool whose disk fills up: the append that does not fit fails as
// RESOURCE_EXHAUSTED marked disk_full (storage_status.h), nothing of it
// stays (sent again once there is room, its events are accepted, not
// duplicates), and every event accepted before is still there. Deliveries
// are still recorded, with the room the reserve held back
// (service/spool_reserve.h), and free the disk; new events wait for that.
//
// The disk is a small tmpfs mounted over the test's folder in a mount
// namespace of the test's own, which needs root (CAP_SYS_ADMIN); without
// it the test is skipped and says so.
#include <gmock/gmock.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "service/storage_status.h"
#include "tests/service/private_tmpfs.h"
#include "tests/service/spool_test_util.h"
#include "tests/service/wait_for.h"

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

// Fills the disk with queued events; returns how many were accepted, and
// the failure that ended it in *failure.
int Fill(Spool& spool, absl::Status* failure) {
  int accepted = 0;
  for (int first = 0; first < 100'000; first += 50) {
    auto outcomes = AppendSync(spool, Batch(first, 50));
    if (!outcomes.ok()) {
      *failure = outcomes.status();
      return accepted;
    }
    accepted += static_cast<int>(outcomes->size());
  }
  return accepted;
}

// The dispatcher's case: the API is back after the disk filled with queued
// events. Each delivery is recorded (a write that fails is an error, whose
// events stay claimed until it is written again), nothing is claimed
// twice, the payload log files of delivered events go, and then the spool
// takes new events again.
TEST_F(SpoolDiskFullTest, DeliveriesAreRecordedOnAFullDiskAndFreeIt) {
  ASSERT_EQ(disk_.Resize("8m"), "");
  SpoolOptions options;
  options.payload_segment_bytes = 512 << 10;
  options.disk_reserve_bytes = 1 << 20;
  options.prepare_payload_files = false;
  auto spool = OpenSpool(options);
  ASSERT_NE(spool, nullptr);
  const std::string reserve = dir_.path() + "/spool.db.reserve";
  ASSERT_EQ(std::filesystem::file_size(reserve), 1u << 20);

  absl::Status failure;
  const int accepted = Fill(*spool, &failure);
  ASSERT_EQ(StoreFailureOf(failure), StoreFailure::kDiskFull) << failure;
  ASSERT_GT(accepted, 2000);
  EXPECT_FALSE(std::filesystem::exists(reserve));
  // The reserve's room is for outcomes: a new event is refused at once.
  auto refused = AppendSync(*spool, Batch(accepted, 1));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(StoreFailureOf(refused.status()), StoreFailure::kDiskFull)
      << refused.status();
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("room for the spool's reserve"));

  int delivered = 0;
  absl::flat_hash_set<std::string> seen;
  for (;;) {
    auto batch = spool->Claim(lane_, kNow, 1000, 64 << 20);
    ASSERT_TRUE(batch.ok()) << batch.status();
    if (batch->empty()) break;
    std::vector<std::int64_t> rows;
    for (const ClaimedEvent& e : *batch) {
      ASSERT_TRUE(seen.insert(e.event_id).second) << "claimed twice";
      rows.push_back(e.row_id);
    }
    absl::Status written = spool->MarkDelivered(rows, kNow, 1);
    if (!written.ok()) {
      // Not written: the events stay claimed; written again (as the
      // dispatcher does) once removed log files give room.
      EXPECT_EQ(StoreFailureOf(written), StoreFailure::kDiskFull) << written;
      auto meanwhile = spool->Claim(lane_, kNow, 1000, 64 << 20);
      ASSERT_TRUE(meanwhile.ok()) << meanwhile.status();
      EXPECT_THAT(*meanwhile, ::testing::IsEmpty());
      ASSERT_TRUE(testing::WaitFor([&] {
        written = spool->MarkDelivered(rows, kNow, 1);
        return written.ok();
      })) << written;
    }
    delivered += static_cast<int>(rows.size());
  }
  EXPECT_EQ(delivered, accepted);
  EXPECT_EQ(spool->QueuedCount(), 0);

  // The delivered events' log files are gone: room for the reserve again,
  // and for new events.
  absl::StatusOr<std::vector<AppendOutcome>> after;
  ASSERT_TRUE(testing::WaitFor([&] {
    after = AppendSync(*spool, Batch(accepted, 50));
    return after.ok();
  })) << after.status();
  EXPECT_THAT(*after, ::testing::Each(AppendOutcome::kAccepted));
  EXPECT_EQ(std::filesystem::file_size(reserve), 1u << 20);
}

}  // namespace
}  // namespace conversions::service
