#include "cli/target.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace conversions::cli {

absl::StatusOr<Target> ParseTarget(const std::string& text,
                                   absl::string_view source) {
  const std::string lower = absl::AsciiStrToLower(text);
  auto error = [&](absl::string_view problem) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, " \"", text, "\" ", problem));
  };
  constexpr absl::string_view kForms =
      "use HOST:PORT, http://HOST:PORT (plaintext) or https://HOST[:PORT] "
      "(TLS)";
  for (absl::string_view scheme :
       {"dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:", "vsock:"}) {
    if (absl::StartsWith(lower, scheme)) return Target{text, std::nullopt};
  }
  Target target;
  absl::string_view rest = text;
  if (absl::StartsWith(lower, "http://")) {
    target.tls = false;
    rest.remove_prefix(7);
  } else if (absl::StartsWith(lower, "https://")) {
    target.tls = true;
    rest.remove_prefix(8);
  } else if (absl::StrContains(text, "://")) {
    return error(
        absl::StrCat("has a scheme this client does not know; ", kForms));
  }
  if (target.tls.has_value()) {
    if (absl::EndsWith(rest, "/")) rest.remove_suffix(1);
    if (rest.find_first_of("/?#@") != absl::string_view::npos) {
      return error(
          absl::StrCat("is more than an address (a gRPC target has "
                       "no path, query or user); ",
                       kForms));
    }
  }
  // The port follows the last ':' after the host; an IPv6 host is in [ ].
  size_t colon = absl::string_view::npos;
  if (absl::StartsWith(rest, "[")) {
    const size_t close = rest.find(']');
    if (close == absl::string_view::npos || close == 1) {
      return error(absl::StrCat("is not an address; ", kForms));
    }
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') {
        return error(absl::StrCat("is not an address; ", kForms));
      }
      colon = close + 1;
    }
  } else {
    colon = rest.find(':');
    if (colon != absl::string_view::npos &&
        rest.find(':', colon + 1) != absl::string_view::npos) {
      return error(
          "has more than one ':'; write an IPv6 address in "
          "brackets, [ADDRESS]:PORT");
    }
    if (colon == 0 || rest.empty()) {
      return error(absl::StrCat("has no host; ", kForms));
    }
  }
  if (colon == absl::string_view::npos) {
    if (target.tls == true) {
      target.address = absl::StrCat(rest, ":443");
      return target;
    }
    return error(absl::StrCat("has no port; use HOST:PORT, e.g. ", rest,
                              ":50051 (https://HOST means port 443)"));
  }
  int port = 0;
  if (!absl::SimpleAtoi(rest.substr(colon + 1), &port) || port < 1 ||
      port > 65535 ||
      rest.substr(colon + 1).find_first_not_of("0123456789") !=
          absl::string_view::npos) {
    return error("has a port that is not a number from 1 to 65535");
  }
  target.address = std::string(rest);
  return target;
}

}  // namespace conversions::cli
