// The YAML parser behind ParseConfig (service/config.h): walks one document,
// fills a GatewayConfig from its defaults, and collects every error as
// "FILE:LINE: KEY.PATH: message" rather than stopping at the first.
//
// Internal to config parsing: nothing outside service/config*.cc should
// include this header (yaml-cpp is a private dependency of the library).
#ifndef CONVERSIONS_SERVICE_CONFIG_PARSER_H_
#define CONVERSIONS_SERVICE_CONFIG_PARSER_H_

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "conversions/v1/event.pb.h"
#include "service/config.h"
#include "service/config_checks.h"

namespace conversions::service::config_internal {

// Returns the 1-based line of `node`, 0 when unknown.
int LineOf(const YAML::Node& node);

// Describes what `node` holds, for "expected X, got Y" messages.
std::string KindOf(const YAML::Node& node);

// A YAML value with its key path and line, for messages.
struct Item {
  YAML::Node node;
  std::string path;  // "destinations[0].dispatcher.linger"
  int line = 0;      // 1-based; 0 when unknown
};

using Handler = std::function<void(const Item&)>;

// One known key of a map and what to do with its value.
struct Field {
  std::string_view key;
  Handler handle;
};

// Parses one document into a GatewayConfig, collecting every error.
//
// The members are defined by section: destinations and their secrets in
// config_destinations.cc, callers in config_callers.cc, everything else (the
// root, map walking, value readers, grpc/tls/spool/dispatcher) in
// config_parser.cc.
class Parser {
 public:
  Parser(std::string_view source, const Environment& env)
      : source_(source), env_(env) {}

  // Returns the config `root` describes, defaults where it is silent. The
  // result is meaningful only when errors() is empty afterwards.
  GatewayConfig Parse(const YAML::Node& root);

  // Records an error at `line` (0: unknown) for the key `path`.
  void Error(int line, std::string_view path, std::string_view message);
  void Error(const Item& at, std::string_view message);

  const std::vector<std::string>& errors() const { return errors_; }

 private:
  // Calls `fn(key, key_line, child)` for each entry of the map `at`; a null
  // value counts as an empty map. Reports non-scalar and duplicate keys.
  // Child paths are "path.key", or path["key"] when `quote_keys`.
  template <typename Fn>
  void ForEachEntry(const Item& at, bool quote_keys, Fn fn) {
    if (at.node.IsNull()) return;
    if (!at.node.IsMap()) {
      Error(at, absl::StrCat("expected a map, got ", KindOf(at.node)));
      return;
    }
    std::set<std::string> seen;
    for (const auto& entry : at.node) {
      const YAML::Node& key = entry.first;
      const YAML::Node& value = entry.second;
      int key_line = LineOf(key);
      if (!key.IsScalar()) {
        Error(key_line, at.path, "keys must be strings");
        continue;
      }
      const std::string& name = key.Scalar();
      if (!seen.insert(name).second) {
        Error(key_line, at.path, absl::StrCat("duplicate key ", Quoted(name)));
        continue;
      }
      std::string path = quote_keys
                             ? absl::StrCat(at.path, "[", Quoted(name), "]")
                         : at.path.empty() ? name
                                           : absl::StrCat(at.path, ".", name);
      fn(name, key_line,
         Item{value, std::move(path),
              value.IsNull() ? key_line : LineOf(value)});
    }
  }

  // Dispatches each key of the map `at` to its field; unknown keys are
  // errors.
  void ParseMap(const Item& at, const std::vector<Field>& fields);

  // Sections (config_parser.cc).

  // tls: {cert_file, key_file, client_ca_file}: the first two required, all
  // read now, so that a missing or unreadable file stops the start-up with
  // its path.
  void ParseTls(const Item& at, TlsOptions* out);
  void ParseGrpc(const Item& at, GrpcOptions* out);
  void ParseSpool(const Item& at, SpoolOptions* out);
  void ParseDispatcher(const Item& at, DispatcherOptions* out);

  // destinations (config_destinations.cc): each inherits `dispatcher`, its
  // overrides applied.
  std::vector<DestinationConfig> ParseDestinations(
      const Item& at, const DispatcherOptions& dispatcher);
  // Also reports where the name and the default flag are, for the
  // duplicate checks across destinations.
  DestinationConfig ParseDestination(const Item& at,
                                     const DispatcherOptions& dispatcher,
                                     int* name_line, int* default_line);
  void ParseEventMapping(const Item& at,
                         std::map<std::string, v1::EventType>* out);
  void ParseFieldMapping(const Item& at,
                         std::map<std::string, std::vector<std::string>>* out);
  void ParseConsentCategories(const Item& at, std::vector<std::string>* out);
  // Resolves the pixel id and API key through the environment. A missing
  // or unusable value is recorded for ValidateForServing, never an error
  // here, and no message mentions the value.
  void ResolveSecrets(size_t index, DestinationConfig* d);

  // callers (config_callers.cc): [{name, token_env | token_file,
  // destinations}]. Unlike a destination's API key, a caller's token must be
  // there at start-up: a gateway that cannot check its callers does not start.
  std::vector<CallerConfig> ParseCallers(
      const Item& at, const std::vector<DestinationConfig>& destinations);
  void ReadCallerToken(const Item& at, const std::optional<Item>& token_env,
                       const std::optional<Item>& token_file, CallerConfig* c);

  // Value readers: each reports its own error and returns nullopt.

  std::optional<std::string> ReadString(const Item& at,
                                        std::string_view what = "a string");
  // A plain (unquoted) scalar: numbers and booleans must not be quoted.
  std::optional<std::string> ReadPlain(const Item& at, std::string_view what);
  std::optional<std::int64_t> ReadInt(const Item& at, std::int64_t min,
                                      std::int64_t max);
  // Reads an environment variable's name (never its value) into `out`.
  void ReadEnvName(const Item& item, std::string* out);

  // Handlers for ParseMap: each reads and range-checks one value into `out`.

  template <typename T>
  Handler Integer(T* out, std::int64_t min, std::int64_t max) {
    return [this, out, min, max](const Item& at) {
      if (auto v = ReadInt(at, min, max)) *out = static_cast<T>(*v);
    };
  }
  Handler Duration(Ms* out, Ms min, Ms max);
  Handler Double(double* out, double min, double max);
  Handler Bool(bool* out);
  Handler NonEmptyString(std::string* out);
  template <typename E, size_t N>
  Handler Enum(E* out, const std::pair<std::string_view, E> (&names)[N]) {
    return [this, out, &names](const Item& at) {
      std::optional<std::string> s = ReadString(at);
      if (!s) return;
      std::vector<std::string_view> options;
      for (const auto& [name, value] : names) {
        if (name == *s) {
          *out = value;
          return;
        }
        options.push_back(name);
      }
      Error(at,
            absl::StrCat("expected one of ",
                         absl::StrJoin(options, "|",
                                       [](std::string* o, std::string_view v) {
                                         o->append(v);
                                       }),
                         ", got ", Quoted(*s)));
    };
  }
  Handler Listen(std::string* out);

  std::string source_;
  const Environment& env_;
  std::vector<std::string> errors_;
};

}  // namespace conversions::service::config_internal

#endif  // CONVERSIONS_SERVICE_CONFIG_PARSER_H_
