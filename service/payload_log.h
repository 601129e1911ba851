// The spool's payload log: the wire JSON of queued events, appended to
// files of about 64 MiB beside the SQLite file ("<spool>.payloads/
// <segment>.log"), read back by position, and removed a whole file at a
// time once no queued event needs it.
//
// Why not a SQLite table: every payload would be written twice (WAL, then
// checkpoint) and, worse, deleted row by row after delivery, which cost
// the spool's single writer thread more than all the rest of recording a
// delivery (see service/sqlite_spool.h). Appending to a file writes each byte
// once; removing a file costs next to nothing.
//
// Durability: Append only buffers; Flush writes what was appended (one
// write per group commit, not one per event); Sync makes every append
// flushed before it durable (the spool acknowledges events only after Sync and
// the WAL sync). Each event row keeps its payload's segment, offset, length and
// CRC-32, so a payload that did not reach the disk before a power loss is
// found on Read.
//
// Prepared segments: a sync of a file that grew must also write its
// metadata (its size and where its new blocks are): one more write the
// disk serves before the sync returns (with ext4's journal, a journal
// commit). Overwriting blocks already written needs no metadata. So,
// like PostgreSQL with its WAL segments, the log writes the next segment
// full of zeros ahead of time on a thread of its own ("prepared.tmp"),
// and the next segment is that file, renamed, whose appends then
// overwrite. It does so only when the current segment's groups are small
// (`prepare_max_flush_bytes` on average, checked once a quarter of the
// segment is written): then that extra write is a large share of each
// sync, while with large groups the zeros would only double the bytes
// written. When the prepared file is not ready in time, the next segment
// is a new, empty file as before. A crash can leave prepared.tmp behind;
// Open removes it. Reads of a prepared segment past its appends find
// zeros, which no payload's length and CRC match.
//
// Thread-safety: Append and Flush from one thread (the spool's writer);
// Read, Sync and Remove from any.
#ifndef CONVERSIONS_SERVICE_PAYLOAD_LOG_H_
#define CONVERSIONS_SERVICE_PAYLOAD_LOG_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace conversions::service {

// Where a payload is.
struct PayloadLocation {
  std::int64_t segment = 0;
  std::int64_t offset = 0;
  std::int64_t length = 0;
  std::uint32_t crc = 0;  // CRC-32 (as zlib's crc32) of the bytes
};

// The CRC-32 stored with a payload.
std::uint32_t PayloadCrc(std::string_view bytes);

class PayloadLog {
 public:
  // Group flushes that average more than this many bytes in a segment
  // are large enough that its successor is not prepared (see above).
  static constexpr std::int64_t kPrepareMaxFlushBytes = 256 << 10;

  // Opens (creating) `dir` and the segment files in it. Appends go to a new
  // segment numbered after every existing one and `min_segment`. Segments
  // whose flushes average at most `prepare_max_flush_bytes` get a prepared
  // successor (0: never).
  static absl::StatusOr<std::unique_ptr<PayloadLog>> Open(
      const std::string& dir, std::int64_t min_segment,
      std::int64_t segment_bytes,
      std::int64_t prepare_max_flush_bytes = kPrepareMaxFlushBytes);
  ~PayloadLog();

  // The segments present, oldest first.
  std::vector<std::int64_t> Segments() const;
  // The segment appends go to.
  std::int64_t current() const;

  // Appends `bytes` (with its `crc`) to the current segment, first moving
  // to a new one when it is full. The bytes are written by the next Flush
  // (or sooner, a MiB at a time); reads before that fail. Writer thread
  // only.
  absl::StatusOr<PayloadLocation> Append(std::string_view bytes,
                                         std::uint32_t crc);
  // Writes what was appended since the last Flush. Writer thread only.
  absl::Status Flush();

  // Reads a payload back and checks its length and CRC: NotFound when the
  // segment is gone, DataLoss when the bytes are short or differ.
  absl::Status Read(const PayloadLocation& at, std::string* out) const;

  // Reads several payloads, `out[i]` from `at[i]`, with one read for each
  // run of payloads that lie back to back in a segment (claims read
  // hundreds appended together). Returns the status of each, as Read.
  std::vector<absl::Status> ReadMany(
      const std::vector<PayloadLocation>& at,
      const std::vector<std::string*>& out) const;

  // Makes every append made before this call durable.
  absl::Status Sync();

  // Deletes a segment's file. Reads that hold it still finish.
  absl::Status Remove(std::int64_t segment);

  // Deletes a prepared file that is ready, giving its blocks back (a full
  // disk); the next segment is then a new file. Writer thread only.
  void DropPrepared();

  // Waits until no preparation is under way; whether a prepared file is
  // ready for the next segment (for tests).
  bool AwaitPrepared();

 private:
  struct File;
  PayloadLog(std::string dir, int dir_fd, std::int64_t segment_bytes,
             std::int64_t prepare_max_flush_bytes);
  absl::Status StartSegment(std::int64_t segment);
  // Writes `pending_` out (Flush, and Append's pieces).
  absl::Status WritePending();
  // Asks the preparer for a prepared file, once per segment, when the
  // current segment's flushes are small (writer thread).
  void MaybePrepare();
  // The preparer thread: makes prepared.tmp when asked.
  void PrepareLoop();
  // Takes the prepared file's descriptor when one is ready, or -1.
  int TakePrepared();
  std::shared_ptr<File> Find(std::int64_t segment) const;
  std::string PathOf(std::int64_t segment) const;
  // Reads `length` bytes at `offset` of `file` into `out`; the count read.
  absl::StatusOr<size_t> ReadAt(const File& file, std::int64_t offset,
                                size_t length, char* out) const;
  absl::Status Check(const PayloadLocation& at, size_t read,
                     std::string* out) const;

  const std::string dir_;
  const int dir_fd_;
  const std::int64_t segment_bytes_;
  const std::int64_t prepare_max_flush_bytes_;
  mutable absl::Mutex mu_;
  absl::btree_map<std::int64_t, std::shared_ptr<File>> files_
      ABSL_GUARDED_BY(mu_);
  std::shared_ptr<File> current_ ABSL_GUARDED_BY(mu_);
  // Files appended to since the last Sync began.
  std::vector<std::shared_ptr<File>> unsynced_ ABSL_GUARDED_BY(mu_);
  // Writer thread only: the end of current_ with what is appended, and the
  // appended bytes not written yet, which start at offset_ - size.
  std::int64_t offset_ = 0;
  std::string pending_;
  // Writer thread only: group flushes that wrote to current_, and whether
  // its successor was asked for.
  std::int64_t flushes_ = 0;
  bool prepare_asked_ = false;

  // The preparer's state. prepared_fd_ is an open prepared.tmp, written
  // and synced, or -1.
  absl::Mutex prep_mu_;
  bool prep_wanted_ ABSL_GUARDED_BY(prep_mu_) = false;
  bool prep_busy_ ABSL_GUARDED_BY(prep_mu_) = false;
  bool prep_stop_ ABSL_GUARDED_BY(prep_mu_) = false;
  int prepared_fd_ ABSL_GUARDED_BY(prep_mu_) = -1;
  std::thread preparer_;
};

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_PAYLOAD_LOG_H_
