// The rules the dispatcher applies, apart from its state: the request URL,
// the retry backoff, the 7-day window, Retry-After, and reading the API's
// error answers. Pure functions and a seeded policy: no I/O, no clock.
#ifndef CONVERSIONS_SERVICE_DISPATCH_RULES_H_
#define CONVERSIONS_SERVICE_DISPATCH_RULES_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "service/config.h"

namespace conversions::service {

// Returns the request URL for an endpoint and pixel id.
std::string RequestUrl(const std::string& endpoint,
                       const std::string& pixel_id);

// Exponential backoff with full jitter: the n-th retry (n from 1) waits a
// uniformly random time in [0, min(max, initial * multiplier^(n-1))].
class BackoffPolicy {
 public:
  BackoffPolicy(const DispatcherOptions& options, std::uint64_t seed);
  std::chrono::milliseconds Delay(int retry);

 private:
  const DispatcherOptions options_;
  std::mt19937_64 rng_;
};

// The oldest event time the dispatcher still sends at `now_ms`: an event
// with less than mapping::Limits::kSendMarginMs (5 s) of its 7-day window
// left is dead-lettered as expired instead, since it could arrive too late.
std::int64_t OldestSendableTimestampMs(std::int64_t now_ms);

// Whether an event of `timestamp_ms` is too old to be sent at `at_ms`.
inline bool ExpiredAt(std::int64_t timestamp_ms, std::int64_t at_ms) {
  return timestamp_ms < OldestSendableTimestampMs(at_ms);
}

// The oldest event time taken at `now_ms` by RetryDeadLetters, as by the
// mapping on receipt: mapping::Limits::kReceiptMarginMs (10 s) must be
// left of the window. Older dead letters are left as they are.
std::int64_t OldestRequeueableTimestampMs(std::int64_t now_ms);

// Parses a Retry-After header: delta seconds or an HTTP date. Returns the
// delay, or nullopt when absent or malformed.
std::optional<std::chrono::milliseconds> ParseRetryAfter(
    const std::string& value, std::int64_t now_ms);

// Extracts the API's message from an error body ({"error":{"message":..}},
// {"error":"..."} or {"message":"..."}); falls back to the raw body, cut to
// 512 bytes (at a UTF-8 boundary; bytes that are not UTF-8 become '?').
// Every occurrence of `api_key` in it is replaced by "[redacted API key]":
// an API (or a proxy before it) that repeats the bearer token in its error
// would otherwise put the key into logs, event statuses and dead letters.
// So is anything else that looks like a key ("sk-" and at least 17 more
// key characters, or a masked key such as "sk-proj-****wxyz", which the
// API's own 401 quotes), and an email address becomes "[redacted email]"
// (the gateway sends none in clear, but a proxy's or an upstream's text
// may quote one). Both are hidden before the cut.
std::string ApiErrorMessage(const std::string& body, std::string_view api_key);

// Whether a 400 or 422 `body` refuses the request rather than its events:
// its error names (OpenAI's {"error":{"param":..}}) one of the request's
// own parameters, "pid" (a wrong pixel id), "integration_source" or
// "validate_only". Every request would get the same answer, so the
// destination is paused instead of the batch being split down to single
// events, each dead-lettered. Any other param, an event's field or one
// the API's undocumented errors may name, leaves the batch to be split.
bool RefusesTheRequest(int status, const std::string& body);

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_DISPATCH_RULES_H_
