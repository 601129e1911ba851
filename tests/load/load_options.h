// Options of conversions-load, the gRPC load generator, and their parsing.
#ifndef CONVERSIONS_TESTS_LOAD_LOAD_OPTIONS_H_
#define CONVERSIONS_TESTS_LOAD_LOAD_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace conversions::load {

struct LoadOptions {
  // gRPC target, HOST:PORT.
  std::string target = "127.0.0.1:50051";
  // Requests outstanding at any time.
  int concurrency = 64;
  // Events per SendEvents request, 1..1000.
  int events_per_request = 1;
  // Measured time, after the warm-up. In --total-events mode a cap, and
  // only when given.
  std::chrono::milliseconds duration{std::chrono::seconds(10)};
  // Time before measuring starts (requests are sent, not counted).
  // Ignored in --total-events mode.
  std::chrono::milliseconds warmup{std::chrono::seconds(2)};
  // Destination name; empty means the gateway's default.
  std::string destination;
  // gRPC channels, each its own HTTP/2 connection.
  int channels = 2;
  // Completion-queue threads driving the requests.
  int threads = 2;
  // Deadline of each request.
  std::chrono::milliseconds rpc_timeout{std::chrono::seconds(30)};
  // When above 0: send exactly this many events as fast as possible, then
  // stop (--total-events mode).
  std::int64_t total_events = 0;
  // Whether --duration was given (it caps --total-events mode).
  bool duration_given = false;
  // When set, the number of ACCEPTED events is written here at the end.
  std::string count_file;
  // When set, every ACCEPTED event id is written here, one per line.
  std::string ids_file;
  // Prefix of every event id; default "load-<random hex>-", so ids are
  // unique per run and the gateway's dedup never triggers.
  std::string id_prefix;
  // After the prefix: 16 hex digits spread over the key space like random
  // ids (--ids random, the default; what real clients send), or the
  // decimal sequence number (--ids sequential).
  bool random_ids = true;
  // How long to wait for the target to accept connections at the start.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  // Print the usage and exit 0.
  bool help = false;
};

// Parses the arguments after the program name; errors are InvalidArgument.
absl::StatusOr<LoadOptions> ParseLoadArgs(const std::vector<std::string>& args);

// Parses "10s", "500ms", "2m", "0s", or whole seconds ("10").
absl::StatusOr<std::chrono::milliseconds> ParseLoadDuration(
    const std::string& text);

// The --help text.
const char* LoadUsage();

}  // namespace conversions::load

#endif  // CONVERSIONS_TESTS_LOAD_LOAD_OPTIONS_H_
