// Tests of SpoolSyncer, the durability half of the spool's group commit:
// answers after the syncs, failures reach every caller of the group,
// segment files go only after a successful sync, Shutdown answers what
// was added.
#include "service/spool_syncer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "service/payload_log.h"
#include "service/spool_sqlite.h"
#include "tests/service/temp_dir.h"

namespace conversions::service {
namespace {

class SpoolSyncerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(temp_.path().empty());
    wal_ = temp_.path() + "/spool.db-wal";
    std::ofstream(wal_) << "not a real WAL: the syncer only fdatasyncs it";
    // Segments of 64 bytes: each payload below fills one.
    auto log = PayloadLog::Open(temp_.path() + "/payloads", 0, 64);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
    auto db = spool_sqlite::OpenDb(temp_.path() + "/checkpoint.db", 1024);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *db;
  }
  void TearDown() override {
    syncer_.reset();
    sqlite3_close_v2(db_);
  }

  void StartSyncer(const std::string& wal) {
    // Reports are written on the syncer thread before it answers, and read
    // after an answer arrived.
    syncer_ = std::make_unique<SpoolSyncer>(
        wal, log_.get(), db_,
        [this](const SpoolSyncReport& r) { reports_.push_back(r); });
    syncer_->Start();
  }

  // Appends and flushes one payload; returns its segment.
  std::int64_t AppendPayload() {
    const std::string payload(60, 'x');
    auto at = log_->Append(payload, PayloadCrc(payload));
    EXPECT_TRUE(at.ok()) << at.status();
    EXPECT_TRUE(log_->Flush().ok());
    return at.ok() ? at->segment : -1;
  }

  // A callback that fulfils `promise` with the status it is given.
  static std::function<void(absl::Status)> Fulfil(
      std::promise<absl::Status>* promise) {
    return [promise](absl::Status s) { promise->set_value(std::move(s)); };
  }

  bool SegmentFileExists(std::int64_t segment) const {
    return std::filesystem::exists(temp_.path() + "/payloads/" +
                                   std::to_string(segment) + ".log");
  }

  conversions::testing::TempDir temp_;
  std::string wal_;
  std::unique_ptr<PayloadLog> log_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<SpoolSyncer> syncer_;
  std::vector<SpoolSyncReport> reports_;
};

TEST_F(SpoolSyncerTest, AnswersEveryCallerOfEveryGroupOnceSynced) {
  StartSyncer(wal_);
  AppendPayload();
  std::promise<absl::Status> a, b, c;
  std::vector<std::function<void(absl::Status)>> first;
  first.push_back(Fulfil(&a));
  first.push_back(Fulfil(&b));
  syncer_->Add(std::move(first), {});
  std::vector<std::function<void(absl::Status)>> second;
  second.push_back(Fulfil(&c));
  syncer_->Add(std::move(second), {});

  EXPECT_TRUE(a.get_future().get().ok());
  EXPECT_TRUE(b.get_future().get().ok());
  EXPECT_TRUE(c.get_future().get().ok());
  syncer_->WaitForFewerThan(1);  // both groups synced: returns
}

TEST_F(SpoolSyncerTest, AFailedSyncFailsTheGroupAndKeepsItsSegments) {
  // The WAL is not there: the sync fails, so nothing may be acknowledged
  // and no payload file may go.
  StartSyncer(temp_.path() + "/missing.db-wal");
  const std::int64_t old_segment = AppendPayload();
  AppendPayload();  // moves appends to the next segment
  ASSERT_NE(log_->current(), old_segment);
  std::promise<absl::Status> answer;
  std::vector<std::function<void(absl::Status)>> done;
  done.push_back(Fulfil(&answer));
  syncer_->Add(std::move(done), {old_segment});

  const absl::Status status = answer.get_future().get();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_NE(status.message().find("cannot find"), std::string::npos) << status;
  EXPECT_TRUE(SegmentFileExists(old_segment));
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_FALSE(reports_[0].ok);
  EXPECT_EQ(reports_[0].callers, 1);
}

TEST_F(SpoolSyncerTest, RemovesSegmentsOnlyWithASuccessfulSync) {
  StartSyncer(wal_);
  const std::int64_t old_segment = AppendPayload();
  AppendPayload();
  ASSERT_NE(log_->current(), old_segment);
  ASSERT_TRUE(SegmentFileExists(old_segment));
  std::promise<absl::Status> answer;
  std::vector<std::function<void(absl::Status)>> done;
  done.push_back(Fulfil(&answer));
  syncer_->Add(std::move(done), {old_segment});

  ASSERT_TRUE(answer.get_future().get().ok());
  EXPECT_FALSE(SegmentFileExists(old_segment));
  EXPECT_TRUE(SegmentFileExists(log_->current()));
}

TEST_F(SpoolSyncerTest, ShutdownAnswersWhatWasAdded) {
  StartSyncer(wal_);
  int answered = 0;
  std::vector<std::function<void(absl::Status)>> done;
  for (int i = 0; i < 3; ++i) {
    done.push_back([&answered](absl::Status s) {
      EXPECT_TRUE(s.ok()) << s;
      ++answered;  // the syncer thread only
    });
  }
  syncer_->Add(std::move(done), {});
  syncer_->Shutdown();  // joins the syncer: every answer ran
  EXPECT_EQ(answered, 3);
  syncer_->Shutdown();  // idempotent
}

TEST_F(SpoolSyncerTest, ReportsEachSyncWithItsDurationAndCallers) {
  StartSyncer(wal_);
  AppendPayload();
  std::promise<absl::Status> a, b, c;
  std::vector<std::function<void(absl::Status)>> done;
  done.push_back(Fulfil(&a));
  done.push_back(Fulfil(&b));
  done.push_back(Fulfil(&c));
  syncer_->Add(std::move(done), {});  // one group: one sync answers all
  ASSERT_TRUE(c.get_future().get().ok());
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_TRUE(reports_[0].ok);
  EXPECT_EQ(reports_[0].callers, 3);
  EXPECT_GT(reports_[0].seconds, 0);
  EXPECT_LT(reports_[0].seconds, 60);
}

}  // namespace
}  // namespace conversions::service
