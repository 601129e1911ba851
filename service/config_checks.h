// Limits, character-class checks and message helpers shared by the config
// parser (service/config_parser.h) and the config summary (`Describe`).
//
// Internal to config parsing: nothing outside service/config*.cc should
// include this header; the public surface is service/config.h. None of these
// helpers depends on YAML, so they can be read and tested on their own.
#ifndef CONVERSIONS_SERVICE_CONFIG_CHECKS_H_
#define CONVERSIONS_SERVICE_CONFIG_CHECKS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "service/config.h"

namespace conversions::service::config_internal {

using Ms = std::chrono::milliseconds;

inline constexpr Ms kMaxDuration = std::chrono::hours(24 * 365);
// gRPC takes its durations as int milliseconds.
inline constexpr Ms kMaxGrpcDuration{std::numeric_limits<int>::max()};
inline constexpr std::int64_t kMaxInt = std::numeric_limits<int>::max();
inline constexpr std::int64_t kMaxInt64 =
    std::numeric_limits<std::int64_t>::max();
inline constexpr size_t kMaxPixelIdBytes = 128;
inline constexpr size_t kMaxApiKeyBytes = 4096;
// Shorter tokens are too easy to guess.
inline constexpr size_t kMinCallerTokenBytes = 16;
inline constexpr size_t kMaxEventNameBytes = 128;
inline constexpr size_t kMaxSourcePathBytes = 256;

// Pixel ids are logged, so an API key (sk-...) pasted in their place is
// refused rather than printed.
inline constexpr char kPixelIdRule[] =
    "1 to 128 printable ASCII characters without spaces, and not an API key "
    "(sk-...)";

// The names of the enum-valued keys, in the order messages list them.
inline constexpr std::pair<std::string_view, LogLevel> kLogLevels[] = {
    {"debug", LogLevel::kDebug},
    {"info", LogLevel::kInfo},
    {"warn", LogLevel::kWarn},
    {"error", LogLevel::kError}};
inline constexpr std::pair<std::string_view, SpoolSynchronous> kSynchronous[] =
    {{"full", SpoolSynchronous::kFull}, {"normal", SpoolSynchronous::kNormal}};

// Debian's abseil has its own string_view; StrCat does not take std's.
inline absl::string_view Av(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view Sv(absl::string_view s) { return {s.data(), s.size()}; }

// Character classes, ASCII only.
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsLowerOrDigit(char c) {
  return (c >= 'a' && c <= 'z') || IsDigit(c);
}
inline bool IsAlnum(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c));
}
// Printable ASCII without the space.
inline bool IsVisible(char c) { return c > 0x20 && c < 0x7f; }

// True when every character of `s` satisfies `pred` (also when `s` is empty).
bool AllOf(std::string_view s, bool (*pred)(char));
// True when `s` holds an ASCII control character.
bool HasControl(std::string_view s);

// Quotes a value for a message, shortened so a stray blob stays readable.
std::string Quoted(std::string_view s);

// Edit distance, for "did you mean" hints on unknown keys.
size_t Distance(std::string_view a, std::string_view b);

// Returns "; did you mean "x"?" when one candidate is close to `word`.
template <typename Names>
std::string Suggestion(std::string_view word, const Names& names) {
  std::string_view best;
  size_t best_distance = 3;  // suggest at distance 1 or 2 only
  for (std::string_view name : names) {
    size_t d = Distance(word, name);
    if (d < best_distance) best = name, best_distance = d;
  }
  if (best.empty()) return "";
  return absl::StrCat("; did you mean ", Quoted(best), "?");
}

// Writes `d` in the largest unit that divides it ("5m", "1500ms"), the form
// ParseDuration reads back.
std::string FormatDuration(Ms d);

// Returns the name `value` has in `names`, "?" when it has none.
template <typename E, size_t N>
std::string_view NameOf(const std::pair<std::string_view, E> (&names)[N],
                        E value) {
  for (const auto& [name, v] : names) {
    if (v == value) return name;
  }
  return "?";
}

// Value checks; the rules are in the messages that use them
// (service/config_parser.h).
bool IsDestinationName(std::string_view s);
bool IsIntegrationSource(std::string_view s);
bool IsEnvName(std::string_view s);
// How messages and the config summary name the environment variable `name`
// (a valid IsEnvName): as it is when it looks like one (upper-case letters,
// digits and '_', at most 64 characters), else not at all: a lower-case or
// long "name" may be a key pasted in by mistake. EnvVarInMessage reads
// "environment variable NAME" or "the environment variable named here
// (...)"; ShownEnvName returns NAME or "<redacted>".
std::string EnvVarInMessage(std::string_view name);
std::string ShownEnvName(std::string_view name);
// Follows kPixelIdRule.
bool IsPixelId(std::string_view s);
bool IsApiKey(std::string_view s);

// Returns why the PEM certificate and key cannot serve TLS together, or ""
// when they can. Never quotes either.
std::string TlsPairProblem(const std::string& cert_pem,
                           const std::string& key_pem);

// Why a secret file (api_key_file, token_file) cannot be read, for a
// message: with its path and `error` when the path holds a '/', else
// without either, since a value without one may be the secret itself,
// pasted by mistake (the message carries the file and line anyway).
std::string SecretFileReadProblem(const std::string& path,
                                  const absl::Status& error);

// Returns why `pem` is not a bundle of CA certificates (at least one
// certificate, each a CA's), or "" when it is one.
std::string CaBundleProblem(const std::string& pem);

// Returns why `path` is not a source path, or "" when it is one.
std::string SourcePathProblem(std::string_view path, bool allow_item_index);

// Every API event type name, comma-separated, for messages.
std::string EventTypeNames();

}  // namespace conversions::service::config_internal

#endif  // CONVERSIONS_SERVICE_CONFIG_CHECKS_H_
