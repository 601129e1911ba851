#include "service/address.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace conversions::service {
namespace {

// Debian's abseil has its own string_view; StrCat does not take std's.
absl::string_view Av(std::string_view s) { return {s.data(), s.size()}; }
std::string_view Sv(absl::string_view s) { return {s.data(), s.size()}; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c));
}
// Printable ASCII without the space.
bool IsVisible(char c) { return c > 0x20 && c < 0x7f; }

bool AllOf(std::string_view s, bool (*pred)(char)) {
  return std::all_of(s.begin(), s.end(), pred);
}

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(Av(s)); }

// Quotes a value for a message, shortened so a stray blob stays readable.
std::string Quoted(std::string_view s) {
  constexpr size_t kMax = 60;
  std::string out = absl::StrCat("\"", absl::CEscape(Av(s.substr(0, kMax))));
  if (s.size() > kMax) out += "...";
  return out + "\"";
}

// An endpoint as a message may show it: user information, a query and a
// fragment, which may hold a key, become "***"; text that is not a URL is
// shown only when it looks like a host or a path (a key pasted in the wrong
// place does not).
std::string ShownUrl(std::string_view text) {
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos) {
    const bool url_like = text.find_first_of("./") != std::string_view::npos &&
                          text.substr(0, 3) != "sk-";
    return url_like ? Quoted(text) : "(not shown: not a URL)";
  }
  std::string shown(text.substr(0, sep + 3));
  std::string_view rest = text.substr(sep + 3);
  const size_t end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, end);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    shown += "***@";
    authority = authority.substr(at + 1);
  }
  shown.append(authority.data(), authority.size());
  std::string_view path = rest.substr(end);
  const size_t query = path.find_first_of("?#");
  shown.append(path.data(), std::min(query, path.size()));
  if (query != std::string_view::npos) {
    shown += path[query] == '?' ? "?***" : "#***";
  }
  return Quoted(shown);
}

bool IsIpv4(std::string_view s) {
  int parts = 0;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = std::min(s.find('.', start), s.size());
    std::string_view part = s.substr(start, end - start);
    int value = 0;
    if (part.empty() || part.size() > 3 || !AllOf(part, IsDigit) ||
        !absl::SimpleAtoi(Av(part), &value) || value > 255) {
      return false;
    }
    ++parts;
    start = end + 1;
  }
  return parts == 4;
}

bool IsHostName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  if (AllOf(s, [](char c) { return IsDigit(c) || c == '.'; })) {
    return IsIpv4(s);
  }
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = std::min(s.find('.', start), s.size());
    std::string_view label = s.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' ||
        label.back() == '-' ||
        !AllOf(label, [](char c) { return IsAlnum(c) || c == '-'; })) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

bool IsIpv6(std::string_view s) {
  return !s.empty() && s.size() <= 45 &&
         s.find(':') != std::string_view::npos && AllOf(s, [](char c) {
           return absl::ascii_isxdigit(static_cast<unsigned char>(c)) ||
                  c == ':' || c == '.';
         });
}

// The parts of "host[:port]" or "[v6][:port]".
struct Authority {
  std::string host;  // without brackets
  bool ipv6 = false;
  std::optional<int> port;
};

// Splits an authority; returns the reason on failure.
absl::StatusOr<Authority> SplitAuthority(std::string_view text) {
  Authority out;
  std::string_view port_text;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("missing ']'");
    }
    std::string_view host = text.substr(1, close - 1);
    if (!IsIpv6(host))
      return absl::InvalidArgumentError("invalid IPv6 address");
    out.host = Lower(host);
    out.ipv6 = true;
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError("expected ':' after ']'");
      }
      port_text = rest.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = text.find(':');
    std::string_view host = text.substr(0, colon);
    if (colon != std::string_view::npos) {
      if (text.find(':', colon + 1) != std::string_view::npos) {
        return absl::InvalidArgumentError(
            "IPv6 addresses need brackets, as in [::1]:50051");
      }
      port_text = text.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) return absl::InvalidArgumentError("missing host");
    if (!IsHostName(host)) {
      return absl::InvalidArgumentError("invalid host name or IPv4 address");
    }
    out.host = Lower(host);
  }
  if (has_port) {
    int port = 0;
    if (port_text.empty() || port_text.size() > 5 ||
        !AllOf(port_text, IsDigit) || !absl::SimpleAtoi(Av(port_text), &port) ||
        port > 65535) {
      return absl::InvalidArgumentError(
          "port must be a number from 0 to 65535");
    }
    out.port = port;
  }
  return out;
}

bool IsLoopback(const Authority& a) {
  if (a.ipv6) return a.host == "::1";
  return a.host == "localhost" ||
         (IsIpv4(a.host) && a.host.compare(0, 4, "127.") == 0);
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  return host == "::1" || host == "localhost" ||
         (IsIpv4(host) && host.compare(0, 4, "127.") == 0);
}

absl::StatusOr<HostPort> ParseHostPort(std::string_view text) {
  absl::StatusOr<Authority> a = SplitAuthority(text);
  if (a.ok() && !a->port) {
    a = absl::InvalidArgumentError("missing :port");
  }
  if (!a.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid host:port ", Quoted(text), ": ", a.status().message()));
  }
  return HostPort{a->host, *a->port};
}

absl::StatusOr<HttpUrl> ParseHttpUrl(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid endpoint ", ShownUrl(text), ": ", Av(why)));
  };
  if (!AllOf(text, IsVisible)) {
    return bad("contains spaces, control or non-ASCII characters");
  }
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) return bad("expected http:// or https://");
  HttpUrl url;
  url.scheme = Lower(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") {
    return bad("the scheme must be http or https");
  }
  std::string_view rest = text.substr(sep + 3);
  size_t end = std::min(rest.find_first_of("/?#"), rest.size());
  std::string_view authority = rest.substr(0, end);
  std::string_view path = rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return bad("must not contain credentials");
  }
  if (path.find_first_of("?#") != std::string_view::npos) {
    return bad("must not have a query or fragment; ?pid= is added per request");
  }
  absl::StatusOr<Authority> a = SplitAuthority(authority);
  if (!a.ok()) return bad(Sv(a.status().message()));
  if (a->port && *a->port == 0)
    return bad("port 0 is not a valid endpoint port");
  if (url.scheme == "http" && !IsLoopback(*a)) {
    return bad(
        "plain http is allowed only for loopback hosts (127.0.0.0/8, "
        "localhost, [::1]); use https");
  }
  url.host = a->host;
  url.port = a->port.value_or(url.scheme == "https" ? 443 : 80);
  url.path = path.empty() ? "/" : std::string(path);
  return url;
}

std::string JoinHostPort(const std::string& host, int port) {
  return host.find(':') != std::string::npos
             ? absl::StrCat("[", host, "]:", port)
             : absl::StrCat(host, ":", port);
}

std::string BindProblem(const HostPort& at) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port = absl::StrCat(at.port);
  if (int e = getaddrinfo(at.host.c_str(), port.c_str(), &hints, &found);
      e != 0) {
    return absl::StrCat(": ", gai_strerror(e));
  }
  std::string problem;
  for (addrinfo* a = found; a != nullptr && problem.empty(); a = a->ai_next) {
    int sock = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (sock < 0) {
      problem = absl::StrCat(": ", std::strerror(errno));
      continue;
    }
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    if (bind(sock, a->ai_addr, a->ai_addrlen) != 0) {
      problem = absl::StrCat(": ", std::strerror(errno));
    }
    close(sock);
  }
  freeaddrinfo(found);
  return problem;
}

}  // namespace conversions::service
