// Caller authentication: which internal service is calling, and which
// destinations it may write to (DESIGN.md, data flow step 1).
//
// Each configured caller (`callers:` in the config) has a bearer token, read
// from the environment or a file, and a list of destinations. Requests carry
// the token as `authorization: Bearer <token>` (gRPC metadata, or the HTTP
// header of POST /v1/track). With no callers configured, authentication is
// off and every request is served: the default for loopback, or behind a
// service mesh that authenticates callers itself (mTLS plus an
// authorization policy).
//
// Only SHA-256 digests of the tokens are kept, and they are compared in
// constant time. Health, readiness, metrics and reflection are not
// authenticated.
#ifndef CONVERSIONS_SERVICE_CALLER_AUTH_H_
#define CONVERSIONS_SERVICE_CALLER_AUTH_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mapping/sha256.h"
#include "service/config.h"

namespace conversions::service {

// One authenticated caller.
struct Caller {
  std::string name;
  mapping::Sha256Digest token_digest{};   // SHA-256 of the token
  bool all_destinations = false;          // "*"
  std::vector<std::string> destinations;  // resolved names
};

// Stands for the credentials of a request that carries more than one
// `authorization` header (or metadata entry): which one counts would depend
// on who reads them (a proxy in front may take another), so it is refused.
// No header value can hold a line feed.
inline constexpr std::string_view kSeveralCredentials = "\n(several)";

class CallerAuthenticator {
 public:
  // Keeps digests of the callers' tokens; the tokens themselves are not
  // kept.
  explicit CallerAuthenticator(const std::vector<CallerConfig>& callers);

  // True when callers are configured: requests must then authenticate.
  bool enabled() const { return !callers_.empty(); }

  // Finds the caller whose token `authorization` carries ("Bearer <token>",
  // the scheme case-insensitive). Unauthenticated when the header is
  // missing, malformed, given more than once (kSeveralCredentials) or
  // holds no caller's token; the message never repeats the header. With
  // authentication off, returns nullptr.
  absl::StatusOr<const Caller*> Authenticate(
      std::string_view authorization) const;

  // PermissionDenied unless `caller` (from Authenticate; nullptr when
  // authentication is off) may use the destination named `destination`.
  static absl::Status Authorize(const Caller* caller,
                                std::string_view destination);

  // PermissionDenied unless `caller` may use every destination (requests
  // that name none, such as listing all dead letters).
  static absl::Status AuthorizeAll(const Caller* caller);

 private:
  std::vector<Caller> callers_;
};

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_CALLER_AUTH_H_
