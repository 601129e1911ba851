#include "service/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "service/config_checks.h"
#include "service/config_parser.h"

namespace conversions::service {
namespace {

using config_internal::Av;
using config_internal::FormatDuration;
using config_internal::IsDigit;
using config_internal::kMaxDuration;
using config_internal::LineOf;
using config_internal::Ms;
using config_internal::Parser;
using config_internal::Quoted;

absl::Status ConfigError(const std::vector<std::string>& errors) {
  return absl::FailedPreconditionError(absl::StrJoin(errors, "\n"));
}

}  // namespace

std::optional<std::string> SystemEnvironment::GetEnv(
    std::string_view name) const {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

absl::StatusOr<std::string> SystemEnvironment::ReadFile(
    const std::string& path) const {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
  }
  std::string content;
  char buffer[8192];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    content.append(buffer, n);
  }
  bool failed = std::ferror(file) != 0;
  int error = errno;
  std::fclose(file);
  if (failed) {
    return absl::ErrnoToStatus(error, absl::StrCat("cannot read ", path));
  }
  return content;
}

absl::StatusOr<GatewayConfig> LoadConfig(const std::string& path,
                                         const Environment& env) {
  if (path.empty()) return ParseConfig("", env, "(no config file)");
  absl::StatusOr<std::string> text = env.ReadFile(path);
  if (!text.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read config file: ", text.status().message()));
  }
  return ParseConfig(*text, env, path);
}

absl::StatusOr<GatewayConfig> ParseConfig(std::string_view yaml_text,
                                          const Environment& env,
                                          std::string_view source_name) {
  Parser parser(source_name, env);
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml_text));
    if (documents.size() > 1) {
      parser.Error(
          LineOf(documents[1]), "",
          absl::StrCat("expected one YAML document, found ", documents.size()));
      return ConfigError(parser.errors());
    }
    YAML::Node root = documents.empty() ? YAML::Node() : documents.front();
    GatewayConfig config = parser.Parse(root);
    if (!parser.errors().empty()) return ConfigError(parser.errors());
    return config;
  } catch (const YAML::Exception& e) {
    parser.Error(e.mark.is_null() ? 0 : e.mark.line + 1, "",
                 absl::StrCat("invalid YAML: ", e.msg));
    return ConfigError(parser.errors());
  }
}

absl::Status ValidateForServing(const GatewayConfig& config) {
  std::vector<std::string> problems;
  if (config.destinations.empty()) problems.push_back("no destinations");
  for (size_t i = 0; i < config.destinations.size(); ++i) {
    const DestinationConfig& d = config.destinations[i];
    if (d.has_pixel_id && d.has_api_key) continue;
    std::string prefix = absl::StrCat("destinations[", i, "] (", d.name, "): ");
    for (const std::string& problem : d.secret_problems) {
      problems.push_back(problem);
    }
    if (d.secret_problems.empty()) {
      if (!d.has_pixel_id) problems.push_back(prefix + "no pixel id");
      if (!d.has_api_key) problems.push_back(prefix + "no API key");
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrJoin(problems, "\n"));
}

mapping::TagMappingConfig TagMappingOf(const DestinationConfig& destination) {
  mapping::TagMappingConfig tag;
  tag.event_mapping = destination.event_mapping;
  tag.field_mapping = destination.field_mapping;
  tag.default_action_source = destination.default_action_source;
  tag.consent_categories = destination.consent_categories;
  return tag;
}

const DestinationConfig* FindDestination(const GatewayConfig& config,
                                         std::string_view name) {
  for (const DestinationConfig& d : config.destinations) {
    if (name.empty() ? d.is_default : d.name == name) return &d;
  }
  if (name.empty() && !config.destinations.empty()) {
    return &config.destinations.front();
  }
  return nullptr;
}

absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&]() {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid duration ", Quoted(text),
        ": expected <integer><unit> with unit ms, s, m, h or d, such as "
        "200ms, 30s, 5m or 7d"));
  };
  size_t digits = 0;
  while (digits < text.size() && IsDigit(text[digits])) ++digits;
  std::string_view unit = text.substr(digits);
  std::int64_t unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit == "s") {
    unit_ms = 1000;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else if (unit == "d") {
    unit_ms = 86'400'000;
  }
  std::int64_t value = 0;
  if (digits == 0 || unit_ms == 0) return bad();
  if (digits > 15 || !absl::SimpleAtoi(Av(text.substr(0, digits)), &value) ||
      value > kMaxDuration.count() / unit_ms) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid duration ", Quoted(text), ": must be at most ",
                     FormatDuration(kMaxDuration)));
  }
  return Ms(value * unit_ms);
}

}  // namespace conversions::service
