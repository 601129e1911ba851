// conversions-load: a gRPC load generator for conversions-gateway (and the
// echo-server baseline). See load_generator.h and `conversions-load --help`.
//
// SIGINT or SIGTERM end the run early; the report and the output files are
// still written.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "tests/load/load_generator.h"
#include "tests/load/load_options.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<conversions::load::LoadOptions> options =
      conversions::load::ParseLoadArgs(args);
  if (!options.ok()) {
    std::fprintf(stderr, "conversions-load: %s\n\n%s",
                 std::string(options.status().message()).c_str(),
                 conversions::load::LoadUsage());
    return 1;
  }
  if (options->help) {
    std::fputs(conversions::load::LoadUsage(), stdout);
    return 0;
  }

  // Stop signals are blocked everywhere and taken by one thread, which ends
  // the run; SIGUSR1 wakes that thread when the run ends by itself.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  conversions::load::LoadGenerator generator(*options);
  std::atomic<bool> finished{false};
  std::thread signal_thread([&] {
    int signal_number = 0;
    while (sigwait(&signals, &signal_number) == 0) {
      if (finished.load()) return;
      if (signal_number != SIGUSR1) {
        std::fprintf(stderr, "conversions-load: stopping on signal %d\n",
                     signal_number);
        generator.Stop();
      }
    }
  });

  int exit_code = 0;
  absl::Status connected = generator.Connect();
  if (!connected.ok()) {
    std::fprintf(stderr, "conversions-load: %s\n",
                 std::string(connected.message()).c_str());
    exit_code = 1;
  } else {
    const conversions::load::LoadReport report = generator.Run();
    std::fputs(
        conversions::load::FormatReport(report, *options, generator.id_prefix())
            .c_str(),
        stdout);
    std::fflush(stdout);
    absl::Status written =
        conversions::load::WriteOutputFiles(report, *options);
    if (!written.ok()) {
      std::fprintf(stderr, "conversions-load: %s\n",
                   std::string(written.message()).c_str());
      exit_code = 1;
    } else if (!report.clean()) {
      exit_code = 2;
    }
  }
  finished.store(true);
  pthread_kill(signal_thread.native_handle(), SIGUSR1);
  signal_thread.join();
  return exit_code;
}
