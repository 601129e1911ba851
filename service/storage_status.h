// Why a write to the spool failed, carried on the status itself: the spool
// and its payload log mark a full disk (ENOSPC, EDQUOT, SQLITE_FULL) and
// the queue bound, and the ingestor counts and answers them by that mark,
// not by parsing messages.
#ifndef CONVERSIONS_SERVICE_STORAGE_STATUS_H_
#define CONVERSIONS_SERVICE_STORAGE_STATUS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace conversions::service {

// Why an append was not stored; the `reason` label of
// conversions_events_not_stored_total.
enum class StoreFailure { kQueueFull, kDiskFull, kShuttingDown, kError };

inline constexpr char kStoreFailureUrl[] =
    "type.conversions-gateway/store-failure";

// RESOURCE_EXHAUSTED (gRPC's code for a full file system) marked as a
// full disk: the spool could not write, and nothing of the write stayed.
inline absl::Status DiskFullError(std::string_view detail) {
  absl::Status status = absl::ResourceExhaustedError(
      absl::StrCat("the spool's disk is full: ",
                   absl::string_view(detail.data(), detail.size())));
  status.SetPayload(kStoreFailureUrl, absl::Cord("disk_full"));
  return status;
}

// RESOURCE_EXHAUSTED marked as the configured bound on queued events.
inline absl::Status QueueFullError(std::string_view message) {
  absl::Status status = absl::ResourceExhaustedError(
      absl::string_view(message.data(), message.size()));
  status.SetPayload(kStoreFailureUrl, absl::Cord("queue_full"));
  return status;
}

inline StoreFailure StoreFailureOf(const absl::Status& status) {
  if (auto mark = status.GetPayload(kStoreFailureUrl)) {
    if (*mark == "disk_full") return StoreFailure::kDiskFull;
    if (*mark == "queue_full") return StoreFailure::kQueueFull;
  }
  if (status.code() == absl::StatusCode::kUnavailable) {
    return StoreFailure::kShuttingDown;
  }
  return StoreFailure::kError;
}

inline std::string_view StoreFailureName(StoreFailure failure) {
  switch (failure) {
    case StoreFailure::kQueueFull:
      return "queue_full";
    case StoreFailure::kDiskFull:
      return "disk_full";
    case StoreFailure::kShuttingDown:
      return "shutting_down";
    case StoreFailure::kError:
      break;
  }
  return "error";
}

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_STORAGE_STATUS_H_
