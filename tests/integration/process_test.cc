// The gateway binary under signals: SIGTERM drains and exits 0; kill -9
// loses no accepted event.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "google/protobuf/descriptor.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "reflection.pb.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/integration/gateway_process.h"
#include "tests/integration/raw_http.h"

namespace conversions::testing {
namespace {

v1::SendEventsRequest Batch(const std::string& prefix, int first, int n) {
  v1::SendEventsRequest request;
  for (int i = 0; i < n; ++i) {
    *request.add_events() = Purchase(absl::StrCat(prefix, first + i));
  }
  return request;
}

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto sandbox = sandbox::Sandbox::Start(sandbox::SandboxOptions());
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    sandbox_ = std::move(*sandbox);
    config_path_ = dir_.path() + "/gateway.yaml";
    std::ofstream config(config_path_);
    config << "grpc_listen: 127.0.0.1:0\n"
           << "http_listen: 127.0.0.1:0\n"
           << "log_level: warn\n"
           << "shutdown_drain_timeout: 20s\n"
           << "spool:\n  path: " << dir_.path() << "/spool.db\n"
           << "dispatcher:\n  linger: 20ms\n  initial_backoff: 50ms\n"
           << "  max_backoff: 500ms\n"
           // One request of 100 events at a time: with the sandbox's
           // latency below, delivery is slower than intake whatever the
           // machine's speed, so the tests' signals find events queued.
           << "  max_batch_events: 100\n  max_in_flight_requests: 1\n"
           << "destinations:\n  - name: default\n    pixel_id: sandbox-pixel\n"
           << "    endpoint: http://127.0.0.1:" << sandbox_->port()
           << "/v1/events\n";
  }

  std::unique_ptr<GatewayProcess> Start() {
    auto process = std::make_unique<GatewayProcess>(
        GATEWAY_BINARY, config_path_,
        std::vector<std::string>{"OPENAI_CONVERSIONS_API_KEY=sandbox-key"});
    EXPECT_TRUE(process->started()) << "the gateway did not start";
    return process;
  }

  // Starts the gateway and sends it one request of `n` events (ids
  // PREFIX0...), which must succeed.
  std::unique_ptr<GatewayProcess> StartAndSend(const std::string& prefix,
                                               int n) {
    auto gateway = Start();
    if (!gateway->started()) return gateway;
    auto stub = v1::ConversionService::NewStub(grpc::CreateChannel(
        gateway->grpc_address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    v1::SendEventsResponse response;
    EXPECT_TRUE(
        stub->SendEvents(&context, Batch(prefix, 0, n), &response).ok());
    return gateway;
  }

  // Starts the gateway, sends it 10 events, sends it `signals` at once,
  // and expects a drain: every event delivered, exit 0.
  void ExpectDrainAfter(std::initializer_list<int> signals) {
    auto gateway = StartAndSend("d", 10);
    ASSERT_TRUE(gateway->started());
    for (int signal : signals) gateway->Signal(signal);
    int status = gateway->Wait();
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_EQ(DeliveredIds().size(), 10u);
  }

  std::set<std::string> DeliveredIds() const {
    std::set<std::string> ids;
    for (const auto& e : sandbox_->AcceptedEvents()) ids.insert(e["id"]);
    return ids;
  }

  TempDir dir_;
  std::string config_path_;
  std::unique_ptr<sandbox::Sandbox> sandbox_;
};

// Runs the gateway binary with `args` (after `env`, "NAME=value ...") to
// its end; returns its exit code (-1 if it did not exit) and sets
// `*output` to its stdout and stderr.
int RunGateway(const std::string& env, const std::string& args,
               std::string* output) {
  const std::string command =
      absl::StrCat(env, " ", GATEWAY_BINARY, " ", args, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  output->clear();
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    output->append(buffer, n);
  }
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The binary's server reflection lists both services and describes each,
// health included (its descriptor is linked in on purpose), so that
// grpcurl needs no local .proto files.
TEST_F(ProcessTest, ReflectionDescribesEveryServiceItLists) {
  auto gateway = Start();
  ASSERT_TRUE(gateway->started());
  auto channel = grpc::CreateChannel(gateway->grpc_address(),
                                     grpc::InsecureChannelCredentials());
  namespace reflection = conversions::testing::reflection;
  using Request = reflection::ServerReflectionRequest;
  using Response = reflection::ServerReflectionResponse;
  // What a generated stub of the method does.
  const grpc::internal::RpcMethod method(
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      grpc::internal::RpcMethod::BIDI_STREAMING, channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream(
      grpc::internal::ClientReaderWriterFactory<Request, Response>::Create(
          channel.get(), method, &context));
  Request request;
  Response response;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> services;
  for (const auto& s : response.list_services_response().service()) {
    services.insert(s.name());
  }
  EXPECT_TRUE(services.count("conversions.v1.ConversionService"));
  EXPECT_TRUE(services.count("grpc.health.v1.Health"));
  for (const std::string& service : services) {
    request.set_file_containing_symbol(service);
    ASSERT_TRUE(stream->Write(request));
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_TRUE(response.has_file_descriptor_response())
        << service << ": " << response.error_response().error_message();
    bool described = false;
    for (const std::string& bytes :
         response.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      ASSERT_TRUE(file.ParseFromString(bytes));
      for (const auto& s : file.service()) {
        described |= absl::StrCat(file.package(), ".", s.name()) == service;
      }
    }
    EXPECT_TRUE(described) << service;
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ProcessTest, AFailedStartUpLogsNoDrain) {
  // A folder where the spool file belongs: the start-up fails after the
  // logging is set up; it must say why, and not that it drained. (The
  // folder is inside dir_, so that the spool's lock file beside it goes
  // with dir_.)
  const std::string folder = dir_.path() + "/folder";
  ASSERT_TRUE(std::filesystem::create_directory(folder));
  const std::string config_path = dir_.path() + "/broken.yaml";
  std::ofstream(config_path) << "grpc_listen: 127.0.0.1:0\n"
                             << "http_listen: 127.0.0.1:0\n"
                             << "log_level: info\n"
                             << "spool:\n  path: " << folder << "\n";
  std::string output;
  const int code = RunGateway("OPENAI_CONVERSIONS_API_KEY=k OPENAI_PIXEL_ID=p",
                              "--config " + config_path, &output);
  EXPECT_GT(code, 0) << output;
  EXPECT_THAT(output, ::testing::HasSubstr("spool.path"));
  EXPECT_THAT(output, ::testing::Not(::testing::HasSubstr("gateway_draining")));
  EXPECT_THAT(output, ::testing::Not(::testing::HasSubstr("gateway_stopped")));
}

TEST_F(ProcessTest, CheckConfigPassesAGoodConfigAndTouchesNothing) {
  std::string output;
  EXPECT_EQ(RunGateway("OPENAI_CONVERSIONS_API_KEY=sandbox-key",
                       "--check-config --config " + config_path_, &output),
            0)
      << output;
  EXPECT_THAT(output, ::testing::HasSubstr("config ok"));
  EXPECT_THAT(output, ::testing::HasSubstr("api_key=<redacted>"));
  EXPECT_THAT(output, ::testing::Not(::testing::HasSubstr("sandbox-key")));
  // Neither the spool nor its payload folder was made.
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/spool.db"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/spool.db.payloads"));
}

TEST_F(ProcessTest, CheckConfigFailsWhereTheStartWouldAndSaysWhy) {
  // A spool path the gateway could not open: a folder, a path below a
  // file, and one on /proc (which access() calls writable for root).
  std::ofstream(dir_.path() + "/a-file") << "x";
  const std::string folder = dir_.path() + "/folder";
  ASSERT_TRUE(std::filesystem::create_directory(folder));
  for (const std::string& spool :
       {folder, dir_.path() + "/a-file/spool.db",
        std::string("/proc/conversions-check/spool.db")}) {
    const std::string path = dir_.path() + "/check.yaml";
    std::ofstream(path) << "destinations:\n  - name: default\n"
                        << "    pixel_id: p\n"
                        << "spool:\n  path: " << spool << "\n";
    std::string output;
    EXPECT_EQ(RunGateway("OPENAI_CONVERSIONS_API_KEY=k",
                         "--check-config --config " + path, &output),
              2)
        << output;
    EXPECT_THAT(output, ::testing::HasSubstr("spool.path: " + spool));
    EXPECT_THAT(output, ::testing::Not(::testing::HasSubstr("config ok")));
    // And the gateway itself refuses to start with it.
    EXPECT_GT(
        RunGateway("OPENAI_CONVERSIONS_API_KEY=k", "--config " + path, &output),
        0)
        << output;
  }
  // A missing API key is reported as the start-up reports it.
  std::string output;
  EXPECT_EQ(RunGateway("OPENAI_CONVERSIONS_API_KEY=",
                       "--check-config --config " + config_path_, &output),
            2)
      << output;
  EXPECT_THAT(output, ::testing::HasSubstr("no API key"));
}

TEST_F(ProcessTest, DrainsOnSigtermAndExitsZero) {
  // Each API request takes 200 ms, so events are still queued at SIGTERM.
  sandbox::Faults slow;
  slow.latency = std::chrono::milliseconds(200);
  sandbox_->SetFaults(slow);
  auto gateway = Start();
  ASSERT_TRUE(gateway->started());
  auto stub = v1::ConversionService::NewStub(grpc::CreateChannel(
      gateway->grpc_address(), grpc::InsecureChannelCredentials()));
  int accepted = 0;
  for (int r = 0; r < 5; ++r) {
    grpc::ClientContext context;
    v1::SendEventsResponse response;
    ASSERT_TRUE(
        stub->SendEvents(&context, Batch("d", r * 40, 40), &response).ok());
    for (const auto& result : response.results()) {
      accepted += result.outcome() == v1::EventResult::OUTCOME_ACCEPTED;
    }
  }
  ASSERT_EQ(accepted, 200);
  gateway->Signal(SIGTERM);
  int status = gateway->Wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The drain delivered everything that was queued.
  EXPECT_EQ(DeliveredIds().size(), 200u);
  // And nothing answers any more.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(2));
  v1::SendEventsResponse response;
  EXPECT_FALSE(stub->SendEvents(&context, Batch("late", 0, 1), &response).ok());
}

// A hangup (the terminal of `scripts/run.sh` closed, say) drains like
// SIGTERM instead of killing the process mid-request: there is no config
// to reload.
TEST_F(ProcessTest, DrainsOnSighupAndExitsZero) { ExpectDrainAfter({SIGHUP}); }

// A closed terminal sends SIGHUP to the gateway and to the script that
// started it, which then sends SIGTERM (scripts/run.sh's cleanup): the
// SIGTERM so soon after is not taken for an operator's second signal, and
// the gateway still drains and exits 0.
TEST_F(ProcessTest, ASignalRightAfterTheFirstDoesNotStopTheDrain) {
  sandbox::Faults slow;
  slow.latency = std::chrono::milliseconds(300);
  sandbox_->SetFaults(slow);
  ExpectDrainAfter({SIGHUP, SIGTERM});
}

// Clients that keep sending through a SIGTERM get answers they can act
// on: ACCEPTED, or UNAVAILABLE (retry), or a connection that is gone;
// never CANCELLED, which gRPC's shutdown answers to calls that reach it
// before their client reads its GOAWAY, and which clients do not retry.
TEST_F(ProcessTest, CallsRacingTheDrainAreRefusedNotCancelled) {
  for (int round = 0; round < 3; ++round) {
    auto gateway = Start();
    ASSERT_TRUE(gateway->started());
    std::mutex mu;
    std::map<grpc::StatusCode, int> codes;
    int refused = 0;  // UNAVAILABLE from the draining gateway itself
    std::atomic<int> answered{0};
    std::atomic<bool> stop{false};
    const std::string address = gateway->grpc_address();
    std::vector<std::thread> clients;
    for (int c = 0; c < 6; ++c) {
      clients.emplace_back([&, c] {
        auto stub = v1::ConversionService::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
        for (int r = 0; !stop; ++r) {
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(5));
          v1::SendEventsResponse response;
          const grpc::Status status = stub->SendEvents(
              &context,
              Batch(absl::StrCat("r", round, "c", c, "-", r, "-"), 0, 5),
              &response);
          ++answered;
          {
            std::lock_guard<std::mutex> lock(mu);
            ++codes[status.error_code()];
            refused += status.error_message() == "the gateway is shutting down";
          }
          // As the client examples do: back off after UNAVAILABLE.
          if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
          }
        }
      });
    }
    ASSERT_TRUE(WaitFor([&] { return answered >= 60; }));
    gateway->Signal(SIGTERM);
    const int status = gateway->Wait();
    stop = true;
    for (auto& t : clients) t.join();
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(codes[grpc::StatusCode::CANCELLED], 0) << "round " << round;
    // The clients met the refusal, not only a server that was gone.
    EXPECT_GT(refused, 0) << "round " << round;
  }
}

// Returns a TCP connection to `address` ("127.0.0.1:port") that has sent
// the HTTP/2 preface and an empty SETTINGS frame and is never read, as a
// client that holds a connection it does not poll; -1 if it failed.
int SilentHttp2Connection(const std::string& address) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(PortOf(address)));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  static constexpr char kPreface[] =
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0";
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0 ||
      send(fd, kPreface, sizeof(kPreface), 0) !=
          static_cast<ssize_t>(sizeof(kPreface))) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST_F(ProcessTest, ExitsOnceDrainedThoughClientsKeepConnectionsOpen) {
  // gRPC's own shutdown waits, up to the drain deadline (20 s here), for
  // every connection to close: a connection whose client never reads, and
  // a health Watch stream, would have held the exit that long.
  auto gateway = Start();
  ASSERT_TRUE(gateway->started());
  auto channel = grpc::CreateChannel(gateway->grpc_address(),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::ConversionService::NewStub(channel);
  grpc::ClientContext send;
  v1::SendEventsResponse response;
  ASSERT_TRUE(stub->SendEvents(&send, Batch("c", 0, 20), &response).ok());
  const int silent = SilentHttp2Connection(gateway->grpc_address());
  ASSERT_GE(silent, 0);
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext watch_context;
  grpc::health::v1::HealthCheckRequest watch_request;
  auto watch = health->Watch(&watch_context, watch_request);
  grpc::health::v1::HealthCheckResponse status;
  ASSERT_TRUE(watch->Read(&status));  // the stream is open

  const auto signalled = std::chrono::steady_clock::now();
  gateway->Signal(SIGTERM);
  // The Watch hears NOT_SERVING, then its stream ends with the server.
  bool not_serving = false;
  while (!not_serving && watch->Read(&status)) {
    not_serving =
        status.status() == grpc::health::v1::HealthCheckResponse::NOT_SERVING;
  }
  EXPECT_TRUE(not_serving);
  const int exit_status = gateway->Wait();
  EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(
                std::chrono::steady_clock::now() - signalled)
                .count(),
            10);
  ASSERT_TRUE(WIFEXITED(exit_status));
  EXPECT_EQ(WEXITSTATUS(exit_status), 0);
  EXPECT_EQ(DeliveredIds().size(), 20u);  // the drain still delivered
  while (watch->Read(&status)) {
  }
  close(silent);
}

TEST_F(ProcessTest, SecondSignalStopsAtOnceAndKeepsTheRestInTheSpool) {
  // Each API request takes a minute, so the drain (20 s) is still waiting
  // on its first request when the second signal comes.
  sandbox::Faults slow;
  slow.latency = std::chrono::minutes(1);
  sandbox_->SetFaults(slow);
  auto gateway = StartAndSend("s", 50);
  ASSERT_TRUE(gateway->started());
  const auto first = std::chrono::steady_clock::now();
  gateway->Signal(SIGTERM);
  httplib::Client http(absl::StrCat("http://", gateway->http_address()));
  ASSERT_TRUE(WaitFor([&] {
    auto res = http.Get("/readyz");
    return res && res->status == 503;
  }));  // the first signal was taken: draining
  // Another signal within a second of the first is taken for its echo (a
  // closed terminal's SIGHUP, then a script's SIGTERM) and ignored; an
  // operator who signals again later is heard: SIGINT until it ends.
  auto second = std::chrono::steady_clock::now();
  int status = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        gateway->Signal(SIGINT);
        return gateway->Exited(&status);
      },
      std::chrono::seconds(10)));
  EXPECT_GE(std::chrono::steady_clock::now() - first, std::chrono::seconds(1));
  EXPECT_LT(std::chrono::steady_clock::now() - second, std::chrono::seconds(5));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);  // not a clean drain
  // Every accepted event is still in the spool and goes out after restart.
  sandbox_->ClearFaults();
  auto restarted = Start();
  ASSERT_TRUE(restarted->started());
  ASSERT_TRUE(WaitFor([&] { return DeliveredIds().size() == 50; }));
}

TEST_F(ProcessTest, DeliversEveryAcceptedEventAfterKillNine) {
  // Slow API requests (at most 500 events/s delivered) keep a backlog
  // queued, so the kill hits events in the spool and in flight. (With 50 ms
  // and the default batches of 1,000, four at a time, a fast run once
  // delivered everything before the kill.)
  sandbox::Faults slow;
  slow.latency = std::chrono::milliseconds(200);
  sandbox_->SetFaults(slow);
  auto gateway = Start();
  ASSERT_TRUE(gateway->started());

  std::mutex mu;
  std::set<std::string> accepted;  // acknowledged as accepted by the gateway
  std::atomic<bool> stop{false};
  std::atomic<int> sent_requests{0};
  std::string address = gateway->grpc_address();
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      auto stub = v1::ConversionService::NewStub(
          grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
      for (int r = 0; !stop; ++r) {
        v1::SendEventsRequest request =
            Batch(absl::StrCat("k", c, "-", r, "-"), 0, 10);
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(5));
        v1::SendEventsResponse response;
        ++sent_requests;
        if (!stub->SendEvents(&context, request, &response).ok()) continue;
        std::lock_guard<std::mutex> lock(mu);
        for (const auto& result : response.results()) {
          if (result.outcome() == v1::EventResult::OUTCOME_ACCEPTED) {
            accepted.insert(result.event_id());
          }
        }
      }
    });
  }
  // Kill while the clients are still sending, once a backlog exists and
  // some events were delivered: the kill then finds events delivered,
  // in flight and queued.
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return accepted.size() >= 3000;
      },
      std::chrono::seconds(60)));
  ASSERT_TRUE(WaitFor([&] { return DeliveredIds().size() >= 200; },
                      std::chrono::seconds(60)));
  gateway->Signal(SIGKILL);
  gateway->Wait();
  stop = true;
  for (auto& t : clients) t.join();

  size_t accepted_count;
  {
    std::lock_guard<std::mutex> lock(mu);
    accepted_count = accepted.size();
  }
  size_t delivered_before_restart = DeliveredIds().size();
  ASSERT_LT(delivered_before_restart, accepted_count)
      << "the kill came after everything was delivered; nothing was tested";

  sandbox_->ClearFaults();
  auto restarted = Start();
  ASSERT_TRUE(restarted->started());
  ASSERT_TRUE(WaitFor(
      [&] {
        std::set<std::string> delivered = DeliveredIds();
        for (const std::string& id : accepted) {
          if (!delivered.count(id)) return false;
        }
        return true;
      },
      std::chrono::seconds(60)));
  std::set<std::string> delivered = DeliveredIds();
  size_t missing = 0;
  for (const std::string& id : accepted) missing += !delivered.count(id);
  EXPECT_EQ(missing, 0u);
  std::cout << "kill -9: accepted=" << accepted_count
            << " delivered_before_kill=" << delivered_before_restart
            << " delivered_after_restart=" << delivered.size()
            << " missing=" << missing << "\n";
}

}  // namespace
}  // namespace conversions::testing
