#include "tests/load/load_options.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace conversions::load {
namespace {

absl::Status Error(const std::string& message) {
  return absl::InvalidArgumentError(message);
}

// Parses an integer flag value in [min, max].
template <typename Int>
absl::Status ParseInt(const std::string& name, const std::string& text, Int min,
                      Int max, Int* value) {
  if (!absl::SimpleAtoi(text, value) || *value < min || *value > max) {
    return Error(absl::StrCat("--", name, " \"", text,
                              "\" must be a number from ", min, " to ", max));
  }
  return absl::OkStatus();
}

}  // namespace

const char* LoadUsage() {
  return "Usage: conversions-load [flags]\n"
         "Sends SendEvents requests with realistic, valid, unique\n"
         "order_created events and reports throughput and latency.\n\n"
         "  --target HOST:PORT       gateway (default 127.0.0.1:50051)\n"
         "  --concurrency N          requests outstanding (default 64)\n"
         "  --events-per-request N   1..1000 (default 1)\n"
         "  --duration D             measured time (default 10s)\n"
         "  --warmup D               unmeasured time first (default 2s)\n"
         "  --destination NAME       destination (default: the default)\n"
         "  --channels N             HTTP/2 connections (default 2)\n"
         "  --threads N              completion-queue threads (default 2)\n"
         "  --rpc-timeout D          deadline per request (default 30s)\n"
         "  --total-events N         send exactly N events as fast as\n"
         "                           possible, then stop (--duration, if\n"
         "                           given, caps the run; no warm-up)\n"
         "  --count-file PATH        write the number of ACCEPTED events\n"
         "  --ids-file PATH          write each ACCEPTED event id, one a line\n"
         "  --id-prefix P            event id prefix (default load-<random>-)\n"
         "  --ids random|sequential  after the prefix: 16 scattered hex digits\n"
         "                           (default) or the sequence number\n"
         "  --connect-timeout D      wait for the target (default 10s)\n\n"
         "Durations: 10s, 500ms, 2m. The last line is machine-readable:\n"
         "  result requests_per_second=... events_per_second=... p50_ms=...\n"
         "         p99_ms=... max_ms=... errors=... accepted=... ...\n"
         "Exit: 0 clean run; 2 some requests failed or events were not\n"
         "accepted; 1 bad flags or the target was unreachable.\n";
}

absl::StatusOr<std::chrono::milliseconds> ParseLoadDuration(
    const std::string& text) {
  std::int64_t seconds = 0;
  absl::Duration duration;
  if (absl::SimpleAtoi(text, &seconds)) {
    duration = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &duration)) {
    return Error(
        absl::StrCat("bad duration \"", text, "\"; use e.g. 10s, 500ms or 2m"));
  }
  if (duration < absl::ZeroDuration() || duration > absl::Hours(24)) {
    return Error(absl::StrCat("duration \"", text, "\" out of range"));
  }
  return absl::ToChronoMilliseconds(duration);
}

absl::StatusOr<LoadOptions> ParseLoadArgs(
    const std::vector<std::string>& args) {
  LoadOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    if (name == "--help" || name == "-h") {
      options.help = true;
      return options;
    }
    if (!absl::StartsWith(name, "--")) {
      return Error(absl::StrCat("unexpected argument \"", name, "\""));
    }
    name = name.substr(2);
    std::string value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Error(absl::StrCat("flag --", name, " needs a value"));
    }

    absl::Status status;
    if (name == "target") {
      options.target = value;
      if (value.empty()) status = Error("--target is empty");
    } else if (name == "concurrency") {
      status = ParseInt(name, value, 1, 100000, &options.concurrency);
    } else if (name == "events-per-request") {
      status = ParseInt(name, value, 1, 1000, &options.events_per_request);
    } else if (name == "channels") {
      status = ParseInt(name, value, 1, 1000, &options.channels);
    } else if (name == "threads") {
      status = ParseInt(name, value, 1, 256, &options.threads);
    } else if (name == "total-events") {
      status = ParseInt<std::int64_t>(name, value, 1, 1'000'000'000'000,
                                      &options.total_events);
    } else if (name == "duration" || name == "warmup" ||
               name == "rpc-timeout" || name == "connect-timeout") {
      absl::StatusOr<std::chrono::milliseconds> duration =
          ParseLoadDuration(value);
      if (!duration.ok()) {
        status = duration.status();
      } else if (name == "duration") {
        options.duration = *duration;
        options.duration_given = true;
      } else if (name == "warmup") {
        options.warmup = *duration;
      } else if (name == "rpc-timeout") {
        options.rpc_timeout = *duration;
      } else {
        options.connect_timeout = *duration;
      }
      if (status.ok() && name != "warmup" && duration->count() == 0) {
        status = Error(absl::StrCat("--", name, " must be above 0"));
      }
    } else if (name == "destination") {
      options.destination = value;
    } else if (name == "count-file") {
      options.count_file = value;
    } else if (name == "ids-file") {
      options.ids_file = value;
    } else if (name == "id-prefix") {
      options.id_prefix = value;
    } else if (name == "ids") {
      if (value != "random" && value != "sequential") {
        status = Error("--ids must be random or sequential");
      }
      options.random_ids = value == "random";
    } else {
      return Error(absl::StrCat("unknown flag --", name));
    }
    if (!status.ok()) return status;
  }
  return options;
}

}  // namespace conversions::load
