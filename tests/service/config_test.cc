#include "service/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/service/test_certs.h"

namespace conversions::service {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using namespace std::chrono_literals;

constexpr char kKey[] = "sk-test-0123456789abcdef";

// Environment variables and files from maps.
class FakeEnvironment : public Environment {
 public:
  std::optional<std::string> GetEnv(std::string_view name) const override {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  }
  absl::StatusOr<std::string> ReadFile(const std::string& path) const override {
    auto it = files.find(path);
    if (it == files.end()) {
      return absl::NotFoundError("cannot open " + path +
                                 ": No such file or directory");
    }
    return it->second;
  }

  std::map<std::string, std::string> vars;
  std::map<std::string, std::string> files;
};

// The environment a deployment has: both secrets set.
FakeEnvironment ServingEnvironment() {
  FakeEnvironment env;
  env.vars["OPENAI_CONVERSIONS_API_KEY"] = kKey;
  env.vars["OPENAI_PIXEL_ID"] = "pixel-42";
  return env;
}

absl::StatusOr<GatewayConfig> Parse(std::string_view yaml,
                                    const Environment& env) {
  return ParseConfig(yaml, env, "config.yaml");
}

absl::StatusOr<GatewayConfig> Parse(std::string_view yaml) {
  return Parse(yaml, ServingEnvironment());
}

// Returns the error message of parsing `yaml`, or "OK" when it parses.
std::string ParseError(std::string_view yaml) {
  absl::StatusOr<GatewayConfig> config = Parse(yaml);
  if (config.ok()) return "OK";
  EXPECT_EQ(config.status().code(), absl::StatusCode::kFailedPrecondition);
  return std::string(config.status().message());
}

// --- Defaults and a full file ---

TEST(ConfigTest, NoFileGivesTheDocumentedDefaults) {
  absl::StatusOr<GatewayConfig> config = LoadConfig("", ServingEnvironment());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->grpc_listen, "127.0.0.1:50051");
  EXPECT_EQ(config->http_listen, "127.0.0.1:8080");
  EXPECT_EQ(config->log_level, LogLevel::kInfo);
  EXPECT_EQ(config->shutdown_drain_timeout, 30s);
  EXPECT_EQ(config->grpc.max_receive_message_bytes, 16777216);
  EXPECT_EQ(config->grpc.keepalive_time, 60s);
  EXPECT_EQ(config->grpc.keepalive_timeout, 20s);
  EXPECT_EQ(config->grpc.max_connection_idle, 0s);
  EXPECT_EQ(config->grpc.max_concurrent_streams, 1000);
  EXPECT_EQ(config->spool.path, "./data/spool.db");
  EXPECT_EQ(config->spool.max_queued_events, 2000000);
  EXPECT_EQ(config->spool.retention, 24h * 7);
  EXPECT_EQ(config->spool.synchronous, SpoolSynchronous::kFull);
  EXPECT_EQ(config->spool.group_commit_max_events, 10000);
  EXPECT_TRUE(config->spool.prepare_payload_files);
  EXPECT_EQ(config->dispatcher.max_batch_events, 1000);
  EXPECT_EQ(config->dispatcher.max_batch_bytes, 4194304);
  EXPECT_EQ(config->dispatcher.linger, 200ms);
  EXPECT_EQ(config->dispatcher.max_in_flight_requests, 4);
  EXPECT_EQ(config->dispatcher.connect_timeout, 5s);
  EXPECT_EQ(config->dispatcher.request_timeout, 30s);
  EXPECT_EQ(config->dispatcher.initial_backoff, 1s);
  EXPECT_EQ(config->dispatcher.max_backoff, 5min);
  EXPECT_EQ(config->dispatcher.backoff_multiplier, 2.0);
  EXPECT_EQ(config->dispatcher.auth_probe_interval, 30s);
  ASSERT_EQ(config->destinations.size(), 1u);
  const DestinationConfig& d = config->destinations[0];
  EXPECT_EQ(d.name, "default");
  EXPECT_TRUE(d.is_default);
  EXPECT_EQ(d.pixel_id_env, "OPENAI_PIXEL_ID");
  EXPECT_EQ(d.pixel_id, "pixel-42");
  EXPECT_EQ(d.api_key_env, "OPENAI_CONVERSIONS_API_KEY");
  EXPECT_EQ(d.api_key, kKey);
  EXPECT_EQ(d.endpoint, "https://bzr.openai.com/v1/events");
  EXPECT_EQ(d.integration_source, "");
  EXPECT_EQ(d.default_action_source, v1::ACTION_SOURCE_WEB);
  EXPECT_TRUE(d.event_mapping.empty());
  EXPECT_TRUE(d.field_mapping.empty());
  EXPECT_TRUE(d.consent_categories.empty());
  EXPECT_EQ(d.dispatcher.linger, 200ms);
  EXPECT_TRUE(ValidateForServing(*config).ok());
}

TEST(ConfigTest, EmptyOrCommentOnlyTextGivesDefaults) {
  for (std::string_view text : {"", "# nothing here\n", "---\n"}) {
    absl::StatusOr<GatewayConfig> config = Parse(text);
    ASSERT_TRUE(config.ok()) << text << ": " << config.status();
    EXPECT_EQ(Describe(*config),
              Describe(*LoadConfig("", ServingEnvironment())));
  }
}

TEST(ConfigTest, EmptySectionTakesItsDefaults) {
  // Every key of the section commented out leaves a null value.
  absl::StatusOr<GatewayConfig> config =
      Parse("grpc:\n  # keepalive_time: 1s\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->grpc.keepalive_time, 60s);
}

TEST(ConfigTest, ParsesEveryKey) {
  absl::StatusOr<GatewayConfig> config =
      Parse(R"yaml(
grpc_listen: 0.0.0.0:0
http_listen: "[::1]:9090"
log_level: debug
shutdown_drain_timeout: 45s
grpc:
  max_receive_message_bytes: 1048576
  keepalive_time: 2h
  keepalive_timeout: 10s
  max_connection_idle: 15m
  max_concurrent_streams: 64
spool:
  path: /var/lib/gateway/spool.db
  max_queued_events: 500
  retention: 3d
  synchronous: normal
  group_commit_max_events: 250
  prepare_payload_files: false
dispatcher:
  max_batch_events: 500
  max_batch_bytes: 1000000
  linger: 50ms
  max_in_flight_requests: 2
  connect_timeout: 2s
  request_timeout: 10s
  initial_backoff: 500ms
  max_backoff: 1m
  backoff_multiplier: 1.5
  auth_probe_interval: 1m
destinations:
  - name: shop-eu
    pixel_id: "123456"
    api_key_file: /run/secrets/key
    endpoint: https://bzr.openai.com/v1/events
    integration_source: acme.gateway-1
    default: true
    default_action_source: physical_store
    event_mapping: {add_to_wishlist: custom, "Video Playback Started": contents_viewed}
    field_mapping:
      user.email: user.contact.mail
      items.X.product.price: [items.X.product.unit_price, items.X.price]
    consent_categories: [analytics, ads]
  - name: sandbox
    api_key_env: SANDBOX_KEY
    pixel_id_env: SANDBOX_PIXEL
    endpoint: http://127.0.0.1:8099/v1/events
)yaml",
            [] {
              FakeEnvironment env;
              env.files["/run/secrets/key"] = "file-key\n";
              env.vars["SANDBOX_KEY"] = "sb";
              env.vars["SANDBOX_PIXEL"] = "p1";
              return env;
            }());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->grpc_listen, "0.0.0.0:0");
  EXPECT_EQ(config->http_listen, "[::1]:9090");
  EXPECT_EQ(config->log_level, LogLevel::kDebug);
  EXPECT_EQ(config->shutdown_drain_timeout, 45s);
  EXPECT_EQ(config->grpc.max_receive_message_bytes, 1048576);
  EXPECT_EQ(config->grpc.keepalive_time, 2h);
  EXPECT_EQ(config->grpc.keepalive_timeout, 10s);
  EXPECT_EQ(config->grpc.max_connection_idle, 15min);
  EXPECT_EQ(config->grpc.max_concurrent_streams, 64);
  EXPECT_EQ(config->spool.path, "/var/lib/gateway/spool.db");
  EXPECT_EQ(config->spool.max_queued_events, 500);
  EXPECT_EQ(config->spool.retention, 72h);
  EXPECT_EQ(config->spool.synchronous, SpoolSynchronous::kNormal);
  EXPECT_EQ(config->spool.group_commit_max_events, 250);
  EXPECT_FALSE(config->spool.prepare_payload_files);
  EXPECT_EQ(config->dispatcher.max_batch_events, 500);
  EXPECT_EQ(config->dispatcher.max_batch_bytes, 1000000);
  EXPECT_EQ(config->dispatcher.linger, 50ms);
  EXPECT_EQ(config->dispatcher.max_in_flight_requests, 2);
  EXPECT_EQ(config->dispatcher.connect_timeout, 2s);
  EXPECT_EQ(config->dispatcher.request_timeout, 10s);
  EXPECT_EQ(config->dispatcher.initial_backoff, 500ms);
  EXPECT_EQ(config->dispatcher.max_backoff, 1min);
  EXPECT_EQ(config->dispatcher.backoff_multiplier, 1.5);
  EXPECT_EQ(config->dispatcher.auth_probe_interval, 1min);

  ASSERT_EQ(config->destinations.size(), 2u);
  const DestinationConfig& shop = config->destinations[0];
  EXPECT_EQ(shop.name, "shop-eu");
  EXPECT_TRUE(shop.is_default);
  EXPECT_EQ(shop.pixel_id, "123456");
  EXPECT_TRUE(shop.has_pixel_id);
  EXPECT_EQ(shop.pixel_id_env, "");
  EXPECT_EQ(shop.api_key, "file-key");
  EXPECT_EQ(shop.api_key_env, "");
  EXPECT_EQ(shop.api_key_file, "/run/secrets/key");
  EXPECT_EQ(shop.integration_source, "acme.gateway-1");
  EXPECT_EQ(shop.default_action_source, v1::ACTION_SOURCE_PHYSICAL_STORE);
  EXPECT_THAT(shop.event_mapping,
              ElementsAre(Pair("Video Playback Started",
                               v1::EVENT_TYPE_CONTENTS_VIEWED),
                          Pair("add_to_wishlist", v1::EVENT_TYPE_CUSTOM)));
  EXPECT_THAT(
      shop.field_mapping,
      ElementsAre(
          Pair("items.X.product.price",
               ElementsAre("items.X.product.unit_price", "items.X.price")),
          Pair("user.email", ElementsAre("user.contact.mail"))));
  EXPECT_THAT(shop.consent_categories, ElementsAre("analytics", "ads"));
  EXPECT_EQ(shop.dispatcher.linger, 50ms);

  const DestinationConfig& sandbox = config->destinations[1];
  EXPECT_FALSE(sandbox.is_default);
  EXPECT_EQ(sandbox.api_key, "sb");
  EXPECT_EQ(sandbox.pixel_id, "p1");
  EXPECT_EQ(sandbox.endpoint, "http://127.0.0.1:8099/v1/events");
  EXPECT_TRUE(ValidateForServing(*config).ok());
}

TEST(ConfigTest, DestinationDispatcherOverridesOnlyTheKeysItNames) {
  absl::StatusOr<GatewayConfig> config = Parse(R"yaml(
dispatcher:
  linger: 1s
  max_in_flight_requests: 8
destinations:
  - name: a
    dispatcher:
      linger: 10ms
  - name: b
)yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->destinations[0].dispatcher.linger, 10ms);
  EXPECT_EQ(config->destinations[0].dispatcher.max_in_flight_requests, 8);
  EXPECT_EQ(config->destinations[1].dispatcher.linger, 1s);
}

TEST(ConfigTest, GlobalDispatcherAfterDestinationsStillApplies) {
  // Key order in the file does not matter.
  absl::StatusOr<GatewayConfig> config = Parse(R"yaml(
destinations:
  - name: a
dispatcher:
  linger: 1s
)yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->destinations[0].dispatcher.linger, 1s);
}

// The API trims and lowercases integration_source before it checks it
// (spec: top-level fields); the config does the same.
TEST(ConfigTest, IntegrationSourceIsTrimmedAndLowercasedAsTheApiDoes) {
  absl::StatusOr<GatewayConfig> config = Parse(
      "destinations: [{name: a, integration_source: \"  My_Bridge.v1 \"}]\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->destinations[0].integration_source, "my_bridge.v1");
}

TEST(ConfigTest, FirstDestinationIsTheDefaultWhenNoneIsMarked) {
  absl::StatusOr<GatewayConfig> config =
      Parse("destinations: [{name: a}, {name: b, default: false}]\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->destinations[0].is_default);
  EXPECT_FALSE(config->destinations[1].is_default);
}

TEST(ConfigTest, FindDestinationByNameOrDefault) {
  absl::StatusOr<GatewayConfig> config =
      Parse("destinations: [{name: a}, {name: b, default: true}]\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->destinations[0].is_default);
  EXPECT_EQ(FindDestination(*config, "")->name, "b");
  EXPECT_EQ(FindDestination(*config, "a")->name, "a");
  EXPECT_EQ(FindDestination(*config, "c"), nullptr);
}

TEST(ConfigTest, FieldMappingAcceptsItemIndexInItemSlots) {
  absl::StatusOr<GatewayConfig> config = Parse(R"yaml(
destinations:
  - field_mapping:
      items.X.id: cart.lines.X.sku
      items: cart.lines
      content_type: [page.content-type, content_type]
)yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->destinations[0].field_mapping,
              ElementsAre(Pair("content_type", ElementsAre("page.content-type",
                                                           "content_type")),
                          Pair("items", ElementsAre("cart.lines")),
                          Pair("items.X.id", ElementsAre("cart.lines.X.sku"))));
}

// What only the mapping as a whole shows (an item path outside the items
// slot's list) fails the parse too, at the field mapping's line, as every
// config error does (exit 2 at start-up, not a failed start).
TEST(ConfigTest, AnItemPathOutsideTheItemsListFailsAtItsLine) {
  EXPECT_EQ(ParseError(R"yaml(destinations:
  - name: d
    field_mapping:
      items.X.id: products.X.sku
)yaml"),
            "config.yaml:4: destinations[0].field_mapping: invalid tag "
            "mapping: field_mapping[\"items.X.id\"]: path \"products.X.sku\": "
            "the list before X must be \"items\" or a path of the items "
            "slot");
}

// The mapping as a whole is checked after errors of its own keys too, so
// that one run reports every problem.
TEST(ConfigTest, ABadEventMappingDoesNotHideAnItemPathError) {
  EXPECT_EQ(
      ParseError(R"yaml(destinations:
  - name: d
    event_mapping:
      add_to_wishlist: wishlist
    field_mapping:
      items.X.id: products.X.sku
)yaml"),
      "config.yaml:4: destinations[0].event_mapping[\"add_to_wishlist\"]: "
      "unknown API event type \"wishlist\"; expected one of "
      "app_installed, app_opened, appointment_scheduled, "
      "checkout_started, contents_viewed, custom, items_added, "
      "lead_created, order_created, page_viewed, "
      "registration_completed, subscription_created, trial_started, or "
      "skip (send none)\n"
      "config.yaml:6: destinations[0].field_mapping: invalid tag "
      "mapping: field_mapping[\"items.X.id\"]: path \"products.X.sku\": "
      "the list before X must be \"items\" or a path of the items "
      "slot");
}

TEST(ConfigTest, EveryFieldMappingSlotIsAccepted) {
  std::string yaml = "destinations:\n  - field_mapping:\n";
  for (std::string_view slot : kFieldMappingSlots) {
    yaml += "      " + std::string(slot) + ": " + std::string(slot) + "\n";
  }
  absl::StatusOr<GatewayConfig> config = Parse(yaml);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->destinations[0].field_mapping.size(),
            kFieldMappingSlots.size());
}

TEST(ConfigTest, EveryApiEventTypeIsAnEventMappingTarget) {
  absl::StatusOr<GatewayConfig> config = Parse(R"yaml(
destinations:
  - event_mapping:
      a: app_installed
      b: app_opened
      c: appointment_scheduled
      d: checkout_started
      e: contents_viewed
      f: custom
      g: items_added
      h: lead_created
      i: order_created
      j: page_viewed
      k: registration_completed
      l: subscription_created
      m: trial_started
      n: skip
)yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->destinations[0].event_mapping.size(), 14u);
  EXPECT_EQ(config->destinations[0].event_mapping.at("m"),
            v1::EVENT_TYPE_TRIAL_STARTED);
  EXPECT_EQ(config->destinations[0].event_mapping.at("n"),
            mapping::kSkipTagEvent);
}

// --- Durations ---

TEST(DurationTest, ParsesEveryUnit) {
  EXPECT_EQ(*ParseDuration("200ms"), 200ms);
  EXPECT_EQ(*ParseDuration("30s"), 30s);
  EXPECT_EQ(*ParseDuration("5m"), 5min);
  EXPECT_EQ(*ParseDuration("2h"), 2h);
  EXPECT_EQ(*ParseDuration("7d"), 24h * 7);
  EXPECT_EQ(*ParseDuration("0s"), 0s);
  EXPECT_EQ(*ParseDuration("365d"), 24h * 365);
}

TEST(DurationTest, RejectsMalformedText) {
  for (std::string_view text : {"", "30", "s", "-5s", "+5s", "1.5s", "5 s",
                                " 5s", "5S", "5sec", "1h30m", "5us", "0x10s"}) {
    absl::StatusOr<std::chrono::milliseconds> d = ParseDuration(text);
    EXPECT_FALSE(d.ok()) << text;
    EXPECT_THAT(d.status().message(), HasSubstr("invalid duration")) << text;
  }
}

TEST(DurationTest, RejectsMoreThanOneYearWithoutOverflow) {
  EXPECT_FALSE(ParseDuration("366d").ok());
  EXPECT_FALSE(ParseDuration("9223372036854775807ms").ok());
  EXPECT_FALSE(ParseDuration("999999999999999d").ok());
}

TEST(DurationTest, BadDurationInFileNamesKeyAndLine) {
  EXPECT_EQ(ParseError("dispatcher:\n  linger: 200\n"),
            "config.yaml:2: dispatcher.linger: invalid duration \"200\": "
            "expected <integer><unit> with unit ms, s, m, h or d, such as "
            "200ms, 30s, 5m or 7d");
}

TEST(DurationTest, DurationBelowTheKeysMinimumIsRejected) {
  EXPECT_THAT(ParseError("dispatcher:\n  request_timeout: 0s\n"),
              HasSubstr("config.yaml:2: dispatcher.request_timeout: must be "
                        "between 1ms and 365d, got 0s"));
}

TEST(DurationTest, GrpcDurationsFitInIntMilliseconds) {
  EXPECT_THAT(ParseError("grpc:\n  keepalive_time: 30d\n"),
              HasSubstr("grpc.keepalive_time: must be between"));
}

// --- Addresses ---

TEST(HostPortTest, MalformedListenAddressNamesKeyAndLine) {
  EXPECT_EQ(ParseError("log_level: info\ngrpc_listen: localhost\n"),
            "config.yaml:2: grpc_listen: invalid host:port \"localhost\": "
            "missing :port");
}

// --- Every error class, with the key path and the line ---

struct ErrorCase {
  std::string name;
  std::string yaml;
  std::string message;  // expected substring
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const ErrorCase& error_case, std::ostream* os) {
  *os << error_case.name;
}

class ConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorTest, FailsNamingKeyAndLine) {
  EXPECT_THAT(ParseError(GetParam().yaml), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Strict, ConfigErrorTest,
    ::testing::ValuesIn(std::vector<ErrorCase>{
        {"UnknownTopLevelKey", "grpc_listen: 127.0.0.1:1\ngrcp_listen: x\n",
         "config.yaml:2: unknown key \"grcp_listen\"; did you mean "
         "\"grpc_listen\"?"},
        {"UnknownSectionKey", "spool:\n  paht: x\n",
         "config.yaml:2: spool: unknown key \"paht\"; did you mean \"path\"?"},
        {"UnknownKeyWithoutNearMatch", "spool:\n  colour: red\n",
         "config.yaml:2: spool: unknown key \"colour\""},
        {"UnknownKeyThatLooksLikeAnApiKey",
         "destinations:\n  - name: d\n    sk-proj-abc123: x\n",
         "config.yaml:3: destinations[0]: unknown key (not shown: it looks "
         "like an API key"},
        {"DuplicateKey", "log_level: info\nlog_level: debug\n",
         "config.yaml:2: duplicate key \"log_level\""},
        {"NonScalarKey", "? [a, b]\n: 1\n", "keys must be strings"},
        {"RootIsNotAMap", "- a\n- b\n",
         "config.yaml:1: expected a map, got a list"},
        {"SectionIsNotAMap", "grpc: 5\n",
         "config.yaml:1: grpc: expected a map, got \"5\""},
        {"StringForInteger", "grpc:\n  max_concurrent_streams: many\n",
         "config.yaml:2: grpc.max_concurrent_streams: expected an integer, got "
         "\"many\""},
        {"QuotedInteger", "spool:\n  max_queued_events: \"5\"\n",
         "spool.max_queued_events: expected an integer, got \"5\""},
        {"FloatForInteger", "spool:\n  max_queued_events: 1.5\n",
         "expected an integer, got \"1.5\""},
        {"ListForString", "spool:\n  path: [a]\n",
         "config.yaml:2: spool.path: expected a string, got a list"},
        {"NullForString", "spool:\n  path:\n",
         "config.yaml:2: spool.path: expected a string, got nothing"},
        {"EmptySpoolPath", "spool:\n  path: \"\"\n",
         "spool.path: must not be empty"},
        {"MaxBatchEventsZero", "dispatcher:\n  max_batch_events: 0\n",
         "config.yaml:2: dispatcher.max_batch_events: must be between 1 and "
         "1000, got 0"},
        {"MaxBatchEventsAboveApiLimit",
         "dispatcher:\n  max_batch_events: 1001\n",
         "dispatcher.max_batch_events: must be between 1 and 1000, got 1001"},
        {"NegativeSize", "dispatcher:\n  max_batch_bytes: -1\n",
         "dispatcher.max_batch_bytes: must be between 1 and 2147483647, got "
         "-1"},
        {"NegativeQueueBound", "spool:\n  max_queued_events: -5\n",
         "spool.max_queued_events: must be at least 1, got -5"},
        {"IntegerOverflow",
         "spool:\n  max_queued_events: 99999999999999999999999\n",
         "spool.max_queued_events: must be at most 9223372036854775807, got "
         "99999999999999999999999"},
        {"NegativeIntegerOverflow",
         "spool:\n  max_queued_events: -99999999999999999999999\n",
         "spool.max_queued_events: must be at least 1, got "
         "-99999999999999999999999"},
        {"MultiplierBelowOne", "dispatcher:\n  backoff_multiplier: 0.5\n",
         "dispatcher.backoff_multiplier: must be between 1 and 100, got 0.5"},
        {"MultiplierNotANumber", "dispatcher:\n  backoff_multiplier: .nan\n",
         "dispatcher.backoff_multiplier: expected a number, got \".nan\""},
        {"MaxBackoffBelowInitial",
         "dispatcher:\n  initial_backoff: 10s\n  max_backoff: 1s\n",
         "config.yaml:2: dispatcher: max_backoff (1s) is shorter than "
         "initial_backoff (10s)"},
        {"BadLogLevel", "log_level: verbose\n",
         "config.yaml:1: log_level: expected one of debug|info|warn|error, got "
         "\"verbose\""},
        {"BadSynchronous", "spool:\n  synchronous: off\n",
         "spool.synchronous: expected one of full|normal, got \"off\""},
        {"MalformedHostPort", "http_listen: 127.0.0.1:99999\n",
         "config.yaml:1: http_listen: invalid host:port \"127.0.0.1:99999\": "
         "port must be a number from 0 to 65535"},
        {"UnbracketedIpv6", "grpc_listen: ::1:50051\n",
         "IPv6 addresses need brackets"},
        {"DestinationsNotAList", "destinations: {name: a}\n",
         "config.yaml:1: destinations: expected a list of destinations, got a "
         "map"},
        {"NoDestinations", "destinations: []\n",
         "destinations: must list at least one destination"},
        {"DestinationNotAMap", "destinations:\n  - default\n",
         "config.yaml:2: destinations[0]: expected a map, got \"default\""},
        {"UnknownDestinationKey",
         "destinations:\n  - name: a\n    pixelid: \"1\"\n",
         "config.yaml:3: destinations[0]: unknown key \"pixelid\"; did you "
         "mean "
         "\"pixel_id\"?"},
        {"BadDestinationName", "destinations:\n  - name: Shop EU\n",
         "config.yaml:2: destinations[0].name: must match [a-z0-9_-]{1,64}, "
         "got "
         "\"Shop EU\""},
        {"DuplicateDestinationNames",
         "destinations:\n  - name: a\n  - name: b\n  - name: a\n",
         "config.yaml:4: destinations[2].name: duplicate destination name "
         "\"a\" (also destinations[0])"},
        {"DuplicateImplicitDefaultNames", "destinations:\n  - {}\n  - {}\n",
         "destinations[1].name: duplicate destination name \"default\""},
        {"TwoDefaults",
         "destinations:\n  - name: a\n    default: true\n  - name: b\n"
         "    default: true\n",
         "config.yaml:5: destinations[1].default: only one destination may be "
         "the default; destinations[0] already is"},
        {"QuotedBool", "destinations:\n  - default: \"true\"\n",
         "destinations[0].default: expected true or false, got \"true\""},
        {"YesIsNotABool", "destinations:\n  - default: yes\n",
         "destinations[0].default: expected true or false, got \"yes\""},
        {"BothApiKeyEnvAndFile",
         "destinations:\n  - api_key_env: KEY\n    api_key_file: /k\n",
         "config.yaml:3: destinations[0].api_key_file: give either api_key_env "
         "or api_key_file, not both"},
        {"BothPixelIdAndPixelIdEnv",
         "destinations:\n  - pixel_id: \"1\"\n    pixel_id_env: PIXEL\n",
         "config.yaml:3: destinations[0].pixel_id_env: give either pixel_id or "
         "pixel_id_env, not both"},
        {"BadEnvName", "destinations:\n  - api_key_env: 1KEY\n",
         "destinations[0].api_key_env: must be the name of an environment "
         "variable"},
        {"PixelIdWithSpace", "destinations:\n  - pixel_id: \"12 34\"\n",
         "destinations[0].pixel_id: must be 1 to 128 printable ASCII "
         "characters"},
        {"BadEndpoint", "destinations:\n  - endpoint: bzr.openai.com\n",
         "config.yaml:2: destinations[0].endpoint: invalid endpoint "
         "\"bzr.openai.com\": expected http:// or https://"},
        {"PlainHttpEndpoint",
         "destinations:\n  - endpoint: http://bzr.openai.com/v1/events\n",
         "destinations[0].endpoint: invalid endpoint "
         "\"http://bzr.openai.com/v1/events\": plain http is allowed only for "
         "loopback hosts"},
        {"BadIntegrationSource",
         "destinations:\n  - integration_source: \"-acme\"\n",
         "destinations[0].integration_source: must match "
         "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ once trimmed and lowercased, got "
         "\"-acme\""},
        {"BadDefaultActionSource",
         "destinations:\n  - default_action_source: online\n",
         "destinations[0].default_action_source: expected one of web, "
         "mobile_app, offline, physical_store, phone_call, email, other; got "
         "\"online\""},
        {"BadEventMappingTarget",
         "destinations:\n  - event_mapping:\n      add_to_cart: cart_added\n",
         "config.yaml:3: destinations[0].event_mapping[\"add_to_cart\"]: "
         "unknown API event type \"cart_added\"; expected one of "
         "app_installed, app_opened, appointment_scheduled"},
        {"EventMappingTargetNotAString",
         "destinations:\n  - event_mapping:\n      add_to_cart: "
         "[items_added]\n",
         "destinations[0].event_mapping[\"add_to_cart\"]: expected a string, "
         "got a list"},
        {"EventMappingNotAMap", "destinations:\n  - event_mapping: [a]\n",
         "destinations[0].event_mapping: expected a map, got a list"},
        {"UnknownFieldMappingSlot",
         "destinations:\n  - field_mapping:\n      user.mail: x.y\n",
         "config.yaml:3: destinations[0].field_mapping: unknown field mapping "
         "slot \"user.mail\"; did you mean \"user.email\"?"},
        {"FieldMappingSlotByLabel",
         "destinations:\n  - field_mapping:\n      User Email: x.y\n",
         "unknown field mapping slot \"User Email\""},
        {"FieldMappingEmptyPath",
         "destinations:\n  - field_mapping:\n      user.email: \"\"\n",
         "destinations[0].field_mapping[\"user.email\"]: invalid source path "
         "\"\": must not be empty"},
        {"FieldMappingEmptySegment",
         "destinations:\n  - field_mapping:\n      user.email: user..mail\n",
         "invalid source path \"user..mail\": must be dot-separated segments "
         "of [A-Za-z0-9_-]"},
        {"FieldMappingBadCharacter",
         "destinations:\n  - field_mapping:\n      user.email: user.e mail\n",
         "invalid source path \"user.e mail\""},
        {"FieldMappingItemIndexOutsideItemSlot",
         "destinations:\n  - field_mapping:\n      value: items.X.value\n",
         "destinations[0].field_mapping[\"value\"]: invalid source path "
         "\"items.X.value\": the item index X is allowed only for items.X.* "
         "slots"},
        {"FieldMappingItemIndexTwice",
         "destinations:\n  - field_mapping:\n      items.X.id: a.X.b.X\n",
         "may use the item index X only once"},
        {"FieldMappingEmptyList",
         "destinations:\n  - field_mapping:\n      user.email: []\n",
         "destinations[0].field_mapping[\"user.email\"]: must list at least "
         "one "
         "source path"},
        {"FieldMappingListOfNonStrings",
         "destinations:\n  - field_mapping:\n      user.email:\n        - a\n"
         "        - {b: c}\n",
         "config.yaml:5: destinations[0].field_mapping[\"user.email\"][1]: "
         "expected a source path, got a map"},
        {"FieldMappingMapValue",
         "destinations:\n  - field_mapping:\n      user.email: {a: b}\n",
         "expected a source path or a list of them, got a map"},
        {"ConsentCategoriesNotAList",
         "destinations:\n  - consent_categories: ads\n",
         "destinations[0].consent_categories: expected a list of strings"},
        {"DuplicateConsentCategory",
         "destinations:\n  - consent_categories: [ads, ads]\n",
         "destinations[0].consent_categories[1]: duplicate consent category"},
        {"UnknownKeyInDestinationDispatcher",
         "\n\n\n\n\n\n\n\n\ndestinations:\n  - name: default\n"
         "    dispatcher:\n      lingr: 5s\n",
         "config.yaml:13: destinations[0].dispatcher: unknown key \"lingr\"; "
         "did you mean \"linger\"?"},
        {"SamePortForGrpcAndHttp",
         "grpc_listen: 127.0.0.1:9000\nhttp_listen: 127.0.0.1:9000\n",
         "config.yaml:2: http_listen: port 9000 is also grpc_listen's"},
        {"SamePortOnAWildcardHost",
         "grpc_listen: 0.0.0.0:9000\nhttp_listen: 127.0.0.1:9000\n",
         "config.yaml:2: http_listen: port 9000 is also grpc_listen's"},
        {"MultipleDocuments", "log_level: info\n---\nlog_level: debug\n",
         "config.yaml:3: expected one YAML document, found 2"},
        {"InvalidYaml", "grpc:\n  keepalive_time: [1s\n",
         "config.yaml:3: invalid YAML: end of sequence flow not found"},
    }),
    [](const ::testing::TestParamInfo<ErrorCase>& case_info) {
      return case_info.param.name;
    });

TEST(ConfigErrorTest, ReportsEveryErrorOneLineEach) {
  EXPECT_EQ(ParseError("log_level: loud\nspool:\n  retention: 7\n"
                       "dispatcher:\n  max_batch_events: 0\n"),
            "config.yaml:1: log_level: expected one of debug|info|warn|error, "
            "got \"loud\"\n"
            "config.yaml:3: spool.retention: invalid duration \"7\": expected "
            "<integer><unit> with unit ms, s, m, h or d, such as 200ms, 30s, "
            "5m or 7d\n"
            "config.yaml:5: dispatcher.max_batch_events: must be between 1 and "
            "1000, got 0");
}

TEST(ConfigErrorTest, UsesTheSourceNameGiven) {
  absl::StatusOr<GatewayConfig> config =
      ParseConfig("lingr: 1\n", ServingEnvironment(), "/etc/gw.yaml");
  EXPECT_EQ(config.status().message(), "/etc/gw.yaml:1: unknown key \"lingr\"");
}

// --- Secrets ---

TEST(SecretsTest, ReadsTheKeyAndPixelIdFromNamedVariables) {
  FakeEnvironment env;
  env.vars["SHOP_KEY"] = "shop-key";
  env.vars["SHOP_PIXEL"] = "777";
  absl::StatusOr<GatewayConfig> config = Parse(
      "destinations:\n  - api_key_env: SHOP_KEY\n    pixel_id_env: "
      "SHOP_PIXEL\n",
      env);
  ASSERT_TRUE(config.ok()) << config.status();
  const DestinationConfig& d = config->destinations[0];
  EXPECT_EQ(d.api_key, "shop-key");
  EXPECT_TRUE(d.has_api_key);
  EXPECT_EQ(d.api_key_env, "SHOP_KEY");
  EXPECT_EQ(d.pixel_id, "777");
  EXPECT_TRUE(d.has_pixel_id);
  EXPECT_TRUE(ValidateForServing(*config).ok());
}

TEST(SecretsTest, ReadsTheKeyFromAFileTrimmingTheTrailingNewline) {
  FakeEnvironment env = ServingEnvironment();
  env.files["/run/secrets/key"] = "file-key\r\n";
  absl::StatusOr<GatewayConfig> config =
      Parse("destinations:\n  - api_key_file: /run/secrets/key\n", env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->destinations[0].api_key, "file-key");
  EXPECT_EQ(config->destinations[0].api_key_env, "");
  EXPECT_TRUE(ValidateForServing(*config).ok());
}

TEST(SecretsTest, MissingSecretsParseButFailServingValidation) {
  absl::StatusOr<GatewayConfig> config = LoadConfig("", FakeEnvironment());
  ASSERT_TRUE(config.ok()) << config.status();
  const DestinationConfig& d = config->destinations[0];
  EXPECT_FALSE(d.has_api_key);
  EXPECT_EQ(d.api_key, "");
  EXPECT_FALSE(d.has_pixel_id);
  absl::Status status = ValidateForServing(*config);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "destinations[0] (default): no pixel id: environment variable "
            "OPENAI_PIXEL_ID is not set\n"
            "destinations[0] (default): no API key: environment variable "
            "OPENAI_CONVERSIONS_API_KEY is not set or empty");
}

TEST(SecretsTest, EmptyVariableCountsAsMissing) {
  FakeEnvironment env = ServingEnvironment();
  env.vars["OPENAI_CONVERSIONS_API_KEY"] = "";
  absl::StatusOr<GatewayConfig> config = LoadConfig("", env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->destinations[0].has_api_key);
  EXPECT_FALSE(ValidateForServing(*config).ok());
}

TEST(SecretsTest, UnreadableKeyFileFailsServingValidationNamingTheFile) {
  absl::StatusOr<GatewayConfig> config =
      Parse("destinations:\n  - api_key_file: /missing\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->destinations[0].has_api_key);
  EXPECT_THAT(ValidateForServing(*config).message(),
              HasSubstr("config.yaml:2: destinations[0].api_key_file: no API "
                        "key: cannot read file /missing: cannot open "
                        "/missing"));
}

TEST(SecretsTest, AKeyPastedAsTheKeyFileIsNotQuoted) {
  // The key itself where its file's path belongs: no '/', so not shown.
  absl::StatusOr<GatewayConfig> config =
      Parse("destinations:\n  - api_key_file: sk-proj-pastedbymistake42\n");
  ASSERT_TRUE(config.ok()) << config.status();
  std::string message(ValidateForServing(*config).message());
  EXPECT_THAT(message, HasSubstr("no API key: cannot read the file named "
                                 "here"));
  EXPECT_THAT(message, Not(HasSubstr("pastedbymistake")));
}

TEST(SecretsTest, EmptyKeyFileFailsServingValidation) {
  FakeEnvironment env = ServingEnvironment();
  env.files["/k"] = "\n";
  absl::StatusOr<GatewayConfig> config =
      Parse("destinations:\n  - api_key_file: /k\n", env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(ValidateForServing(*config).message(),
              HasSubstr("no API key: file /k is empty"));
}

TEST(SecretsTest, UnusableKeyIsDroppedAndNeverQuoted) {
  // A key with an inner space cannot go into an HTTP header.
  FakeEnvironment env = ServingEnvironment();
  env.vars["OPENAI_CONVERSIONS_API_KEY"] = "sk-secret part2";
  absl::StatusOr<GatewayConfig> config = LoadConfig("", env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->destinations[0].api_key, "");
  absl::Status status = ValidateForServing(*config);
  EXPECT_THAT(status.message(), HasSubstr("does not hold 1 to 4096 printable"));
  EXPECT_THAT(status.message(), Not(HasSubstr("sk-secret")));
  EXPECT_THAT(Describe(*config), Not(HasSubstr("sk-secret")));
}

TEST(SecretsTest, ParseErrorsNeverContainTheKey) {
  absl::StatusOr<GatewayConfig> config = Parse(
      "destinations:\n  - name: BAD\n    api_key_env: "
      "OPENAI_CONVERSIONS_API_KEY\n");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), Not(HasSubstr(kKey)));
}

TEST(SecretsTest, KeyPastedAsVariableNameIsNotEchoed) {
  absl::StatusOr<GatewayConfig> config = Parse(
      "destinations:\n  - api_key_env: sk-proj-abc123\n"
      "    pixel_id_env: sk-proj-abc123\n");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("api_key_env: must be the "
                                                   "name of an environment "
                                                   "variable"));
  EXPECT_THAT(config.status().message(), Not(HasSubstr("abc123")));
}

TEST(SecretsTest, KeyFileGivenAsTheConfigFileIsNotEchoed) {
  // --config /run/secrets/api-key: the whole document is the key.
  std::string message = ParseError("sk-proj-abc123\n");
  EXPECT_THAT(message, HasSubstr("config.yaml:1: expected a map of keys"));
  EXPECT_THAT(message, Not(HasSubstr("abc123")));
}

TEST(SecretsTest, KeyPastedAsPixelIdIsRefusedAndNotEchoed) {
  // Pixel ids are logged by Describe; an API key must never be.
  EXPECT_EQ(ParseError("destinations:\n  - pixel_id: sk-proj-abc123\n"),
            "config.yaml:2: destinations[0].pixel_id: must be 1 to 128 "
            "printable ASCII characters without spaces, and not an API key "
            "(sk-...)");
  FakeEnvironment env = ServingEnvironment();
  env.vars["OPENAI_PIXEL_ID"] = "sk-proj-abc123";
  absl::StatusOr<GatewayConfig> config = LoadConfig("", env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->destinations[0].has_pixel_id);
  EXPECT_THAT(Describe(*config), Not(HasSubstr("abc123")));
  EXPECT_THAT(ValidateForServing(*config).message(), Not(HasSubstr("abc123")));
}

TEST(SecretsTest, ServingValidationCoversEveryDestination) {
  FakeEnvironment env = ServingEnvironment();
  absl::StatusOr<GatewayConfig> config = Parse(
      "destinations:\n  - name: a\n  - name: b\n    api_key_env: B_KEY\n", env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(ValidateForServing(*config).message(),
            "config.yaml:4: destinations[1].api_key_env: no API key: "
            "environment variable B_KEY is not set or empty");
}

// A key pasted into an *_env key where the variable's name belongs is a
// valid name when it holds only letters, digits and '_'; messages and the
// summary name only upper-case variables, so that it is not echoed.
TEST(SecretsTest, AKeyPastedAsAVariableNameIsNotEchoed) {
  const std::string pasted = "sk_proj_Zq81pastedbymistake";
  absl::StatusOr<GatewayConfig> config = Parse(
      absl::StrCat("destinations:\n  - name: a\n    api_key_env: ", pasted,
                   "\n    pixel_id_env: ", pasted,
                   "\ncallers:\n  - name: c\n    token_env: ", pasted,
                   "\n    destinations: [a]\n"),
      ServingEnvironment());
  std::string message = config.ok()
                            ? std::string(ValidateForServing(*config).message())
                            : std::string(config.status().message());
  EXPECT_THAT(message, HasSubstr("the environment variable named here (its "
                                 "name is not shown"));
  EXPECT_THAT(message, Not(HasSubstr("pastedbymistake")));

  // Set after all (a lower-case name is legal): the summary hides it too.
  FakeEnvironment env = ServingEnvironment();
  env.vars[pasted] = "1234567890abcdefghijklmnopqrstuvwxyz";
  config =
      Parse(absl::StrCat(
                "destinations:\n  - name: a\n    api_key_env: ", pasted, "\n"),
            env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(ValidateForServing(*config).ok());
  EXPECT_THAT(Describe(*config), HasSubstr("api_key_env=<redacted>"));
  EXPECT_THAT(Describe(*config), Not(HasSubstr("pastedbymistake")));
}

// A missing secret is placed as config errors are: at the key that names
// its source, or at the destination when it keeps the default source.
TEST(SecretsTest, AMissingSecretNamesItsPlaceInTheConfigFile) {
  absl::StatusOr<GatewayConfig> config = Parse(
      "destinations:\n  - name: a\n    pixel_id: \"1\"\n"
      "  - name: b\n    pixel_id_env: B_PIXEL\n",
      FakeEnvironment());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(ValidateForServing(*config).message(),
            "config.yaml:2: destinations[0] (a): no API key: environment "
            "variable OPENAI_CONVERSIONS_API_KEY is not set or empty\n"
            "config.yaml:5: destinations[1].pixel_id_env: no pixel id: "
            "environment variable B_PIXEL is not set\n"
            "config.yaml:4: destinations[1] (b): no API key: environment "
            "variable OPENAI_CONVERSIONS_API_KEY is not set or empty");
}

// --- Describe ---

TEST(DescribeTest, RedactsTheApiKey) {
  absl::StatusOr<GatewayConfig> config = LoadConfig("", ServingEnvironment());
  ASSERT_TRUE(config.ok()) << config.status();
  std::string line = Describe(*config);
  EXPECT_THAT(line, Not(HasSubstr(kKey)));
  EXPECT_THAT(line, HasSubstr("destinations[0].api_key=<redacted>"));
  EXPECT_THAT(line, HasSubstr("destinations[0].pixel_id=pixel-42"));
  EXPECT_THAT(line, Not(HasSubstr("\n")));
}

TEST(DescribeTest, ShowsTheDefaultsOnOneLine) {
  EXPECT_EQ(
      Describe(*LoadConfig("", FakeEnvironment())),
      "grpc_listen=127.0.0.1:50051 http_listen=127.0.0.1:8080 log_level=info "
      "shutdown_drain_timeout=30s grpc.max_receive_message_bytes=16777216 "
      "grpc.keepalive_time=1m grpc.keepalive_timeout=20s "
      "grpc.max_connection_idle=0s grpc.max_concurrent_streams=1000 "
      "spool.path=./data/spool.db spool.max_queued_events=2000000 "
      "spool.retention=7d spool.max_retained_events=5000000 "
      "spool.synchronous=full "
      "spool.group_commit_max_events=10000 spool.prepare_payload_files=true "
      "dispatcher.max_batch_events=1000 "
      "dispatcher.max_batch_bytes=4194304 dispatcher.linger=200ms "
      "dispatcher.max_in_flight_requests=4 dispatcher.connect_timeout=5s "
      "dispatcher.request_timeout=30s dispatcher.initial_backoff=1s "
      "dispatcher.max_backoff=5m dispatcher.backoff_multiplier=2 "
      "dispatcher.auth_probe_interval=30s destinations[0].name=default "
      "destinations[0].default=true destinations[0].pixel_id=<missing> "
      "destinations[0].pixel_id_env=OPENAI_PIXEL_ID "
      "destinations[0].api_key=<missing> "
      "destinations[0].api_key_env=OPENAI_CONVERSIONS_API_KEY "
      "destinations[0].endpoint=https://bzr.openai.com/v1/events "
      "destinations[0].default_action_source=web callers=none");
}

TEST(DescribeTest, ListsMappingsAndDispatcherOverrides) {
  FakeEnvironment env = ServingEnvironment();
  env.files["/k"] = "secret-from-file\n";
  absl::StatusOr<GatewayConfig> config = Parse(R"yaml(
destinations:
  - api_key_file: /k
    event_mapping: {"Video Playback Started": contents_viewed, page_view: skip}
    field_mapping: {user.email: [a.b, c]}
    consent_categories: [ads]
    dispatcher: {linger: 1s}
)yaml",
                                               env);
  ASSERT_TRUE(config.ok()) << config.status();
  std::string line = Describe(*config);
  EXPECT_THAT(line, Not(HasSubstr("secret-from-file")));
  EXPECT_THAT(line, HasSubstr("destinations[0].api_key=<redacted> "
                              "destinations[0].api_key_file=/k "));
  EXPECT_THAT(line, HasSubstr("destinations[0].event_mapping[\"Video Playback "
                              "Started\"]=contents_viewed"));
  EXPECT_THAT(line,
              HasSubstr("destinations[0].event_mapping[\"page_view\"]=skip"));
  EXPECT_THAT(line,
              HasSubstr("destinations[0].field_mapping[\"user.email\"]=a.b,c"));
  EXPECT_THAT(line, HasSubstr("destinations[0].consent_categories=ads"));
  EXPECT_THAT(line, HasSubstr("destinations[0].dispatcher.linger=1s"));
  EXPECT_THAT(line, Not(HasSubstr("destinations[0].dispatcher.max_backoff")));
}

// --- Files ---

TEST(LoadConfigTest, ReadsTheFileThroughTheEnvironment) {
  FakeEnvironment env = ServingEnvironment();
  env.files["/etc/gw.yaml"] = "log_level: warn\n";
  absl::StatusOr<GatewayConfig> config = LoadConfig("/etc/gw.yaml", env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->log_level, LogLevel::kWarn);
}

TEST(LoadConfigTest, ErrorsNameThePathGiven) {
  FakeEnvironment env = ServingEnvironment();
  env.files["/etc/gw.yaml"] = "log_level: warn\nextra: 1\n";
  EXPECT_EQ(LoadConfig("/etc/gw.yaml", env).status().message(),
            "/etc/gw.yaml:2: unknown key \"extra\"");
}

TEST(LoadConfigTest, MissingFileIsAnError) {
  absl::StatusOr<GatewayConfig> config =
      LoadConfig("/nonexistent.yaml", ServingEnvironment());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(config.status().message(),
              HasSubstr("cannot read config file: cannot open "
                        "/nonexistent.yaml"));
}

TEST(SystemEnvironmentTest, ReadsRealFilesAndReportsMissingOnes) {
  SystemEnvironment env;
  absl::StatusOr<std::string> text = env.ReadFile(
      std::string(CONVERSIONS_SOURCE_DIR) + "/deploy/config.example.yaml");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, HasSubstr("grpc_listen:"));
  absl::StatusOr<std::string> missing = env.ReadFile("/nonexistent/file");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

// The example's values are real files, read through a fake environment.
class ExampleEnvironment : public FakeEnvironment {
 public:
  absl::StatusOr<std::string> ReadFile(const std::string& path) const override {
    return SystemEnvironment().ReadFile(path);
  }
};

const std::string kExamplePath =
    std::string(CONVERSIONS_SOURCE_DIR) + "/deploy/config.example.yaml";

TEST(ExampleConfigTest, LoadsAndIsReadyToServe) {
  ExampleEnvironment env;
  env.vars = ServingEnvironment().vars;
  absl::StatusOr<GatewayConfig> config = LoadConfig(kExamplePath, env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(ValidateForServing(*config).ok());
  const DestinationConfig& d = config->destinations[0];
  EXPECT_EQ(d.event_mapping.at("add_to_cart"), v1::EVENT_TYPE_ITEMS_ADDED);
  EXPECT_THAT(d.field_mapping.at("user.email"),
              ElementsAre("user.email", "user.contact.mail"));
}

TEST(ExampleConfigTest, DocumentsTheTrueDefaults) {
  // Apart from the sample mappings, the example spells out the defaults.
  ExampleEnvironment env;
  env.vars = ServingEnvironment().vars;
  absl::StatusOr<GatewayConfig> config = LoadConfig(kExamplePath, env);
  ASSERT_TRUE(config.ok()) << config.status();
  config->destinations[0].event_mapping.clear();
  config->destinations[0].field_mapping.clear();
  EXPECT_EQ(Describe(*config), Describe(*LoadConfig("", env)));
}

// --- TLS ---

TEST(TlsConfigTest, ReadsAMatchingCertificateAndKey) {
  testing::TestCert cert = testing::MakeSelfSignedCert();
  ASSERT_FALSE(cert.cert_pem.empty());
  FakeEnvironment env = ServingEnvironment();
  env.files["/tls/tls.crt"] = cert.cert_pem;
  env.files["/tls/tls.key"] = cert.key_pem;
  absl::StatusOr<GatewayConfig> config =
      Parse("tls:\n  cert_file: /tls/tls.crt\n  key_file: /tls/tls.key\n", env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->tls.enabled());
  EXPECT_EQ(config->tls.cert_pem, cert.cert_pem);
  EXPECT_EQ(config->tls.key_pem, cert.key_pem);
  EXPECT_THAT(Describe(*config), HasSubstr("tls.key_file=/tls/tls.key"));
  EXPECT_THAT(Describe(*config), Not(HasSubstr("PRIVATE KEY")));
  EXPECT_FALSE(LoadConfig("", ServingEnvironment())->tls.enabled());
}

TEST(TlsConfigTest, EveryMistakeStopsTheStartUpWithoutQuotingTheKey) {
  testing::TestCert cert = testing::MakeSelfSignedCert();
  testing::TestCert other = testing::MakeSelfSignedCert();
  FakeEnvironment env = ServingEnvironment();
  env.files["/tls/tls.crt"] = cert.cert_pem;
  env.files["/tls/tls.key"] = cert.key_pem;
  env.files["/tls/other.key"] = other.key_pem;
  env.files["/tls/empty"] = "nothing here\n";
  auto error = [&](const std::string& tls_yaml) {
    absl::StatusOr<GatewayConfig> config = Parse("tls:\n" + tls_yaml, env);
    return config.ok() ? std::string("OK")
                       : std::string(config.status().message());
  };
  EXPECT_THAT(error("  cert_file: /tls/tls.crt\n"),
              HasSubstr("tls: needs both cert_file and key_file"));
  EXPECT_THAT(error("  cert_file: /tls/nope.crt\n  key_file: /tls/tls.key\n"),
              HasSubstr("tls.cert_file: cannot read file /tls/nope.crt"));
  EXPECT_THAT(error("  cert_file: /tls/empty\n  key_file: /tls/tls.key\n"),
              HasSubstr("file /tls/empty holds no PEM CERTIFICATE"));
  std::string mismatch =
      error("  cert_file: /tls/tls.crt\n  key_file: /tls/other.key\n");
  EXPECT_THAT(mismatch, HasSubstr("tls.key_file: is not the private key of the "
                                  "certificate in cert_file"));
  EXPECT_THAT(mismatch, Not(HasSubstr("PRIVATE KEY-----")));
  EXPECT_THAT(error("  cert_file: /tls/tls.crt\n  key_file: /tls/tls.key\n"
                    "  ca_file: /x\n"),
              HasSubstr("unknown key \"ca_file\""));
}

TEST(TlsConfigTest, ReadsTheClientCaBundleOfMutualTls) {
  testing::TestCert server = testing::MakeSelfSignedCert();
  testing::TestCert ca = testing::MakeCert("client CA", "", true, nullptr);
  testing::TestCert ca2 = testing::MakeCert("second CA", "", true, nullptr);
  ASSERT_FALSE(ca.cert_pem.empty());
  FakeEnvironment env = ServingEnvironment();
  env.files["/tls/tls.crt"] = server.cert_pem;
  env.files["/tls/tls.key"] = server.key_pem;
  env.files["/tls/clients.crt"] = ca.cert_pem + ca2.cert_pem;
  absl::StatusOr<GatewayConfig> config = Parse(
      "tls:\n  cert_file: /tls/tls.crt\n  key_file: /tls/tls.key\n"
      "  client_ca_file: /tls/clients.crt\n",
      env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->tls.verifies_clients());
  EXPECT_EQ(config->tls.client_ca_pem, ca.cert_pem + ca2.cert_pem);
  EXPECT_THAT(Describe(*config),
              HasSubstr("tls.client_ca_file=/tls/clients.crt"));
  // Without the key, the server's own certificate verifies no one.
  config =
      Parse("tls:\n  cert_file: /tls/tls.crt\n  key_file: /tls/tls.key\n", env);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->tls.verifies_clients());
  EXPECT_THAT(Describe(*config), Not(HasSubstr("client_ca_file")));
}

TEST(TlsConfigTest, AClientCaFileMustHoldCaCertificates) {
  testing::TestCert server = testing::MakeSelfSignedCert();
  testing::TestCert ca = testing::MakeCert("client CA", "", true, nullptr);
  testing::TestCert leaf = testing::MakeClientCert(ca, "a client");
  FakeEnvironment env = ServingEnvironment();
  env.files["/tls/tls.crt"] = server.cert_pem;
  env.files["/tls/tls.key"] = server.key_pem;
  env.files["/tls/leaf.crt"] = ca.cert_pem + leaf.cert_pem;
  env.files["/tls/empty"] = "nothing here\n";
  env.files["/tls/broken"] =
      "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  auto error = [&](const std::string& client_ca_yaml) {
    absl::StatusOr<GatewayConfig> config =
        Parse("tls:\n  cert_file: /tls/tls.crt\n  key_file: /tls/tls.key\n" +
                  client_ca_yaml,
              env);
    return config.ok() ? std::string("OK")
                       : std::string(config.status().message());
  };
  EXPECT_THAT(error("  client_ca_file: /tls/nope.crt\n"),
              HasSubstr("tls.client_ca_file: cannot read file /tls/nope.crt"));
  EXPECT_THAT(error("  client_ca_file: /tls/empty\n"),
              HasSubstr("file /tls/empty holds no PEM CERTIFICATE"));
  EXPECT_THAT(error("  client_ca_file: /tls/broken\n"),
              HasSubstr("tls.client_ca_file: holds no valid PEM certificate"));
  EXPECT_THAT(error("  client_ca_file: /tls/leaf.crt\n"),
              HasSubstr("tls.client_ca_file: certificate 2 is not a CA "
                        "certificate"));
  EXPECT_THAT(error("  client_ca_file: \"\"\n"),
              HasSubstr("tls.client_ca_file: must be a file path"));
}

// --- Callers ---

namespace callers {

constexpr char kToken[] = "caller-token-0123456789";

FakeEnvironment CallerEnvironment() {
  FakeEnvironment env = ServingEnvironment();
  env.vars["CHECKOUT_TOKEN"] = kToken;
  env.files["/run/secrets/ops"] = "ops-token-abcdefghijk\n";
  return env;
}

constexpr char kTwoDestinations[] =
    "destinations:\n  - name: shop\n  - name: app\n";

std::string CallerError(const std::string& callers_yaml) {
  absl::StatusOr<GatewayConfig> config =
      Parse(absl::StrCat(kTwoDestinations, callers_yaml), CallerEnvironment());
  if (config.ok()) return "OK";
  return std::string(config.status().message());
}

TEST(CallersTest, NoneConfiguredMeansNoAuthentication) {
  absl::StatusOr<GatewayConfig> config = LoadConfig("", ServingEnvironment());
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->callers.empty());
  EXPECT_THAT(Describe(*config), HasSubstr("callers=none"));
}

TEST(CallersTest, TokensComeFromTheEnvironmentOrAFile) {
  absl::StatusOr<GatewayConfig> config =
      Parse(absl::StrCat(kTwoDestinations,
                         "callers:\n"
                         "  - name: checkout\n"
                         "    token_env: CHECKOUT_TOKEN\n"
                         "    destinations: [shop]\n"
                         "  - name: ops\n"
                         "    token_file: /run/secrets/ops\n"
                         "    destinations: [\"*\"]\n"),
            CallerEnvironment());
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->callers.size(), 2u);
  EXPECT_EQ(config->callers[0].name, "checkout");
  EXPECT_EQ(config->callers[0].token, kToken);
  EXPECT_THAT(config->callers[0].destinations, ElementsAre("shop"));
  EXPECT_EQ(config->callers[1].token, "ops-token-abcdefghijk");  // trimmed
  EXPECT_THAT(config->callers[1].destinations, ElementsAre("*"));
  std::string described = Describe(*config);
  EXPECT_THAT(described, HasSubstr("callers[0].token_env=CHECKOUT_TOKEN"));
  EXPECT_THAT(described, Not(HasSubstr(kToken)));
  EXPECT_THAT(described, Not(HasSubstr("ops-token")));
}

TEST(CallersTest, ATokenPastedAsTheTokenFileIsNotQuoted) {
  std::string error = CallerError(
      "callers:\n  - name: c\n    token_file: tok-pastedbymistake-1234\n"
      "    destinations: [shop]\n");
  EXPECT_THAT(error, HasSubstr("callers[0].token_file: cannot read the file "
                               "named here"));
  EXPECT_THAT(error, Not(HasSubstr("pastedbymistake")));
}

TEST(CallersTest, EveryMistakeFailsStartUpWithoutQuotingATokenValue) {
  // An empty list would turn authentication off without a word.
  EXPECT_THAT(CallerError("callers: []\n"),
              HasSubstr("callers: is empty; list at least one caller, or "
                        "leave the key out"));
  EXPECT_THAT(CallerError("callers:\n  - name: c\n    token_env: MISSING\n"
                          "    destinations: [shop]\n"),
              HasSubstr("callers[0].token_env: environment variable MISSING "
                        "is not set or empty"));
  EXPECT_THAT(CallerError("callers:\n  - name: c\n    token_file: /nope\n"
                          "    destinations: [shop]\n"),
              HasSubstr("callers[0].token_file: cannot read file /nope"));
  EXPECT_THAT(CallerError("callers:\n  - name: c\n    destinations: [shop]\n"),
              HasSubstr("callers[0]: needs token_env or token_file"));
  EXPECT_THAT(
      CallerError(
          "callers:\n  - name: c\n    token_env: CHECKOUT_TOKEN\n"
          "    token_file: /run/secrets/ops\n    destinations: [shop]\n"),
      HasSubstr("give either token_env or token_file, not both"));
  EXPECT_THAT(CallerError("callers:\n  - name: c\n    token_env: "
                          "CHECKOUT_TOKEN\n    destinations: [shop, nope]\n"),
              HasSubstr("callers[0].destinations[1]: unknown destination "
                        "\"nope\""));
  EXPECT_THAT(CallerError("callers:\n  - name: c\n    token_env: "
                          "CHECKOUT_TOKEN\n    destinations: []\n"),
              HasSubstr("expected a non-empty list of destination names"));
  EXPECT_THAT(CallerError("callers:\n  - name: c\n    token_env: "
                          "CHECKOUT_TOKEN\n"),
              HasSubstr("callers[0]: needs destinations"));
  EXPECT_THAT(
      CallerError(
          "callers:\n  - name: c\n    token_env: CHECKOUT_TOKEN\n"
          "    destinations: [shop]\n  - name: c\n"
          "    token_file: /run/secrets/ops\n    destinations: [app]\n"),
      HasSubstr("duplicate caller name \"c\" (also callers[0])"));
  std::string same_token = CallerError(
      "callers:\n  - name: a\n    token_env: CHECKOUT_TOKEN\n"
      "    destinations: [shop]\n  - name: b\n"
      "    token_env: CHECKOUT_TOKEN\n    destinations: [app]\n");
  EXPECT_THAT(same_token, HasSubstr("has the same token as callers[0]"));
  EXPECT_THAT(same_token, Not(HasSubstr(kToken)));
  EXPECT_THAT(CallerError("callers:\n  - name: c\n    token_env: T\n"
                          "    destinations: [shop]\n    roles: [admin]\n"),
              HasSubstr("unknown key \"roles\""));
  EXPECT_THAT(CallerError("callers: {name: c}\n"),
              HasSubstr("callers: expected a list of callers"));
}

TEST(CallersTest, ShortOrUnprintableTokensAreRefused) {
  FakeEnvironment env = CallerEnvironment();
  env.vars["SHORT"] = "short-token";
  env.vars["SPACED"] = "a token with spaces inside";
  for (const char* var : {"SHORT", "SPACED"}) {
    absl::StatusOr<GatewayConfig> config = Parse(
        absl::StrCat(kTwoDestinations, "callers:\n  - name: c\n",
                     "    token_env: ", var, "\n    destinations: [shop]\n"),
        env);
    ASSERT_FALSE(config.ok()) << var;
    EXPECT_THAT(config.status().message(),
                HasSubstr("must hold 16 to 4096 printable ASCII characters"));
    EXPECT_THAT(config.status().message(), Not(HasSubstr(env.vars[var])));
  }
}

}  // namespace callers

}  // namespace
}  // namespace conversions::service
