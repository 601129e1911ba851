#include "service/tls_server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "absl/strings/str_cat.h"

namespace conversions::service {

absl::StatusOr<std::unique_ptr<httplib::Server>> MakeTlsServer(
    const TlsOptions& tls) {
  // The callback form, because cpp-httplib's file form makes a client
  // certificate mandatory for every request once a client CA is given.
  auto server = std::make_unique<httplib::SSLServer>([&tls](SSL_CTX& ctx) {
    SSL_CTX_set_options(
        &ctx,
        SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
    if (SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(&ctx, tls.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(&ctx, tls.key_file.c_str(),
                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(&ctx) != 1) {
      return false;
    }
    if (!tls.verifies_clients()) return true;
    STACK_OF(X509_NAME)* names =
        SSL_load_client_CA_file(tls.client_ca_file.c_str());
    if (names == nullptr ||
        SSL_CTX_load_verify_locations(&ctx, tls.client_ca_file.c_str(),
                                      nullptr) != 1) {
      if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
      return false;
    }
    SSL_CTX_set_client_CA_list(&ctx, names);  // takes ownership
    // With peer verification on, OpenSSL refuses to resume a session
    // (session id or TLS 1.3 ticket) unless the context has an id.
    static constexpr unsigned char kSessionContext[] = "conversions-gateway";
    if (SSL_CTX_set_session_id_context(&ctx, kSessionContext,
                                       sizeof(kSessionContext) - 1) != 1) {
      return false;
    }
    // Ask, verify what is presented, do not insist: see the header.
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, nullptr);
    return true;
  });
  if (!server->is_valid()) {
    ERR_clear_error();
    return absl::FailedPreconditionError(absl::StrCat(
        "tls: OpenSSL refused ", tls.cert_file, " and ", tls.key_file,
        tls.verifies_clients() ? absl::StrCat(" or ", tls.client_ca_file)
                               : std::string()));
  }
  return server;
}

bool HasVerifiedClientCertificate(const httplib::Request& request) {
  if (request.ssl == nullptr) return false;
  // SSL_VERIFY_PEER fails the handshake of a certificate that does not
  // verify, so a certificate here has passed; the result is checked anyway.
  return SSL_get0_peer_certificate(request.ssl) != nullptr &&
         SSL_get_verify_result(request.ssl) == X509_V_OK;
}

}  // namespace conversions::service
