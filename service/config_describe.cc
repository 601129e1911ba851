// Describe(): the one-line config summary for the start-up log, with API keys
// and caller tokens redacted (service/config.h).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "mapping/event_types.h"
#include "mapping/tag_mapper.h"
#include "service/config.h"
#include "service/config_checks.h"

namespace conversions::service {
namespace {

using config_internal::AllOf;
using config_internal::Av;
using config_internal::FormatDuration;
using config_internal::IsAlnum;
using config_internal::kLogLevels;
using config_internal::kSynchronous;
using config_internal::NameOf;
using config_internal::Quoted;
using config_internal::ShownEnvName;

// "name=value" for Describe; values with unusual characters are quoted.
std::string Pair(std::string_view key, std::string_view value) {
  bool plain = !value.empty() && AllOf(value, [](char c) {
    return IsAlnum(c) ||
           std::string_view("._-:/@+,[]<>").find(c) != std::string_view::npos;
  });
  return absl::StrCat(Av(key), "=", plain ? std::string(value) : Quoted(value));
}

std::vector<std::pair<std::string, std::string>> DispatcherFields(
    const DispatcherOptions& o) {
  return {
      {"max_batch_events", absl::StrCat(o.max_batch_events)},
      {"max_batch_bytes", absl::StrCat(o.max_batch_bytes)},
      {"linger", FormatDuration(o.linger)},
      {"max_in_flight_requests", absl::StrCat(o.max_in_flight_requests)},
      {"connect_timeout", FormatDuration(o.connect_timeout)},
      {"request_timeout", FormatDuration(o.request_timeout)},
      {"initial_backoff", FormatDuration(o.initial_backoff)},
      {"max_backoff", FormatDuration(o.max_backoff)},
      {"backoff_multiplier", absl::StrCat(o.backoff_multiplier)},
      {"auth_probe_interval", FormatDuration(o.auth_probe_interval)},
  };
}

}  // namespace

std::string Describe(const GatewayConfig& c) {
  std::vector<std::string> out;
  out.push_back(Pair("grpc_listen", c.grpc_listen));
  out.push_back(Pair("http_listen", c.http_listen));
  out.push_back(Pair("log_level", NameOf(kLogLevels, c.log_level)));
  out.push_back(
      Pair("shutdown_drain_timeout", FormatDuration(c.shutdown_drain_timeout)));
  const GrpcOptions& g = c.grpc;
  out.push_back(Pair("grpc.max_receive_message_bytes",
                     absl::StrCat(g.max_receive_message_bytes)));
  out.push_back(Pair("grpc.keepalive_time", FormatDuration(g.keepalive_time)));
  out.push_back(
      Pair("grpc.keepalive_timeout", FormatDuration(g.keepalive_timeout)));
  out.push_back(
      Pair("grpc.max_connection_idle", FormatDuration(g.max_connection_idle)));
  out.push_back(Pair("grpc.max_concurrent_streams",
                     absl::StrCat(g.max_concurrent_streams)));
  if (c.tls.enabled()) {
    out.push_back(Pair("tls.cert_file", c.tls.cert_file));
    out.push_back(Pair("tls.key_file", c.tls.key_file));
    if (c.tls.verifies_clients()) {
      out.push_back(Pair("tls.client_ca_file", c.tls.client_ca_file));
    }
  }
  const SpoolOptions& s = c.spool;
  out.push_back(Pair("spool.path", s.path));
  out.push_back(
      Pair("spool.max_queued_events", absl::StrCat(s.max_queued_events)));
  out.push_back(Pair("spool.retention", FormatDuration(s.retention)));
  out.push_back(
      Pair("spool.max_retained_events", absl::StrCat(s.max_retained_events)));
  out.push_back(Pair("spool.synchronous", NameOf(kSynchronous, s.synchronous)));
  out.push_back(Pair("spool.group_commit_max_events",
                     absl::StrCat(s.group_commit_max_events)));
  out.push_back(Pair("spool.prepare_payload_files",
                     s.prepare_payload_files ? "true" : "false"));
  auto global = DispatcherFields(c.dispatcher);
  for (const auto& [key, value] : global) {
    out.push_back(Pair("dispatcher." + key, value));
  }
  for (size_t i = 0; i < c.destinations.size(); ++i) {
    const DestinationConfig& d = c.destinations[i];
    std::string p = absl::StrCat("destinations[", i, "].");
    out.push_back(Pair(p + "name", d.name));
    out.push_back(Pair(p + "default", d.is_default ? "true" : "false"));
    out.push_back(
        Pair(p + "pixel_id", d.has_pixel_id ? d.pixel_id : "<missing>"));
    if (!d.pixel_id_env.empty()) {
      out.push_back(Pair(p + "pixel_id_env", ShownEnvName(d.pixel_id_env)));
    }
    out.push_back(
        Pair(p + "api_key", d.has_api_key ? "<redacted>" : "<missing>"));
    if (!d.api_key_file.empty()) {
      out.push_back(Pair(p + "api_key_file", d.api_key_file));
    } else {
      out.push_back(Pair(p + "api_key_env", ShownEnvName(d.api_key_env)));
    }
    out.push_back(Pair(p + "endpoint", d.endpoint));
    if (!d.integration_source.empty()) {
      out.push_back(Pair(p + "integration_source", d.integration_source));
    }
    out.push_back(Pair(p + "default_action_source",
                       mapping::ActionSourceName(d.default_action_source)));
    for (const auto& [event, type] : d.event_mapping) {
      out.push_back(Pair(absl::StrCat(p, "event_mapping[", Quoted(event), "]"),
                         type == mapping::kSkipTagEvent
                             ? std::string_view("skip")
                             : mapping::EventTypeName(type)));
    }
    for (const auto& [slot, paths] : d.field_mapping) {
      out.push_back(Pair(absl::StrCat(p, "field_mapping[", Quoted(slot), "]"),
                         absl::StrJoin(paths, ",")));
    }
    if (!d.consent_categories.empty()) {
      out.push_back(Pair(p + "consent_categories",
                         absl::StrJoin(d.consent_categories, ",")));
    }
    // Only what this destination overrides.
    auto own = DispatcherFields(d.dispatcher);
    for (size_t f = 0; f < own.size(); ++f) {
      if (own[f].second != global[f].second) {
        out.push_back(Pair(p + "dispatcher." + own[f].first, own[f].second));
      }
    }
  }
  if (c.callers.empty())
    out.push_back(Pair("callers", "none"));  // no caller authentication
  for (size_t i = 0; i < c.callers.size(); ++i) {
    const CallerConfig& caller = c.callers[i];
    std::string p = absl::StrCat("callers[", i, "].");
    out.push_back(Pair(p + "name", caller.name));
    out.push_back(Pair(p + "token", "<redacted>"));
    if (!caller.token_file.empty()) {
      out.push_back(Pair(p + "token_file", caller.token_file));
    } else {
      out.push_back(Pair(p + "token_env", ShownEnvName(caller.token_env)));
    }
    out.push_back(
        Pair(p + "destinations", absl::StrJoin(caller.destinations, ",")));
  }
  return absl::StrJoin(out, " ");
}

}  // namespace conversions::service
