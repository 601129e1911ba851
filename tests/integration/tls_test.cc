// TLS on the gateway's listeners (config `tls`): gRPC and HTTP over TLS with
// a certificate made at test time; plaintext clients are refused.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/service/test_certs.h"

namespace conversions::testing {
namespace {

class TlsTest : public GatewayFixture {
 protected:
  void SetUp() override {
    auto sandbox = sandbox::Sandbox::Start(sandbox::SandboxOptions());
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    sandbox_ = std::move(*sandbox);
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

}  // namespace
}  // namespace conversions::testing
