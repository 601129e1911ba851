#include "service/caller_auth.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace conversions::service {

CallerAuthenticator::CallerAuthenticator(
    const std::vector<CallerConfig>& callers) {
  for (const CallerConfig& c : callers) {
    Caller caller;
    caller.name = c.name;
    caller.token_digest = mapping::Sha256(c.token);
    for (const std::string& d : c.destinations) {
      if (d == "*") {
        caller.all_destinations = true;
      } else {
        caller.destinations.push_back(d);
      }
    }
    callers_.push_back(std::move(caller));
  }
}

absl::StatusOr<const Caller*> CallerAuthenticator::Authenticate(
    std::string_view authorization) const {
  if (callers_.empty()) return nullptr;
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.empty()) {
    return absl::UnauthenticatedError(
        "missing credentials: send \"authorization: Bearer <token>\"");
  }
  if (authorization == kSeveralCredentials) {
    return absl::UnauthenticatedError(
        "more than one authorization header: send one \"authorization: "
        "Bearer <token>\"");
  }
  if (authorization.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(
          absl::string_view(authorization.data(), kScheme.size()),
          absl::string_view(kScheme.data(), kScheme.size()))) {
    return absl::UnauthenticatedError(
        "malformed credentials: expected \"Bearer <token>\"");
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  // Digests of equal length, compared in constant time; every caller is
  // compared, so the time does not tell which one matched.
  const mapping::Sha256Digest digest = mapping::Sha256(token);
  const Caller* found = nullptr;
  for (const Caller& caller : callers_) {
    if (CRYPTO_memcmp(digest.data(), caller.token_digest.data(),
                      digest.size()) == 0) {
      found = &caller;
    }
  }
  if (found == nullptr) {
    return absl::UnauthenticatedError("invalid credentials: unknown token");
  }
  return found;
}

absl::Status CallerAuthenticator::Authorize(const Caller* caller,
                                            std::string_view destination) {
  if (caller == nullptr || caller->all_destinations) return absl::OkStatus();
  if (std::find(caller->destinations.begin(), caller->destinations.end(),
                destination) != caller->destinations.end()) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "caller \"", caller->name, "\" may not use destination \"",
      absl::string_view(destination.data(), destination.size()), "\""));
}

absl::Status CallerAuthenticator::AuthorizeAll(const Caller* caller) {
  if (caller == nullptr || caller->all_destinations) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("caller \"", caller->name,
                   "\" may use only some destinations: name one"));
}

}  // namespace conversions::service
