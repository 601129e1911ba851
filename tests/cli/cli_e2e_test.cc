// End-to-end tests of conversions-cli: RunCli against an in-process fake
// ConversionService on 127.0.0.1:0 that answers canned results and records
// the requests it got.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "cli/cli.h"
#include "conversions/v1/conversion_service.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/service/temp_dir.h"
#include "tests/service/test_certs.h"

namespace conversions::cli {
namespace {

namespace v1 = ::conversions::v1;
using ::google::protobuf::util::TimeUtil;
using ::testing::HasSubstr;
using ::testing::Not;

// Answers with canned results:
//  - an event whose id starts with "bad" is REJECTED (two violations), any
//    other is ACCEPTED; destination "nope" is NOT_FOUND;
//  - a request of more than 1,000 events is INVALID_ARGUMENT, as the
//    gateway answers it; a SendEvents request whose first event's id starts
//    with "fail" is UNAVAILABLE;
//  - a tag event named "refund" is SKIPPED;
//  - GetEventStatus reports a delivered event;
//  - ListDeadLetters serves three dead letters in pages of two; the last,
//    d2, was sent with validate_only.
class FakeConversionService final
    : public v1::ConversionService::CallbackService {
 public:
  // The HTTP status ValidateEvents reports as the API's, with validate_only.
  std::atomic<int> api_status{200};

  grpc::ServerUnaryReactor* SendEvents(
      grpc::CallbackServerContext* context,
      const v1::SendEventsRequest* request,
      v1::SendEventsResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_send_ = *request;
      auto auth = context->client_metadata().find("authorization");
      last_authorization_ =
          auth == context->client_metadata().end()
              ? ""
              : std::string(auth->second.data(), auth->second.size());
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (request->destination() == "nope") {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                   "unknown destination \"nope\""));
      return reactor;
    }
    if (request->events_size() > 1000) {
      reactor->Finish(TooManyEvents(request->events_size()));
      return reactor;
    }
    if (absl::StartsWith(request->events(0).id(), "fail")) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "draining"));
      return reactor;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      send_sizes_.push_back(request->events_size());
    }
    for (int i = 0; i < request->events_size(); ++i) {
      *response->add_results() = ResultFor(i, request->events(i).id());
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* ValidateEvents(
      grpc::CallbackServerContext* context,
      const v1::ValidateEventsRequest* request,
      v1::ValidateEventsResponse* response) override {
    if (request->events_size() > 1000) {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      reactor->Finish(TooManyEvents(request->events_size()));
      return reactor;
    }
    for (int i = 0; i < request->events_size(); ++i) {
      v1::EventResult result = ResultFor(i, request->events(i).id());
      if (result.outcome() == v1::EventResult::OUTCOME_ACCEPTED) {
        result.set_wire_json("{\"id\":\"" + request->events(i).id() + "\"}");
      }
      *response->add_results() = result;
    }
    if (request->validate_only()) {
      response->mutable_api_validation()->set_http_status(api_status);
      response->mutable_api_validation()->set_message(
          api_status == 200 ? "ok" : "refused");
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* TrackEvents(
      grpc::CallbackServerContext* context,
      const v1::TrackEventsRequest* request,
      v1::TrackEventsResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_track_ = *request;
    }
    if (request->events_size() > 1000) {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      reactor->Finish(TooManyEvents(request->events_size()));
      return reactor;
    }
    for (int i = 0; i < request->events_size(); ++i) {
      const auto& fields = request->events(i).fields();
      v1::EventResult* result = response->add_results();
      result->set_index(i);
      auto name = fields.find("event_name");
      if (name != fields.end() && name->second.string_value() == "refund") {
        result->set_outcome(v1::EventResult::OUTCOME_SKIPPED);
        result->set_skip_reason("event 'refund' has no event mapping");
        continue;
      }
      result->set_event_id("t" + std::to_string(i));
      result->set_outcome(v1::EventResult::OUTCOME_ACCEPTED);
      if (request->dry_run()) {
        result->set_wire_json(R"({"id":"t)" + std::to_string(i) + R"("})");
      }
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* GetEventStatus(
      grpc::CallbackServerContext* context,
      const v1::GetEventStatusRequest* request,
      v1::GetEventStatusResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_status_ = *request;
    }
    if (request->id() == "never-sent") {  // an unknown event
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      reactor->Finish(grpc::Status::OK);
      return reactor;
    }
    response->set_state(v1::DELIVERY_STATE_DELIVERED);
    TimeUtil::FromString("2026-03-19T04:00:00Z",
                         response->mutable_accepted_time());
    TimeUtil::FromString("2026-03-19T04:00:02Z",
                         response->mutable_delivered_time());
    response->set_attempts(1);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* ListDeadLetters(
      grpc::CallbackServerContext* context,
      const v1::ListDeadLettersRequest* request,
      v1::ListDeadLettersResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      list_requests_.push_back(*request);
    }
    // Page one holds d0 and d1, page two ("p2") holds d2.
    const bool second = request->page_token() == "p2";
    for (int i = second ? 2 : 0; i < (second ? 3 : 2); ++i) {
      v1::DeadLetter* dead_letter = response->add_dead_letters();
      dead_letter->set_destination("default");
      dead_letter->set_type(v1::EVENT_TYPE_ORDER_CREATED);
      dead_letter->set_event_id("d" + std::to_string(i));
      dead_letter->set_reason(v1::DEAD_LETTER_REASON_REJECTED);
      dead_letter->set_message("HTTP 400: events[0].id: too long");
      dead_letter->set_attempts(1);
      dead_letter->set_validate_only(i == 2);
      TimeUtil::FromString("2026-03-19T04:00:00Z",
                           dead_letter->mutable_dead_lettered_time());
    }
    if (!second) response->set_next_page_token("p2");
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* RetryDeadLetters(
      grpc::CallbackServerContext* context,
      const v1::RetryDeadLettersRequest* request,
      v1::RetryDeadLettersResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_retry_ = *request;
    }
    // Events whose id starts with "gone" are no dead letters; those whose
    // id starts with "old" are, but their window has closed. Retried by
    // reason, 7 are queued again, and 3 more left when the reason is
    // expired.
    int found = 0;
    int old = 0;
    for (const v1::EventKey& key : request->events()) {
      old += absl::StartsWith(key.id(), "old") ? 1 : 0;
      found += absl::StartsWith(key.id(), "gone") ||
                       absl::StartsWith(key.id(), "old")
                   ? 0
                   : 1;
    }
    if (request->events().empty()) {
      found = 7;
      old = request->reason() == v1::DEAD_LETTER_REASON_EXPIRED ? 3 : 0;
    }
    response->set_requeued_count(found);
    response->set_window_closed_count(old);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  // The number of events of each SendEvents request answered OK.
  std::vector<int> send_sizes() {
    std::lock_guard<std::mutex> lock(mu_);
    return send_sizes_;
  }
  v1::SendEventsRequest last_send() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_send_;
  }
  std::string last_authorization() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_authorization_;
  }
  v1::TrackEventsRequest last_track() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_track_;
  }
  v1::GetEventStatusRequest last_status() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_status_;
  }
  std::vector<v1::ListDeadLettersRequest> list_requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return list_requests_;
  }
  v1::RetryDeadLettersRequest last_retry() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_retry_;
  }

 private:
  static grpc::Status TooManyEvents(int count) {
    return grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        "a request carries 1 to 1000 events, not " + std::to_string(count));
  }

  static v1::EventResult ResultFor(int index, const std::string& id) {
    v1::EventResult result;
    result.set_index(index);
    result.set_event_id(id);
    if (absl::StartsWith(id, "bad")) {
      result.set_outcome(v1::EventResult::OUTCOME_REJECTED);
      v1::FieldViolation* v = result.add_violations();
      v->set_field("data.currency");
      v->set_reason("REQUIRED");
      v->set_description("data.currency is required when amount is set");
      v = result.add_violations();
      v->set_field("source_url");
      v->set_reason("REQUIRED");
      v->set_description("source_url is required for web events");
    } else {
      result.set_outcome(v1::EventResult::OUTCOME_ACCEPTED);
    }
    return result;
  }

  std::mutex mu_;
  v1::SendEventsRequest last_send_;
  v1::TrackEventsRequest last_track_;
  v1::GetEventStatusRequest last_status_;
  std::string last_authorization_;
  std::vector<v1::ListDeadLettersRequest> list_requests_;
  v1::RetryDeadLettersRequest last_retry_;
  std::vector<int> send_sizes_;
};

class CliEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    target_ = "127.0.0.1:" + std::to_string(port);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // Writes `content` to a file in the test's temporary folder.
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = temp_.path() + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  // Runs the CLI through its argc/argv entry point with --target set.
  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"conversions-cli", "--target", target_});
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    out_.str("");
    err_.str("");
    return RunCli(static_cast<int>(args.size()), argv.data(), out_, err_);
  }

  FakeConversionService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string target_;
  conversions::testing::TempDir temp_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(CliEndToEndTest, SendPrintsOneLinePerEventAndExitsZero) {
  const std::string file =
      WriteFile("events.json",
                R"([{"id": "order_12345", "type": "EVENT_TYPE_ORDER_CREATED"},
          {"id": "order_12346", "type": "EVENT_TYPE_ORDER_CREATED"}])");
  EXPECT_EQ(Run({"send", file}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "#0 order_12345 ACCEPTED\n"
            "#1 order_12346 ACCEPTED\n"
            "accepted=2 rejected=0 duplicate=0 skipped=0\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CliEndToEndTest, SendExitsTwoWhenAnEventIsRejected) {
  const std::string file =
      WriteFile("events.json", R"({"events": [{"id": "ok1"}, {"id": "bad"}]})");
  EXPECT_EQ(Run({"send", file}), kExitRejected);
  EXPECT_THAT(out_.str(), HasSubstr("#0 ok1 ACCEPTED\n"));
  EXPECT_THAT(out_.str(),
              HasSubstr("#1 bad REJECTED data.currency REQUIRED: "
                        "data.currency is required when amount is set\n"
                        "#1 bad REJECTED source_url REQUIRED: "));
  EXPECT_THAT(out_.str(), HasSubstr("accepted=1 rejected=1"));
}

TEST_F(CliEndToEndTest, SendPassesDestinationAndValidateOnly) {
  const std::string file = WriteFile("events.json", R"([{"id": "o1"}])");
  ASSERT_EQ(Run({"send", file, "--destination", "sandbox", "--validate-only"}),
            kExitOk)
      << err_.str();
  const v1::SendEventsRequest request = service_.last_send();
  EXPECT_EQ(request.destination(), "sandbox");
  EXPECT_TRUE(request.validate_only());
  ASSERT_EQ(request.events_size(), 1);
  EXPECT_EQ(request.events(0).id(), "o1");
}

// ACCEPTED of a validate_only send means queued for the API to check, not a
// conversion on its way: the output says so first, whether the flag or the
// file asked for it.
TEST_F(CliEndToEndTest, SendAndTrackSayWhenTheyAreValidateOnly) {
  const std::string file = WriteFile("events.json", R"([{"id": "o1"}])");
  const std::string expected =
      "validate-only: accepted events go to the API to be validated, never "
      "saved as conversions; status shows each one's verdict\n"
      "#0 o1 ACCEPTED\n"
      "accepted=1 rejected=0 duplicate=0 skipped=0\n";
  EXPECT_EQ(Run({"send", file, "--validate-only"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(), expected);
  const std::string in_file = WriteFile(
      "validate.json", R"({"validate_only": true, "events": [{"id": "o1"}]})");
  EXPECT_EQ(Run({"send", in_file}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(), expected);
  const std::string tag =
      WriteFile("tag.json", R"([{"event_name": "purchase"}])");
  EXPECT_EQ(Run({"track", tag, "--validate-only"}), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), ::testing::StartsWith("validate-only: "));
  EXPECT_TRUE(service_.last_track().validate_only());
  EXPECT_EQ(Run({"track", tag}), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), Not(HasSubstr("validate-only")));
}

// track --dry-run (or "dry_run": true in the file) asks the gateway to
// map only, says so first, and prints each accepted event's wire JSON.
TEST_F(CliEndToEndTest, TrackDryRunPrintsTheWireJson) {
  const std::string tag = WriteFile(
      "tag.json", R"([{"event_name": "purchase"}, {"event_name": "refund"}])");
  const std::string expected =
      "dry-run: mapped and checked only, nothing stored or sent\n"
      "#0 t0 ACCEPTED\n"
      "    wire_json {\"id\":\"t0\"}\n"
      "#1 \"\" SKIPPED event 'refund' has no event mapping\n"
      "accepted=1 rejected=0 duplicate=0 skipped=1\n";
  EXPECT_EQ(Run({"track", tag, "--dry-run"}), kExitOk) << err_.str();
  EXPECT_TRUE(service_.last_track().dry_run());
  EXPECT_EQ(out_.str(), expected);
  const std::string in_file = WriteFile(
      "dry.json", R"({"dry_run": true, "events": [{"event_name": "x"}]})");
  EXPECT_EQ(Run({"track", in_file}), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(), ::testing::StartsWith("dry-run: "));
  EXPECT_EQ(Run({"send", in_file, "--dry-run"}), kExitError);
}

TEST_F(CliEndToEndTest, SendsTheTokenOfTheEnvironmentAsBearer) {
  std::istringstream in(R"([{"id": "o1"}])");
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunCli({"send", "-"}, target_, in, out, err, "tok-0123456789abc"),
            kExitOk)
      << err.str();
  EXPECT_EQ(service_.last_authorization(), "Bearer tok-0123456789abc");
  std::istringstream again(R"([{"id": "o2"}])");
  EXPECT_EQ(RunCli({"send", "-"}, target_, again, out, err), kExitOk);
  EXPECT_EQ(service_.last_authorization(), "");
}

// Serves `service` over TLS with `cert` on a free loopback port and returns
// the server (null on failure), its target in `*target`. With `client_ca`,
// clients must present a certificate it signed (mutual TLS).
std::unique_ptr<grpc::Server> StartTlsServer(
    FakeConversionService* service, const conversions::testing::TestCert& cert,
    const std::string& client_ca, std::string* target) {
  grpc::SslServerCredentialsOptions tls(
      client_ca.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_key_cert_pairs.push_back({cert.key_pem, cert.cert_pem});
  tls.pem_root_certs = client_ca;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(tls),
                           &port);
  builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  *target = "127.0.0.1:" + std::to_string(port);
  return server;
}

TEST(CliTlsTest, ConnectsWithTlsTrustingTheCaFile) {
  conversions::testing::TestCert cert =
      conversions::testing::MakeSelfSignedCert();
  ASSERT_FALSE(cert.cert_pem.empty());
  FakeConversionService service;
  std::string target;
  std::unique_ptr<grpc::Server> server =
      StartTlsServer(&service, cert, "", &target);
  ASSERT_NE(server, nullptr);
  conversions::testing::TempDir temp;
  const std::string ca = temp.path() + "/ca.pem";
  std::ofstream(ca) << cert.cert_pem;

  std::ostringstream out, err;
  std::istringstream in(R"([{"id": "o1"}])");
  EXPECT_EQ(RunCli({"send", "-", "--ca-file", ca, "--timeout", "5s"}, target,
                   in, out, err),
            kExitOk)
      << err.str();
  EXPECT_EQ(service.last_send().events(0).id(), "o1");
  // Plaintext to a TLS server fails; so does a CA file that is not one.
  std::istringstream again(R"([{"id": "o2"}])");
  EXPECT_EQ(RunCli({"send", "-", "--timeout", "2s"}, target, again, out, err),
            kExitError);
  std::istringstream third(R"([{"id": "o3"}])");
  std::ostringstream bad_err;
  EXPECT_EQ(RunCli({"send", "-", "--ca-file", temp.path() + "/none.pem"},
                   target, third, out, bad_err),
            kExitError);
  EXPECT_THAT(bad_err.str(), HasSubstr("cannot read a PEM certificate"));
  // https://HOST:PORT is taken, and means TLS (ParseTargetTest shows it
  // without --ca-file: no test server has a certificate the system trusts).
  std::istringstream fourth(R"([{"id": "o4"}])");
  std::ostringstream https_err;
  EXPECT_EQ(RunCli({"send", "-", "--ca-file", ca, "--timeout", "5s"},
                   "https://" + target, fourth, out, https_err),
            kExitOk)
      << https_err.str();
  std::istringstream fifth(R"([{"id": "o5"}])");
  ASSERT_EQ(RunCli({"send", "-", "--timeout", "5s", "--target",
                    "https://" + target, "--ca-file", ca},
                   std::nullopt, fifth, out, https_err),
            kExitOk)
      << https_err.str();
  EXPECT_EQ(service.last_send().events(0).id(), "o5");
  server->Shutdown();
}

TEST(CliTlsTest, PresentsTheClientCertificateOfCertAndKeyFiles) {
  using conversions::testing::MakeCert;
  using conversions::testing::MakeClientCert;
  using conversions::testing::TestCert;
  TestCert server_cert = conversions::testing::MakeSelfSignedCert();
  TestCert client_ca = MakeCert("client CA", "", true, nullptr);
  TestCert client = MakeClientCert(client_ca, "ops");
  ASSERT_FALSE(client.cert_pem.empty());
  FakeConversionService service;
  std::string target;
  std::unique_ptr<grpc::Server> server =
      StartTlsServer(&service, server_cert, client_ca.cert_pem, &target);
  ASSERT_NE(server, nullptr);
  conversions::testing::TempDir temp;
  const std::string ca = temp.path() + "/ca.pem";
  const std::string cert = temp.path() + "/client.pem";
  const std::string key = temp.path() + "/client.key";
  std::ofstream(ca) << server_cert.cert_pem;
  std::ofstream(cert) << client.cert_pem;
  std::ofstream(key) << client.key_pem;

  std::ostringstream out, err;
  std::istringstream in(R"([{"id": "o1"}])");
  EXPECT_EQ(RunCli({"send", "-", "--ca-file", ca, "--cert-file", cert,
                    "--key-file", key, "--timeout", "5s"},
                   target, in, out, err),
            kExitOk)
      << err.str();
  EXPECT_EQ(service.last_send().events(0).id(), "o1");
  // Without the client certificate the handshake fails.
  std::istringstream again(R"([{"id": "o2"}])");
  EXPECT_EQ(RunCli({"send", "-", "--ca-file", ca, "--timeout", "2s"}, target,
                   again, out, err),
            kExitError);
  // The two flags go together; a key file without a key is refused, and
  // never printed.
  std::istringstream third(R"([{"id": "o3"}])");
  std::ostringstream alone_err;
  EXPECT_EQ(RunCli({"send", "-", "--ca-file", ca, "--cert-file", cert}, target,
                   third, out, alone_err),
            kExitError);
  EXPECT_THAT(alone_err.str(), HasSubstr("--cert-file and --key-file go"));
  std::istringstream fourth(R"([{"id": "o4"}])");
  std::ostringstream key_err;
  EXPECT_EQ(RunCli({"send", "-", "--ca-file", ca, "--cert-file", cert,
                    "--key-file", cert},
                   target, fourth, out, key_err),
            kExitError);
  EXPECT_THAT(key_err.str(), HasSubstr("cannot read a PEM private key"));
  EXPECT_THAT(key_err.str(), Not(HasSubstr("BEGIN")));
  server->Shutdown();
}

TEST_F(CliEndToEndTest, SendReadsStandardInput) {
  std::istringstream in(R"([{"id": "from_stdin"}])");
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunCli({"send", "-"}, target_, in, out, err), kExitOk) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("#0 from_stdin ACCEPTED"));
}

// A JSON array of `count` events, the id of event i id(i); with a
// source_url of `url_bytes` bytes when not 0.
std::string ManyEvents(int count, const std::function<std::string(int)>& id,
                       size_t url_bytes = 0) {
  std::string json = "[";
  const std::string url =
      url_bytes == 0 ? ""
                     : ", \"source_url\": \"https://shop.example.com/" +
                           std::string(url_bytes, 'p') + "\"";
  for (int i = 0; i < count; ++i) {
    json += (i == 0 ? "" : ",\n") + std::string("{\"id\": \"") + id(i) + "\"" +
            url + "}";
  }
  return json + "]";
}

// The API takes 1,000 events a request: a bigger file goes in several, and
// the output is the one a single request would give (indexes in the file,
// one count line, exit 2 for the rejected event).
TEST_F(CliEndToEndTest, SendSplitsMoreThan1000EventsAndReportsThemAsOne) {
  auto id = [](int i) { return (i == 1700 ? "bad" : "e") + std::to_string(i); };
  const std::string file = WriteFile("events.json", ManyEvents(2500, id));
  EXPECT_EQ(Run({"send", file}), kExitRejected) << err_.str();
  EXPECT_EQ(service_.send_sizes(), (std::vector<int>{1000, 1000, 500}));
  std::string expected;
  for (int i = 0; i < 2500; ++i) {
    if (i == 1700) {
      expected +=
          "#1700 bad1700 REJECTED data.currency REQUIRED: data.currency is "
          "required when amount is set\n"
          "#1700 bad1700 REJECTED source_url REQUIRED: source_url is "
          "required for web events\n";
    } else {
      expected += "#" + std::to_string(i) + " " + id(i) + " ACCEPTED\n";
    }
  }
  expected += "accepted=2499 rejected=1 duplicate=0 skipped=0\n";
  EXPECT_EQ(out_.str(), expected);
  EXPECT_EQ(err_.str(), "");

  EXPECT_EQ(Run({"--json", "send", file}), kExitRejected) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("\"index\": 2499"));
  EXPECT_THAT(out_.str(), HasSubstr("\"event_id\": \"e2499\""));
}

// 1,000 events of 6 KB each are 6 MB, over the 4 MiB a gRPC server takes
// by default (this one's limit too): they go in several requests.
TEST_F(CliEndToEndTest, SendSplitsByBytesToStayUnderTheMessageLimit) {
  const std::string file =
      WriteFile("events.json",
                ManyEvents(
                    1000, [](int i) { return "e" + std::to_string(i); }, 6000));
  EXPECT_EQ(Run({"send", file}), kExitOk) << err_.str();
  const std::vector<int> sizes = service_.send_sizes();
  EXPECT_GT(sizes.size(), 1u);
  int total = 0;
  for (int size : sizes) total += size;
  EXPECT_EQ(total, 1000);
  EXPECT_THAT(out_.str(), HasSubstr("#999 e999 ACCEPTED\naccepted=1000 "));
}

// Events accepted before a request fails are stored: their results are
// shown and the error says which events were not sent.
TEST_F(CliEndToEndTest, SendThatFailsHalfwaySaysWhichEventsWereSent) {
  const std::string file =
      WriteFile("events.json", ManyEvents(1500, [](int i) {
                  return (i == 1000 ? "fail" : "e") + std::to_string(i);
                }));
  EXPECT_EQ(Run({"send", file}), kExitError);
  EXPECT_THAT(out_.str(), HasSubstr("#999 e999 ACCEPTED\n"
                                    "accepted=1000 rejected=0 duplicate=0 "
                                    "skipped=0\n"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("#1000 ")));
  EXPECT_EQ(err_.str(),
            "error: UNAVAILABLE: draining\n"
            "error: events #0 to #999 of 1500 were sent (results above), "
            "#1000 to #1499 were not\n");
}

// When the first request of a split file fails, the error says that no
// event of the file was sent (the later requests are not made).
TEST_F(CliEndToEndTest, SendWhoseFirstRequestFailsSaysNoneWasSent) {
  const std::string file =
      WriteFile("events.json", ManyEvents(1500, [](int i) {
                  return (i == 0 ? "fail" : "e") + std::to_string(i);
                }));
  EXPECT_EQ(Run({"send", file}), kExitError);
  EXPECT_EQ(err_.str(),
            "error: UNAVAILABLE: draining\n"
            "error: none of the 1500 events was sent (the file's later "
            "requests were not made)\n");
}

TEST_F(CliEndToEndTest, ValidateSplitsAndShowsTheApiAnswerOfEachRequest) {
  const std::string file = WriteFile("events.json", ManyEvents(1500, [](int i) {
                                       return "e" + std::to_string(i);
                                     }));
  EXPECT_EQ(Run({"validate", file, "--validate-only"}), kExitOk) << err_.str();
  EXPECT_THAT(out_.str(),
              HasSubstr("#1499 e1499 ACCEPTED\n"
                        "    wire_json {\"id\":\"e1499\"}\n"
                        "api_validation events=#0-#999 http_status=200 "
                        "message=ok\n"
                        "api_validation events=#1000-#1499 http_status=200 "
                        "message=ok\n"
                        "accepted=1500 rejected=0 duplicate=0 skipped=0\n"));
  service_.api_status = 400;
  EXPECT_EQ(Run({"validate", file, "--validate-only"}), kExitRejected);
  EXPECT_EQ(err_.str(),
            "error: the API refused events #0 to #999 (HTTP 400)\n"
            "error: the API refused events #1000 to #1499 (HTTP 400)\n");
}

TEST_F(CliEndToEndTest, TrackSplitsMoreThan1000Events) {
  std::string json = "[";
  for (int i = 0; i < 1001; ++i) {
    json += (i == 0 ? "" : ",") + std::string("{\"event_name\": \"purchase\"}");
  }
  const std::string file = WriteFile("tag.json", json + "]");
  EXPECT_EQ(Run({"track", file}), kExitOk) << err_.str();
  EXPECT_EQ(service_.last_track().events_size(), 1);
  EXPECT_THAT(out_.str(), HasSubstr("#1000 t0 ACCEPTED\naccepted=1001 "));
}

TEST_F(CliEndToEndTest, SendWithJsonPrintsTheResponse) {
  const std::string file = WriteFile("events.json", R"([{"id": "bad1"}])");
  EXPECT_EQ(Run({"--json", "send", file}), kExitRejected);
  EXPECT_THAT(out_.str(), HasSubstr("\"outcome\": \"OUTCOME_REJECTED\""));
  EXPECT_THAT(out_.str(), HasSubstr("\"field\": \"data.currency\""));
}

TEST_F(CliEndToEndTest, RpcErrorPrintsCodeNameAndExitsOne) {
  const std::string file = WriteFile("events.json", R"([{"id": "o1"}])");
  EXPECT_EQ(Run({"send", file, "--destination", "nope"}), kExitError);
  EXPECT_EQ(err_.str(), "error: NOT_FOUND: unknown destination \"nope\"\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CliEndToEndTest, BadFileIsAUsageErrorAndSendsNothing) {
  const std::string file = WriteFile("events.json", R"([{"idd": "o1"}])");
  EXPECT_EQ(Run({"send", file}), kExitError);
  EXPECT_THAT(err_.str(), HasSubstr("idd"));
  EXPECT_EQ(service_.last_send().events_size(), 0);
}

// A URL is what people paste; http:// is plaintext. A target without a
// port is refused before any call, not left to gRPC's resolver.
TEST_F(CliEndToEndTest, TargetMayBeAnHttpUrlAndNeedsAPort) {
  const std::string file = WriteFile("events.json", R"([{"id": "o1"}])");
  ASSERT_EQ(Run({"send", file, "--target", "http://" + target_ + "/"}), kExitOk)
      << err_.str();
  EXPECT_EQ(service_.last_send().events(0).id(), "o1");
  EXPECT_EQ(Run({"send", file, "--target", "127.0.0.1"}), kExitError);
  EXPECT_EQ(err_.str(),
            "error: --target \"127.0.0.1\" has no port; use HOST:PORT, e.g. "
            "127.0.0.1:50051 (https://HOST means port 443)\n");
}

TEST_F(CliEndToEndTest, AFileThatCannotBeReadIsNamedWithTheReason) {
  const std::string missing = temp_.path() + "/events.json";
  EXPECT_EQ(Run({"send", missing}), kExitError);
  EXPECT_EQ(err_.str(),
            "error: cannot read " + missing + ": No such file or directory\n");
  EXPECT_EQ(Run({"validate", temp_.path()}), kExitError);
  EXPECT_EQ(err_.str(),
            "error: cannot read " + temp_.path() + ": Is a directory\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CliEndToEndTest, ValidatePrintsWireJsonAndApiValidation) {
  const std::string file =
      WriteFile("events.json", R"([{"id": "o1"}, {"id": "bad2"}])");
  EXPECT_EQ(Run({"validate", file, "--validate-only"}), kExitRejected);
  EXPECT_EQ(out_.str(),
            "#0 o1 ACCEPTED\n"
            "    wire_json {\"id\":\"o1\"}\n"
            "#1 bad2 REJECTED data.currency REQUIRED: data.currency is "
            "required when amount is set\n"
            "#1 bad2 REJECTED source_url REQUIRED: source_url is required "
            "for web events\n"
            "api_validation http_status=200 message=ok\n"
            "accepted=1 rejected=1 duplicate=0 skipped=0\n");
}

// The API's own answer to validate_only decides the exit status too: a
// pipeline must not pass events the API refuses.
TEST_F(CliEndToEndTest, ValidateOnlyExitsNonZeroWhenTheApiRefuses) {
  const std::string file = WriteFile("events.json", R"([{"id": "o1"}])");
  for (const auto& [status, exit_code] :
       std::vector<std::pair<int, int>>{{400, kExitRejected},
                                        {422, kExitRejected},
                                        {401, kExitError},
                                        {503, kExitError},
                                        {0, kExitError},
                                        {200, kExitOk}}) {
    SCOPED_TRACE(status);
    service_.api_status = status;
    out_.str("");
    err_.str("");
    EXPECT_EQ(Run({"validate", file, "--validate-only"}), exit_code);
    if (exit_code != kExitOk) {
      EXPECT_THAT(err_.str(), HasSubstr("error: the API"));
    }
  }
}

// A token from a file ends with a newline: it is trimmed, not sent (gRPC
// aborted on it, printing it); one that no header can carry is refused
// without being shown.
TEST_F(CliEndToEndTest, TheTokenIsTrimmedOrRefusedNeverShown) {
  const std::string file = WriteFile("events.json", R"([{"id": "o1"}])");
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_EQ(RunCli({"send", file}, target_, in, out, err,
                   std::string("tok-0123456789abc\r\n")),
            kExitOk)
      << err.str();
  EXPECT_EQ(service_.last_authorization(), "Bearer tok-0123456789abc");
  for (const std::string& token : {std::string("tok-01234\t56789"),
                                   std::string("t\xC3\xB6k-0123456789")}) {
    std::ostringstream refused;
    EXPECT_EQ(RunCli({"send", file}, target_, in, out, refused, token),
              kExitError);
    EXPECT_THAT(refused.str(),
                HasSubstr("CONVERSIONS_TOKEN holds a character"));
    EXPECT_THAT(refused.str(), Not(HasSubstr("0123456789")));
  }
}

// A file that is not JSON is refused with where, never with what it holds
// (clear-text identifiers); one event on its own is taken as a list of one.
TEST_F(CliEndToEndTest, FileErrorsSayWhereNotWhat) {
  const std::string bad = WriteFile(
      "bad.json",
      "[{\"id\": \"o1\", \"user\": {\"emails\": [\"Person@Example.com\" "
      "\"+14155552671\"]}}]\n");
  EXPECT_EQ(Run({"send", bad}), kExitError);
  EXPECT_THAT(err_.str(), HasSubstr("not valid JSON (RFC 8259): "));
  EXPECT_THAT(err_.str(), HasSubstr("at line 1, column "));
  EXPECT_THAT(err_.str(), Not(HasSubstr("Example.com")));
  EXPECT_THAT(err_.str(), Not(HasSubstr("4155552671")));
  EXPECT_EQ(service_.last_send().events_size(), 0);

  const std::string one = WriteFile("one.json", R"({"id": "single"})");
  err_.str("");
  EXPECT_EQ(Run({"send", one}), kExitOk) << err_.str();
  ASSERT_EQ(service_.last_send().events_size(), 1);
  EXPECT_EQ(service_.last_send().events(0).id(), "single");
}

TEST_F(CliEndToEndTest, TrackSendsJsonObjectsAsStructs) {
  const std::string file =
      WriteFile("tag.json",
                R"([{"event_name": "purchase", "context": {"event_id": "o1"},
           "value": 12.5},
          {"event_name": "refund"}])");
  EXPECT_EQ(Run({"track", file}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "#0 t0 ACCEPTED\n"
            "#1 \"\" SKIPPED event 'refund' has no event mapping\n"
            "accepted=1 rejected=0 duplicate=0 skipped=1\n");
  const v1::TrackEventsRequest request = service_.last_track();
  ASSERT_EQ(request.events_size(), 2);
  EXPECT_DOUBLE_EQ(request.events(0).fields().at("value").number_value(), 12.5);
}

// A file with "events" is the request: its own mistake is a file error
// (exit 1, nothing sent), where track used to send the whole file as one
// tag event and print the gateway's "#0 REJECTED event_name ..." (exit 2).
TEST_F(CliEndToEndTest, TrackReportsTheRequestsErrorAndSendsNothing) {
  const std::string events =
      R"([{"event_name": "purchase", "context": {"event_id": "o1"}}])";
  struct Case {
    std::string json;
    std::string problem;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"events": )" + events + R"(, "foo": 1})",
            "unknown field \"foo\""},
           {R"({"events": )" + events + R"(, "validate_only": 1})",
            "validate_only must be true or false (a JSON boolean), not a "
            "number"},
           // Read as true by protobuf's parser: a dry run, not a send.
           {R"({"events": )" + events + R"(, "dry_run": "yes"})",
            "dry_run must be true or false (a JSON boolean), not a string"},
           {R"({"events": )" + events + R"(, "destination": 123})",
            "(destination): invalid value for type TYPE_STRING"},
           {R"({"events": "Person@Example.com"})",
            "events must be a list of tag events, not a string"},
       }) {
    SCOPED_TRACE(c.json);
    const std::string file = WriteFile("events.json", c.json);
    EXPECT_EQ(Run({"track", file}), kExitError);
    EXPECT_EQ(err_.str(), "error: " + file + ": " + c.problem + "\n");
    EXPECT_EQ(out_.str(), "");
    EXPECT_EQ(service_.last_track().events_size(), 0);
  }

  // One tag event without "events" is still sent as one event.
  const std::string one = WriteFile(
      "one.json", R"({"event_name": "purchase", "destination": "sandbox"})");
  EXPECT_EQ(Run({"track", one}), kExitOk) << err_.str();
  const v1::TrackEventsRequest request = service_.last_track();
  ASSERT_EQ(request.events_size(), 1);
  EXPECT_EQ(request.events(0).fields().at("event_name").string_value(),
            "purchase");
  EXPECT_EQ(request.destination(), "");
}

// send words the same mistakes as track does, and sends nothing either.
TEST_F(CliEndToEndTest, SendReportsTheRequestsErrorAndSendsNothing) {
  const std::string file = WriteFile(
      "events.json", R"({"events": [{"id": "o1"}], "validate_only": "0"})");
  EXPECT_EQ(Run({"send", file}), kExitError);
  EXPECT_EQ(err_.str(), "error: " + file +
                            ": validate_only must be true or false (a JSON "
                            "boolean), not a string\n");
  EXPECT_EQ(service_.last_send().events_size(), 0);
}

// An unknown event is no error of the call, but a script must tell it
// from a found one: exit 3.
TEST_F(CliEndToEndTest, StatusOfAnUnknownEventExits3) {
  EXPECT_EQ(Run({"status", "--type", "order_created", "--id", "never-sent"}),
            kExitUnknownEvent)
      << err_.str();
  EXPECT_EQ(out_.str(),
            "unknown: no such event for this destination (never accepted, "
            "or pruned after the retention window)\n");
  EXPECT_EQ(err_.str(), "");
}

TEST_F(CliEndToEndTest, StatusPrintsStateAndRfc3339Times) {
  EXPECT_EQ(Run({"status", "--type", "order_created", "--id", "o1",
                 "--destination", "default"}),
            kExitOk)
      << err_.str();
  EXPECT_EQ(out_.str(),
            "state: DELIVERED\n"
            "accepted_time: 2026-03-19T04:00:00Z\n"
            "delivered_time: 2026-03-19T04:00:02Z\n"
            "attempts: 1\n");
  const v1::GetEventStatusRequest request = service_.last_status();
  EXPECT_EQ(request.type(), v1::EVENT_TYPE_ORDER_CREATED);
  EXPECT_EQ(request.id(), "o1");
  EXPECT_EQ(request.destination(), "default");
}

TEST_F(CliEndToEndTest, DeadLettersListShowsOnePageAndTheNextToken) {
  EXPECT_EQ(
      Run({"dead-letters", "list", "--reason", "rejected", "--page-size", "2"}),
      kExitOk)
      << err_.str();
  EXPECT_EQ(out_.str(),
            "2026-03-19T04:00:00Z default order_created:d0 REJECTED "
            "attempts=1 HTTP 400: events[0].id: too long\n"
            "2026-03-19T04:00:00Z default order_created:d1 REJECTED "
            "attempts=1 HTTP 400: events[0].id: too long\n"
            "dead_letters=2 next_page_token=p2\n");
  const auto requests = service_.list_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].reason(), v1::DEAD_LETTER_REASON_REJECTED);
  EXPECT_EQ(requests[0].page_size(), 2);
  EXPECT_EQ(requests[0].page_token(), "");
  // The token printed takes the next page.
  out_.str("");
  EXPECT_EQ(Run({"dead-letters", "list", "--reason", "rejected", "--page-size",
                 "2", "--page-token", "p2"}),
            kExitOk)
      << err_.str();
  ASSERT_EQ(service_.list_requests().size(), 2u);
  EXPECT_EQ(service_.list_requests()[1].page_token(), "p2");
  EXPECT_THAT(out_.str(), HasSubstr("dead_letters="));
  EXPECT_THAT(out_.str(), Not(HasSubstr("next_page_token")));
}

TEST_F(CliEndToEndTest, DeadLettersListAllFollowsPageTokens) {
  EXPECT_EQ(Run({"dead-letters", "list", "--all", "--json"}), kExitOk)
      << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("\"event_id\": \"d0\""));
  EXPECT_THAT(out_.str(), HasSubstr("\"event_id\": \"d2\""));
  EXPECT_THAT(out_.str(), HasSubstr("\"next_page_token\": \"\""));
  const auto requests = service_.list_requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].page_token(), "p2");
}

// A validate_only check the API refused is marked in the line; --json
// carries the field for every dead letter.
TEST_F(CliEndToEndTest, DeadLettersListMarksValidateOnlyChecks) {
  EXPECT_EQ(Run({"dead-letters", "list", "--all"}), kExitOk) << err_.str();
  EXPECT_EQ(out_.str(),
            "2026-03-19T04:00:00Z default order_created:d0 REJECTED "
            "attempts=1 HTTP 400: events[0].id: too long\n"
            "2026-03-19T04:00:00Z default order_created:d1 REJECTED "
            "attempts=1 HTTP 400: events[0].id: too long\n"
            "2026-03-19T04:00:00Z default order_created:d2 REJECTED "
            "validate-only attempts=1 HTTP 400: events[0].id: too long\n"
            "dead_letters=3\n");
  out_.str("");
  EXPECT_EQ(Run({"dead-letters", "list", "--all", "--json"}), kExitOk)
      << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("\"validate_only\": false"));
  EXPECT_THAT(out_.str(), HasSubstr("\"validate_only\": true"));
  v1::ListDeadLettersResponse listed;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(out_.str(), &listed).ok());
  ASSERT_EQ(listed.dead_letters_size(), 3);
  EXPECT_FALSE(listed.dead_letters(0).validate_only());
  EXPECT_FALSE(listed.dead_letters(1).validate_only());
  EXPECT_EQ(listed.dead_letters(2).event_id(), "d2");
  EXPECT_TRUE(listed.dead_letters(2).validate_only());
}

TEST_F(CliEndToEndTest, DeadLettersRetrySendsTheSelectedKeys) {
  EXPECT_EQ(Run({"dead-letters", "retry", "--event", "order_created:d0",
                 "custom/wishlist_add:w1"}),
            kExitOk)
      << err_.str();
  EXPECT_EQ(out_.str(), "requeued=2\n");
  const v1::RetryDeadLettersRequest request = service_.last_retry();
  ASSERT_EQ(request.events_size(), 2);
  EXPECT_EQ(request.events(1).custom_event_name(), "wishlist_add");
  EXPECT_EQ(request.events(1).id(), "w1");
}

// An event named that is not queued again (a typo, one delivered) is
// said, with exit 3, not passed over with requeued=0 and exit 0.
TEST_F(CliEndToEndTest, DeadLettersRetrySaysWhenNamedEventsAreNotRequeued) {
  EXPECT_EQ(Run({"dead-letters", "retry", "--event", "order_created:d0",
                 "order_created:gone1", "order_created:gone1"}),
            kExitUnknownEvent);
  EXPECT_EQ(out_.str(), "requeued=1\n");
  EXPECT_EQ(err_.str(),
            "error: 1 of 2 events named are not dead letters of this "
            "destination (unknown, already queued or delivered)\n");
}

// --lane sets the request's lane; without it, the field stays unset (both
// lanes).
TEST_F(CliEndToEndTest, DeadLettersOfOneLane) {
  EXPECT_EQ(Run({"dead-letters", "list", "--lane", "conversions"}), kExitOk)
      << err_.str();
  ASSERT_EQ(service_.list_requests().size(), 1u);
  EXPECT_TRUE(service_.list_requests()[0].has_validate_only());
  EXPECT_FALSE(service_.list_requests()[0].validate_only());
  EXPECT_EQ(Run({"dead-letters", "retry", "--lane", "validate-only", "--reason",
                 "rejected"}),
            kExitOk)
      << err_.str();
  EXPECT_TRUE(service_.last_retry().has_validate_only());
  EXPECT_TRUE(service_.last_retry().validate_only());
  EXPECT_EQ(Run({"dead-letters", "retry", "--reason", "rejected"}), kExitOk)
      << err_.str();
  EXPECT_FALSE(service_.last_retry().has_validate_only());
}

TEST_F(CliEndToEndTest, DeadLettersRetryByReason) {
  EXPECT_EQ(Run({"dead-letters", "retry", "--reason", "rejected"}), kExitOk)
      << err_.str();
  EXPECT_EQ(out_.str(), "requeued=7\n");
  EXPECT_EQ(err_.str(), "");
  EXPECT_EQ(service_.last_retry().reason(), v1::DEAD_LETTER_REASON_REJECTED);
}

// The gateway leaves dead letters whose window has closed as they are and
// counts them: the CLI prints the count and a note, and a named event left
// so is not "unknown". --force, once needed here, is still accepted.
TEST_F(CliEndToEndTest, DeadLettersRetrySaysWhichWindowsHaveClosed) {
  EXPECT_EQ(Run({"dead-letters", "retry", "--reason", "expired"}), kExitOk)
      << err_.str();
  EXPECT_EQ(out_.str(), "requeued=7\nwindow_closed=3\n");
  EXPECT_EQ(err_.str(),
            "note: 3 dead letters were left as they are: their 7-day window "
            "has closed, so the API would refuse them\n");
  EXPECT_EQ(service_.last_retry().reason(), v1::DEAD_LETTER_REASON_EXPIRED);
  out_.str("");
  err_.str("");
  EXPECT_EQ(Run({"dead-letters", "retry", "--force", "--event",
                 "order_created:d0", "order_created:old1"}),
            kExitOk)
      << err_.str();
  EXPECT_EQ(out_.str(), "requeued=1\nwindow_closed=1\n");
}

TEST_F(CliEndToEndTest, UsageErrorExitsOneWithoutCallingTheServer) {
  EXPECT_EQ(Run({"status", "--id", "o1"}), kExitError);
  EXPECT_EQ(err_.str(), "error: status needs --type\n");
}

TEST_F(CliEndToEndTest, HelpPrintsCommandHelpAndExitsZero) {
  EXPECT_EQ(Run({"dead-letters", "list", "--help"}), kExitOk);
  EXPECT_THAT(out_.str(),
              HasSubstr("Usage: conversions-cli dead-letters list"));
}

}  // namespace
}  // namespace conversions::cli
