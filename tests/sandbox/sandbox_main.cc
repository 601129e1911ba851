// conversions-sandbox: runs the sandbox API (sandbox.h) as a process for
// scripts, load benchmarks and the demo.
//
//   conversions-sandbox [--listen HOST:PORT] [--api-key KEY]
//                       [--pixel-id ID[,ID...]]... [--threads N] [--print]
//                       [--no-keep-events]
//
// On start it prints one line, "sandbox_listen=HOST:PORT", to stdout. With
// --print it then prints each recorded event as one JSON line. SIGTERM or
// SIGINT stop it; it exits 0. The API key is never printed.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "tests/sandbox/sandbox.h"

namespace conversions::sandbox {
namespace {

constexpr absl::string_view kUsage =
    "usage: conversions-sandbox [--listen HOST:PORT] [--api-key KEY]\n"
    "                           [--pixel-id ID[,ID...]]... [--threads N]\n"
    "                           [--print] [--no-keep-events]\n"
    "  --listen    address to serve on (default 127.0.0.1:0; port 0 picks\n"
    "              a free port)\n"
    "  --api-key   the accepted Conversions API key (default sandbox-key)\n"
    "  --pixel-id  an accepted pixel id; repeatable or comma-separated\n"
    "              (default sandbox-pixel)\n"
    "  --threads   request-serving threads (default 16)\n"
    "  --print     print each recorded event as a JSON line on stdout\n"
    "  --no-keep-events\n"
    "              validate, deduplicate and count events without keeping\n"
    "              them (GET /_sandbox/events lists none; for load tests)\n";

struct Flags {
  std::string listen = "127.0.0.1:0";
  std::string api_key = "sandbox-key";
  std::vector<std::string> pixel_ids;
  int threads = 16;
  bool print = false;
  bool keep_events = true;
};

// Parses argv; on error returns a message for stderr.
absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('=');
        absl::StartsWith(arg, "--") && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto take_value = [&]() -> absl::StatusOr<std::string> {
      if (has_value) return value;
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat(arg, " needs a value"));
      }
      return std::string(argv[++i]);
    };
    if (arg == "--print" && !has_value) {
      flags.print = true;
    } else if (arg == "--no-keep-events" && !has_value) {
      flags.keep_events = false;
    } else if (arg == "--listen" || arg == "--api-key" || arg == "--pixel-id" ||
               arg == "--threads") {
      absl::StatusOr<std::string> v = take_value();
      if (!v.ok()) return v.status();
      if (arg == "--listen") {
        flags.listen = *v;
      } else if (arg == "--api-key") {
        flags.api_key = *v;
      } else if (arg == "--threads") {
        if (!absl::SimpleAtoi(*v, &flags.threads) || flags.threads < 1) {
          return absl::InvalidArgumentError(
              "--threads must be a positive integer");
        }
      } else {
        for (absl::string_view id :
             absl::StrSplit(*v, ',', absl::SkipEmpty())) {
          flags.pixel_ids.emplace_back(id);
        }
      }
    } else if (arg == "--help" || arg == "-h") {
      return absl::CancelledError("help");
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown argument: ", arg));
    }
  }
  if (flags.pixel_ids.empty()) flags.pixel_ids.push_back("sandbox-pixel");
  return flags;
}

// Splits "HOST:PORT" or "[V6HOST]:PORT".
absl::Status ParseListen(absl::string_view listen, std::string* host,
                         int* port) {
  absl::string_view host_part;
  absl::string_view port_part;
  if (absl::StartsWith(listen, "[")) {
    size_t close = listen.find("]:");
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("--listen must be HOST:PORT");
    }
    host_part = listen.substr(1, close - 1);
    port_part = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError("--listen must be HOST:PORT");
    }
    host_part = listen.substr(0, colon);
    port_part = listen.substr(colon + 1);
  }
  if (host_part.empty() || !absl::SimpleAtoi(port_part, port) || *port < 0 ||
      *port > 65535) {
    return absl::InvalidArgumentError(
        "--listen must be HOST:PORT with a port in [0, 65535]");
  }
  *host = std::string(host_part);
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  absl::StatusOr<Flags> flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    if (absl::IsCancelled(flags.status())) {
      std::cout << kUsage;
      return 0;
    }
    std::cerr << "conversions-sandbox: " << flags.status().message() << "\n"
              << kUsage;
    return 2;
  }
  SandboxOptions options;
  if (absl::Status status =
          ParseListen(flags->listen, &options.host, &options.port);
      !status.ok()) {
    std::cerr << "conversions-sandbox: " << status.message() << "\n";
    return 2;
  }
  options.api_key = flags->api_key;
  options.pixel_ids = flags->pixel_ids;
  options.threads = flags->threads;
  options.keep_events = flags->keep_events;
  if (flags->print) {
    options.on_event = [](const std::string& /*pixel_id*/,
                          const nlohmann::json& event) {
      std::string line =
          event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      line.push_back('\n');
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fflush(stdout);
    };
  }

  // Block the stop signals before any thread starts, so every thread
  // inherits the mask and sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<Sandbox>> sandbox =
      Sandbox::Start(std::move(options));
  if (!sandbox.ok()) {
    std::cerr << "conversions-sandbox: " << sandbox.status().message() << "\n";
    return 1;
  }
  const std::string& host = (*sandbox)->host();
  std::string address =
      absl::StrContains(host, ':') ? absl::StrCat("[", host, "]") : host;
  std::string line =
      absl::StrCat("sandbox_listen=", address, ":", (*sandbox)->port(), "\n");
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  (*sandbox)->Shutdown();
  return 0;
}

}  // namespace
}  // namespace conversions::sandbox

int main(int argc, char** argv) {
  return conversions::sandbox::Main(argc, argv);
}
