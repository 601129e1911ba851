// The one place that turns internal statuses into gRPC statuses.
#ifndef CONVERSIONS_SERVICE_STATUS_UTIL_H_
#define CONVERSIONS_SERVICE_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace conversions::service {

// Maps the canonical code one to one and keeps the message (messages never
// hold identifier values or secrets).
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_STATUS_UTIL_H_
