#include "service/dispatch_rules.h"

#include <algorithm>
#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "mapping/event_mapper.h"
#include "mapping/unicode.h"
#include "nlohmann/json.hpp"

namespace conversions::service {
namespace {

// An event is dead-lettered as expired when less than this is left of its
// 7-day window when it would be sent: a request sent now must still be
// inside the window on arrival (the spec: check the window "against the
// clock at send time"). The mapping refuses on receipt an event with less
// than twice this left (Limits::kReceiptMarginMs), so an accepted event
// expires unsent only if something holds it up: a backlog, a pause, retries.
constexpr std::int64_t kExpiryMarginMs = mapping::Limits::kSendMarginMs;

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

}  // namespace

std::string RequestUrl(const std::string& endpoint,
                       const std::string& pixel_id) {
  std::string url = endpoint;
  url.push_back(endpoint.find('?') == std::string::npos ? '?' : '&');
  url.append("pid=");
  constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : pixel_id) {
    if (IsUnreserved(c)) {
      url.push_back(c);
    } else {
      auto u = static_cast<unsigned char>(c);
      url.push_back('%');
      url.push_back(kHex[u >> 4]);
      url.push_back(kHex[u & 0xf]);
    }
  }
  return url;
}

BackoffPolicy::BackoffPolicy(const DispatcherOptions& options,
                             std::uint64_t seed)
    : options_(options), rng_(seed) {}

std::chrono::milliseconds BackoffPolicy::Delay(int retry) {
  double cap = static_cast<double>(options_.initial_backoff.count());
  for (int i = 1; i < retry && cap < options_.max_backoff.count(); ++i) {
    cap *= options_.backoff_multiplier;
  }
  auto upper = static_cast<std::int64_t>(
      std::min(cap, static_cast<double>(options_.max_backoff.count())));
  std::uniform_int_distribution<std::int64_t> dist(
      0, std::max<std::int64_t>(upper, 0));
  return std::chrono::milliseconds(dist(rng_));
}

std::int64_t OldestSendableTimestampMs(std::int64_t now_ms) {
  return now_ms - mapping::Limits::kMaxAgeMs + kExpiryMarginMs;
}

std::int64_t OldestRequeueableTimestampMs(std::int64_t now_ms) {
  return now_ms - mapping::Limits::kMaxAgeMs +
         mapping::Limits::kReceiptMarginMs;
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(
    const std::string& value, std::int64_t now_ms) {
  if (value.empty()) return std::nullopt;
  std::int64_t seconds;
  if (absl::SimpleAtoi(value, &seconds)) {
    if (seconds < 0) return std::nullopt;
    // Capped past the 7-day window only to keep the sum in range: a wait
    // longer than an event's window expires the event, as an HTTP-date as
    // far ahead does; it is never cut short.
    constexpr std::int64_t kMaxSeconds = 8 * 86400;
    return std::chrono::milliseconds(std::min(seconds, kMaxSeconds) * 1000);
  }
  // An HTTP-date in any of the three forms a recipient must accept (RFC
  // 9110, 5.6.7): IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", the
  // obsolete RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" and asctime
  // "Sun Nov  6 08:49:37 1994".
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
        "%a %b %d %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = strptime(value.c_str(), format, &tm);
    if (end == nullptr || *end != '\0') continue;
    std::int64_t at_ms = static_cast<std::int64_t>(timegm(&tm)) * 1000;
    return std::chrono::milliseconds(std::max<std::int64_t>(at_ms - now_ms, 0));
  }
  return std::nullopt;
}

namespace {

bool IsKeyChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_' || c == '*';
}
bool IsLocalPartChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == '%' || c == '+' || c == '-';
}
bool IsDomainChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '-';
}

// Replaces, in an API's error text, what looks like an API key ("sk-" at
// the start of a word or after punctuation such as "=" or "/", then at
// least 17 more key characters, or a masked key with '*') and what looks
// like an email address (local part, '@', a domain ending in a dot and two
// or more letters); the rest of the text stays as it is.
std::string RedactSecrets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;  // text[0, copied) is in `out`
  auto replace = [&](size_t from, size_t to, std::string_view with) {
    out.append(text.data() + copied, from - copied);
    out.append(with.data(), with.size());
    copied = to;
  };
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "sk-") == 0 &&
        (i == copied || !IsKeyChar(text[i - 1]))) {
      size_t end = i + 3;
      bool masked = false;
      while (end < text.size() && IsKeyChar(text[end])) {
        masked = masked || text[end] == '*';
        ++end;
      }
      if (end - i >= 20 || masked) {
        replace(i, end, "[redacted API key]");
        i = end;
        continue;
      }
    }
    if (text[i] == '@') {
      size_t start = i;
      while (start > copied && IsLocalPartChar(text[start - 1])) --start;
      while (start < i && text[start] == '.') ++start;
      size_t end = i + 1;
      while (end < text.size() && IsDomainChar(text[end])) ++end;
      while (end > i + 1 && (text[end - 1] == '.' || text[end - 1] == '-')) {
        --end;  // sentence punctuation
      }
      const std::string_view domain = text.substr(i + 1, end - i - 1);
      const size_t dot = domain.rfind('.');
      const bool has_tld =
          dot != std::string_view::npos && dot > 0 && domain.size() - dot > 2 &&
          std::all_of(domain.begin() + dot + 1, domain.end(), [](char c) {
            return absl::ascii_isalpha(static_cast<unsigned char>(c));
          });
      if (start < i && has_tld) {
        replace(start, end, "[redacted email]");
        i = end;
        continue;
      }
    }
    ++i;
  }
  out.append(text.data() + copied, text.size() - copied);
  return out;
}

// At most `max` bytes of `text`, cut before a UTF-8 sequence rather than
// inside one; bytes that are not UTF-8 become '?', since the text goes
// into protobuf strings.
std::string CutUtf8(std::string text, size_t max) {
  if (!mapping::IsValidUtf8(text)) {
    for (char& c : text) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  if (text.size() > max) {
    size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
      --end;
    }
    text.resize(end);
  }
  return text;
}

}  // namespace

std::string ApiErrorMessage(const std::string& body, std::string_view api_key) {
  // Parsed with nlohmann's JSON reader, so that every escape (\u0041,
  // \/, \\) reads as the API meant it; a body that is not JSON is shown
  // as it came, cut to 512 bytes.
  const nlohmann::json json =
      nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  auto string_in = [](const nlohmann::json& object,
                      const char* key) -> const std::string* {
    if (!object.is_object()) return nullptr;
    auto it = object.find(key);
    return it != object.end() && it->is_string()
               ? it->get_ptr<const std::string*>()
               : nullptr;
  };
  const std::string* message = nullptr;
  if (json.is_object()) {
    if (auto error = json.find("error"); error != json.end()) {
      message = error->is_string() ? error->get_ptr<const std::string*>()
                                   : string_in(*error, "message");
    }
    if (message == nullptr) message = string_in(json, "message");
  }
  // Redacted before the cut, so that the cut leaves no part of what it
  // hides.
  std::string out = message != nullptr ? *message : body;
  if (!api_key.empty()) {
    out = absl::StrReplaceAll(
        out, {{absl::string_view(api_key.data(), api_key.size()),
               "[redacted API key]"}});
  }
  out = RedactSecrets(out);
  return message != nullptr ? out : CutUtf8(std::move(out), 512);
}

bool RefusesTheRequest(int status, const std::string& body) {
  if (status != 400 && status != 422) return false;
  const nlohmann::json json =
      nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return false;
  auto error = json.find("error");
  if (error == json.end() || !error->is_object()) return false;
  auto param = error->find("param");
  if (param == error->end() || !param->is_string()) return false;
  const std::string& name = param->get_ref<const std::string&>();
  return name == "pid" || name == "integration_source" ||
         name == "validate_only";
}

}  // namespace conversions::service
