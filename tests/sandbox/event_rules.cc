#include "tests/sandbox/event_rules.h"

#include <arpa/inet.h>

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"

namespace conversions::sandbox {
namespace {

bool IsAsciiAlnum(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c));
}

}  // namespace

const EventTypeInfo* FindEventType(absl::string_view type) {
  for (const EventTypeInfo& info : kEventTypes) {
    if (info.type == type) return &info;
  }
  return nullptr;
}

// ^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$
bool IsValidCustomEventName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  if (!IsAsciiAlnum(name.front()) || !IsAsciiAlnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return IsAsciiAlnum(c) || c == '_' || c == '-';
  });
}

// ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$
bool IsValidIntegrationSource(absl::string_view value) {
  if (value.empty() || value.size() > 64) return false;
  if (!IsAsciiAlnum(value.front())) return false;
  return std::all_of(value.begin(), value.end(), [](char c) {
    return IsAsciiAlnum(c) || c == '.' || c == '_' || c == '-';
  });
}

// ^[0-9a-f]{64}$
bool IsLowerHexSha256(absl::string_view value) {
  return value.size() == 64 &&
         std::all_of(value.begin(), value.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// An absolute http or https URL with a non-empty host and no whitespace.
bool IsAbsoluteHttpUrl(absl::string_view url) {
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  absl::string_view rest;
  std::string lower = absl::AsciiStrToLower(url.substr(0, 8));
  if (absl::string_view(lower).substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else if (lower == "https://") {
    rest = url.substr(8);
  } else {
    return false;
  }
  absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  absl::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == absl::string_view::npos) return false;
    host = host.substr(1, close - 1);
  } else if (size_t colon = host.find(':'); colon != absl::string_view::npos) {
    host = host.substr(0, colon);
  }
  return !host.empty();
}

bool IsAbsoluteUrlWithHost(absl::string_view url) {
  const size_t sep = url.find("://");
  if (sep == absl::string_view::npos || sep == 0) return false;
  const std::string scheme = absl::AsciiStrToLower(url.substr(0, sep));
  if (scheme == "http" || scheme == "https") return IsAbsoluteHttpUrl(url);
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  if (!absl::ascii_isalpha(static_cast<unsigned char>(scheme[0]))) {
    return false;
  }
  for (char c : scheme) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' &&
        c != '-' && c != '.') {
      return false;
    }
  }
  absl::string_view authority = url.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  return !authority.empty() && authority.front() != ':';
}

bool IsIpAddress(absl::string_view value) {
  if (value.empty() || value.size() >= INET6_ADDRSTRLEN) return false;
  const std::string text(value);
  unsigned char address[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, text.c_str(), address) == 1 ||
         inet_pton(AF_INET6, text.c_str(), address) == 1;
}

bool IsAdvertisingId(absl::string_view value) {
  if (value.size() != 36) return false;
  for (size_t i = 0; i < value.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? value[i] != '-'
             : !absl::ascii_isxdigit(static_cast<unsigned char>(value[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace conversions::sandbox
