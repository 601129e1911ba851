// Fault injection for the sandbox: scripted failures that apply to the next
// POST /v1/events requests, so tests can drive a client's retry, backoff,
// auth-pause and batch-splitting paths without a real network fault.
#ifndef CONVERSIONS_TESTS_SANDBOX_FAULTS_H_
#define CONVERSIONS_TESTS_SANDBOX_FAULTS_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace conversions::sandbox {

// One scripted answer: the request is not processed (nothing is validated or
// recorded) and gets this status with an OpenAI-style error body.
struct InjectedStatus {
  // HTTP status code, 100 to 599. Default 503.
  int status = 503;
  // Value of the Retry-After header; empty sends no header. Default empty.
  std::string retry_after;
};

// The faults applied to subsequent POST /v1/events requests. The counted
// faults are consumed one per request. When several are pending, one request
// consumes only the first that applies, in this order: drop_connections,
// auth_failures, status_sequence. latency and poison_ids are not consumed.
struct Faults {
  // Scripted statuses, each consumed by one request, front first. Default
  // none.
  std::vector<InjectedStatus> status_sequence;
  // Delay added before every request is answered (also dropped and faulted
  // ones). Default 0.
  std::chrono::milliseconds latency{0};
  // The next N requests get their connection closed without any response.
  // Default 0.
  int drop_connections = 0;
  // Any batch with an event whose id is listed fails with 400 naming the
  // event. Default none.
  std::vector<std::string> poison_ids;
  // The next N requests answer 401 even with the right key. Default 0.
  int auth_failures = 0;
};

// Parses the body of POST /_sandbox/faults, for example
//   {"status_sequence": [{"status": 429, "retry_after": "1"}, {"status": 503}],
//    "latency_ms": 50, "drop_connections": 1, "poison_ids": ["id1"],
//    "auth_failures": 2}
// Every key is optional; unknown keys and wrong types are InvalidArgument.
// "retry_after" may be a string or a non-negative integer (seconds).
absl::StatusOr<Faults> FaultsFromJson(const nlohmann::json& body);

// The JSON form of `faults`, in the shape FaultsFromJson reads.
nlohmann::json FaultsToJson(const Faults& faults);

}  // namespace conversions::sandbox

#endif  // CONVERSIONS_TESTS_SANDBOX_FAULTS_H_
