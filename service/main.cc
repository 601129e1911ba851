// conversions-gateway: the server binary.
//
//   conversions-gateway [--config FILE]
//   conversions-gateway --check-config [--config FILE]
//
// Without --config every key takes its default (loopback ports, ./data
// spool, one destination "default" reading OPENAI_CONVERSIONS_API_KEY and
// OPENAI_PIXEL_ID). SIGTERM, SIGINT or SIGHUP (the terminal closed; there
// is no config reload) drain and exit 0; a second one during the drain
// (the same signal, or another a second or more after the first) stops at
// once with exit 1 (the spool keeps the rest).
// --check-config runs the start-up checks that need neither the ports nor
// the spool's contents, prints every problem, and exits 0 (fine) or 2.
#include <malloc.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "service/config.h"
#include "service/gateway.h"
#include "service/http_transport.h"
#include "service/log.h"

namespace {

constexpr char kUsage[] =
    "usage: conversions-gateway [--check-config] [--config FILE]\n"
    "  Receives conversion events over gRPC and delivers them to the OpenAI\n"
    "  Conversions API. See deploy/config.example.yaml for every key.\n"
    "  --check-config  checks the config, its secrets, TLS files, tag\n"
    "                  mappings and spool path, then exits: 0 when the\n"
    "                  gateway would start with it, 2 otherwise.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace conversions::service;
  // Debian's abseil keeps absl::Mutex's deadlock detection on, which
  // records a lock graph on every acquisition; the lock order is fixed by
  // design and covered by the tests.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // gRPC's and protobuf's messages as structured lines, like ours.
  InstallLibraryLogHandlers();
  // API request bodies (up to a few MiB) and parsed batches come and go
  // many times a second; by default glibc serves them with mmap/munmap and
  // trims the heap after each, which costs page faults on every batch.
  // Keep them on the heap, and up to 16 MiB of the heap's free memory for
  // reuse (peak RSS with a million events queued stays well under 200 MB).
  mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
  std::string config_path;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--check-config") {
      check_only = true;
    } else if (arg == "--config") {
      if (i + 1 == argc) {
        std::cerr << "--config needs a FILE\n" << kUsage;
        return 2;
      }
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(9);
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "unknown argument: " << arg << "\n" << kUsage;
      return 2;
    }
  }

  // Block the stop signals in every thread; main waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  SystemEnvironment env;
  absl::StatusOr<GatewayConfig> config = LoadConfig(config_path, env);
  if (!config.ok()) {
    std::cerr << "conversions-gateway: " << config.status().message() << "\n";
    return 2;
  }
  if (absl::Status s = ValidateForServing(*config); !s.ok()) {
    std::cerr << "conversions-gateway: " << s.message() << "\n";
    return 2;
  }
  if (check_only) {
    if (absl::Status s = Gateway::CheckConfig(*config); !s.ok()) {
      std::cerr << "conversions-gateway: " << s.message() << "\n";
      return 2;
    }
    std::cout << "conversions-gateway: config ok: " << Describe(*config)
              << "\n";
    return 0;
  }

  SystemClock clock;
  absl::StatusOr<std::unique_ptr<Gateway>> gateway =
      Gateway::Start(*config, &clock, [](const DispatchTarget& target) {
        HttpTransportOptions options;
        options.connect_timeout = target.options.connect_timeout;
        options.request_timeout = target.options.request_timeout;
        return NewHttpTransport(target.url, options);
      });
  if (!gateway.ok()) {
    std::cerr << "conversions-gateway: " << gateway.status().message() << "\n";
    return 1;
  }
  // Scripts and tests read these to find ports chosen with :0.
  std::printf("grpc_listen=%s\nhttp_listen=%s\n",
              (*gateway)->grpc_address().c_str(),
              (*gateway)->http_address().c_str());
  std::fflush(stdout);

  int received = 0;
  sigwait(&signals, &received);
  LogInfo("signal_received", {{"signal", strsignal(received)}});
  // An operator who signals again (Ctrl-C twice) does not want to wait for
  // the drain deadline. Stopping without it is as safe as kill -9: every
  // accepted event is in the spool and goes out after the next start.
  // Another signal within a second of the first is its echo, not an
  // operator's second thought: a closed terminal sends SIGHUP to every
  // process of its session, and a script such as scripts/run.sh then sends
  // SIGTERM to the gateway it started. The same signal again (Ctrl-C
  // twice) is the operator.
  const auto first = std::chrono::steady_clock::now();
  std::thread([signals, first, received] {
    int again = 0;
    for (;;) {
      sigwait(&signals, &again);
      if (again == received ||
          std::chrono::steady_clock::now() - first >= std::chrono::seconds(1)) {
        break;
      }
      LogInfo("signal_ignored",
              {{"signal", strsignal(again)},
               {"message", "within a second of the first; draining"}});
    }
    LogWarn("second_signal",
            {{"signal", strsignal(again)},
             {"message",
              "stopping now without finishing the drain; undelivered events "
              "stay in the spool"}});
    std::_Exit(1);
  }).detach();
  (*gateway)->Drain();
  return 0;
}
