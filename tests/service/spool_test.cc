#include "service/spool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "service/storage_status.h"
#include "tests/service/spool_test_util.h"
#include "tests/service/temp_dir.h"

namespace conversions::service {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class SpoolTest : public SpoolFixture {
 protected:
  // A spool that keeps delivered rows 1 s, holding events e0 .. e<n-1>.
  std::unique_ptr<Spool> SpoolWithEvents(int n) {
    SpoolOptions options;
    options.retention = std::chrono::milliseconds(1000);
    auto spool = OpenSpool(options);
    std::vector<SpoolEvent> events;
    for (int i = 0; i < n; ++i) events.push_back(Event(absl::StrCat("e", i)));
    EXPECT_TRUE(AppendSync(*spool, events).ok());
    return spool;
  }
};

TEST_F(SpoolTest, AppendsAndAnswersDuplicateForSameNameAndId) {
  auto spool = OpenSpool();
  auto first = AppendSync(*spool, {Event("a"), Event("b")});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(*first,
              ElementsAre(AppendOutcome::kAccepted, AppendOutcome::kAccepted));
  // Same id and name: duplicate; same id, other name: a different event.
  auto second = AppendSync(
      *spool, {Event("a"), Event("a", "default", "lead_created"), Event("b")});
  ASSERT_TRUE(second.ok());
  EXPECT_THAT(*second,
              ElementsAre(AppendOutcome::kDuplicate, AppendOutcome::kAccepted,
                          AppendOutcome::kDuplicate));
  EXPECT_EQ(spool->QueuedCount(), 3);
}

// The spool's files are the service's own: 0600 whatever the umask lets
// through, like the payload log's segments.
TEST_F(SpoolTest, CreatesItsFilesForItsOwnUserOnly) {
  const mode_t old_umask = umask(022);
  auto spool = OpenSpool();
  umask(old_umask);
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(AppendSync(*spool, {Event("a")}).ok());
  for (const char* suffix : {"", "-wal", "-shm"}) {
    struct stat st {};
    const std::string path = dir_.path() + "/spool.db" + suffix;
    ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << path;
  }
}

// A spool another gateway holds is refused, naming its pid, before
// anything in it is read or recovered; once it closes, it opens.
TEST_F(SpoolTest, ASpoolInUseIsRefused) {
  auto first = OpenSpool();
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(AppendSync(*first, {Event("a")}).ok());
  SpoolOptions options;
  options.path = dir_.path() + "/spool.db";
  auto second = Spool::Open(options);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(),
              ::testing::HasSubstr(absl::StrCat(
                  "is in use by another process (pid ", getpid(), ")")));
  EXPECT_EQ(first->QueuedCount(), 1);
  first.reset();
  auto again = OpenSpool();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->QueuedCount(), 1);
}

TEST_F(SpoolTest, DuplicateInsideOneRequestIsDetected) {
  auto spool = OpenSpool();
  auto r = AppendSync(*spool, {Event("a"), Event("a")});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(*r,
              ElementsAre(AppendOutcome::kAccepted, AppendOutcome::kDuplicate));
}

TEST_F(SpoolTest, ValidateOnlyEventsDoNotDeduplicateRealOnes) {
  auto spool = OpenSpool();
  SpoolEvent check = Event("a");
  check.validate_only = true;
  ASSERT_TRUE(AppendSync(*spool, {check}).ok());
  auto real = AppendSync(*spool, {Event("a")});
  ASSERT_TRUE(real.ok());
  EXPECT_THAT(*real, ElementsAre(AppendOutcome::kAccepted));
}

// The API never saved a dead letter: the same event sent again (corrected,
// say, with the same id as the spec asks) replaces it, and is queued.
TEST_F(SpoolTest, ResendingADeadLetterReplacesIt) {
  auto spool = OpenSpool();
  ASSERT_TRUE(AppendSync(*spool, {Event("a"), Event("b")}).ok());
  auto claimed = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_THAT(*claimed, SizeIs(2));
  ASSERT_TRUE(spool
                  ->MarkDead({(*claimed)[0].row_id}, DeadReason::kRejected,
                             "bad", kNow, 1)
                  .ok());
  ASSERT_TRUE(spool->MarkDelivered({(*claimed)[1].row_id}, kNow, 1).ok());
  SpoolEvent corrected = Event("a");
  corrected.wire_json = R"({"id":"a","fixed":true})";
  auto resent = AppendSync(*spool, {corrected, Event("b"), Event("a")});
  ASSERT_TRUE(resent.ok()) << resent.status();
  // b was delivered: a duplicate; the second a duplicates the first.
  EXPECT_THAT(*resent, ElementsAre(AppendOutcome::kReplacedDeadLetter,
                                   AppendOutcome::kDuplicate,
                                   AppendOutcome::kDuplicate));
  EXPECT_EQ(spool->DedupKeyCount(), 2);
  EXPECT_EQ(spool->QueuedCount(), 1);
  auto page = spool->ListDeadLetters({});
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->dead_letters, SizeIs(0));
  auto status = spool->Lookup("default", "order_created", "a");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, EventState::kQueued);
  auto again = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(again.ok());
  ASSERT_THAT(*again, SizeIs(1));
  EXPECT_EQ((*again)[0].wire_json, corrected.wire_json);
  // Retrying dead letters finds none: the replaced one is gone.
  auto requeued = spool->Requeue("default", {}, std::nullopt, std::nullopt,
                                 /*oldest_timestamp_ms=*/0, kNow + 10);
  ASSERT_TRUE(requeued.ok());
  EXPECT_EQ(requeued->requeued, 0);
  // And so it stays after a restart.
  spool.reset();
  spool = OpenSpool();
  EXPECT_EQ(spool->DedupKeyCount(), 2);
  auto after = AppendSync(*spool, {Event("a")});
  ASSERT_TRUE(after.ok());
  EXPECT_THAT(*after, ElementsAre(AppendOutcome::kDuplicate));
}

// The API does not save an event it only validates: validating the same
// event again is not a duplicate once the first check is done.
TEST_F(SpoolTest, ValidateOnlyEventsMayBeValidatedAgain) {
  auto spool = OpenSpool();
  SpoolEvent check = Event("a");
  check.validate_only = true;
  ASSERT_TRUE(AppendSync(*spool, {check}).ok());
  auto pending = AppendSync(*spool, {check});
  ASSERT_TRUE(pending.ok());
  EXPECT_THAT(*pending, ElementsAre(AppendOutcome::kDuplicate));  // queued
  const LaneKey validate{"default", true};
  auto claimed = spool->Claim(validate, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_THAT(*claimed, SizeIs(1));
  ASSERT_TRUE(spool->MarkDelivered({(*claimed)[0].row_id}, kNow, 1).ok());
  auto again = AppendSync(*spool, {check});
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(*again, ElementsAre(AppendOutcome::kReplacedValidated));
  EXPECT_EQ(spool->DedupKeyCount(), 1);
  EXPECT_EQ(spool->QueuedCount(), 1);
  // A validate_only event the API refused is a dead letter like any.
  claimed = spool->Claim(validate, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_THAT(*claimed, SizeIs(1));
  ASSERT_TRUE(spool
                  ->MarkDead({(*claimed)[0].row_id}, DeadReason::kRejected,
                             "bad", kNow, 1)
                  .ok());
  auto corrected = AppendSync(*spool, {check});
  ASSERT_TRUE(corrected.ok());
  EXPECT_THAT(*corrected, ElementsAre(AppendOutcome::kReplacedDeadLetter));
}

// A refused validate_only check is listed with the real dead letters, but
// says it was a check. Both copies share a key ("a") so that only the lane
// tells them apart.
TEST_F(SpoolTest, DeadLettersSayWhetherTheyWereValidateOnly) {
  auto spool = OpenSpool();
  SpoolEvent check = Event("a");
  check.validate_only = true;
  ASSERT_TRUE(AppendSync(*spool, {check, Event("a")}).ok());
  auto checked = spool->Claim({"default", true}, kNow, 10, 1 << 20);
  ASSERT_TRUE(checked.ok());
  ASSERT_THAT(*checked, SizeIs(1));
  ASSERT_TRUE(spool
                  ->MarkDead({(*checked)[0].row_id}, DeadReason::kRejected,
                             "bad", kNow + 1, 1)
                  .ok());
  auto real = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(real.ok());
  ASSERT_THAT(*real, SizeIs(1));
  ASSERT_TRUE(spool
                  ->MarkDead({(*real)[0].row_id}, DeadReason::kRejected, "bad",
                             kNow + 2, 1)
                  .ok());
  auto page = spool->ListDeadLetters({});
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(page->dead_letters, SizeIs(2));
  // Newest first: the real one died later.
  EXPECT_EQ(page->dead_letters[0].event_id, "a");
  EXPECT_FALSE(page->dead_letters[0].validate_only);
  EXPECT_EQ(page->dead_letters[1].event_id, "a");
  EXPECT_TRUE(page->dead_letters[1].validate_only);
}

// The lane filter: the listing and the requeue of one lane leave the
// other's dead letter where it is, with or without keys, and a page token
// belongs to its lane.
TEST_F(SpoolTest, DeadLettersAreListedAndRequeuedByLane) {
  auto spool = OpenSpool();
  SpoolEvent check = Event("a");
  check.validate_only = true;
  ASSERT_TRUE(AppendSync(*spool, {check, Event("a"), Event("b")}).ok());
  for (bool validate_only : {true, false}) {
    auto claimed = spool->Claim({"default", validate_only}, kNow, 10, 1 << 20);
    ASSERT_TRUE(claimed.ok());
    std::vector<std::int64_t> rows;
    for (const ClaimedEvent& e : *claimed) rows.push_back(e.row_id);
    ASSERT_TRUE(
        spool->MarkDead(rows, DeadReason::kRejected, "bad", kNow + 1, 1).ok());
  }
  auto ids = [](const DeadLetterPage& page) {
    std::vector<std::string> out;
    for (const DeadLetterRecord& r : page.dead_letters) {
      out.push_back(absl::StrCat(r.event_id, r.validate_only ? "/check" : ""));
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  DeadLetterQuery checks;
  checks.validate_only = true;
  auto page = spool->ListDeadLetters(checks);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(ids(*page), ElementsAre("a/check"));
  DeadLetterQuery real;
  real.validate_only = false;
  real.page_size = 1;
  page = spool->ListDeadLetters(real);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(page->dead_letters, SizeIs(1));
  EXPECT_FALSE(page->dead_letters[0].validate_only);
  // The token of the real lane's listing is refused for the checks'.
  checks.page_token = page->next_page_token;
  EXPECT_EQ(spool->ListDeadLetters(checks).status().code(),
            absl::StatusCode::kInvalidArgument);
  real.page_token = page->next_page_token;
  page = spool->ListDeadLetters(real);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_THAT(page->dead_letters, SizeIs(1));
  EXPECT_FALSE(page->dead_letters[0].validate_only);
  // Requeued by key, of the checks' lane only: the real "a" stays dead.
  EventKeyRef a{"order_created", "a"};
  auto one = spool->Requeue("default", {a}, std::nullopt, true,
                            /*oldest_timestamp_ms=*/0, kNow + 10);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->requeued, 1);
  // Requeued by reason, of the real lane: "a" and "b".
  auto two = spool->Requeue("default", {}, DeadReason::kRejected, false,
                            /*oldest_timestamp_ms=*/0, kNow + 10);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->requeued, 2);
  page = spool->ListDeadLetters({});
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->dead_letters, SizeIs(0));
}

// The dead letters held, by destination and reason, for the gauge: the
// validate_only lane's are not counted, and a requeue takes them off.
TEST_F(SpoolTest, CountsDeadLettersByDestinationAndReason) {
  auto spool = OpenSpool();
  SpoolEvent check = Event("c");
  check.validate_only = true;
  ASSERT_TRUE(
      AppendSync(*spool, {Event("a"), Event("b"), Event("x", "shop"), check})
          .ok());
  auto count = [&] {
    std::vector<std::string> out;
    auto counts = spool->CountDeadLetters();
    EXPECT_TRUE(counts.ok()) << counts.status();
    if (!counts.ok()) return out;
    for (const DeadLetterCount& c : *counts) {
      out.push_back(absl::StrCat(
          c.destination, "/",
          c.reason == DeadReason::kRejected ? "rejected" : "expired", "=",
          c.count));
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_THAT(count(), IsEmpty());
  auto dead = [&](const LaneKey& lane, const std::vector<DeadReason>& reasons) {
    auto claimed = spool->Claim(lane, kNow, 10, 1 << 20);
    ASSERT_TRUE(claimed.ok());
    ASSERT_EQ(claimed->size(), reasons.size());
    for (size_t i = 0; i < reasons.size(); ++i) {
      ASSERT_TRUE(
          spool
              ->MarkDead({(*claimed)[i].row_id}, reasons[i], "bad", kNow + 1, 1)
              .ok());
    }
  };
  dead({"default", false}, {DeadReason::kRejected, DeadReason::kExpired});
  dead({"shop", false}, {DeadReason::kRejected});
  dead({"default", true}, {DeadReason::kRejected});
  EXPECT_THAT(count(), ElementsAre("default/expired=1", "default/rejected=1",
                                   "shop/rejected=1"));
  auto requeued = spool->Requeue("default", {}, DeadReason::kRejected, false,
                                 /*oldest_timestamp_ms=*/0, kNow + 10);
  ASSERT_TRUE(requeued.ok());
  EXPECT_EQ(requeued->requeued, 1);
  EXPECT_THAT(count(), ElementsAre("default/expired=1", "shop/rejected=1"));
}

TEST_F(SpoolTest, ClaimsDueEventsInOrderWithinCountAndByteBudget) {
  auto spool = OpenSpool();
  ASSERT_TRUE(AppendSync(*spool, {Event("a"), Event("b"), Event("c")}).ok());
  auto two = spool->Claim(lane_, kNow, 2, 1 << 20);
  ASSERT_TRUE(two.ok());
  ASSERT_THAT(*two, SizeIs(2));
  EXPECT_EQ((*two)[0].event_id, "a");
  EXPECT_EQ((*two)[1].event_id, "b");
  // In-flight events are not claimed twice.
  auto rest = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(rest.ok());
  ASSERT_THAT(*rest, SizeIs(1));
  EXPECT_EQ((*rest)[0].event_id, "c");
}

// Events left out by the byte budget are the next claim's first ones.
TEST_F(SpoolTest, EventsPastTheByteBudgetComeNextInOrder) {
  auto spool = OpenSpool();
  std::vector<SpoolEvent> events;
  for (const char* id : {"a", "b", "c", "d"}) events.push_back(Event(id));
  ASSERT_TRUE(AppendSync(*spool, std::move(events)).ok());
  const size_t one = Event("a").wire_json.size();
  // Two events take a comma between them in the request: 2 * one is one
  // byte short of them.
  auto short_of_two = spool->Claim(lane_, kNow, 10, 2 * one);
  ASSERT_TRUE(short_of_two.ok());
  ASSERT_THAT(*short_of_two, SizeIs(1));
  ASSERT_TRUE(spool->MarkRetry({(*short_of_two)[0].row_id}, kNow, "", 0).ok());
  auto first = spool->Claim(lane_, kNow, 10, 2 * one + 1);
  ASSERT_TRUE(first.ok());
  ASSERT_THAT(*first, SizeIs(2));
  EXPECT_EQ((*first)[1].event_id, "b");
  // A newer event does not overtake the ones the budget left out.
  ASSERT_TRUE(AppendSync(*spool, {Event("e")}).ok());
  auto second = spool->Claim(lane_, kNow, 1, 1 << 20);
  ASSERT_TRUE(second.ok());
  ASSERT_THAT(*second, SizeIs(1));
  EXPECT_EQ((*second)[0].event_id, "c");
  auto third = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(third.ok());
  ASSERT_THAT(*third, SizeIs(2));
  EXPECT_EQ((*third)[0].event_id, "d");
  EXPECT_EQ((*third)[1].event_id, "e");
}

TEST_F(SpoolTest, ByteBudgetStillClaimsOneOversizedEvent) {
  auto spool = OpenSpool();
  ASSERT_TRUE(AppendSync(*spool, {Event("a"), Event("b")}).ok());
  auto claimed = spool->Claim(lane_, kNow, 10, 1);  // budget below one event
  ASSERT_TRUE(claimed.ok());
  EXPECT_THAT(*claimed, SizeIs(1));
}

TEST_F(SpoolTest, LanesAreSeparateByDestinationAndValidateOnly) {
  auto spool = OpenSpool();
  SpoolEvent check = Event("v");
  check.validate_only = true;
  ASSERT_TRUE(
      AppendSync(*spool, {Event("a"), Event("x", "other"), check}).ok());
  auto main_lane = spool->Claim(lane_, kNow, 10, 1 << 20);
  auto other = spool->Claim({"other", false}, kNow, 10, 1 << 20);
  auto validate = spool->Claim({"default", true}, kNow, 10, 1 << 20);
  ASSERT_TRUE(main_lane.ok() && other.ok() && validate.ok());
  EXPECT_THAT(*main_lane, SizeIs(1));
  EXPECT_THAT(*other, SizeIs(1));
  ASSERT_THAT(*validate, SizeIs(1));
  EXPECT_EQ((*validate)[0].event_id, "v");
}

TEST_F(SpoolTest, DeliveredEventsLeaveTheQueueAndReportDeliveryTime) {
  auto spool = OpenSpool();
  ASSERT_TRUE(AppendSync(*spool, {Event("a")}).ok());
  auto claimed = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  auto in_flight = spool->Lookup("default", "order_created", "a");
  ASSERT_TRUE(in_flight.ok());
  EXPECT_EQ(in_flight->state, EventState::kInFlight);
  ASSERT_TRUE(spool->MarkDelivered({(*claimed)[0].row_id}, kNow + 5, 1).ok());
  auto status = spool->Lookup("default", "order_created", "a");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, EventState::kDelivered);
  EXPECT_EQ(status->done_ms, kNow + 5);
  EXPECT_EQ(status->attempts, 1);
  EXPECT_EQ(spool->QueuedCount(), 0);
}

TEST_F(SpoolTest, RetriedEventsWaitForTheirNextAttempt) {
  auto spool = OpenSpool();
  ASSERT_TRUE(AppendSync(*spool, {Event("a")}).ok());
  auto claimed = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_TRUE(
      spool->MarkRetry({(*claimed)[0].row_id}, kNow + 1000, "HTTP 503", 1)
          .ok());
  auto early = spool->Claim(lane_, kNow + 999, 10, 1 << 20);
  ASSERT_TRUE(early.ok());
  EXPECT_THAT(*early, SizeIs(0));
  auto due = spool->NextDueMs(lane_);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(**due, kNow + 1000);
  auto later = spool->Claim(lane_, kNow + 1000, 10, 1 << 20);
  ASSERT_TRUE(later.ok());
  ASSERT_THAT(*later, SizeIs(1));
  EXPECT_EQ((*later)[0].attempts, 1);
  auto status = spool->Lookup("default", "order_created", "a");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->last_error, "HTTP 503");
}

TEST_F(SpoolTest, DeadLettersAreListedNewestFirstInPages) {
  auto spool = OpenSpool();
  ASSERT_TRUE(
      AppendSync(*spool, {Event("a"), Event("b"), Event("c"), Event("d")})
          .ok());
  auto claimed = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_THAT(*claimed, SizeIs(4));
  ASSERT_TRUE(spool
                  ->MarkDead({(*claimed)[0].row_id}, DeadReason::kExpired,
                             "too old", kNow + 1, 0)
                  .ok());
  ASSERT_TRUE(spool
                  ->MarkDead({(*claimed)[1].row_id, (*claimed)[2].row_id},
                             DeadReason::kRejected, "bad event", kNow + 2, 1)
                  .ok());
  EXPECT_EQ(spool->QueuedCount(), 1);

  DeadLetterQuery query;
  query.page_size = 2;
  auto page1 = spool->ListDeadLetters(query);
  ASSERT_TRUE(page1.ok());
  ASSERT_THAT(page1->dead_letters, SizeIs(2));
  EXPECT_EQ(page1->dead_letters[0].event_id, "c");
  EXPECT_EQ(page1->dead_letters[1].event_id, "b");
  ASSERT_FALSE(page1->next_page_token.empty());
  query.page_token = page1->next_page_token;
  auto page2 = spool->ListDeadLetters(query);
  ASSERT_TRUE(page2.ok());
  ASSERT_THAT(page2->dead_letters, SizeIs(1));
  EXPECT_EQ(page2->dead_letters[0].event_id, "a");
  EXPECT_EQ(page2->dead_letters[0].reason, DeadReason::kExpired);
  EXPECT_TRUE(page2->next_page_token.empty());

  DeadLetterQuery expired;
  expired.reason = DeadReason::kExpired;
  auto only_expired = spool->ListDeadLetters(expired);
  ASSERT_TRUE(only_expired.ok());
  EXPECT_THAT(only_expired->dead_letters, SizeIs(1));

  // A page token goes with the filter it was made for.
  expired.page_token = page1->next_page_token;
  auto mixed = spool->ListDeadLetters(expired);
  EXPECT_EQ(mixed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mixed.status().message()),
              ::testing::HasSubstr("another destination, reason or lane"));
  DeadLetterQuery other_destination = query;
  other_destination.destination = "other";
  EXPECT_EQ(spool->ListDeadLetters(other_destination).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A page of large dead letters ends at the byte budget, before the page
// size, and the next page goes on from there: each dead letter once.
TEST_F(SpoolTest, DeadLetterPagesEndAtTheirByteBudget) {
  auto spool = OpenSpool();
  std::vector<SpoolEvent> events;
  for (int i = 0; i < 7; ++i) {
    SpoolEvent e = Event("big" + std::to_string(i));
    e.wire_json.append(100'000, ' ');
    events.push_back(std::move(e));
  }
  ASSERT_TRUE(AppendSync(*spool, std::move(events)).ok());
  auto claimed = spool->Claim(lane_, kNow, 10, 64 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_THAT(*claimed, SizeIs(7));
  std::vector<std::int64_t> rows;
  for (const ClaimedEvent& e : *claimed) rows.push_back(e.row_id);
  ASSERT_TRUE(
      spool->MarkDead(rows, DeadReason::kRejected, "bad", kNow + 1, 1).ok());

  DeadLetterQuery query;
  query.page_size = 100;
  query.max_bytes = 250'000;  // two of them
  std::vector<std::string> seen;
  std::vector<size_t> page_sizes;
  for (int guard = 0; guard < 10; ++guard) {
    auto page = spool->ListDeadLetters(query);
    ASSERT_TRUE(page.ok()) << page.status();
    page_sizes.push_back(page->dead_letters.size());
    for (const DeadLetterRecord& r : page->dead_letters) {
      EXPECT_EQ(r.wire_json.size(),
                Event(r.event_id).wire_json.size() + 100'000);
      seen.push_back(r.event_id);
    }
    if (page->next_page_token.empty()) break;
    query.page_token = page->next_page_token;
  }
  EXPECT_EQ(page_sizes, (std::vector<size_t>{2, 2, 2, 1}));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"big0", "big1", "big2", "big3",
                                            "big4", "big5", "big6"}));
  // A budget smaller than one dead letter still gives one a page.
  query.page_token.clear();
  query.max_bytes = 10;
  auto one = spool->ListDeadLetters(query);
  ASSERT_TRUE(one.ok());
  EXPECT_THAT(one->dead_letters, SizeIs(1));
  EXPECT_FALSE(one->next_page_token.empty());
}

TEST_F(SpoolTest, AMalformedPageTokenIsInvalidArgument) {
  auto spool = OpenSpool();
  for (const char* token : {"12", "12:x", "a:1", "1:2:3"}) {
    DeadLetterQuery query;
    query.page_token = token;
    EXPECT_EQ(spool->ListDeadLetters(query).status().code(),
              absl::StatusCode::kInvalidArgument)
        << token;
  }
}

TEST_F(SpoolTest, RequeueBringsDeadLettersBack) {
  auto spool = OpenSpool();
  ASSERT_TRUE(AppendSync(*spool, {Event("a"), Event("b")}).ok());
  auto claimed = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_TRUE(spool
                  ->MarkDead({(*claimed)[0].row_id, (*claimed)[1].row_id},
                             DeadReason::kRejected, "bad", kNow, 1)
                  .ok());
  EventKeyRef key{"order_created", "a"};
  auto one = spool->Requeue("default", {key}, std::nullopt, std::nullopt,
                            /*oldest_timestamp_ms=*/0, kNow + 10);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->requeued, 1);
  auto all = spool->Requeue("default", {}, DeadReason::kRejected, std::nullopt,
                            /*oldest_timestamp_ms=*/0, kNow + 10);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->requeued, 1);
  auto again = spool->Claim(lane_, kNow + 10, 10, 1 << 20);
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(*again, SizeIs(2));
  EXPECT_EQ(spool->QueuedCount(), 2);
}

// Dead letters older than the oldest sendable event time stay dead, by key
// as by reason, and are counted apart: queued again, they could only
// expire again.
TEST_F(SpoolTest, RequeueLeavesDeadLettersWhoseWindowHasClosed) {
  auto spool = OpenSpool();
  SpoolEvent old = Event("old");
  old.timestamp_ms = kNow - 5000;
  ASSERT_TRUE(AppendSync(*spool, {old, Event("new")}).ok());
  auto claimed = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_TRUE(spool
                  ->MarkDead({(*claimed)[0].row_id, (*claimed)[1].row_id},
                             DeadReason::kExpired, "late", kNow, 1)
                  .ok());
  const std::int64_t oldest = kNow - 2000;  // "new" is at kNow - 1000
  auto by_key = spool->Requeue(
      "default", {{"order_created", "old"}, {"order_created", "new"}},
      std::nullopt, std::nullopt, oldest, kNow + 10);
  ASSERT_TRUE(by_key.ok()) << by_key.status();
  EXPECT_EQ(by_key->requeued, 1);
  EXPECT_EQ(by_key->window_closed, 1);
  EXPECT_EQ(spool->QueuedCount(), 1);
  auto by_reason = spool->Requeue("default", {}, DeadReason::kExpired,
                                  std::nullopt, oldest, kNow + 10);
  ASSERT_TRUE(by_reason.ok()) << by_reason.status();
  EXPECT_EQ(by_reason->requeued, 0);
  EXPECT_EQ(by_reason->window_closed, 1);
  auto status = spool->Lookup("default", "order_created", "old");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, EventState::kDead);
  // With no bound, it is queued again.
  auto all = spool->Requeue("default", {}, std::nullopt, std::nullopt,
                            /*oldest_timestamp_ms=*/0, kNow + 10);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->requeued, 1);
  EXPECT_EQ(all->window_closed, 0);
}

TEST_F(SpoolTest, RefusesAppendsBeyondTheQueueBound) {
  SpoolOptions options;
  options.max_queued_events = 2;
  auto spool = OpenSpool(options);
  ASSERT_TRUE(AppendSync(*spool, {Event("a")}).ok());
  auto full = AppendSync(*spool, {Event("b"), Event("c")});
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(AppendSync(*spool, {Event("b")}).ok());
}

// Events the spool holds take no room: at the bound, a request that sends
// them again is answered duplicate (a client resending after a timeout
// must not be told that the spool is full), and one that mixes them with
// new events is taken if the new ones fit.
TEST_F(SpoolTest, StoredEventsSentAgainAtTheBoundAreDuplicates) {
  SpoolOptions options;
  options.max_queued_events = 3;
  auto spool = OpenSpool(options);
  ASSERT_TRUE(AppendSync(*spool, {Event("a"), Event("b")}).ok());
  auto again = AppendSync(*spool, {Event("a"), Event("b")});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(*again, ::testing::Each(AppendOutcome::kDuplicate));
  auto mixed = AppendSync(*spool, {Event("a"), Event("b"), Event("c")});
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_THAT(*mixed,
              ElementsAre(AppendOutcome::kDuplicate, AppendOutcome::kDuplicate,
                          AppendOutcome::kAccepted));
  EXPECT_EQ(spool->QueuedCount(), 3);
  // Full now: new events are refused, stored ones still duplicates.
  auto more = AppendSync(*spool, {Event("a"), Event("d")});
  EXPECT_EQ(more.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(more.status().message()),
              ::testing::HasSubstr("cannot take 1 more (room for 0)"));
  EXPECT_TRUE(AppendSync(*spool, {Event("c")}).ok());
  EXPECT_EQ(spool->QueuedCount(), 3);
}

// A retry of dead letters fills the queue as new events do: past the
// bound it queues nothing and answers RESOURCE_EXHAUSTED, by key or by
// selection; what fits is queued.
TEST_F(SpoolTest, RequeueRespectsTheQueueBound) {
  SpoolOptions options;
  options.max_queued_events = 3;
  auto spool = OpenSpool(options);
  ASSERT_TRUE(AppendSync(*spool, {Event("d1"), Event("d2")}).ok());
  auto claimed = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_THAT(*claimed, SizeIs(2));
  ASSERT_TRUE(spool
                  ->MarkDead({(*claimed)[0].row_id, (*claimed)[1].row_id},
                             DeadReason::kRejected, "x", kNow, 1)
                  .ok());
  ASSERT_TRUE(AppendSync(*spool, {Event("q1"), Event("q2")}).ok());
  auto all = spool->Requeue("default", {}, std::nullopt, std::nullopt,
                            /*oldest_timestamp_ms=*/0, kNow + 10);
  EXPECT_EQ(all.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(StoreFailureOf(all.status()), StoreFailure::kQueueFull);
  EXPECT_THAT(std::string(all.status().message()),
              ::testing::HasSubstr("cannot queue 2 dead letters again"));
  auto both = spool->Requeue("default",
                             {{"order_created", "d1"}, {"order_created", "d2"}},
                             std::nullopt, std::nullopt, 0, kNow + 10);
  EXPECT_EQ(both.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(spool->QueuedCount(), 2);
  // A key given twice is one event: it fits.
  auto one = spool->Requeue("default",
                            {{"order_created", "d1"}, {"order_created", "d1"}},
                            std::nullopt, std::nullopt, 0, kNow + 10);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->requeued, 1);
  EXPECT_EQ(spool->QueuedCount(), 3);
  EXPECT_EQ(spool->Lookup("default", "order_created", "d2")->state,
            EventState::kDead);
}

// A retry refused by the bound is its caller's answer alone: writes of
// other callers that share its write group (appends here) still succeed.
TEST_F(SpoolTest, ARefusedRequeueFailsNoOtherWrite) {
  SpoolOptions options;
  options.max_queued_events = 1000;
  auto spool = OpenSpool(options);
  // 1,500 dead letters, more than the bound, 500 at a time.
  for (int part = 0; part < 3; ++part) {
    std::vector<SpoolEvent> dead;
    for (int i = 0; i < 500; ++i) {
      dead.push_back(Event(absl::StrCat("d", part, "-", i)));
    }
    ASSERT_TRUE(AppendSync(*spool, dead).ok());
    auto claimed = spool->Claim(lane_, kNow, 500, 1 << 30);
    ASSERT_TRUE(claimed.ok());
    ASSERT_THAT(*claimed, SizeIs(500));
    std::vector<std::int64_t> rows;
    for (const ClaimedEvent& e : *claimed) rows.push_back(e.row_id);
    ASSERT_TRUE(
        spool->MarkDead(rows, DeadReason::kRejected, "x", kNow, 1).ok());
  }
  int refused = 0;
  for (int i = 0; i < 60; ++i) {
    std::thread retry([&] {
      auto r = spool->Requeue("default", {}, std::nullopt, std::nullopt, 0,
                              kNow + 10);
      refused += r.status().code() == absl::StatusCode::kResourceExhausted;
    });
    auto appended = AppendSync(*spool, {Event(absl::StrCat("n", i))});
    retry.join();
    ASSERT_TRUE(appended.ok()) << i << ": " << appended.status();
  }
  EXPECT_EQ(refused, 60);
  EXPECT_EQ(spool->QueuedCount(), 60);
}

// A destination the API does not drain fills the bound; another
// destination still queues up to its share (bound / destinations).
TEST_F(SpoolTest, OneDestinationsBacklogLeavesTheOthersTheirShare) {
  SpoolOptions options;
  options.max_queued_events = 4;
  options.destinations = 2;  // shares of 2
  auto spool = OpenSpool(options);
  ASSERT_TRUE(AppendSync(*spool, {Event("a1", "stuck"), Event("a2", "stuck"),
                                  Event("a3", "stuck"), Event("a4", "stuck")})
                  .ok());
  auto stuck = AppendSync(*spool, {Event("a5", "stuck")});
  EXPECT_EQ(stuck.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(StoreFailureOf(stuck.status()), StoreFailure::kQueueFull);
  EXPECT_TRUE(AppendSync(*spool, {Event("b1", "healthy")}).ok());
  EXPECT_TRUE(AppendSync(*spool, {Event("b2", "healthy")}).ok());
  auto past_share = AppendSync(*spool, {Event("b3", "healthy")});
  EXPECT_EQ(past_share.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(past_share.status().message()),
              ::testing::HasSubstr("destination healthy holds 2, its share 2, "
                                   "and cannot take 1 more (room for 0)"));
  EXPECT_EQ(spool->QueuedCount(), 6);
}

// A request larger than the room left is refused whole, saying how much
// room there is; a smaller one then fits.
TEST_F(SpoolTest, AQueueFullRefusalSaysHowMuchRoomIsLeft) {
  SpoolOptions options;
  options.max_queued_events = 5;
  auto spool = OpenSpool(options);
  ASSERT_TRUE(AppendSync(*spool, {Event("a1"), Event("a2"), Event("a3")}).ok());
  auto refused = AppendSync(*spool, {Event("b1"), Event("b2"), Event("b3")});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("cannot take 3 more (room for 2)"));
  EXPECT_TRUE(AppendSync(*spool, {Event("b1"), Event("b2")}).ok());
  EXPECT_EQ(spool->QueuedCount(), 5);
}

// Past its share, a destination may still take what fits below the bound:
// the room said is that.
TEST_F(SpoolTest, TheRoomSaidCountsWhatFitsBelowTheBound) {
  SpoolOptions options;
  options.max_queued_events = 10;
  options.destinations = 2;  // a share of 5 each
  auto spool = OpenSpool(options);
  std::vector<SpoolEvent> seven;
  for (int i = 0; i < 7; ++i) seven.push_back(Event(absl::StrCat("a", i)));
  ASSERT_TRUE(AppendSync(*spool, seven).ok());
  std::vector<SpoolEvent> five;
  for (int i = 0; i < 5; ++i) five.push_back(Event(absl::StrCat("b", i)));
  auto refused = AppendSync(*spool, five);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()),
              ::testing::HasSubstr("cannot take 5 more (room for 3)"));
  five.resize(3);
  EXPECT_TRUE(AppendSync(*spool, five).ok());
  EXPECT_EQ(spool->QueuedCount(), 10);
}

TEST_F(SpoolTest, InFlightEventsAreQueuedAgainAfterRestart) {
  {
    auto spool = OpenSpool();
    ASSERT_TRUE(AppendSync(*spool, {Event("a"), Event("b")}).ok());
    auto claimed = spool->Claim(lane_, kNow, 10, 1 << 20);
    ASSERT_TRUE(claimed.ok());
    ASSERT_THAT(*claimed, SizeIs(2));
    // The process "dies" here: no outcome is recorded.
  }
  auto spool = OpenSpool();
  EXPECT_EQ(spool->QueuedCount(), 2);
  auto claimed = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  EXPECT_THAT(*claimed, SizeIs(2));
}

TEST_F(SpoolTest, PruneRemovesDoneRowsOlderThanRetention) {
  SpoolOptions options;
  options.retention = std::chrono::milliseconds(1000);
  auto spool = OpenSpool(options);
  ASSERT_TRUE(AppendSync(*spool, {Event("a"), Event("b")}).ok());
  auto claimed = spool->Claim(lane_, kNow, 1, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_TRUE(spool->MarkDelivered({(*claimed)[0].row_id}, kNow, 1).ok());
  auto removed = spool->Prune(kNow + 1001);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1);
  EXPECT_EQ(spool->Lookup("default", "order_created", "a").status().code(),
            absl::StatusCode::kNotFound);
  // After the window the same key is accepted again.
  auto again = AppendSync(*spool, {Event("a")});
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(*again, ElementsAre(AppendOutcome::kAccepted));
}

// Delivered rows are found for pruning by the runs their outcomes wrote,
// which may cover rows of other lanes: those stay, whatever their state.
TEST_F(SpoolTest, PruneFindsDeliveredRowsByTheirRuns) {
  SpoolOptions options;
  options.retention = std::chrono::milliseconds(1000);
  auto spool = OpenSpool(options);
  ASSERT_TRUE(
      AppendSync(*spool, {Event("a1"), Event("a2"), Event("a3"), Event("a4"),
                          Event("o1", "other"), Event("a5"), Event("a6")})
          .ok());
  auto claimed = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_THAT(*claimed, SizeIs(6));
  std::vector<std::int64_t> later;
  for (size_t i = 2; i < 6; ++i) later.push_back((*claimed)[i].row_id);
  ASSERT_TRUE(
      spool
          ->MarkDelivered({(*claimed)[0].row_id, (*claimed)[1].row_id}, kNow, 1)
          .ok());
  // One run over a3 .. a6, o1 (queued, another destination) in between.
  ASSERT_TRUE(spool->MarkDelivered(later, kNow + 500, 1).ok());
  auto first = spool->Prune(kNow + 1001);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 2);
  EXPECT_EQ(spool->Lookup("default", "order_created", "a2").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(spool->Lookup("default", "order_created", "a3").ok());
  auto second = spool->Prune(kNow + 1501);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 4);
  EXPECT_EQ(spool->Lookup("default", "order_created", "a6").status().code(),
            absl::StatusCode::kNotFound);
  auto other = spool->Lookup("other", "order_created", "o1");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->state, EventState::kQueued);
  EXPECT_EQ(spool->QueuedCount(), 1);
  auto none = spool->Prune(kNow + 100000);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0);
}

// A run covers the rows between its ranges too; one of them delivered
// later goes at its own time, not its neighbours'.
TEST_F(SpoolTest, PruneTakesEachRowOfARunAtItsOwnTime) {
  SpoolOptions options;
  options.retention = std::chrono::milliseconds(1000);
  auto spool = OpenSpool(options);
  ASSERT_TRUE(AppendSync(*spool, {Event("a1"), Event("a2"), Event("a3")}).ok());
  auto claimed = spool->Claim(lane_, kNow, 3, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_THAT(*claimed, SizeIs(3));
  ASSERT_TRUE(
      spool
          ->MarkDelivered({(*claimed)[0].row_id, (*claimed)[2].row_id}, kNow, 1)
          .ok());
  ASSERT_TRUE(spool->MarkDelivered({(*claimed)[1].row_id}, kNow + 500, 1).ok());
  auto first = spool->Prune(kNow + 1001);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 2);
  EXPECT_TRUE(spool->Lookup("default", "order_created", "a2").ok());
  auto second = spool->Prune(kNow + 1501);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 1);
}

// A build before delivered_runs kept an index on delivered rows' time and
// wrote no runs: opened again by this build, the runs are made from the
// rows, and the index goes.
TEST_F(SpoolTest, MakesDeliveredRunsForAFileAnOlderBuildUsed) {
  const std::string path = dir_.path() + "/spool.db";
  SpoolOptions options;
  options.retention = std::chrono::milliseconds(1000);
  {
    auto spool = OpenSpool(options);
    ASSERT_TRUE(
        AppendSync(*spool, {Event("a"), Event("b"), Event("c"), Event("q")})
            .ok());
    auto claimed = spool->Claim(lane_, kNow, 3, 1 << 20);
    ASSERT_TRUE(claimed.ok());
    ASSERT_THAT(*claimed, SizeIs(3));
    ASSERT_TRUE(spool
                    ->MarkDelivered(
                        {(*claimed)[0].row_id, (*claimed)[1].row_id}, kNow, 1)
                    .ok());
    // Two minutes later: not in the same run when the runs are remade.
    ASSERT_TRUE(
        spool->MarkDelivered({(*claimed)[2].row_id}, kNow + 120000, 1).ok());
  }
  WriteSqliteFile(path, R"sql(
      DELETE FROM delivered_runs;
      CREATE INDEX events_delivered ON events(done_ms) WHERE state=2;
    )sql");
  auto spool = OpenSpool(options);
  ASSERT_NE(spool, nullptr);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "SELECT (SELECT COUNT(*) FROM sqlite_schema "
                                 "WHERE name='events_delivered'), (SELECT "
                                 "COUNT(*) FROM delivered_runs)",
                                 -1, &st, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(st, 0), 0);
    EXPECT_EQ(sqlite3_column_int64(st, 1), 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
  }
  auto first = spool->Prune(kNow + 1001);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 2);
  auto second = spool->Prune(kNow + 121001);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 1);
  EXPECT_EQ(spool->QueuedCount(), 1);
  EXPECT_TRUE(spool->Lookup("default", "order_created", "q").ok());
}

// The delivered runs in `path`: {count, most ids one spans}.
std::pair<std::int64_t, std::int64_t> DeliveredRuns(const std::string& path) {
  sqlite3* db = nullptr;
  std::pair<std::int64_t, std::int64_t> out{-1, -1};
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return out;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(
          db, "SELECT COUNT(*), MAX(hi - lo + 1) FROM delivered_runs", -1, &st,
          nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    out = {sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1)};
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// A delivered run spans at most 4,096 ids, when written by outcomes and
// when an older build's file is read into runs; a prune takes every row
// of either.
TEST_F(SpoolTest, DeliveredRunsSpanAtMost4096Ids) {
  const std::string path = dir_.path() + "/spool.db";
  {
    auto spool = SpoolWithEvents(5000);
    for (int batch = 0; batch < 5; ++batch) {
      auto claimed = spool->Claim(lane_, kNow, 1000, 1 << 30);
      ASSERT_TRUE(claimed.ok());
      ASSERT_THAT(*claimed, SizeIs(1000));
      std::vector<std::int64_t> rows;
      for (const ClaimedEvent& e : *claimed) rows.push_back(e.row_id);
      ASSERT_TRUE(spool->MarkDelivered(rows, kNow, 1).ok());
    }
    // Outcomes that share a write group share runs: 2 to 5 of them (read
    // once the writes are committed, which a lookup waits for).
    EXPECT_EQ(spool->QueuedCount("default"), 0);
    auto [runs, span] = DeliveredRuns(path);
    EXPECT_GE(runs, 2);
    EXPECT_LE(span, 4096);
  }
  WriteSqliteFile(path, R"sql(
      DELETE FROM delivered_runs;
      CREATE INDEX events_delivered ON events(done_ms) WHERE state=2;
    )sql");
  SpoolOptions options;
  options.retention = std::chrono::milliseconds(1000);
  auto spool = OpenSpool(options);
  ASSERT_NE(spool, nullptr);
  auto [runs, span] = DeliveredRuns(path);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(span, 4096);
  auto pruned = spool->Prune(kNow + 1001);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 5000);
  EXPECT_EQ(DeliveredRuns(path).first, 0);
}

// A prune reads the due runs 64 at a time, and goes on until none is
// left.
TEST_F(SpoolTest, PruneTakesMoreThan64Runs) {
  const std::string path = dir_.path() + "/spool.db";
  auto spool = SpoolWithEvents(150);
  for (int i = 0; i < 150; ++i) {
    auto claimed = spool->Claim(lane_, kNow, 1, 1 << 20);
    ASSERT_TRUE(claimed.ok());
    ASSERT_THAT(*claimed, SizeIs(1));
    ASSERT_TRUE(spool->MarkDelivered({(*claimed)[0].row_id}, kNow + i, 1).ok());
    // Committed before the next (a lookup waits for the writes before it):
    // outcomes of one write group share runs.
    EXPECT_EQ(spool->QueuedCount("default"), 149 - i);
  }
  EXPECT_EQ(DeliveredRuns(path).first, 150);
  // The first 100 are due.
  auto first = spool->Prune(kNow + 1100);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, 100);
  EXPECT_EQ(DeliveredRuns(path).first, 50);
  EXPECT_TRUE(spool->Lookup("default", "order_created", "e100").ok());
  EXPECT_EQ(spool->Lookup("default", "order_created", "e99").status().code(),
            absl::StatusCode::kNotFound);
  auto rest = spool->Prune(kNow + 2000);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(*rest, 50);
}

TEST_F(SpoolTest, ReportsDepthAndOldestEventPerDestination) {
  auto spool = OpenSpool();
  ASSERT_TRUE(AppendSync(*spool, {Event("a")}, kNow - 500).ok());
  ASSERT_TRUE(AppendSync(*spool, {Event("b"), Event("x", "other")}).ok());
  auto depths = spool->Depths();
  ASSERT_TRUE(depths.ok());
  ASSERT_THAT(*depths, SizeIs(2));
  for (const DestinationDepth& d : *depths) {
    if (d.destination == "default") {
      EXPECT_EQ(d.queued, 2);
      EXPECT_EQ(d.oldest_accepted_ms, kNow - 500);
    } else {
      EXPECT_EQ(d.queued, 1);
    }
  }
}

// The oldest event's age follows deliveries, dead letters queued again
// (below where the last look found the oldest) and rows whose ids SQLite
// gives again once the highest rows are pruned.
TEST_F(SpoolTest, TheOldestEventFollowsDeliveriesRetriesAndReusedIds) {
  SpoolOptions options;
  options.retention = std::chrono::milliseconds(1000);
  auto spool = OpenSpool(options);
  auto oldest = [&]() -> std::int64_t {
    auto depths = spool->Depths();
    EXPECT_TRUE(depths.ok()) << depths.status();
    if (!depths.ok()) return -1;
    for (const DestinationDepth& d : *depths) {
      if (d.destination == "default") return d.oldest_accepted_ms;
    }
    return 0;  // none queued
  };
  ASSERT_TRUE(AppendSync(*spool, {Event("a")}, kNow - 300).ok());
  ASSERT_TRUE(AppendSync(*spool, {Event("b")}, kNow - 200).ok());
  ASSERT_TRUE(AppendSync(*spool, {Event("c")}, kNow - 100).ok());
  EXPECT_EQ(oldest(), kNow - 300);
  auto claimed = spool->Claim(lane_, kNow, 2, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_THAT(*claimed, SizeIs(2));
  EXPECT_EQ(oldest(), kNow - 300);  // in flight is still open
  ASSERT_TRUE(spool
                  ->MarkDead({(*claimed)[0].row_id}, DeadReason::kRejected,
                             "HTTP 400", kNow, 1)
                  .ok());
  ASSERT_TRUE(spool->MarkDelivered({(*claimed)[1].row_id}, kNow, 1).ok());
  EXPECT_EQ(oldest(), kNow - 100);
  // a, below the oldest found, is queued again.
  auto requeued = spool->Requeue("default", {}, std::nullopt, std::nullopt,
                                 /*oldest_timestamp_ms=*/0, kNow);
  ASSERT_TRUE(requeued.ok());
  ASSERT_EQ(requeued->requeued, 1);
  EXPECT_EQ(oldest(), kNow - 300);
  auto rest = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(rest.ok());
  ASSERT_THAT(*rest, SizeIs(2));
  const std::int64_t row_a = std::min((*rest)[0].row_id, (*rest)[1].row_id);
  const std::int64_t row_c = std::max((*rest)[0].row_id, (*rest)[1].row_id);
  ASSERT_TRUE(spool->MarkDelivered({row_a}, kNow + 10, 1).ok());
  EXPECT_EQ(oldest(), kNow - 100);  // c, the highest row
  ASSERT_TRUE(spool->MarkDelivered({row_c}, kNow + 10, 1).ok());
  EXPECT_EQ(oldest(), 0);
  // Every row pruned: the next one gets an id used before, below the
  // cursor of the last look that found one.
  auto pruned = spool->Prune(kNow + 2000);
  ASSERT_TRUE(pruned.ok());
  ASSERT_EQ(*pruned, 3);
  ASSERT_TRUE(AppendSync(*spool, {Event("d")}, kNow + 2000).ok());
  EXPECT_EQ(oldest(), kNow + 2000);
  // And after a restart.
  spool.reset();
  spool = OpenSpool(options);
  EXPECT_EQ(spool->QueuedCount(), 1);
  EXPECT_EQ(oldest(), kNow + 2000);
}

TEST_F(SpoolTest, ConcurrentAppendsAreAllCommitted) {
  auto spool = OpenSpool();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = AppendSync(
            *spool, {Event(std::to_string(t) + "-" + std::to_string(i))});
        if (r.ok() && (*r)[0] == AppendOutcome::kAccepted) ++accepted;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(accepted.load(), kThreads * kPerThread);
  EXPECT_EQ(spool->QueuedCount(), kThreads * kPerThread);
}

// In flight is a state of memory only: while appends, claims and outcomes
// (retries due at once among them) run concurrently, no event is held by
// two workers at a time, and every one is delivered exactly once.
// Appenders, claimers and retries at once: no event is held by two claims,
// and each is delivered exactly once.
void ExpectEachEventClaimedOnce(Spool* spool, const LaneKey& lane) {
  constexpr int kAppenders = 4;
  constexpr int kWorkers = 4;
  constexpr int kPerAppender = 500;
  constexpr int kTotal = kAppenders * kPerAppender;
  std::mutex mu;
  std::set<std::int64_t> held;           // rows claimed, no outcome yet
  std::map<std::string, int> delivered;  // event id -> deliveries
  std::atomic<int> double_claims{0}, retried{0}, failures{0}, wrong_json{0};
  std::atomic<int> delivered_total{0};
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::minutes(2);
  std::vector<std::thread> threads;
  for (int a = 0; a < kAppenders; ++a) {
    threads.emplace_back([&, a] {
      for (int i = 0; i < kPerAppender; i += 20) {
        std::vector<SpoolEvent> events;
        for (int j = i; j < i + 20; ++j) {
          events.push_back(Event(absl::StrCat(a, "-", j)));
        }
        if (!AppendSync(*spool, std::move(events)).ok()) ++failures;
      }
    });
  }
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&] {
      while (delivered_total.load() < kTotal &&
             std::chrono::steady_clock::now() < give_up) {
        auto claimed = spool->Claim(lane, kNow, 50, 1 << 20);
        if (!claimed.ok()) {
          ++failures;
          return;
        }
        if (claimed->empty()) {
          std::this_thread::yield();
          continue;
        }
        std::vector<std::int64_t> retry, done;
        {
          std::lock_guard<std::mutex> lock(mu);
          for (const ClaimedEvent& e : *claimed) {
            if (!held.insert(e.row_id).second) ++double_claims;
            if (e.wire_json != Event(e.event_id).wire_json) ++wrong_json;
            // Every seventh event fails once and is due again at once.
            if (e.attempts == 0 && e.row_id % 7 == 0) {
              retry.push_back(e.row_id);
            } else {
              done.push_back(e.row_id);
              ++delivered[e.event_id];
            }
          }
          for (const ClaimedEvent& e : *claimed) held.erase(e.row_id);
        }
        if (!retry.empty()) {
          retried += static_cast<int>(retry.size());
          if (!spool->MarkRetry(retry, kNow, "HTTP 503", 1).ok()) {
            ++failures;
          }
        }
        if (!done.empty()) {
          if (!spool->MarkDelivered(done, kNow, 1).ok()) ++failures;
          delivered_total += static_cast<int>(done.size());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(double_claims.load(), 0);
  EXPECT_EQ(wrong_json.load(), 0);
  EXPECT_GT(retried.load(), 0);
  ASSERT_EQ(delivered.size(), static_cast<size_t>(kTotal));
  int more_than_once = 0;
  for (const auto& [id, n] : delivered) more_than_once += n != 1;
  EXPECT_EQ(more_than_once, 0);
  EXPECT_EQ(spool->QueuedCount(), 0);
  auto next = spool->NextDueMs(lane);
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
}

TEST_F(SpoolTest, ConcurrentClaimsNeverHandOutAnEventTwice) {
  auto spool = OpenSpool();
  ExpectEachEventClaimedOnce(spool.get(), lane_);
}

// The same while payload log segments of a dozen events each are written,
// removed, and have their stragglers copied out under the claims.
TEST_F(SpoolTest, ConcurrentClaimsNeverHandOutAnEventTwiceAcrossSegments) {
  SpoolOptions options;
  options.payload_segment_bytes = 200;
  auto spool = OpenSpool(options);
  ExpectEachEventClaimedOnce(spool.get(), lane_);
}

TEST_F(SpoolTest, ClaimedEventsAreInFlightUntilTheirOutcome) {
  auto spool = OpenSpool();
  ASSERT_TRUE(AppendSync(*spool, {Event("a"), Event("b")}).ok());
  auto first = spool->Claim(lane_, kNow, 1, 1 << 20);
  ASSERT_TRUE(first.ok());
  ASSERT_THAT(*first, SizeIs(1));
  auto a = spool->Lookup("default", "order_created", "a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->state, EventState::kInFlight);
  // The next claim skips the event in flight; the due time of what is
  // left is b's.
  auto second = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(second.ok());
  ASSERT_THAT(*second, SizeIs(1));
  EXPECT_EQ((*second)[0].event_id, "b");
  auto none = spool->NextDueMs(lane_);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  // A retry due at once makes it claimable again, with its attempt counted.
  ASSERT_TRUE(spool->MarkRetry({(*first)[0].row_id}, kNow, "timeout", 1).ok());
  a = spool->Lookup("default", "order_created", "a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->state, EventState::kQueued);
  auto again = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(again.ok());
  ASSERT_THAT(*again, SizeIs(1));
  EXPECT_EQ((*again)[0].event_id, "a");
  EXPECT_EQ((*again)[0].attempts, 1);
}

// Claims scan from where the last one ended; an event due before that
// point (here a retry due at once) still comes back within a bounded
// number of claims while the backlog lasts.
TEST_F(SpoolTest, EventsDueBehindTheClaimCursorAreNotStarved) {
  auto spool = OpenSpool();
  std::vector<SpoolEvent> events;
  for (int i = 0; i < 100; ++i) events.push_back(Event(absl::StrCat("e", i)));
  ASSERT_TRUE(AppendSync(*spool, std::move(events)).ok());
  auto first = spool->Claim(lane_, kNow, 1, 1 << 20);
  ASSERT_TRUE(first.ok());
  ASSERT_THAT(*first, SizeIs(1));
  ASSERT_TRUE(spool->MarkRetry({(*first)[0].row_id}, kNow, "HTTP 503", 1).ok());
  int claims = 0;
  bool back = false;
  while (!back && claims < 50) {
    auto claimed = spool->Claim(lane_, kNow, 1, 1 << 20);
    ASSERT_TRUE(claimed.ok());
    ASSERT_THAT(*claimed, SizeIs(1));
    ++claims;
    back = (*claimed)[0].row_id == (*first)[0].row_id;
  }
  EXPECT_TRUE(back);
  EXPECT_LE(claims, 16);
}

// Past spool.max_retained_events, the oldest deliveries are pruned before
// their retention ends; dead letters and queued events are kept.
TEST_F(SpoolTest, PruneKeepsAtMostTheBoundOfDeliveredEvents) {
  SpoolOptions options;
  options.max_retained_events = 3;
  auto spool = OpenSpool(options);
  std::vector<SpoolEvent> events;
  for (int i = 0; i < 8; ++i) events.push_back(Event(absl::StrCat("e", i)));
  ASSERT_TRUE(AppendSync(*spool, std::move(events)).ok());
  auto claimed = spool->Claim(lane_, kNow, 7, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_THAT(*claimed, SizeIs(7));
  // e0..e5 delivered one after the other, e6 dead-lettered, e7 queued.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(spool->MarkDelivered({(*claimed)[i].row_id}, kNow + i, 1).ok());
  }
  ASSERT_TRUE(spool
                  ->MarkDead({(*claimed)[6].row_id}, DeadReason::kRejected,
                             "HTTP 400", kNow, 1)
                  .ok());
  EXPECT_EQ(spool->DedupKeyCount(), 8);
  auto pruned = spool->Prune(kNow + 10);  // well inside the retention
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 3);
  EXPECT_EQ(spool->DedupKeyCount(), 5);
  for (int i = 0; i < 6; ++i) {
    auto status =
        spool->Lookup("default", "order_created", absl::StrCat("e", i));
    EXPECT_EQ(status.ok(), i >= 3) << i;
  }
  auto dead = spool->Lookup("default", "order_created", "e6");
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(dead->state, EventState::kDead);
  EXPECT_EQ(spool->QueuedCount(), 1);
  // Nothing more to prune.
  auto again = spool->Prune(kNow + 10);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
}

// The bound may take part of a run of deliveries; the rest stays found.
TEST_F(SpoolTest, PruneToTheBoundTakesPartOfARun) {
  SpoolOptions options;
  options.max_retained_events = 3;
  options.retention = std::chrono::milliseconds(1000);
  auto spool = OpenSpool(options);
  std::vector<SpoolEvent> events;
  for (int i = 0; i < 6; ++i) events.push_back(Event(absl::StrCat("e", i)));
  ASSERT_TRUE(AppendSync(*spool, std::move(events)).ok());
  auto claimed = spool->Claim(lane_, kNow, 6, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  std::vector<std::int64_t> rows;
  for (const ClaimedEvent& e : *claimed) rows.push_back(e.row_id);
  ASSERT_TRUE(spool->MarkDelivered(rows, kNow, 1).ok());  // one run
  auto pruned = spool->Prune(kNow + 10);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 3);
  EXPECT_EQ(spool->DedupKeyCount(), 3);
  auto later = spool->Prune(kNow + 1001);  // past the retention
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(*later, 3);
  EXPECT_EQ(spool->DedupKeyCount(), 0);
}

TEST_F(SpoolTest, AppendAfterShutdownIsUnavailable) {
  auto spool = OpenSpool();
  spool->Shutdown();
  spool->Shutdown();  // idempotent
  EXPECT_EQ(AppendSync(*spool, {Event("a")}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(spool->Claim(lane_, kNow, 1, 1).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(SpoolTest, DeduplicatesAcrossRestarts) {
  {
    auto spool = OpenSpool();
    ASSERT_TRUE(AppendSync(*spool, {Event("a"), Event("b")}).ok());
  }
  auto spool = OpenSpool();
  auto again = AppendSync(*spool, {Event("b"), Event("c")});
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(*again,
              ElementsAre(AppendOutcome::kDuplicate, AppendOutcome::kAccepted));
  auto status = spool->Lookup("default", "order_created", "a");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, EventState::kQueued);
}

TEST_F(SpoolTest, OutcomesOfInterleavedLanesTouchOnlyTheirRows) {
  auto spool = OpenSpool();
  // Rows 1..5 alternate between two destinations, so the rows of one lane
  // are not consecutive.
  ASSERT_TRUE(AppendSync(*spool, {Event("a"), Event("x", "other"), Event("b"),
                                  Event("y", "other"), Event("c")})
                  .ok());
  auto claimed = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_THAT(*claimed, SizeIs(3));
  std::vector<std::int64_t> rows;
  for (const ClaimedEvent& e : *claimed) rows.push_back(e.row_id);
  ASSERT_TRUE(spool->MarkDelivered(rows, kNow + 1, 1).ok());
  EXPECT_EQ(spool->QueuedCount(), 2);
  auto depths = spool->Depths();
  ASSERT_TRUE(depths.ok());
  ASSERT_THAT(*depths, SizeIs(1));  // "default" has nothing left
  EXPECT_EQ((*depths)[0].destination, "other");
  EXPECT_EQ((*depths)[0].queued, 2);
  EXPECT_EQ((*depths)[0].oldest_accepted_ms, kNow);
  // The other lane still has both events, payloads included.
  auto other = spool->Claim({"other", false}, kNow, 10, 1 << 20);
  ASSERT_TRUE(other.ok());
  ASSERT_THAT(*other, SizeIs(2));
  EXPECT_EQ((*other)[0].wire_json, R"({"id":"x"})");
  EXPECT_EQ((*other)[1].wire_json, R"({"id":"y"})");
  // Marking rows that are no longer in flight changes nothing.
  ASSERT_TRUE(spool->MarkDelivered(rows, kNow + 2, 1).ok());
  auto status = spool->Lookup("default", "order_created", "b");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->done_ms, kNow + 1);
  EXPECT_EQ(spool->QueuedCount(), 2);
}

TEST_F(SpoolTest, RetriesAreClaimedByDueTimeBehindOlderEvents) {
  auto spool = OpenSpool();
  ASSERT_TRUE(AppendSync(*spool, {Event("a")}, kNow).ok());
  auto first = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(first.ok());
  ASSERT_THAT(*first, SizeIs(1));
  ASSERT_TRUE(AppendSync(*spool, {Event("b")}, kNow + 5).ok());
  ASSERT_TRUE(
      spool->MarkRetry({(*first)[0].row_id}, kNow + 10, "HTTP 503", 1).ok());
  auto both = spool->Claim(lane_, kNow + 10, 10, 1 << 20);
  ASSERT_TRUE(both.ok());
  ASSERT_THAT(*both, SizeIs(2));
  EXPECT_EQ((*both)[0].event_id, "b");  // due at kNow + 5
  EXPECT_EQ((*both)[1].event_id, "a");  // due at kNow + 10
}

TEST_F(SpoolTest, PruneRemovesDeadLettersAndTheirKeys) {
  SpoolOptions options;
  options.retention = std::chrono::milliseconds(1000);
  auto spool = OpenSpool(options);
  ASSERT_TRUE(AppendSync(*spool, {Event("a"), Event("b")}).ok());
  auto claimed = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_TRUE(spool
                  ->MarkDead({(*claimed)[0].row_id}, DeadReason::kRejected,
                             "bad", kNow, 1)
                  .ok());
  ASSERT_TRUE(spool->MarkDelivered({(*claimed)[1].row_id}, kNow + 500, 1).ok());
  EXPECT_EQ(spool->DedupKeyCount(), 2);
  auto removed = spool->Prune(kNow + 1001);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1);  // the dead letter; the delivery is newer
  EXPECT_EQ(spool->DedupKeyCount(), 1);
  auto page = spool->ListDeadLetters({});
  ASSERT_TRUE(page.ok());
  EXPECT_THAT(page->dead_letters, SizeIs(0));
  auto again = AppendSync(*spool, {Event("a"), Event("b")});
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(*again,
              ElementsAre(AppendOutcome::kAccepted, AppendOutcome::kDuplicate));
}

// A spool file written by the first layout (one table, JSON inline, a
// unique index on the key) is migrated when opened.
TEST_F(SpoolTest, MigratesTheFirstLayout) {
  WriteSqliteFile(dir_.path() + "/spool.db", R"sql(
      CREATE TABLE events (
        id INTEGER PRIMARY KEY, destination TEXT NOT NULL,
        validate_only INTEGER NOT NULL, event_name TEXT NOT NULL,
        event_id TEXT NOT NULL, timestamp_ms INTEGER NOT NULL,
        wire_json TEXT NOT NULL, state INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, accepted_ms INTEGER NOT NULL,
        next_attempt_ms INTEGER NOT NULL, done_ms INTEGER NOT NULL DEFAULT 0,
        last_error TEXT, dead_reason INTEGER);
      CREATE UNIQUE INDEX events_key
        ON events(destination, validate_only, event_name, event_id);
      CREATE INDEX events_lane
        ON events(destination, validate_only, state, id, next_attempt_ms);
      CREATE INDEX events_done ON events(state, done_ms);
      INSERT INTO events VALUES
        (1, 'default', 0, 'order_created', 'q', 1, '{"id":"q"}', 0, 0,
         1773892800000, 1773892800000, 0, NULL, NULL),
        (2, 'default', 0, 'order_created', 'f', 1, '{"id":"f"}', 1, 0,
         1773892800000, 1773892800000, 0, NULL, NULL),
        (3, 'default', 0, 'order_created', 'd', 1, '{"id":"d"}', 2, 1,
         1773892800000, 1773892800000, 1773892800001, NULL, NULL),
        (4, 'default', 0, 'order_created', 'x', 1, '{"id":"x"}', 3, 1,
         1773892800000, 1773892800000, 1773892800002, 'HTTP 400: bad', 1);
    )sql");
  auto spool = OpenSpool();
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->QueuedCount(), 2);  // queued, and in flight before
  auto claimed = spool->Claim(lane_, kNow, 10, 1 << 20);
  ASSERT_TRUE(claimed.ok());
  ASSERT_THAT(*claimed, SizeIs(2));
  EXPECT_EQ((*claimed)[0].wire_json, R"({"id":"q"})");
  EXPECT_EQ((*claimed)[1].wire_json, R"({"id":"f"})");
  auto delivered = spool->Lookup("default", "order_created", "d");
  ASSERT_TRUE(delivered.ok());
  EXPECT_EQ(delivered->state, EventState::kDelivered);
  auto dead = spool->ListDeadLetters({});
  ASSERT_TRUE(dead.ok());
  ASSERT_THAT(dead->dead_letters, SizeIs(1));
  EXPECT_EQ(dead->dead_letters[0].wire_json, R"({"id":"x"})");
  EXPECT_EQ(dead->dead_letters[0].message, "HTTP 400: bad");
  auto again = AppendSync(*spool, {Event("q"), Event("d"), Event("n")});
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(*again,
              ElementsAre(AppendOutcome::kDuplicate, AppendOutcome::kDuplicate,
                          AppendOutcome::kAccepted));
  // The delivered row is found for pruning after the migration (and the
  // dead letter goes too).
  auto pruned =
      spool->Prune(1773892800002 + SpoolOptions{}.retention.count() + 1);
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(*pruned, 2);
  EXPECT_EQ(spool->Lookup("default", "order_created", "d").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SpoolTest, RefusesAFileOfANewerLayout) {
  const std::string path = dir_.path() + "/spool.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db, "PRAGMA user_version=99;", nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
  }
  SpoolOptions options;
  options.path = path;
  auto spool = Spool::Open(options);
  ASSERT_FALSE(spool.ok());
  EXPECT_EQ(spool.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(spool.status().message()),
              ::testing::HasSubstr("layout 99"));
}

}  // namespace
}  // namespace conversions::service
