// The spool's payloads in its payload log: segments go once their events
// are done, while every payload still needed stays readable, across
// restarts, damage and the migration of layout-2 files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/spool.h"
#include "tests/service/spool_test_util.h"
#include "tests/service/wait_for.h"

namespace conversions::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class SpoolPayloadTest : public SpoolFixture {
 protected:
  // Payloads of Event("eN") are 11 bytes (12 from e10): four to a segment.
  std::unique_ptr<Spool> OpenSmall() {
    SpoolOptions options;
    options.payload_segment_bytes = 52;
    return OpenSpool(options);
  }

  std::string LogDir() const { return dir_.path() + "/spool.db.payloads"; }

  // The segment files, by number (not a prepared next one, prepared.tmp).
  std::vector<std::int64_t> Files() const {
    std::vector<std::int64_t> out;
    for (const auto& e : std::filesystem::directory_iterator(LogDir())) {
      if (e.path().extension() != ".log") continue;
      out.push_back(std::stoll(e.path().stem().string()));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static std::vector<SpoolEvent> Events(int first, int last) {
    std::vector<SpoolEvent> out;
    for (int i = first; i <= last; ++i) {
      out.push_back(Event(absl::StrCat("e", i)));
    }
    return out;
  }

  static std::vector<std::int64_t> Rows(const std::vector<ClaimedEvent>& c) {
    std::vector<std::int64_t> out;
    for (const ClaimedEvent& e : c) out.push_back(e.row_id);
    return out;
  }

  // Claims everything due at `now` and checks every payload read back.
  std::vector<ClaimedEvent> ClaimAll(Spool& spool, std::int64_t now = kNow) {
    auto claimed = spool.Claim(lane_, now, 1000, 1 << 20);
    EXPECT_TRUE(claimed.ok()) << claimed.status();
    if (!claimed.ok()) return {};
    for (const ClaimedEvent& e : *claimed) {
      if (!e.unreadable.empty()) continue;
      EXPECT_EQ(e.wire_json, Event(e.event_id).wire_json) << e.event_id;
    }
    return *claimed;
  }

  // Overwrites a byte of segment `segment` at `offset`.
  void Damage(std::int64_t segment, std::int64_t offset) {
    std::fstream f(absl::StrCat(LogDir(), "/", segment, ".log"),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(offset);
    f.put('#');
  }
};

TEST_F(SpoolPayloadTest, WithoutPreparedFilesEachSegmentHoldsItsAppendsOnly) {
  SpoolOptions options;
  options.payload_segment_bytes = 52;
  options.prepare_payload_files = false;
  auto spool = OpenSpool(options);
  // One event a group: the small groups whose next files would be prepared.
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(AppendSync(*spool, Events(i, i)).ok());
  }
  EXPECT_THAT(Files(), ElementsAre(0, 1, 2));
  auto size = [&](const std::string& name) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(LogDir() + "/" + name, ec);
    return ec ? -1 : static_cast<std::int64_t>(n);
  };
  EXPECT_EQ(size("0.log"), 44);  // e1-e4
  EXPECT_EQ(size("1.log"), 44);  // e5-e8
  EXPECT_EQ(size("2.log"), 23);  // e9, e10
  EXPECT_EQ(size("prepared.tmp"), -1);
  EXPECT_THAT(ClaimAll(*spool), SizeIs(10));
}

// A group removes two done segments at most; those left go in groups of
// their own, with no write to carry them: on a full disk, new events wait
// for that room (SqliteSpool::TakesAppends).
TEST_F(SpoolPayloadTest, DoneSegmentsGoWithoutAnotherWrite) {
  auto spool = OpenSmall();
  ASSERT_TRUE(AppendSync(*spool, Events(1, 21)).ok());
  // Segments 0 to 4 hold e1 - e20, four each; 5 holds e21.
  EXPECT_THAT(Files(), ElementsAre(0, 1, 2, 3, 4, 5));
  std::vector<ClaimedEvent> claimed = ClaimAll(*spool);
  ASSERT_THAT(claimed, SizeIs(21));
  ASSERT_TRUE(spool->MarkDelivered(Rows(claimed), kNow, 1).ok());
  EXPECT_TRUE(testing::WaitFor([&] { return Files().size() == 1; }));
  EXPECT_THAT(Files(), ElementsAre(5));  // the one appended to stays
}

TEST_F(SpoolPayloadTest, DoneSegmentsGoAndDeadLettersKeepTheirPayloads) {
  auto spool = OpenSmall();
  ASSERT_TRUE(AppendSync(*spool, Events(1, 10)).ok());
  // Segment 0: e1-e4; 1: e5-e8; 2: e9, e10.
  EXPECT_THAT(Files(), ElementsAre(0, 1, 2));
  std::vector<ClaimedEvent> claimed = ClaimAll(*spool);
  ASSERT_THAT(claimed, SizeIs(10));
  std::vector<std::int64_t> rows = Rows(claimed);
  ASSERT_TRUE(
      spool->MarkDead({rows[5]}, DeadReason::kRejected, "HTTP 400", kNow, 1)
          .ok());
  rows.erase(rows.begin() + 5);
  ASSERT_TRUE(spool->MarkDelivered(rows, kNow, 1).ok());
  // The files go once the commit is synced, before later writes return.
  ASSERT_TRUE(AppendSync(*spool, Events(11, 11)).ok());
  EXPECT_THAT(Files(), ElementsAre(2));
  auto dead = spool->ListDeadLetters({});
  ASSERT_TRUE(dead.ok());
  ASSERT_THAT(dead->dead_letters, SizeIs(1));
  EXPECT_EQ(dead->dead_letters[0].wire_json, Event("e6").wire_json);
  // Queued again, the dead letter is sent with its payload.
  ASSERT_TRUE(spool
                  ->Requeue("default", {}, std::nullopt, std::nullopt,
                            /*oldest_timestamp_ms=*/0, kNow)
                  .ok());
  std::vector<ClaimedEvent> again = ClaimAll(*spool);
  ASSERT_THAT(again, SizeIs(2));  // e11 and e6
  ASSERT_TRUE(spool->MarkDelivered(Rows(again), kNow, 1).ok());
  EXPECT_EQ(spool->QueuedCount(), 0);
}

TEST_F(SpoolPayloadTest, StragglersAreCopiedOutWhenTheirSegmentGoes) {
  auto spool = OpenSmall();
  ASSERT_TRUE(AppendSync(*spool, Events(1, 4)).ok());  // segment 0
  std::vector<ClaimedEvent> claimed = ClaimAll(*spool);
  ASSERT_THAT(claimed, SizeIs(4));
  // e1 and e2 retry in a minute; e3 and e4 are delivered.
  ASSERT_TRUE(spool
                  ->MarkRetry({claimed[0].row_id, claimed[1].row_id},
                              kNow + 60'000, "HTTP 503", 1)
                  .ok());
  ASSERT_TRUE(
      spool->MarkDelivered({claimed[2].row_id, claimed[3].row_id}, kNow, 1)
          .ok());
  ASSERT_TRUE(AppendSync(*spool, Events(5, 8)).ok());  // segment 1
  EXPECT_THAT(Files(), ElementsAre(0, 1));
  ASSERT_TRUE(AppendSync(*spool, Events(9, 12)).ok());  // segment 2
  ASSERT_TRUE(AppendSync(*spool, Events(13, 13)).ok());
  // Half of segment 0 open, no delivery in it while 1 and 2 filled.
  EXPECT_THAT(Files(), ElementsAre(1, 2, 3));
  std::vector<ClaimedEvent> later = ClaimAll(*spool, kNow + 60'000);
  ASSERT_THAT(later, SizeIs(11));
  EXPECT_EQ(later[9].event_id, "e1");
  EXPECT_EQ(later[10].event_id, "e2");
  ASSERT_TRUE(spool->MarkDelivered(Rows(later), kNow, 1).ok());
  auto status = spool->Lookup("default", "order_created", "e1");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, EventState::kDelivered);
}

TEST_F(SpoolPayloadTest, ARestartCountsFromTheFileAndRemovesUnneededFiles) {
  {
    auto spool = OpenSmall();
    ASSERT_TRUE(AppendSync(*spool, Events(1, 9)).ok());  // segments 0-2
    std::vector<ClaimedEvent> claimed = ClaimAll(*spool);
    ASSERT_THAT(claimed, SizeIs(9));
    // e5 and e6 stay in flight: queued again after the restart.
    std::vector<std::int64_t> done = Rows(claimed);
    done.erase(done.begin() + 4, done.begin() + 6);
    ASSERT_TRUE(spool->MarkDelivered(done, kNow, 1).ok());
  }
  auto spool = OpenSmall();
  ASSERT_NE(spool, nullptr);
  // Segment 0 was done; 1 holds e5 and e6; 2 (e9) no longer open; 3 is new.
  ASSERT_TRUE(AppendSync(*spool, Events(10, 10)).ok());
  EXPECT_THAT(Files(), ElementsAre(1, 3));
  std::vector<ClaimedEvent> claimed = ClaimAll(*spool);
  ASSERT_THAT(claimed, SizeIs(3));
  EXPECT_EQ(claimed[0].event_id, "e5");
  ASSERT_TRUE(spool->MarkDelivered(Rows(claimed), kNow, 1).ok());
  ASSERT_TRUE(AppendSync(*spool, Events(11, 11)).ok());
  EXPECT_THAT(Files(), ElementsAre(3));
}

// A payload that did not reach the disk before a power loss: its event was
// never acknowledged, so the row goes at the next start and the caller's
// retry is accepted.
TEST_F(SpoolPayloadTest, AnUnwrittenPayloadOfTheLastRunDropsItsRow) {
  {
    auto spool = OpenSmall();
    ASSERT_TRUE(AppendSync(*spool, Events(1, 3)).ok());
  }
  Damage(0, 14);  // inside e2's payload
  auto spool = OpenSmall();
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->DroppedAtOpen(), 1);
  EXPECT_EQ(spool->QueuedCount(), 2);
  EXPECT_TRUE(absl::IsNotFound(
      spool->Lookup("default", "order_created", "e2").status()));
  auto again = AppendSync(*spool, Events(1, 3));
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(*again,
              ElementsAre(AppendOutcome::kDuplicate, AppendOutcome::kAccepted,
                          AppendOutcome::kDuplicate));
  EXPECT_THAT(ClaimAll(*spool), SizeIs(3));
}

// Damage found later (an older segment, damaged by hand) hands the event
// out as unreadable, saying why, for the dispatcher to dead-letter rather
// than send or retry it for ever.
TEST_F(SpoolPayloadTest, AnUnreadablePayloadIsHandedOutAsUnreadable) {
  {
    auto spool = OpenSmall();
    ASSERT_TRUE(AppendSync(*spool, Events(1, 4)).ok());  // segment 0
  }
  {
    auto spool = OpenSmall();  // segment 1
    ASSERT_TRUE(AppendSync(*spool, Events(5, 8)).ok());
  }
  {
    auto spool = OpenSmall();  // segment 2
    ASSERT_TRUE(AppendSync(*spool, Events(9, 9)).ok());
  }
  Damage(0, 2);  // e1; segment 0 is not among the last two of a run
  auto spool = OpenSmall();
  ASSERT_NE(spool, nullptr);
  std::vector<ClaimedEvent> claimed = ClaimAll(*spool);
  ASSERT_THAT(claimed, SizeIs(9));
  EXPECT_EQ(claimed[0].event_id, "e1");
  EXPECT_EQ(claimed[0].wire_json, "");
  EXPECT_THAT(claimed[0].unreadable, HasSubstr("damaged"));
  EXPECT_EQ(claimed[1].event_id, "e2");
  EXPECT_EQ(claimed[1].unreadable, "");
  EXPECT_NE(claimed[1].wire_json, "");
  ASSERT_TRUE(spool
                  ->MarkDead({claimed[0].row_id}, DeadReason::kDamaged,
                             "damaged", kNow, 0)
                  .ok());
  auto dead = spool->ListDeadLetters({});
  ASSERT_TRUE(dead.ok());
  ASSERT_THAT(dead->dead_letters, SizeIs(1));
  EXPECT_EQ(dead->dead_letters[0].event_id, "e1");
  EXPECT_EQ(dead->dead_letters[0].reason, DeadReason::kDamaged);
  EXPECT_EQ(spool->QueuedCount(), 8);
}

// A group whose write fails is rolled back whole: none of its events is
// stored, counted or known for dedup, so the callers' retries are accepted.
// (The failure: the next segment's file name is taken by a folder, which
// stops even root from creating it.)
TEST_F(SpoolPayloadTest, AFailedGroupIsRolledBackAndItsRetryAccepted) {
  auto spool = OpenSmall();
  ASSERT_TRUE(AppendSync(*spool, Events(1, 3)).ok());  // segment 0
  std::filesystem::create_directory(LogDir() + "/1.log");
  auto failed = AppendSync(*spool, Events(4, 8));  // needs segment 1
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("1.log"));
  EXPECT_EQ(spool->QueuedCount(), 3);
  EXPECT_TRUE(absl::IsNotFound(
      spool->Lookup("default", "order_created", "e4").status()));
  std::filesystem::remove(LogDir() + "/1.log");
  auto again = AppendSync(*spool, Events(4, 8));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, ::testing::Each(AppendOutcome::kAccepted));
  EXPECT_EQ(spool->QueuedCount(), 8);
  std::vector<ClaimedEvent> claimed = ClaimAll(*spool);
  ASSERT_THAT(claimed, SizeIs(8));
  ASSERT_TRUE(spool->MarkDelivered(Rows(claimed), kNow, 1).ok());
  EXPECT_EQ(spool->QueuedCount(), 0);
  // The segments' counts were rolled back too: both done segments go.
  ASSERT_TRUE(AppendSync(*spool, Events(9, 9)).ok());
  EXPECT_THAT(Files(), ElementsAre(2));
}

// A layout-2 file (payloads in one table, deleted on delivery) is migrated
// when opened: its payloads are kept ones.
TEST_F(SpoolPayloadTest, MigratesTheSecondLayout) {
  WriteSqliteFile(dir_.path() + "/spool.db", R"sql(
      CREATE TABLE events (
        id INTEGER PRIMARY KEY, key_hash INTEGER NOT NULL,
        destination TEXT NOT NULL, validate_only INTEGER NOT NULL,
        event_name TEXT NOT NULL, event_id TEXT NOT NULL,
        timestamp_ms INTEGER NOT NULL, state INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, accepted_ms INTEGER NOT NULL,
        next_attempt_ms INTEGER NOT NULL, done_ms INTEGER NOT NULL DEFAULT 0,
        last_error TEXT, dead_reason INTEGER);
      CREATE TABLE payloads (id INTEGER PRIMARY KEY, wire_json TEXT NOT NULL);
      INSERT INTO events VALUES
        (1, 11, 'default', 0, 'order_created', 'e1', 1, 0, 0,
         1773892800000, 1773892800000, 0, NULL, NULL),
        (2, 12, 'default', 0, 'order_created', 'e2', 1, 2, 1,
         1773892800000, 1773892800000, 1773892800001, NULL, NULL),
        (3, 13, 'default', 0, 'order_created', 'e3', 1, 3, 1,
         1773892800000, 1773892800000, 1773892800002, 'HTTP 400: bad', 1);
      INSERT INTO payloads VALUES (1, '{"id":"e1"}'), (3, '{"id":"e3"}');
      PRAGMA user_version=2;
    )sql");
  auto spool = OpenSmall();
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(AppendSync(*spool, Events(4, 4)).ok());
  std::vector<ClaimedEvent> claimed = ClaimAll(*spool);
  ASSERT_THAT(claimed, SizeIs(2));
  EXPECT_EQ(claimed[0].event_id, "e1");
  EXPECT_EQ(claimed[1].event_id, "e4");
  auto dead = spool->ListDeadLetters({});
  ASSERT_TRUE(dead.ok());
  ASSERT_THAT(dead->dead_letters, SizeIs(1));
  EXPECT_EQ(dead->dead_letters[0].wire_json, Event("e3").wire_json);
  ASSERT_TRUE(spool->MarkDelivered(Rows(claimed), kNow, 1).ok());
  EXPECT_EQ(spool->QueuedCount(), 0);
}

}  // namespace
}  // namespace conversions::service
