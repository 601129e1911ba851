// echo-server: the load baseline (see echo_service.h).
//
//   echo-server [--listen HOST:PORT]      (default 127.0.0.1:0)
//               [--durable PATH]          answer after an fdatasync of PATH
//
// Prints `grpc_listen=HOST:PORT` on one line once it serves (port 0 picks
// a free port), and exits 0 on SIGTERM or SIGINT; bad flags exit 2.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "tests/load/echo_service.h"

namespace {

constexpr char kUsage[] =
    "Usage: echo-server [--listen HOST:PORT] [--durable PATH]\n"
    "Serves conversions.v1.ConversionService; SendEvents answers ACCEPTED\n"
    "for every event and does nothing else. Default 127.0.0.1:0; prints\n"
    "grpc_listen=HOST:PORT, stops on SIGTERM or SIGINT.\n"
    "--durable PATH: answers only after the events' ids are written to\n"
    "PATH and fdatasynced, group-committed by one thread (the floor of\n"
    "any server that answers after its events are on disk).\n";

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  std::string durable_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (arg.rfind("--listen=", 0) == 0) {
      listen = arg.substr(std::strlen("--listen="));
    } else if (arg == "--durable" && i + 1 < argc) {
      durable_path = argv[++i];
    } else if (arg.rfind("--durable=", 0) == 0) {
      durable_path = arg.substr(std::strlen("--durable="));
    } else {
      std::fprintf(stderr, "echo-server: bad argument %s\n%s", arg.c_str(),
                   kUsage);
      return 2;
    }
  }
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    std::fprintf(stderr, "echo-server: --listen needs HOST:PORT\n");
    return 2;
  }

  // Block the stop signals in every thread (gRPC's inherit the mask) and
  // wait for them synchronously below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Outlives the server: its thread answers the calls Shutdown waits for.
  std::unique_ptr<conversions::load::DurableAnswers> durable;
  if (!durable_path.empty()) {
    auto opened = conversions::load::DurableAnswers::Open(durable_path);
    if (!opened.ok()) {
      std::fprintf(stderr, "echo-server: %s\n",
                   std::string(opened.status().message()).c_str());
      return 1;
    }
    durable = std::move(*opened);
  }
  conversions::load::EchoConversionService service(durable.get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  conversions::load::ApplyGatewayServerSettings(&builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "echo-server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::printf("grpc_listen=%s:%d\n", listen.substr(0, colon).c_str(), port);
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  std::fprintf(stderr, "echo-server: stopped by signal %d after %lld events\n",
               signal_number, static_cast<long long>(service.events()));
  if (durable != nullptr) {
    std::fprintf(stderr, "echo-server: %lld fdatasyncs\n",
                 static_cast<long long>(durable->syncs()));
  }
  return 0;
}
