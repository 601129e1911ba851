// TLS for the gateway's HTTP listener (config `tls`), and the client
// certificate check of mutual TLS. The gRPC listener gets the same settings
// through grpc::SslServerCredentials (gateway.cc).
#ifndef CONVERSIONS_SERVICE_TLS_SERVER_H_
#define CONVERSIONS_SERVICE_TLS_SERVER_H_

#include <httplib.h>

#include <memory>

#include "absl/status/statusor.h"
#include "service/config.h"

namespace conversions::service {

// An HTTPS server with the certificate chain and key of `tls` (TLS 1.2 or
// later). With tls.client_ca_file it asks every client for a certificate
// and refuses, in the handshake, one that the CAs of that file did not sign;
// a client without one still connects, so that probes and scrapers reach
// /healthz, /readyz and /metrics: handlers that need a client certificate
// check HasVerifiedClientCertificate. FailedPrecondition when OpenSSL
// refuses the files (they were checked when the config was read).
absl::StatusOr<std::unique_ptr<httplib::Server>> MakeTlsServer(
    const TlsOptions& tls);

// Whether the request came over TLS with a client certificate that passed
// verification against tls.client_ca_file.
bool HasVerifiedClientCertificate(const httplib::Request& request);

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_TLS_SERVER_H_
