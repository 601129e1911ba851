// TLS on the gateway's listeners (config `tls`): gRPC and HTTP over TLS with
// a certificate made at test time; plaintext clients are refused.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/service/test_certs.h"

namespace conversions::testing {
namespace {

// Starts the sandbox only: each TLS fixture starts its own gateway.
class TlsFixture : public GatewayFixture {
 protected:
  void StartSandbox() {
    auto sandbox = sandbox::Sandbox::Start(sandbox::SandboxOptions());
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    sandbox_ = std::move(*sandbox);
  }

  // Sends one purchase through `stub`, with a 5 s deadline.
  grpc::Status SendWith(v1::ConversionService::Stub* stub,
                        const std::string& id) {
    v1::SendEventsRequest request;
    *request.add_events() = Purchase(id);
    v1::SendEventsResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    return stub->SendEvents(&context, request, &response);
  }
};

class TlsTest : public TlsFixture {
 protected:
  void SetUp() override {
    StartSandbox();
    if (HasFatalFailure()) return;
    cert_ = MakeSelfSignedCert();
    ASSERT_FALSE(cert_.cert_pem.empty());
    cert_path_ = dir_.path() + "/tls.crt";
    key_path_ = dir_.path() + "/tls.key";
    std::ofstream(cert_path_) << cert_.cert_pem;
    std::ofstream(key_path_) << cert_.key_pem;
    service::GatewayConfig config = Config();
    config.tls.cert_file = cert_path_;
    config.tls.key_file = key_path_;
    config.tls.cert_pem = cert_.cert_pem;
    config.tls.key_pem = cert_.key_pem;
    StartGateway(std::move(config));
  }

  std::unique_ptr<v1::ConversionService::Stub> TlsStub() {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = cert_.cert_pem;
    return v1::ConversionService::NewStub(grpc::CreateChannel(
        gateway_->grpc_address(), grpc::SslCredentials(options)));
  }

  TestCert cert_;
  std::string cert_path_, key_path_;
};

TEST_F(TlsTest, GrpcOverTlsIsServedAndDelivered) {
  auto stub = TlsStub();
  grpc::Status status = SendWith(stub.get(), "tls-1");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(Delivered(1));
}

TEST_F(TlsTest, PlaintextGrpcIsRefused) {
  // stub_ is the fixture's plaintext channel.
  grpc::Status status = SendWith(stub_.get(), "plain-1");
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, HttpEndpointsAreServedOverTlsOnly) {
  const std::string port =
      gateway_->http_address().substr(gateway_->http_address().rfind(':') + 1);
  httplib::SSLClient tls("127.0.0.1", std::stoi(port));
  tls.set_ca_cert_path(cert_path_.c_str());
  tls.enable_server_certificate_verification(true);
  auto health = tls.Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  httplib::Client plain(absl::StrCat("http://", gateway_->http_address()));
  plain.set_read_timeout(std::chrono::seconds(2));
  auto refused = plain.Get("/healthz");
  EXPECT_TRUE(!refused || refused->status != 200);
}

// Mutual TLS (tls.client_ca_file): a client certificate from the client CA
// is needed for gRPC, and for POST /v1/track; probes need none.
class MutualTlsTest : public TlsFixture {
 protected:
  void SetUp() override {
    StartSandbox();
    if (HasFatalFailure()) return;
    server_ = MakeSelfSignedCert();
    client_ca_ = MakeCert("client CA", "", true, nullptr);
    client_ = MakeClientCert(client_ca_, "checkout-service");
    TestCert stranger_ca = MakeCert("another CA", "", true, nullptr);
    stranger_ = MakeClientCert(stranger_ca, "stranger");
    ASSERT_FALSE(client_.cert_pem.empty());
    ASSERT_FALSE(stranger_.cert_pem.empty());
    service::GatewayConfig config = Config();
    config.tls.cert_file = Write("tls.crt", server_.cert_pem);
    config.tls.key_file = Write("tls.key", server_.key_pem);
    config.tls.client_ca_file = Write("clients.crt", client_ca_.cert_pem);
    config.tls.cert_pem = server_.cert_pem;
    config.tls.key_pem = server_.key_pem;
    config.tls.client_ca_pem = client_ca_.cert_pem;
    StartGateway(std::move(config));
  }

  std::string Write(const std::string& name, const std::string& content) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  // A stub presenting `client` (none when null).
  std::unique_ptr<v1::ConversionService::Stub> Stub(const TestCert* client) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = server_.cert_pem;
    if (client != nullptr) {
      options.pem_cert_chain = client->cert_pem;
      options.pem_private_key = client->key_pem;
    }
    return v1::ConversionService::NewStub(grpc::CreateChannel(
        gateway_->grpc_address(), grpc::SslCredentials(options)));
  }

  // An HTTPS client of the gateway's HTTP port presenting `client` (none
  // when null).
  std::unique_ptr<httplib::SSLClient> Https(const TestCert* client) {
    const std::string& address = gateway_->http_address();
    const int port = std::stoi(address.substr(address.rfind(':') + 1));
    std::unique_ptr<httplib::SSLClient> https;
    if (client != nullptr) {
      https = std::make_unique<httplib::SSLClient>(
          "127.0.0.1", port,
          Write(
              std::string(client == &client_ ? "client" : "stranger") + ".crt",
              client->cert_pem),
          Write(
              std::string(client == &client_ ? "client" : "stranger") + ".key",
              client->key_pem));
    } else {
      https = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
    }
    https->set_ca_cert_path(Write("server-ca.crt", server_.cert_pem).c_str());
    https->enable_server_certificate_verification(true);
    https->set_read_timeout(std::chrono::seconds(5));
    return https;
  }

  static std::string TrackBody(const std::string& id) {
    return absl::StrCat(
        R"({"events":[{"event_name":"purchase","context":{"event_id":")", id,
        R"(","page":{"url":"https://shop.example.com/c"}},"value":10,)",
        R"("currency":"USD","user":{"email":"a@example.com"}}]})");
  }

  // Makes two HTTPS requests over two connections with `client`'s
  // certificate, the second resuming the first's TLS session, and returns
  // whether it was resumed (and both were answered 200).
  bool ResumesSession(const TestCert& client) {
    const std::string& address = gateway_->http_address();
    const int port = std::stoi(address.substr(address.rfind(':') + 1));
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(
        SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
    if (!ctx ||
        SSL_CTX_use_certificate_file(
            ctx.get(), Write("resume.crt", client.cert_pem).c_str(),
            SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx.get(),
                                    Write("resume.key", client.key_pem).c_str(),
                                    SSL_FILETYPE_PEM) != 1) {
      return false;
    }
    SSL_SESSION* session = nullptr;
    bool resumed = false;
    for (int round = 0; round < 2; ++round) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_port = htons(static_cast<std::uint16_t>(port));
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (fd < 0 ||
          connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
        if (fd >= 0) close(fd);
        break;
      }
      SSL* ssl = SSL_new(ctx.get());
      SSL_set_fd(ssl, fd);
      if (session != nullptr) SSL_set_session(ssl, session);
      std::string response;
      const std::string request =
          "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          "Connection: close\r\n\r\n";
      if (SSL_connect(ssl) == 1 &&
          SSL_write(ssl, request.data(), static_cast<int>(request.size())) >
              0) {
        char buf[512];
        int n;
        while ((n = SSL_read(ssl, buf, sizeof(buf))) > 0) {
          response.append(buf, static_cast<size_t>(n));
        }
      }
      const bool ok = response.rfind("HTTP/1.1 200", 0) == 0;
      if (round == 0 && ok) session = SSL_get1_session(ssl);
      if (round == 1) resumed = ok && SSL_session_reused(ssl) == 1;
      SSL_shutdown(ssl);
      SSL_free(ssl);
      close(fd);
    }
    SSL_SESSION_free(session);
    return resumed;
  }

  TestCert server_, client_ca_, client_, stranger_;
};

// Clients resume TLS sessions (curl, Go and browsers do); with client
// verification on, OpenSSL refuses that unless the server sets a session
// id context.
TEST_F(MutualTlsTest, ClientsResumeTheirTlsSessions) {
  EXPECT_TRUE(ResumesSession(client_));
}

TEST_F(MutualTlsTest, GrpcServesOnlyClientsWithACertificateOfTheClientCa) {
  auto with_cert = Stub(&client_);
  grpc::Status status = SendWith(with_cert.get(), "mtls-1");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(Delivered(1));

  auto without = Stub(nullptr);
  status = SendWith(without.get(), "mtls-2");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  auto stranger = Stub(&stranger_);
  status = SendWith(stranger.get(), "mtls-3");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(MutualTlsTest, TrackNeedsAClientCertificateProbesDoNot) {
  auto anonymous = Https(nullptr);
  auto health = anonymous->Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  auto metrics = anonymous->Get("/metrics");
  ASSERT_TRUE(metrics) << httplib::to_string(metrics.error());
  EXPECT_EQ(metrics->status, 200);

  auto refused = anonymous->Post("/v1/track", TrackBody("mtls-http-1"),
                                 "application/json");
  ASSERT_TRUE(refused) << httplib::to_string(refused.error());
  EXPECT_EQ(refused->status, 401);
  EXPECT_THAT(refused->body, ::testing::HasSubstr("client certificate"));

  auto certified = Https(&client_);
  auto accepted = certified->Post("/v1/track", TrackBody("mtls-http-2"),
                                  "application/json");
  ASSERT_TRUE(accepted) << httplib::to_string(accepted.error());
  EXPECT_EQ(accepted->status, 200) << accepted->body;
  EXPECT_THAT(accepted->body, ::testing::HasSubstr("OUTCOME_ACCEPTED"));
  EXPECT_TRUE(Delivered(1));

  // A certificate of another CA fails the handshake.
  auto stranger = Https(&stranger_);
  auto handshake = stranger->Get("/healthz");
  EXPECT_FALSE(handshake);

  metrics = anonymous->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              ::testing::HasSubstr(
                  "conversions_requests_denied_total{api=\"http_track\","
                  "reason=\"no_client_certificate\"} 1"));
}

}  // namespace
}  // namespace conversions::testing
