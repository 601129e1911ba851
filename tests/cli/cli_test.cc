// Unit tests of the pure parts of conversions-cli: argument parsing, events
// file to request, and result formatting.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_options.h"
#include "cli/event_file.h"
#include "cli/result_format.h"
#include "cli/target.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/service/temp_dir.h"

namespace conversions::cli {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

absl::StatusOr<CliOptions> Parse(const std::vector<std::string>& args) {
  return ParseCliArgs(args, std::nullopt);
}

// ---- argument parsing ------------------------------------------------------

TEST(ParseCliArgsTest, DefaultsToLocalTargetAndTenSecondTimeout) {
  absl::StatusOr<CliOptions> options = Parse({"send", "events.json"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->target, "127.0.0.1:50051");
  EXPECT_EQ(options->timeout, std::chrono::seconds(10));
  EXPECT_EQ(options->command, Command::kSend);
  EXPECT_EQ(options->file, "events.json");
  EXPECT_FALSE(options->json);
  EXPECT_FALSE(options->validate_only);
}

TEST(ParseCliArgsTest, TakesTargetFromEnvironment) {
  absl::StatusOr<CliOptions> options =
      ParseCliArgs({"send", "f.json"}, std::string("gw.internal:443"));
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->target, "gw.internal:443");
}

TEST(ParseCliArgsTest, TargetFlagOverridesEnvironment) {
  absl::StatusOr<CliOptions> options = ParseCliArgs(
      {"--target", "127.0.0.1:9", "send", "f.json"}, std::string("env:1"));
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->target, "127.0.0.1:9");
}

TEST(ParseCliArgsTest, EmptyEnvironmentTargetKeepsDefault) {
  absl::StatusOr<CliOptions> options =
      ParseCliArgs({"send", "f.json"}, std::string());
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->target, "127.0.0.1:50051");
}

TEST(ParseCliArgsTest, AcceptsGlobalFlagsAfterTheCommandAndEqualsForm) {
  absl::StatusOr<CliOptions> options =
      Parse({"send", "f.json", "--timeout=500ms", "--json", "--target", "h:1",
             "--destination", "sandbox", "--validate-only"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->timeout, std::chrono::milliseconds(500));
  EXPECT_TRUE(options->json);
  EXPECT_EQ(options->target, "h:1");
  EXPECT_EQ(options->destination, "sandbox");
  EXPECT_TRUE(options->validate_only);
}

TEST(ParseCliArgsTest, DashIsStandardInput) {
  absl::StatusOr<CliOptions> options = Parse({"track", "-"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->command, Command::kTrack);
  EXPECT_EQ(options->file, "-");
}

TEST(ParseCliArgsTest, DoubleDashEndsFlags) {
  absl::StatusOr<CliOptions> options =
      Parse({"validate", "--", "--odd-name.json"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->command, Command::kValidate);
  EXPECT_EQ(options->file, "--odd-name.json");
}

TEST(ParseCliArgsTest, RejectsMissingAndExtraFiles) {
  EXPECT_THAT(Parse({"send"}).status().message(),
              HasSubstr("exactly one FILE"));
  EXPECT_THAT(Parse({"send", "a.json", "b.json"}).status().message(),
              HasSubstr("exactly one FILE"));
}

TEST(ParseCliArgsTest, RejectsUnknownCommandAndMissingCommand) {
  EXPECT_THAT(Parse({"sned", "f"}).status().message(),
              HasSubstr("unknown command \"sned\""));
  EXPECT_THAT(Parse({}).status().message(), HasSubstr("missing command"));
  EXPECT_THAT(Parse({"--json"}).status().message(),
              HasSubstr("missing command"));
}

TEST(ParseCliArgsTest, RejectsUnknownFlagsAndFlagsOfOtherCommands) {
  EXPECT_THAT(Parse({"send", "f", "--destnation", "x"}).status().message(),
              HasSubstr("unknown flag --destnation"));
  EXPECT_THAT(Parse({"status", "--type", "order_created", "--id", "1",
                     "--validate-only"})
                  .status()
                  .message(),
              HasSubstr("--validate-only does not apply to status"));
  EXPECT_THAT(Parse({"send", "f", "--all"}).status().message(),
              HasSubstr("--all does not apply to send"));
}

TEST(ParseCliArgsTest, RejectsFlagWithoutValueAndValueOnSwitch) {
  EXPECT_THAT(Parse({"send", "f", "--destination"}).status().message(),
              HasSubstr("--destination needs a value"));
  EXPECT_THAT(Parse({"send", "f", "--json=yes"}).status().message(),
              HasSubstr("--json takes no value"));
}

TEST(ParseCliArgsTest, HelpAloneIsGeneralHelp) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"help"}}) {
    absl::StatusOr<CliOptions> options = Parse(args);
    ASSERT_TRUE(options.ok()) << options.status();
    EXPECT_TRUE(options->help);
    EXPECT_EQ(options->command, Command::kNone);
  }
}

TEST(ParseCliArgsTest, HelpAfterCommandIsThatCommandsHelpEvenIfIncomplete) {
  absl::StatusOr<CliOptions> options = Parse({"status", "--help"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->help);
  EXPECT_EQ(options->command, Command::kStatus);

  options = Parse({"help", "dead-letters", "retry"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->help);
  EXPECT_EQ(options->command, Command::kDeadLettersRetry);

  // Without a subcommand: help for both.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"dead-letters", "--help"}, {"help", "dead-letters"}}) {
    options = Parse(args);
    ASSERT_TRUE(options.ok()) << options.status();
    EXPECT_TRUE(options->help);
    EXPECT_EQ(options->command, Command::kDeadLetters);
  }
  EXPECT_FALSE(Parse({"dead-letters"}).ok());
}

TEST(ParseCliArgsTest, StatusTakesEveryFormOfEventType) {
  for (const char* type : {"order_created", "ORDER_CREATED",
                           "EVENT_TYPE_ORDER_CREATED", "Order_Created"}) {
    absl::StatusOr<CliOptions> options =
        Parse({"status", "--type", type, "--id", "o1"});
    ASSERT_TRUE(options.ok()) << type << ": " << options.status();
    EXPECT_EQ(options->type, v1::EVENT_TYPE_ORDER_CREATED) << type;
    EXPECT_EQ(options->id, "o1");
  }
}

TEST(ParseCliArgsTest, StatusRequiresTypeIdAndCustomName) {
  EXPECT_THAT(Parse({"status", "--id", "1"}).status().message(),
              HasSubstr("needs --type"));
  EXPECT_THAT(Parse({"status", "--type", "lead_created"}).status().message(),
              HasSubstr("needs --id"));
  EXPECT_THAT(
      Parse({"status", "--type", "custom", "--id", "1"}).status().message(),
      HasSubstr("--custom-event-name"));
  EXPECT_THAT(Parse({"status", "--type", "unspecified", "--id", "1"})
                  .status()
                  .message(),
              HasSubstr("unknown event type"));
  EXPECT_THAT(
      Parse({"status", "--type", "bought", "--id", "1"}).status().message(),
      HasSubstr("unknown event type \"bought\""));
}

TEST(ParseCliArgsTest, DeadLettersListTakesReasonPageSizeAndAll) {
  absl::StatusOr<CliOptions> options =
      Parse({"dead-letters", "list", "--reason", "expired", "--page-size", "50",
             "--all", "--destination", "default"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->command, Command::kDeadLettersList);
  EXPECT_EQ(options->reason, v1::DEAD_LETTER_REASON_EXPIRED);
  EXPECT_EQ(options->page_size, 50);
  EXPECT_TRUE(options->all);
  EXPECT_EQ(options->destination, "default");
}

TEST(ParseCliArgsTest, DeadLettersTakeALane) {
  absl::StatusOr<CliOptions> options =
      Parse({"dead-letters", "list", "--lane", "validate-only"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->lane_validate_only, std::optional<bool>(true));
  options = Parse({"dead-letters", "retry", "--lane", "conversions", "--reason",
                   "rejected"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->lane_validate_only, std::optional<bool>(false));
  options = Parse({"dead-letters", "list"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->lane_validate_only, std::nullopt);
  EXPECT_THAT(
      Parse({"dead-letters", "list", "--lane", "checks"}).status().message(),
      HasSubstr("must be conversions or validate-only"));
  EXPECT_FALSE(Parse({"send", "--lane", "conversions", "f.json"}).ok());
}

TEST(ParseCliArgsTest, DeadLettersListRejectsBadPageSizeAndReason) {
  EXPECT_THAT(
      Parse({"dead-letters", "list", "--page-size", "0"}).status().message(),
      HasSubstr("from 1 to 1000"));
  EXPECT_THAT(
      Parse({"dead-letters", "list", "--page-size", "1001"}).status().message(),
      HasSubstr("from 1 to 1000"));
  EXPECT_THAT(
      Parse({"dead-letters", "list", "--reason", "lost"}).status().message(),
      HasSubstr("use rejected, expired or damaged"));
  EXPECT_THAT(Parse({"dead-letters"}).status().message(),
              HasSubstr("list or retry"));
  EXPECT_THAT(Parse({"dead-letters", "purge"}).status().message(),
              HasSubstr("unknown dead-letters subcommand"));
}

TEST(ParseCliArgsTest, DeadLettersRetryCollectsEventKeysFromFlagsAndArgs) {
  absl::StatusOr<CliOptions> options =
      Parse({"dead-letters", "retry", "--event", "order_created:o1", "--event",
             "custom/Wishlist_Add:w:7", "lead_created:l1"});
  ASSERT_TRUE(options.ok()) << options.status();
  ASSERT_EQ(options->events.size(), 3u);
  EXPECT_EQ(options->events[0].type(), v1::EVENT_TYPE_ORDER_CREATED);
  EXPECT_EQ(options->events[0].id(), "o1");
  EXPECT_EQ(options->events[1].type(), v1::EVENT_TYPE_CUSTOM);
  EXPECT_EQ(options->events[1].custom_event_name(), "Wishlist_Add");
  // Only the first ':' separates: ids may contain colons.
  EXPECT_EQ(options->events[1].id(), "w:7");
  EXPECT_EQ(options->events[2].type(), v1::EVENT_TYPE_LEAD_CREATED);
}

// ---- targets ---------------------------------------------------------------

// The gateway leaves dead letters whose window has closed alone, so
// retrying by reason expired needs nothing more; --force, which it needed
// before, is still taken (for retry only).
TEST(ParseCliArgsTest, DeadLettersRetryOfExpiredEventsNeedsNoForce) {
  EXPECT_TRUE(Parse({"dead-letters", "retry", "--reason", "expired"}).ok());
  absl::StatusOr<CliOptions> options =
      Parse({"dead-letters", "retry", "--reason", "expired", "--force"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->force);
  EXPECT_THAT(Parse({"send", "f", "--force"}).status().message(),
              HasSubstr("--force does not apply to send"));
}

TEST(ParseTargetTest, TakesHostPortAndGrpcUrisAsTheyAre) {
  for (const char* text :
       {"127.0.0.1:50051", "gw.internal:443", "[::1]:50051",
        "dns:///gw.internal:443", "unix:/run/gw.sock", "ipv4:10.0.0.1:9"}) {
    absl::StatusOr<Target> target = ParseTarget(text, "--target");
    ASSERT_TRUE(target.ok()) << text << ": " << target.status();
    EXPECT_EQ(target->address, text);
    EXPECT_FALSE(target->tls.has_value()) << text;
  }
}

TEST(ParseTargetTest, HttpIsPlaintextAndHttpsIsTlsOnPort443ByDefault) {
  absl::StatusOr<Target> target = ParseTarget("http://gw:8080/", "--target");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->address, "gw:8080");
  EXPECT_EQ(target->tls, false);
  target = ParseTarget("HTTPS://gw.example.com", "--target");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->address, "gw.example.com:443");
  EXPECT_EQ(target->tls, true);
  target = ParseTarget("https://[::1]:8443", "--target");
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->address, "[::1]:8443");
}

TEST(ParseTargetTest, SaysWhatIsWrongInsteadOfAResolverError) {
  EXPECT_EQ(ParseTarget("gw.internal", "--target").status().message(),
            "--target \"gw.internal\" has no port; use HOST:PORT, e.g. "
            "gw.internal:50051 (https://HOST means port 443)");
  EXPECT_THAT(ParseTarget("http://gw", "CONVERSIONS_TARGET").status().message(),
              HasSubstr("CONVERSIONS_TARGET \"http://gw\" has no port"));
  EXPECT_THAT(ParseTarget("grpc://gw:1", "--target").status().message(),
              HasSubstr("scheme this client does not know"));
  EXPECT_THAT(ParseTarget("https://gw/v1", "--target").status().message(),
              HasSubstr("no path"));
  EXPECT_THAT(ParseTarget("::1:50051", "--target").status().message(),
              HasSubstr("[ADDRESS]:PORT"));
  for (const char* text : {"gw:", "gw:http", "gw:0", "gw:65536", "gw:+1"}) {
    EXPECT_THAT(ParseTarget(text, "--target").status().message(),
                HasSubstr("port that is not a number from 1 to 65535"))
        << text;
  }
  EXPECT_THAT(ParseTarget(":50051", "--target").status().message(),
              HasSubstr("has no host"));
}

TEST(ParseCliArgsTest, UrlTargetsSetTlsOrConflictWithIt) {
  absl::StatusOr<CliOptions> options =
      Parse({"send", "f.json", "--target", "https://gw.example.com"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->target, "gw.example.com:443");
  EXPECT_TRUE(options->tls);
  options = Parse({"send", "f.json", "--target", "http://127.0.0.1:50051"});
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->target, "127.0.0.1:50051");
  EXPECT_FALSE(options->tls);
  EXPECT_THAT(Parse({"send", "f.json", "--tls", "--target", "http://gw:1"})
                  .status()
                  .message(),
              HasSubstr("--target is http://, plaintext, but --tls"));
  // The environment's value is checked too, and named.
  EXPECT_THAT(ParseCliArgs({"send", "f.json"}, std::string("gw.internal"))
                  .status()
                  .message(),
              HasSubstr("CONVERSIONS_TARGET \"gw.internal\" has no port"));
}

TEST(ParseEventKeyTest, RejectsMalformedKeys) {
  for (const char* text : {"order_created", ":id", "order_created:",
                           "custom:id", "order_created/x:id", "nope:id"}) {
    EXPECT_FALSE(ParseEventKey(text).ok()) << text;
  }
}

TEST(ParseTimeoutTest, AcceptsUnitsAndBareSeconds) {
  EXPECT_EQ(*ParseTimeout("10s"), std::chrono::seconds(10));
  EXPECT_EQ(*ParseTimeout("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseTimeout("2m"), std::chrono::minutes(2));
  EXPECT_EQ(*ParseTimeout("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(*ParseTimeout("3"), std::chrono::seconds(3));
}

TEST(ParseTimeoutTest, RejectsGarbageZeroAndNegative) {
  for (const char* text : {"", "ten", "0", "0s", "-1s", "25h"}) {
    EXPECT_FALSE(ParseTimeout(text).ok()) << text;
  }
}

TEST(UsageTextTest, EveryCommandHasHelp) {
  EXPECT_THAT(UsageText(Command::kNone), HasSubstr("dead-letters retry"));
  EXPECT_THAT(UsageText(Command::kNone), HasSubstr("3 not found: status"));
  EXPECT_THAT(UsageText(Command::kSend),
              HasSubstr("conversions-cli send FILE"));
  for (Command command :
       {Command::kSend, Command::kValidate, Command::kTrack}) {
    EXPECT_THAT(UsageText(command), HasSubstr("at most 1,000 events"));
  }
  EXPECT_THAT(UsageText(Command::kValidate), HasSubstr("wire JSON"));
  EXPECT_THAT(UsageText(Command::kTrack), HasSubstr("TrackEvents"));
  EXPECT_THAT(UsageText(Command::kStatus), HasSubstr("--custom-event-name"));
  EXPECT_THAT(UsageText(Command::kDeadLettersList), HasSubstr("--all"));
  EXPECT_THAT(UsageText(Command::kDeadLettersRetry), HasSubstr("--event"));
  EXPECT_THAT(
      UsageText(Command::kDeadLetters),
      AllOf(HasSubstr("dead-letters list "), HasSubstr("dead-letters retry ")));
}

// ---- events file ----------------------------------------------------------

TEST(ParseEventsJsonTest, ReadsAnArrayOfEvents) {
  v1::SendEventsRequest request;
  ASSERT_TRUE(ParseEventsJson(
                  R"([{"id": "o1", "type": "EVENT_TYPE_ORDER_CREATED"},
                      {"id": "o2", "type": "EVENT_TYPE_LEAD_CREATED"}])",
                  "f.json", &request)
                  .ok());
  ASSERT_EQ(request.events_size(), 2);
  EXPECT_EQ(request.events(0).id(), "o1");
  EXPECT_EQ(request.events(1).type(), v1::EVENT_TYPE_LEAD_CREATED);
}

TEST(ParseEventsJsonTest, ReadsTheRequestObjectForm) {
  v1::SendEventsRequest request;
  ASSERT_TRUE(ParseEventsJson(R"({"destination": "sandbox",
                                  "validate_only": true,
                                  "events": [{"id": "o1"}]})",
                              "f.json", &request)
                  .ok());
  EXPECT_EQ(request.destination(), "sandbox");
  EXPECT_TRUE(request.validate_only());
  ASSERT_EQ(request.events_size(), 1);
}

TEST(ParseEventsJsonTest, AcceptsProtoAndCamelNamesAndInt64AsStringOrNumber) {
  v1::ValidateEventsRequest request;
  const absl::Status status = ParseEventsJson(
      "\xEF\xBB\xBF\n"  // a byte order mark, as some editors write
      R"([{"id": "o1", "timestamp_ms": "1773892800000",
           "sourceUrl": "https://shop.example.com/",
           "action_source": "ACTION_SOURCE_WEB",
           "user": {"emails": ["a@b.co"], "phoneNumbers": ["+14155552671"],
                    "ip_address": "203.0.113.7"},
           "data": {"amount": 12999, "currency": "USD",
                    "contents": [{"id": "sku", "quantity": "2"}]}},
          {"id": "o2", "timestampMs": 1773892800001}])",
      "f.json", &request);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(request.events_size(), 2);
  const v1::Event& e = request.events(0);
  EXPECT_EQ(e.timestamp_ms(), 1773892800000);
  EXPECT_EQ(e.source_url(), "https://shop.example.com/");
  EXPECT_EQ(e.action_source(), v1::ACTION_SOURCE_WEB);
  EXPECT_EQ(e.user().phone_numbers(0), "+14155552671");
  EXPECT_EQ(e.user().ip_address(), "203.0.113.7");
  EXPECT_EQ(e.data().amount(), 12999);
  EXPECT_EQ(e.data().contents(0).quantity(), 2);
  EXPECT_EQ(request.events(1).timestamp_ms(), 1773892800001);
}

TEST(ParseEventsJsonTest, RejectsUnknownFieldsNamingThePath) {
  v1::SendEventsRequest request;
  const absl::Status status = ParseEventsJson(
      R"([{"id": "o1", "user": {"email": ["a@b.co"]}}])", "f.json", &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("f.json"));
  EXPECT_THAT(status.message(), HasSubstr("email"));
}

// protobuf's parser keeps the last value of a key given twice, so
// {"validate_only": true, "validate_only": false} would send: refused, as
// a key given twice in an event is (the key and value are not shown).
TEST(ParseEventsJsonTest, RejectsAKeyGivenTwice) {
  v1::SendEventsRequest request;
  struct Case {
    const char* json;
    const char* message;
  };
  for (const Case& c : {
           Case{R"({"validate_only": true, "validateOnly": false,
                   "events": [{"id": "o1"}]})",
                "f.json: the request gives validate_only twice (as "
                "validate_only or validateOnly): send each member once"},
           Case{R"([{"id": "o1"}, {"id": "jane@example.com",
                                  "id": "o2"}])",
                "f.json: an object holds the same key twice (in events[1])"},
           Case{R"([{"id": "o1", "user": {"emails": ["a@b.co"],
                                        "emails": ["c@d.co"]}}])",
                "f.json: an object holds the same key twice (in events[0])"},
           // A field under its two names: protobuf keeps the last.
           Case{R"([{"id": "o1", "action_source": "ACTION_SOURCE_WEB",
                     "actionSource": "ACTION_SOURCE_OFFLINE"}])",
                "f.json: an object gives a field twice, as its proto name "
                "and as its lowerCamelCase JSON name (in events[0])"},
           Case{R"([{"id": "o1"}, {"id": "o2", "user": {
                     "emailsSha256": [], "emails_sha256": []}}])",
                "f.json: an object gives a field twice, as its proto name "
                "and as its lowerCamelCase JSON name (in events[1])"},
           Case{R"([{"id": "o1", "data": {"contents": [{"id": "a"},
                     {"contentType": "product", "content_type": "plan"}]}}])",
                "f.json: an object gives a field twice, as its proto name "
                "and as its lowerCamelCase JSON name (in events[0])"},
       }) {
    const absl::Status status = ParseEventsJson(c.json, "f.json", &request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_EQ(status.message(), c.message);
  }
}

// Free-form objects (custom properties, a content's variant) keep their
// keys as written: "fooBar" and "foo_bar" are two properties.
TEST(ParseEventsJsonTest, FreeFormKeysAreNotFieldNames) {
  v1::SendEventsRequest request;
  const absl::Status status = ParseEventsJson(
      R"([{"id": "o1", "type": "EVENT_TYPE_CUSTOM",
           "data": {"contents": [{"id": "a", "variant": {"sizeCode": "m",
                                                         "size_code": "4"}},
                                 {"id": "b", "contentType": "product"}],
                    "customProperties": {"planTier": "gold",
                                         "plan_tier": "old",
                                         "nested": [{"aB": 1, "a_b": 2}]}}}])",
      "f.json", &request);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(request.events_size(), 1);
  const v1::EventData& data = request.events(0).data();
  EXPECT_EQ(data.contents(0).variant().size(), 2u);
  EXPECT_EQ(data.contents(1).content_type(), "product");
  EXPECT_EQ(data.custom_properties().fields().size(), 3u);
}

// protobuf's parser takes "yes" or "0" for opt_out too; the request's
// flags refuse them, and so does an event's own boolean.
TEST(ParseEventsJsonTest, RejectsAnOptOutThatIsNotABoolean) {
  v1::SendEventsRequest request;
  for (const auto& [json, message] :
       std::vector<std::pair<std::string, std::string>>{
           {R"([{"id": "o1"}, {"id": "o2", "opt_out": "yes"}])",
            "f.json: events[1].opt_out must be true or false (a JSON "
            "boolean), not a string"},
           {R"([{"id": "o1", "optOut": 0}])",
            "f.json: events[0].optOut must be true or false (a JSON "
            "boolean), not a number"},
       }) {
    const absl::Status status = ParseEventsJson(json, "f.json", &request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_EQ(status.message(), message);
  }
  for (const char* json :
       {R"([{"id": "o1", "opt_out": true}])",
        R"([{"id": "o1", "opt_out": "false", "user": {"opt_out_x": 1}}])",
        R"([{"id": "o1", "optOut": null}])"}) {
    const absl::Status status = ParseEventsJson(json, "f.json", &request);
    EXPECT_THAT(std::string(status.message()),
                Not(HasSubstr("must be true or false")))
        << json;
  }
  ASSERT_TRUE(ParseEventsJson(R"([{"id": "o1", "opt_out": "true"}])", "f.json",
                              &request)
                  .ok());
  EXPECT_TRUE(request.events(0).opt_out());
}

TEST(ParseEventsJsonTest, RejectsUnknownEnumNames) {
  v1::SendEventsRequest request;
  const absl::Status status =
      ParseEventsJson(R"([{"type": "ORDER_CREATED"}])", "f.json", &request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("ORDER_CREATED"));
  // A value that is no enum name (an identifier in the wrong field) is not
  // shown.
  const absl::Status identifier =
      ParseEventsJson(R"([{"type": "jane@example.com"}])", "f.json", &request);
  EXPECT_EQ(identifier.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(identifier.message(), HasSubstr("invalid value for type"));
  EXPECT_THAT(identifier.message(), ::testing::Not(HasSubstr("jane")));
  // Nor is an upper-case identifier (a postcode, a plate, a CRM id) that
  // names no value of the enum.
  for (const char* json :
       {R"([{"type": "SW1A1AA"}])", R"([{"actionSource": "AB12CDE"}])"}) {
    const absl::Status upper = ParseEventsJson(json, "f.json", &request);
    EXPECT_EQ(upper.code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_THAT(upper.message(), HasSubstr("invalid value for type")) << json;
    EXPECT_THAT(upper.message(), ::testing::Not(HasSubstr("SW1A1AA")));
    EXPECT_THAT(upper.message(), ::testing::Not(HasSubstr("AB12CDE")));
  }
}

TEST(ParseEventsJsonTest, RejectsEmptyInputNoEventsAndNonJson) {
  v1::SendEventsRequest request;
  EXPECT_THAT(ParseEventsJson("  \n", "f.json", &request).message(),
              HasSubstr("empty input"));
  EXPECT_THAT(ParseEventsJson("[]", "f.json", &request).message(),
              HasSubstr("no events"));
  EXPECT_THAT(ParseEventsJson("{}", "f.json", &request).message(),
              HasSubstr("no events"));
  EXPECT_THAT(ParseEventsJson("id,type\n", "f.json", &request).message(),
              HasSubstr("expected a JSON array"));
  EXPECT_THAT(ParseEventsJson("[{\"id\": ", "f.json", &request).message(),
              HasSubstr("not valid JSON (RFC 8259): unexpected end of input"));
}

TEST(ParseEventsJsonTest, ReadsTagEventsAsStructs) {
  v1::TrackEventsRequest request;
  const absl::Status status = ParseEventsJson(
      R"({"events": [{"event_name": "purchase",
                      "context": {"event_id": "o1"},
                      "items": [{"id": "sku", "quantity": 2}],
                      "value": 12.5}]})",
      "f.json", &request);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(request.events_size(), 1);
  const auto& fields = request.events(0).fields();
  EXPECT_EQ(fields.at("event_name").string_value(), "purchase");
  EXPECT_EQ(fields.at("context")
                .struct_value()
                .fields()
                .at("event_id")
                .string_value(),
            "o1");
  EXPECT_DOUBLE_EQ(fields.at("value").number_value(), 12.5);
}

// An object with "events" is the request: a mistake beside the events is
// the file's error, not read as one tag event (any object is one) that the
// gateway then rejects for having no event_name. The values are not shown.
TEST(ParseEventsJsonTest, ReportsTheErrorOfARequestObjectBesideItsTagEvents) {
  const std::string event = R"({"event_name": "purchase",
                                "context": {"event_id": "order_12345"}})";
  struct Case {
    std::string json;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"events": [)" + event + R"(], "foo": 1})",
            "f.json: unknown field \"foo\""},
           {R"({"events": [)" + event + R"(], "validate_only": 1})",
            "f.json: validate_only must be true or false (a JSON boolean), "
            "not a number"},
           // protobuf's parser would read these as true, and "no" as false:
           // as POST /v1/track, a flag is a boolean (or "true", "false").
           {R"({"events": [)" + event + R"(], "dry_run": "yes"})",
            "f.json: dry_run must be true or false (a JSON boolean), not a "
            "string"},
           {R"({"events": [)" + event + R"(], "validateOnly": "no"})",
            "f.json: validateOnly must be true or false (a JSON boolean), not "
            "a string"},
           {R"({"events": [)" + event + R"(], "destination": 4155552671})",
            "f.json: (destination): invalid value for type TYPE_STRING"},
           {R"({"events": "jane@example.com"})",
            "f.json: events must be a list of tag events, not a string"},
           {R"({"events": )" + event + "}",
            "f.json: events must be a list of tag events, not an object (send "
            "one event as a list of one)"},
           // protobuf's parser would skip the null and flatten the list:
           // the results' #N would no longer be the file's.
           {"[null, " + event + "]",
            "f.json: events[0] is null: each element of events must be an "
            "object (a tag event)"},
           {"[" + event + ", [" + event + "]]",
            "f.json: events[1] is a list: each element of events must be an "
            "object (a tag event)"},
           // "\u0065vents" is "events" to protobuf's parser too.
           {R"({"\u0065vents": [)" + event + R"(], "foo": 1})",
            "f.json: unknown field \"foo\""},
       }) {
    SCOPED_TRACE(c.json);
    v1::TrackEventsRequest request;
    const absl::Status status = ParseEventsJson(c.json, "f.json", &request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), c.message);
    EXPECT_EQ(request.events_size(), 0);
  }
}

// The same shapes with typed events: the same messages as with tag events
// (an Event has no "events" member, so these were the request's already,
// but behind a list of every form a file may have).
TEST(ParseEventsJsonTest, ReportsTheErrorOfARequestObjectBesideItsEvents) {
  const std::string event = R"({"id": "order_12345"})";
  struct Case {
    std::string json;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"events": [)" + event + R"(], "foo": 1})",
            "f.json: unknown field \"foo\""},
           {R"({"events": [)" + event + R"(], "validateOnly": 1})",
            "f.json: validateOnly must be true or false (a JSON boolean), not "
            "a number"},
           {R"({"events": [)" + event + R"(], "validate_only": "t"})",
            "f.json: validate_only must be true or false (a JSON boolean), "
            "not a string"},
           {R"({"events": "jane@example.com"})",
            "f.json: events must be a list of events, not a string"},
           {"[" + event + ", null]",
            "f.json: events[1] is null: each element of events must be an "
            "object (an event)"},
       }) {
    SCOPED_TRACE(c.json);
    v1::SendEventsRequest request;
    EXPECT_EQ(ParseEventsJson(c.json, "f.json", &request).message(), c.message);
  }
}

// An object without "events" that is not the request is one event, and
// its error is the event's (it was the request's: unknown field "id").
TEST(ParseEventsJsonTest, ReportsTheErrorOfOneEventGivenAlone) {
  v1::SendEventsRequest request;
  EXPECT_EQ(ParseEventsJson(R"({"id": "o1", "idd": 2})", "f.json", &request)
                .message(),
            "f.json: unknown field \"events[0].idd\"");
}

// An object whose members are all the request's is the request, even
// without "events" (which it then lacks); any other member makes it one
// event, even beside request members.
TEST(ParseEventsJsonTest, TellsTheRequestFromOneEventByItsMembers) {
  v1::TrackEventsRequest request;
  EXPECT_EQ(ParseEventsJson(R"({"destination": "sandbox"})", "f.json", &request)
                .message(),
            "f.json: no events");
  const absl::Status status =
      ParseEventsJson(R"({"event_name": "purchase", "destination": "sandbox"})",
                      "f.json", &request);
  ASSERT_TRUE(status.ok()) << status;
  ASSERT_EQ(request.events_size(), 1);
  EXPECT_EQ(request.events(0).fields().at("destination").string_value(),
            "sandbox");
  EXPECT_EQ(request.destination(), "");
}

TEST(ReadInputTest, DashReadsTheGivenStream) {
  std::istringstream in("[{\"id\": \"x\"}]");
  absl::StatusOr<std::string> text = ReadInput("-", in);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "[{\"id\": \"x\"}]");
}

TEST(ReadInputTest, MissingFileIsNotFound) {
  std::istringstream in;
  EXPECT_EQ(ReadInput("/nonexistent/events.json", in).status().code(),
            absl::StatusCode::kNotFound);
}

// A file that cannot be read is named, with the system's reason; a
// directory is no empty input.
TEST(ReadInputTest, UnreadableInputNamesTheFileAndTheReason) {
  conversions::testing::TempDir temp;
  std::istringstream in;
  const std::string missing = temp.path() + "/events.json";
  EXPECT_EQ(ReadInput(missing, in).status().message(),
            "cannot read " + missing + ": No such file or directory");
  EXPECT_EQ(ReadInput(temp.path(), in).status().message(),
            "cannot read " + temp.path() + ": Is a directory");
}

TEST(ReadInputTest, FileWithoutReadPermissionGivesTheReason) {
  conversions::testing::TempDir temp;
  const std::string path = temp.path() + "/events.json";
  std::ofstream(path) << "[]";
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  if (access(path.c_str(), R_OK) == 0) {
    GTEST_SKIP() << "running as root: every file is readable";
  }
  std::istringstream in;
  EXPECT_EQ(ReadInput(path, in).status().message(),
            "cannot read " + path + ": Permission denied");
}

TEST(ReadInputTest, ReadsAWholeFile) {
  conversions::testing::TempDir temp;
  const std::string path = temp.path() + "/events.json";
  // Larger than one read, to cover the loop.
  const std::string content(200 * 1024, 'x');
  std::ofstream(path) << content;
  std::istringstream in;
  absl::StatusOr<std::string> text = ReadInput(path, in);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, content);
}

TEST(SplitEventsTest, SplitsInOrderByCount) {
  v1::SendEventsRequest request;
  for (int i = 0; i < 2500; ++i) request.add_events()->set_id("e");
  const std::vector<EventRange> ranges = SplitEvents(request);
  ASSERT_EQ(ranges.size(), 3u);
  EXPECT_EQ(ranges[0].begin, 0);
  EXPECT_EQ(ranges[0].end, 1000);
  EXPECT_EQ(ranges[1].begin, 1000);
  EXPECT_EQ(ranges[1].end, 2000);
  EXPECT_EQ(ranges[2].begin, 2000);
  EXPECT_EQ(ranges[2].end, 2500);
  request.mutable_events()->DeleteSubrange(1000, 1500);  // 1,000 left
  ASSERT_EQ(SplitEvents(request).size(), 1u);
  EXPECT_EQ(SplitEvents(request)[0].end, 1000);
}

TEST(SplitEventsTest, SplitsByBytesAndLetsAnOversizedEventGoAlone) {
  v1::SendEventsRequest request;
  // Each event is 2 + 100 bytes, 104 on the wire: two fit in 210 bytes.
  for (int i = 0; i < 5; ++i) {
    request.add_events()->set_id(std::string(100, 'x'));
  }
  request.mutable_events(3)->set_id(std::string(300, 'x'));
  const std::vector<EventRange> ranges =
      SplitEvents(request, /*max_events=*/1000, /*max_bytes=*/210);
  ASSERT_EQ(ranges.size(), 4u);
  EXPECT_EQ(ranges[0].end, 2);
  EXPECT_EQ(ranges[1].begin, 2);
  EXPECT_EQ(ranges[1].end, 3);
  EXPECT_EQ(ranges[2].begin, 3);  // 300 bytes: alone
  EXPECT_EQ(ranges[2].end, 4);
  EXPECT_EQ(ranges[3].begin, 4);
  EXPECT_EQ(ranges[3].end, 5);
}

// ---- formatting -------------------------------------------------------------

v1::SendEventsResponse MixedResponse() {
  v1::SendEventsResponse response;
  v1::EventResult* accepted = response.add_results();
  accepted->set_index(0);
  accepted->set_event_id("order_12345");
  accepted->set_outcome(v1::EventResult::OUTCOME_ACCEPTED);
  v1::FieldWarning* warning = accepted->add_warnings();
  warning->set_field("user.phone_numbers[0]");
  warning->set_reason("DROPPED_INVALID");
  warning->set_description("not a phone number");

  v1::EventResult* rejected = response.add_results();
  rejected->set_index(1);
  rejected->set_event_id("x");
  rejected->set_outcome(v1::EventResult::OUTCOME_REJECTED);
  v1::FieldViolation* v = rejected->add_violations();
  v->set_field("data.currency");
  v->set_reason("REQUIRED");
  v->set_description("data.currency is required when amount is set");
  v = rejected->add_violations();
  v->set_field("source_url");
  v->set_reason("INVALID_FORMAT");
  v->set_description("must be an absolute http(s) URL");

  v1::EventResult* duplicate = response.add_results();
  duplicate->set_index(2);
  duplicate->set_event_id("order_1");
  duplicate->set_outcome(v1::EventResult::OUTCOME_DUPLICATE);

  v1::EventResult* skipped = response.add_results();
  skipped->set_index(3);
  skipped->set_outcome(v1::EventResult::OUTCOME_SKIPPED);
  skipped->set_skip_reason("event 'refund' has no event mapping");
  return response;
}

TEST(PrintResultsTest, PrintsOneLinePerResultAndViolationThenCounts) {
  std::ostringstream out;
  PrintResults(MixedResponse().results(), /*with_wire_json=*/false, out);
  EXPECT_EQ(out.str(),
            "#0 order_12345 ACCEPTED\n"
            "    warning user.phone_numbers[0] DROPPED_INVALID: not a phone "
            "number\n"
            "#1 x REJECTED data.currency REQUIRED: data.currency is required "
            "when amount is set\n"
            "#1 x REJECTED source_url INVALID_FORMAT: must be an absolute "
            "http(s) URL\n"
            "#2 order_1 DUPLICATE\n"
            "#3 \"\" SKIPPED event 'refund' has no event mapping\n"
            "accepted=1 rejected=1 duplicate=1 skipped=1\n");
}

TEST(PrintResultsTest, PrintsWireJsonOnlyWhenAsked) {
  v1::EventResult result;
  result.set_event_id("o1");
  result.set_outcome(v1::EventResult::OUTCOME_ACCEPTED);
  result.set_wire_json(R"({"id":"o1"})");
  std::ostringstream with;
  PrintResult(result, /*with_wire_json=*/true, with);
  EXPECT_EQ(with.str(), "#0 o1 ACCEPTED\n    wire_json {\"id\":\"o1\"}\n");
  std::ostringstream without;
  PrintResult(result, /*with_wire_json=*/false, without);
  EXPECT_EQ(without.str(), "#0 o1 ACCEPTED\n");
}

TEST(CountOutcomesTest, CountsUnspecifiedSeparately) {
  v1::SendEventsResponse response = MixedResponse();
  response.add_results();  // outcome left UNSPECIFIED
  const OutcomeCounts counts = CountOutcomes(response.results());
  EXPECT_EQ(counts.accepted, 1);
  EXPECT_EQ(counts.rejected, 1);
  EXPECT_EQ(counts.unspecified, 1);
  EXPECT_EQ(FormatCounts(counts),
            "accepted=1 rejected=1 duplicate=1 skipped=1 unspecified=1");
}

TEST(FormatApiValidationTest, ShowsStatusAndMessage) {
  v1::ApiValidation validation;
  validation.set_http_status(400);
  validation.set_message("events[0].id: required");
  EXPECT_EQ(FormatApiValidation(validation),
            "api_validation http_status=400 message=events[0].id: required");
}

google::protobuf::Timestamp Time(const char* text) {
  google::protobuf::Timestamp timestamp;
  EXPECT_TRUE(google::protobuf::util::TimeUtil::FromString(text, &timestamp));
  return timestamp;
}

TEST(PrintEventStatusTest, PrintsRfc3339TimesAndLeavesOutUnsetFields) {
  v1::GetEventStatusResponse status;
  status.set_state(v1::DELIVERY_STATE_DELIVERED);
  *status.mutable_accepted_time() = Time("2026-03-19T04:00:00Z");
  *status.mutable_delivered_time() = Time("2026-03-19T04:00:01.250Z");
  status.set_attempts(1);
  std::ostringstream out;
  PrintEventStatus(status, out);
  EXPECT_EQ(out.str(),
            "state: DELIVERED\n"
            "accepted_time: 2026-03-19T04:00:00Z\n"
            "delivered_time: 2026-03-19T04:00:01.250Z\n"
            "attempts: 1\n");
}

TEST(PrintEventStatusTest, PrintsRetryAndDeadLetterDetails) {
  v1::GetEventStatusResponse status;
  status.set_state(v1::DELIVERY_STATE_DEAD_LETTERED);
  status.set_attempts(3);
  *status.mutable_next_attempt_time() = Time("2026-03-19T04:05:00Z");
  status.set_last_error("HTTP 400: events[0].id: too long");
  status.set_dead_letter_reason(v1::DEAD_LETTER_REASON_REJECTED);
  std::ostringstream out;
  PrintEventStatus(status, out);
  EXPECT_EQ(out.str(),
            "state: DEAD_LETTERED\n"
            "attempts: 3\n"
            "next_attempt_time: 2026-03-19T04:05:00Z\n"
            "last_error: HTTP 400: events[0].id: too long\n"
            "dead_letter_reason: REJECTED\n");
}

TEST(PrintEventStatusTest, SaysWhenTheEventWasOnlyValidated) {
  v1::GetEventStatusResponse status;
  status.set_state(v1::DELIVERY_STATE_DELIVERED);
  status.set_validate_only(true);
  std::ostringstream out;
  PrintEventStatus(status, out);
  EXPECT_THAT(out.str(),
              HasSubstr("state: DELIVERED (validate_only: the API validated "
                        "it and did not save it)\n"));
}

// No "state: UNSPECIFIED" or "attempts: 0": the event is not known.
TEST(PrintEventStatusTest, SaysAnUnknownEventIsUnknownInOneLine) {
  std::ostringstream out;
  PrintEventStatus(v1::GetEventStatusResponse(), out);
  EXPECT_EQ(out.str(),
            "unknown: no such event for this destination (never accepted, "
            "or pruned after the retention window)\n");
}

TEST(FormatDeadLetterTest, PrintsTheKeyRetryTakes) {
  v1::DeadLetter dead_letter;
  dead_letter.set_destination("default");
  dead_letter.set_type(v1::EVENT_TYPE_CUSTOM);
  dead_letter.set_custom_event_name("wishlist_add");
  dead_letter.set_event_id("w7");
  dead_letter.set_reason(v1::DEAD_LETTER_REASON_EXPIRED);
  dead_letter.set_message("older than 7 days");
  dead_letter.set_attempts(12);
  *dead_letter.mutable_dead_lettered_time() = Time("2026-03-19T04:00:00Z");
  EXPECT_EQ(FormatDeadLetter(dead_letter),
            "2026-03-19T04:00:00Z default custom/wishlist_add:w7 EXPIRED "
            "attempts=12 older than 7 days");
  // What the list prints, retry parses back.
  absl::StatusOr<v1::EventKey> key = ParseEventKey(
      FormatEventKey(dead_letter.type(), dead_letter.custom_event_name(),
                     dead_letter.event_id()));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->custom_event_name(), "wishlist_add");
  EXPECT_EQ(key->id(), "w7");
}

// A refused validate_only check must not read as a lost conversion.
TEST(FormatDeadLetterTest, MarksAValidateOnlyCheck) {
  v1::DeadLetter dead_letter;
  dead_letter.set_destination("default");
  dead_letter.set_type(v1::EVENT_TYPE_ORDER_CREATED);
  dead_letter.set_event_id("xv-0");
  dead_letter.set_reason(v1::DEAD_LETTER_REASON_REJECTED);
  dead_letter.set_message("HTTP 400: bad");
  dead_letter.set_attempts(1);
  dead_letter.set_validate_only(true);
  *dead_letter.mutable_dead_lettered_time() = Time("2026-03-19T04:00:00Z");
  EXPECT_EQ(FormatDeadLetter(dead_letter),
            "2026-03-19T04:00:00Z default order_created:xv-0 REJECTED "
            "validate-only attempts=1 HTTP 400: bad");
}

TEST(FormatEventKeyTest, UsesShortTypeNames) {
  EXPECT_EQ(FormatEventKey(v1::EVENT_TYPE_ORDER_CREATED, "", "o1"),
            "order_created:o1");
  EXPECT_EQ(EventTypeShortName(v1::EVENT_TYPE_REGISTRATION_COMPLETED),
            "registration_completed");
}

TEST(MessageToJsonTest, UsesProtoNamesAndPrintsDefaults) {
  const std::string json = MessageToJson(MixedResponse());
  EXPECT_THAT(json, HasSubstr("\"event_id\": \"order_12345\""));
  // index 0 is a default value, printed anyway so scripts can rely on it.
  EXPECT_THAT(json, HasSubstr("\"index\": 0"));
  EXPECT_THAT(json, HasSubstr("\"outcome\": \"OUTCOME_REJECTED\""));
  EXPECT_EQ(json.back(), '\n');
}

TEST(GrpcCodeNameTest, NamesCanonicalCodes) {
  EXPECT_EQ(GrpcCodeName(3), "INVALID_ARGUMENT");
  EXPECT_EQ(GrpcCodeName(14), "UNAVAILABLE");
  EXPECT_EQ(GrpcCodeName(8), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(GrpcCodeName(99), "CODE_99");
}

// The messages gRPC 1.51 gives for the usual mistakes get a hint; others
// speak for themselves.
TEST(RpcErrorHintTest, SaysWhatTheUsualConnectionMistakesMean) {
  EXPECT_THAT(RpcErrorHint(14,
                           "failed to connect to all addresses; last error: "
                           "UNKNOWN: ipv4:127.0.0.1:8080: Trying to connect "
                           "an http1.x server"),
              HasSubstr("HTTP port"));
  EXPECT_THAT(RpcErrorHint(14,
                           "failed to connect to all addresses; last error: "
                           "UNKNOWN: ipv4:127.0.0.1:50051: Ssl handshake "
                           "failed: SSL_ERROR_SSL: error:0A00010B:SSL "
                           "routines::wrong version number"),
              HasSubstr("does not speak TLS"));
  EXPECT_THAT(RpcErrorHint(14,
                           "failed to connect to all addresses; last error: "
                           "UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to "
                           "remote host: Connection refused"),
              HasSubstr("nothing answers"));
  EXPECT_THAT(RpcErrorHint(4, "Deadline Exceeded"), HasSubstr("--timeout"));
  // A send that got no answer may have stored its events: resending is
  // safe, and the hint says so.
  EXPECT_THAT(RpcErrorHint(4, "Deadline Exceeded", /*stores_events=*/true),
              HasSubstr("sending the same file again is safe"));
  EXPECT_THAT(RpcErrorHint(4, "Deadline Exceeded"),
              Not(HasSubstr("same file again")));
  EXPECT_THAT(RpcErrorHint(16, "missing credentials: ..."),
              HasSubstr("$CONVERSIONS_TOKEN"));
  EXPECT_EQ(RpcErrorHint(3, "too many events"), "");
  EXPECT_EQ(RpcErrorHint(7, "caller \"a\" may not use destination \"b\""), "");
}

TEST(TrackFileHintTest, SendsTypedEventsToSend) {
  v1::TrackEventsRequest typed;
  ASSERT_TRUE(ParseEventsJson(
                  R"([{"id": "o1", "type": "order_created", "timestamp_ms": 1},
                      {"id": "o2", "action_source": "web"}])",
                  "f.json", &typed)
                  .ok());
  EXPECT_THAT(TrackFileHint(typed), HasSubstr("conversions-cli send"));
  // A tag event has "type" and "id" too: only members no tag event has
  // count, and one event_name says the file is of tag events.
  v1::TrackEventsRequest tag;
  ASSERT_TRUE(ParseEventsJson(R"([{"id": "o1", "type": "online"},
                                  {"event_name": "purchase",
                                   "timestamp_ms": 1}])",
                              "f.json", &tag)
                  .ok());
  EXPECT_EQ(TrackFileHint(tag), "");
}

TEST(FileErrorHintTest, SendsTagEventsToTrack) {
  EXPECT_THAT(
      FileErrorHint("send", "f.json: unknown field \"events[0].items\""),
      HasSubstr("conversions-cli track"));
  EXPECT_THAT(FileErrorHint("validate",
                            "f.json: unknown field \"events[2].event_name\""),
              HasSubstr("conversions-cli track"));
  EXPECT_EQ(FileErrorHint("track", "f.json: unknown field \"events[0].items\""),
            "");
  EXPECT_EQ(FileErrorHint("send", "f.json: unknown field \"events[0].idd\""),
            "");
}

}  // namespace
}  // namespace conversions::cli
