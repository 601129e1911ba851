// The payload log alone (service/payload_log.h) and PayloadSegments'
// choices (service/spool_segments.h).
#include "service/payload_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service/spool_segments.h"
#include "tests/service/temp_dir.h"

namespace conversions::service {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Overwrites `bytes` at `offset` of `path`.
void Damage(const std::string& path, std::int64_t offset,
            const std::string& bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offset);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class PayloadLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<PayloadLog> Open(std::int64_t min_segment = 0,
                                   std::int64_t segment_bytes = 64) {
    auto log = PayloadLog::Open(dir(), min_segment, segment_bytes);
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }
  std::string dir() const { return dir_.path() + "/log"; }
  // Appends and flushes, as a group commit of one event.
  PayloadLocation Append(PayloadLog& log, const std::string& bytes) {
    auto at = log.Append(bytes, PayloadCrc(bytes));
    EXPECT_TRUE(at.ok()) << at.status();
    EXPECT_TRUE(log.Flush().ok());
    return at.ok() ? *at : PayloadLocation();
  }

  testing::TempDir dir_;
};

// The CRC-32 of gzip and zlib's crc32: files of earlier builds, which
// computed it with zlib, stay readable.
TEST(PayloadCrcTest, IsTheCrc32OfZlib) {
  EXPECT_EQ(PayloadCrc(""), 0u);
  EXPECT_EQ(PayloadCrc("123456789"), 0xCBF43926u);  // the check value
  EXPECT_EQ(PayloadCrc("The quick brown fox jumps over the lazy dog"),
            0x414FA339u);
  std::string long_one;
  for (int i = 0; i < 5000; ++i) long_one.push_back(static_cast<char>(i * 7));
  // zlib's crc32 of these 5,000 bytes (checked with Python's zlib.crc32).
  EXPECT_EQ(PayloadCrc(long_one), 0xB641F5C8u);
}

TEST_F(PayloadLogTest, ReadsBackWhatWasAppendedAcrossSegments) {
  auto log = Open(/*min_segment=*/3, /*segment_bytes=*/64);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->current(), 3);
  std::vector<PayloadLocation> at;
  for (int i = 0; i < 10; ++i) {
    at.push_back(Append(*log, absl::StrCat(R"({"id":"event-)", i, R"("})")));
  }
  // 16 bytes each: four to a 64-byte segment.
  EXPECT_EQ(at[0].segment, 3);
  EXPECT_EQ(at[3].segment, 3);
  EXPECT_EQ(at[3].offset, 48);
  EXPECT_EQ(at[4].segment, 4);
  EXPECT_EQ(at[4].offset, 0);
  EXPECT_EQ(log->Segments(), (std::vector<std::int64_t>{3, 4, 5}));
  ASSERT_TRUE(log->Sync().ok());
  for (int i = 0; i < 10; ++i) {
    std::string out;
    ASSERT_TRUE(log->Read(at[static_cast<size_t>(i)], &out).ok());
    EXPECT_EQ(out, absl::StrCat(R"({"id":"event-)", i, R"("})"));
  }
}

TEST_F(PayloadLogTest, AppendsAreWrittenTogetherByFlush) {
  auto log = Open(0, 25);  // two of the 10-byte payloads below
  ASSERT_NE(log, nullptr);
  std::vector<PayloadLocation> at;
  for (const char* p : {R"({"id":"a"})", R"({"id":"b"})", R"({"id":"c"})"}) {
    auto a = log->Append(p, PayloadCrc(p));
    ASSERT_TRUE(a.ok());
    at.push_back(*a);
  }
  // The third moved to segment 1, writing the first two on the way.
  EXPECT_EQ(at[2].segment, 1);
  std::string out;
  EXPECT_TRUE(log->Read(at[1], &out).ok());
  EXPECT_TRUE(absl::IsDataLoss(log->Read(at[2], &out)));
  ASSERT_TRUE(log->Flush().ok());
  ASSERT_TRUE(log->Read(at[2], &out).ok());
  EXPECT_EQ(out, R"({"id":"c"})");
  ASSERT_TRUE(log->Sync().ok());
}

TEST_F(PayloadLogTest, ALargerPayloadThanASegmentGetsOneOfItsOwn) {
  auto log = Open(0, 8);
  ASSERT_NE(log, nullptr);
  const std::string big(100, 'x');
  PayloadLocation a = Append(*log, big);
  PayloadLocation b = Append(*log, "{}");
  EXPECT_EQ(a.segment, 0);
  EXPECT_EQ(b.segment, 1);
  std::string out;
  ASSERT_TRUE(log->Read(a, &out).ok());
  EXPECT_EQ(out, big);
}

TEST_F(PayloadLogTest, DamagedOrShortPayloadsAreDataLoss) {
  auto log = Open(0, 1 << 20);
  ASSERT_NE(log, nullptr);
  PayloadLocation a = Append(*log, R"({"id":"a"})");
  PayloadLocation b = Append(*log, R"({"id":"b"})");
  Damage(absl::StrCat(dir(), "/0.log"), a.offset + 3, "X");
  std::string out = "stale";
  absl::Status read = log->Read(a, &out);
  EXPECT_TRUE(absl::IsDataLoss(read)) << read;
  EXPECT_THAT(std::string(read.message()), ::testing::HasSubstr("damaged"));
  EXPECT_THAT(out, IsEmpty());
  PayloadLocation past = b;
  past.offset += 5;  // runs past the end of the file
  read = log->Read(past, &out);
  EXPECT_TRUE(absl::IsDataLoss(read)) << read;
  EXPECT_THAT(std::string(read.message()), ::testing::HasSubstr("short"));
  ASSERT_TRUE(log->Read(b, &out).ok());
  EXPECT_EQ(out, R"({"id":"b"})");
}

TEST_F(PayloadLogTest, RemovedSegmentsAreNotFoundAndTheCurrentOneStays) {
  auto log = Open(0, 20);
  ASSERT_NE(log, nullptr);
  PayloadLocation a = Append(*log, R"({"id":"first"})");
  PayloadLocation b = Append(*log, R"({"id":"second"})");
  ASSERT_EQ(b.segment, 1);
  ASSERT_TRUE(log->Remove(0).ok());
  std::string out;
  EXPECT_TRUE(absl::IsNotFound(log->Read(a, &out)));
  EXPECT_FALSE(std::ifstream(absl::StrCat(dir(), "/0.log")).good());
  EXPECT_FALSE(log->Remove(1).ok());
  EXPECT_TRUE(log->Read(b, &out).ok());
}

TEST_F(PayloadLogTest, ReadManyReadsEachRunAtOnceAndReportsEachPayload) {
  auto log = Open(0, 40);
  ASSERT_NE(log, nullptr);
  std::vector<PayloadLocation> at;
  for (int i = 0; i < 8; ++i) {
    at.push_back(Append(*log, absl::StrCat(R"({"n":)", i, "}")));
  }
  Damage(absl::StrCat(dir(), "/", at[5].segment, ".log"), at[5].offset, "[");
  ASSERT_TRUE(log->Remove(at[0].segment).ok());
  // Out of order, across segments; one damaged, two gone.
  std::vector<PayloadLocation> want = {at[7], at[5], at[1], at[6],
                                       at[2], at[0], at[3], at[4]};
  std::vector<std::string> out(want.size());
  std::vector<std::string*> into;
  for (std::string& o : out) into.push_back(&o);
  std::vector<absl::Status> status = log->ReadMany(want, into);
  ASSERT_EQ(status.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i].segment == at[0].segment) {
      EXPECT_TRUE(absl::IsNotFound(status[i])) << i << ": " << status[i];
    } else if (want[i].offset == at[5].offset &&
               want[i].segment == at[5].segment) {
      EXPECT_TRUE(absl::IsDataLoss(status[i])) << i << ": " << status[i];
    } else {
      ASSERT_TRUE(status[i].ok()) << i << ": " << status[i];
      std::string alone;
      ASSERT_TRUE(log->Read(want[i], &alone).ok());
      EXPECT_EQ(out[i], alone);
    }
  }
}

TEST_F(PayloadLogTest, ReopeningFindsTheSegmentsAndAppendsToANewOne) {
  PayloadLocation a;
  {
    auto log = Open(0, 1 << 20);
    ASSERT_NE(log, nullptr);
    a = Append(*log, R"({"id":"kept"})");
    ASSERT_TRUE(log->Sync().ok());
  }
  // A file that is not a segment is left alone.
  std::ofstream(absl::StrCat(dir(), "/notes.txt")) << "x";
  auto log = Open(0, 1 << 20);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->Segments(), (std::vector<std::int64_t>{0, 1}));
  EXPECT_EQ(log->current(), 1);
  std::string out;
  ASSERT_TRUE(log->Read(a, &out).ok());
  EXPECT_EQ(out, R"({"id":"kept"})");
  // A segment a row names but whose file is gone is not reused.
  auto later = PayloadLog::Open(dir(), 7, 1 << 20);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ((*later)->current(), 7);
}

// Size of a file, or -1 when it is not there.
std::int64_t SizeOf(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? -1 : static_cast<std::int64_t>(size);
}

TEST_F(PayloadLogTest, SmallGroupsGetTheirNextSegmentWrittenAhead) {
  // 1 KiB segments; 100-byte groups: at most 200 bytes each on average.
  auto opened = PayloadLog::Open(dir(), 0, 1024, 200);
  ASSERT_TRUE(opened.ok()) << opened.status();
  PayloadLog& log = **opened;
  const std::string payload(100, 'p');
  std::vector<PayloadLocation> at;
  // A quarter of the segment written: the next one is asked for.
  for (int i = 0; i < 3; ++i) at.push_back(Append(log, payload));
  ASSERT_TRUE(log.AwaitPrepared());
  const std::string prepared = dir() + "/prepared.tmp";
  EXPECT_EQ(SizeOf(prepared), 1024);
  // Ten fit in segment 0; the eleventh starts segment 1 (and is less than
  // a quarter of it, so no other file is being prepared yet).
  for (int i = 3; i < 11; ++i) at.push_back(Append(log, payload));
  ASSERT_EQ(at.back().segment, 1);
  // Segment 1 is the prepared file, full size from the start, its appends
  // written over its zeros; segment 0 grew as it was appended to.
  EXPECT_EQ(SizeOf(prepared), -1);
  EXPECT_EQ(SizeOf(dir() + "/1.log"), 1024);
  EXPECT_EQ(SizeOf(dir() + "/0.log"), 1000);
  ASSERT_TRUE(log.Sync().ok());
  for (const PayloadLocation& a : at) {
    std::string out;
    ASSERT_TRUE(log.Read(a, &out).ok()) << a.segment << ":" << a.offset;
    EXPECT_EQ(out, payload);
  }
  // Past the appends a prepared segment holds zeros, which are no payload.
  PayloadLocation beyond = at.back();
  beyond.offset += beyond.length;
  std::string out;
  EXPECT_TRUE(absl::IsDataLoss(log.Read(beyond, &out)));
}

// On a full disk the spool gives a prepared file's blocks back: it goes,
// and the next segment is a new file, as without preparing.
TEST_F(PayloadLogTest, ADroppedPreparedFileGoesAndTheNextSegmentIsNew) {
  auto opened = PayloadLog::Open(dir(), 0, 1024, 200);
  ASSERT_TRUE(opened.ok()) << opened.status();
  PayloadLog& log = **opened;
  const std::string payload(100, 'p');
  for (int i = 0; i < 3; ++i) Append(log, payload);
  ASSERT_TRUE(log.AwaitPrepared());
  ASSERT_EQ(SizeOf(dir() + "/prepared.tmp"), 1024);
  log.DropPrepared();
  EXPECT_EQ(SizeOf(dir() + "/prepared.tmp"), -1);
  PayloadLocation last;
  for (int i = 0; i < 8; ++i) last = Append(log, payload);
  ASSERT_EQ(last.segment, 1);
  EXPECT_EQ(SizeOf(dir() + "/1.log"), 100);  // a new file, not 1,024 zeros
  ASSERT_TRUE(log.Sync().ok());
  std::string out;
  ASSERT_TRUE(log.Read(last, &out).ok());
  EXPECT_EQ(out, payload);
}

TEST_F(PayloadLogTest, LargeGroupsAndAZeroLimitGetNewFilesOnly) {
  for (std::int64_t limit : {std::int64_t{150}, std::int64_t{0}}) {
    SCOPED_TRACE(limit);
    std::filesystem::remove_all(dir());
    auto opened = PayloadLog::Open(dir(), 0, 1024, limit);
    ASSERT_TRUE(opened.ok()) << opened.status();
    PayloadLog& log = **opened;
    const std::string payload(200, 'p');  // groups over 150 bytes
    PayloadLocation last;
    for (int i = 0; i < 6; ++i) last = Append(log, payload);
    EXPECT_FALSE(log.AwaitPrepared());
    ASSERT_EQ(last.segment, 1);
    EXPECT_EQ(SizeOf(dir() + "/1.log"), 200);
    EXPECT_EQ(SizeOf(dir() + "/prepared.tmp"), -1);
  }
}

TEST_F(PayloadLogTest, APreparedFileLeftBehindGoesAndSegmentsStay) {
  PayloadLocation kept;
  {
    auto opened = PayloadLog::Open(dir(), 0, 1024, 200);
    ASSERT_TRUE(opened.ok()) << opened.status();
    for (int i = 0; i < 3; ++i) kept = Append(**opened, std::string(100, 'k'));
    ASSERT_TRUE((*opened)->AwaitPrepared());
    ASSERT_TRUE((*opened)->Sync().ok());
  }
  // Not used: closing the log removed it.
  EXPECT_EQ(SizeOf(dir() + "/prepared.tmp"), -1);
  // As a crash would leave it (prepared or half written): Open removes it.
  std::ofstream(dir() + "/prepared.tmp") << std::string(10, '\0');
  auto log = Open(0, 1024);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(SizeOf(dir() + "/prepared.tmp"), -1);
  EXPECT_EQ(log->Segments(), (std::vector<std::int64_t>{0, 1}));
  std::string out;
  ASSERT_TRUE(log->Read(kept, &out).ok());
  EXPECT_EQ(out, std::string(100, 'k'));
}

TEST_F(PayloadLogTest, APreparedFileNeverReplacesASegment) {
  auto opened = PayloadLog::Open(dir(), 0, 1024, 200);
  ASSERT_TRUE(opened.ok()) << opened.status();
  PayloadLog& log = **opened;
  for (int i = 0; i < 3; ++i) Append(log, std::string(100, 'p'));
  ASSERT_TRUE(log.AwaitPrepared());
  // Something already holds the next segment's name: the segment cannot
  // start, and the prepared file is not renamed over it.
  std::filesystem::create_directory(dir() + "/1.log");
  for (int i = 3; i < 10; ++i) Append(log, std::string(100, 'p'));
  auto at = log.Append(std::string(100, 'p'), 0);
  EXPECT_FALSE(at.ok());
  EXPECT_TRUE(std::filesystem::is_directory(dir() + "/1.log"));
  EXPECT_EQ(SizeOf(dir() + "/prepared.tmp"), -1);
}

// Appends rows [first, last] to `segment`.
void Append(PayloadSegments& s, std::int64_t segment, std::int64_t first,
            std::int64_t last) {
  for (std::int64_t id = first; id <= last; ++id) s.Appended(segment, id);
}

TEST(PayloadSegmentsTest, RemovesDoneSegmentsBehindTheOneAppendedTo) {
  PayloadSegments s;
  Append(s, 0, 1, 3);
  Append(s, 1, 4, 7);
  Append(s, 2, 8, 9);
  s.Commit();
  EXPECT_THAT(s.ToRemove(10), IsEmpty());
  for (std::int64_t segment : {0, 0, 0, 1, 1, 1}) s.Closed(segment);
  EXPECT_THAT(s.ToRemove(10), ElementsAre(0));  // 1 still has row 7 open
  s.Closed(1);
  s.Closed(2);
  s.Closed(2);
  // Segment 2 is appended to: it stays however done it is.
  EXPECT_THAT(s.ToRemove(10), ElementsAre(0, 1));
  EXPECT_THAT(s.ToRemove(1), ElementsAre(0));
  EXPECT_EQ(s.RowsOf(1), std::make_pair(std::int64_t{4}, std::int64_t{7}));
  s.Removed(0);
  EXPECT_FALSE(s.Has(0));
  EXPECT_THAT(s.ToRemove(10), ElementsAre(1));
}

TEST(PayloadSegmentsTest, StragglersGoAfterTwoSegmentsWithoutADelivery) {
  PayloadSegments s;
  Append(s, 0, 1, 4);
  s.Closed(0);
  s.Closed(0);  // two of four left: retrying, say
  Append(s, 1, 5, 8);
  EXPECT_THAT(s.ToRemove(10), IsEmpty());  // one segment since
  Append(s, 2, 9, 12);
  EXPECT_THAT(s.ToRemove(10), ElementsAre(0));
  // More than half open waits, however long.
  s.Closed(1);
  Append(s, 3, 13, 13);
  Append(s, 4, 14, 14);
  EXPECT_THAT(s.ToRemove(10), ElementsAre(0));
  EXPECT_EQ(s.OpenIn(1), 3);
}

TEST(PayloadSegmentsTest, ADeliveryKeepsASegmentBeingDrained) {
  PayloadSegments s;
  Append(s, 0, 1, 4);
  s.Closed(0);
  s.Closed(0);
  Append(s, 1, 5, 8);
  Append(s, 2, 9, 12);
  s.Closed(0);  // a delivery now: the segment is being drained
  EXPECT_THAT(s.ToRemove(10), IsEmpty());
  Append(s, 3, 13, 16);
  Append(s, 4, 17, 20);
  EXPECT_THAT(s.ToRemove(10), ElementsAre(0));
}

TEST(PayloadSegmentsTest, RollbackUndoesEverySinceTheLastCommit) {
  PayloadSegments s;
  Append(s, 0, 1, 3);
  s.Commit();
  s.Closed(0);
  s.Closed(0);
  s.Closed(0);
  Append(s, 1, 4, 4);
  s.Removed(0);
  s.Rollback();
  EXPECT_TRUE(s.Has(0));
  EXPECT_EQ(s.OpenIn(0), 3);
  EXPECT_FALSE(s.Has(1));
  EXPECT_THAT(s.ToRemove(10), IsEmpty());
}

TEST(PayloadSegmentsTest, ReopenedDeadLettersCountAsOpen) {
  PayloadSegments s;
  Append(s, 0, 1, 2);
  Append(s, 1, 3, 3);
  s.Closed(0);
  s.Closed(0);
  s.Reopened(0);
  EXPECT_EQ(s.OpenIn(0), 1);
  EXPECT_THAT(s.ToRemove(10), IsEmpty());
}

TEST(PayloadSegmentsTest, LoadsWhatTheStartFound) {
  PayloadSegments s;
  s.Load({{1, 4, 0, 1, 4}, {2, 4, 4, 5, 8}, {3, 0, 0, 0, 0}}, 5);
  // 1 is done; 2 is full of open events; 3 has no rows at all.
  EXPECT_THAT(s.ToRemove(10), ElementsAre(1, 3));
  EXPECT_EQ(s.OpenIn(2), 4);
  EXPECT_EQ(s.RowsOf(2), std::make_pair(std::int64_t{5}, std::int64_t{8}));
}

}  // namespace
}  // namespace conversions::service
