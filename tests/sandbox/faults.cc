#include "tests/sandbox/faults.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace conversions::sandbox {
namespace {

using ::nlohmann::json;

// A JSON integer in [0, max], or nullopt.
std::optional<int64_t> NonNegativeInt(const json& value, int64_t max) {
  if (value.is_number_unsigned()) {
    uint64_t v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(max)) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  if (value.is_number_integer()) {
    int64_t v = value.get<int64_t>();
    if (v < 0 || v > max) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::StatusOr<InjectedStatus> InjectedStatusFromJson(const json& entry,
                                                      const std::string& path) {
  if (!entry.is_object()) return Invalid(path, "must be an object");
  InjectedStatus injected;
  bool has_status = false;
  for (const auto& [key, value] : entry.items()) {
    if (key == "status") {
      std::optional<int64_t> status = NonNegativeInt(value, 599);
      if (!status.has_value() || *status < 100) {
        return Invalid(path + ".status", "must be an integer in [100, 599]");
      }
      injected.status = static_cast<int>(*status);
      has_status = true;
    } else if (key == "retry_after") {
      if (value.is_string()) {
        injected.retry_after = value.get<std::string>();
      } else if (std::optional<int64_t> seconds =
                     NonNegativeInt(value, std::numeric_limits<int>::max());
                 seconds.has_value()) {
        injected.retry_after = absl::StrCat(*seconds);
      } else {
        return Invalid(path + ".retry_after",
                       "must be a string or a non-negative integer");
      }
    } else {
      return Invalid(absl::StrCat(path, ".", key), "unknown field");
    }
  }
  if (!has_status) return Invalid(path + ".status", "is required");
  return injected;
}

absl::StatusOr<int> CountFromJson(const json& value, absl::string_view field) {
  std::optional<int64_t> count =
      NonNegativeInt(value, std::numeric_limits<int>::max());
  if (!count.has_value()) {
    return Invalid(field, "must be a non-negative integer");
  }
  return static_cast<int>(*count);
}

}  // namespace

absl::StatusOr<Faults> FaultsFromJson(const json& body) {
  if (!body.is_object()) return Invalid("faults", "must be a JSON object");
  Faults faults;
  for (const auto& [key, value] : body.items()) {
    if (key == "status_sequence") {
      if (!value.is_array()) return Invalid(key, "must be an array");
      for (size_t i = 0; i < value.size(); ++i) {
        absl::StatusOr<InjectedStatus> injected =
            InjectedStatusFromJson(value[i], absl::StrCat(key, "[", i, "]"));
        if (!injected.ok()) return injected.status();
        faults.status_sequence.push_back(*std::move(injected));
      }
    } else if (key == "latency_ms") {
      absl::StatusOr<int> ms = CountFromJson(value, key);
      if (!ms.ok()) return ms.status();
      faults.latency = std::chrono::milliseconds(*ms);
    } else if (key == "drop_connections") {
      absl::StatusOr<int> count = CountFromJson(value, key);
      if (!count.ok()) return count.status();
      faults.drop_connections = *count;
    } else if (key == "auth_failures") {
      absl::StatusOr<int> count = CountFromJson(value, key);
      if (!count.ok()) return count.status();
      faults.auth_failures = *count;
    } else if (key == "poison_ids") {
      if (!value.is_array()) return Invalid(key, "must be an array of strings");
      for (const auto& id : value) {
        if (!id.is_string()) {
          return Invalid(key, "must be an array of strings");
        }
        faults.poison_ids.push_back(id.get<std::string>());
      }
    } else {
      return Invalid(key, "unknown field");
    }
  }
  return faults;
}

nlohmann::json FaultsToJson(const Faults& faults) {
  json sequence = json::array();
  for (const InjectedStatus& injected : faults.status_sequence) {
    json entry = {{"status", injected.status}};
    if (!injected.retry_after.empty()) {
      entry["retry_after"] = injected.retry_after;
    }
    sequence.push_back(std::move(entry));
  }
  return {{"status_sequence", std::move(sequence)},
          {"latency_ms", faults.latency.count()},
          {"drop_connections", faults.drop_connections},
          {"poison_ids", faults.poison_ids},
          {"auth_failures", faults.auth_failures}};
}

}  // namespace conversions::sandbox
