#include "cli/cli_options.h"

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/target.h"

namespace conversions::cli {
namespace {

struct FlagDef {
  std::string_view name;
  bool takes_value;
};

constexpr FlagDef kFlags[] = {
    {"target", true},      {"timeout", true},
    {"json", false},       {"help", false},
    {"destination", true}, {"validate-only", false},
    {"type", true},        {"custom-event-name", true},
    {"id", true},          {"reason", true},
    {"page-size", true},   {"all", false},
    {"page-token", true},  {"event", true},
    {"tls", false},        {"ca-file", true},
    {"cert-file", true},   {"key-file", true},
    {"force", false},      {"lane", true},
    {"dry-run", false},
};

const FlagDef* FindFlag(std::string_view name) {
  for (const FlagDef& def : kFlags) {
    if (def.name == name) return &def;
  }
  return nullptr;
}

bool IsGlobalFlag(std::string_view name) {
  return name == "target" || name == "timeout" || name == "json" ||
         name == "help" || name == "tls" || name == "ca-file" ||
         name == "cert-file" || name == "key-file";
}

// Whether a command-specific flag applies to `command`.
bool FlagAllowed(Command command, std::string_view name) {
  if (IsGlobalFlag(name)) return true;
  switch (command) {
    case Command::kSend:
    case Command::kValidate:
      return name == "destination" || name == "validate-only";
    case Command::kTrack:
      return name == "destination" || name == "validate-only" ||
             name == "dry-run";
    case Command::kStatus:
      return name == "destination" || name == "type" ||
             name == "custom-event-name" || name == "id";
    case Command::kDeadLettersList:
      return name == "destination" || name == "reason" || name == "page-size" ||
             name == "page-token" || name == "all" || name == "lane";
    case Command::kDeadLettersRetry:
      return name == "destination" || name == "reason" || name == "event" ||
             name == "force" || name == "lane";
    case Command::kDeadLetters:
    case Command::kNone:
      return false;
  }
  return false;
}

const char* CommandName(Command command) {
  switch (command) {
    case Command::kSend:
      return "send";
    case Command::kValidate:
      return "validate";
    case Command::kTrack:
      return "track";
    case Command::kStatus:
      return "status";
    case Command::kDeadLettersList:
      return "dead-letters list";
    case Command::kDeadLettersRetry:
      return "dead-letters retry";
    case Command::kDeadLetters:
      return "dead-letters";
    case Command::kNone:
      return "";
  }
  return "";
}

absl::Status UsageError(const std::string& message) {
  return absl::InvalidArgumentError(message);
}

// Maps the command words at the front of `positional` to a Command and
// removes them. `help` is the `help COMMAND` form.
absl::StatusOr<Command> TakeCommand(std::vector<std::string>* positional,
                                    bool* help) {
  if (positional->empty()) return Command::kNone;
  std::string word = positional->front();
  positional->erase(positional->begin());
  if (word == "help") {
    *help = true;
    if (positional->empty()) return Command::kNone;
    word = positional->front();
    positional->erase(positional->begin());
  }
  if (word == "send") return Command::kSend;
  if (word == "validate") return Command::kValidate;
  if (word == "track") return Command::kTrack;
  if (word == "status") return Command::kStatus;
  if (word == "dead-letters") {
    if (positional->empty()) {
      if (*help) return Command::kDeadLetters;
      return UsageError("dead-letters needs a subcommand: list or retry");
    }
    const std::string sub = positional->front();
    positional->erase(positional->begin());
    if (sub == "list") return Command::kDeadLettersList;
    if (sub == "retry") return Command::kDeadLettersRetry;
    return UsageError(absl::StrCat("unknown dead-letters subcommand \"", sub,
                                   "\"; use list or retry"));
  }
  return UsageError(absl::StrCat(
      "unknown command \"", word,
      "\"; commands: send, validate, track, status, dead-letters"));
}

}  // namespace

absl::StatusOr<v1::EventType> ParseEventType(const std::string& text) {
  std::string upper = absl::AsciiStrToUpper(text);
  if (!absl::StartsWith(upper, "EVENT_TYPE_")) {
    upper = absl::StrCat("EVENT_TYPE_", upper);
  }
  v1::EventType type = v1::EVENT_TYPE_UNSPECIFIED;
  if (upper == "EVENT_TYPE_UNSPECIFIED" || !v1::EventType_Parse(upper, &type)) {
    return UsageError(absl::StrCat("unknown event type \"", text,
                                   "\"; use a name such as order_created or "
                                   "EVENT_TYPE_ORDER_CREATED"));
  }
  return type;
}

absl::StatusOr<v1::DeadLetterReason> ParseDeadLetterReason(
    const std::string& text) {
  std::string upper = absl::AsciiStrToUpper(text);
  if (!absl::StartsWith(upper, "DEAD_LETTER_REASON_")) {
    upper = absl::StrCat("DEAD_LETTER_REASON_", upper);
  }
  v1::DeadLetterReason reason = v1::DEAD_LETTER_REASON_UNSPECIFIED;
  if (upper == "DEAD_LETTER_REASON_UNSPECIFIED" ||
      !v1::DeadLetterReason_Parse(upper, &reason)) {
    return UsageError(absl::StrCat("unknown reason \"", text,
                                   "\"; use rejected, expired or damaged"));
  }
  return reason;
}

absl::StatusOr<v1::EventKey> ParseEventKey(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return UsageError(absl::StrCat("bad event key \"", text,
                                   "\"; use TYPE:ID or custom/NAME:ID"));
  }
  std::string type_text = text.substr(0, colon);
  v1::EventKey key;
  key.set_id(text.substr(colon + 1));
  const size_t slash = type_text.find('/');
  if (slash != std::string::npos) {
    key.set_custom_event_name(type_text.substr(slash + 1));
    type_text.resize(slash);
  }
  absl::StatusOr<v1::EventType> type = ParseEventType(type_text);
  if (!type.ok()) return type.status();
  key.set_type(*type);
  if ((*type == v1::EVENT_TYPE_CUSTOM) == key.custom_event_name().empty()) {
    return UsageError(absl::StrCat(
        "bad event key \"", text,
        "\"; custom events are custom/NAME:ID, other types TYPE:ID"));
  }
  return key;
}

absl::StatusOr<std::chrono::milliseconds> ParseTimeout(
    const std::string& text) {
  std::int64_t seconds = 0;
  absl::Duration duration;
  if (absl::SimpleAtoi(text, &seconds)) {
    duration = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &duration)) {
    return UsageError(
        absl::StrCat("bad duration \"", text, "\"; use e.g. 10s, 500ms or 2m"));
  }
  if (duration <= absl::ZeroDuration() || duration > absl::Hours(24)) {
    return UsageError(absl::StrCat("duration \"", text,
                                   "\" out of range (above 0, at most 24h)"));
  }
  return absl::ToChronoMilliseconds(duration);
}

absl::StatusOr<CliOptions> ParseCliArgs(const std::vector<std::string>& args,
                                        std::optional<std::string> env_target) {
  CliOptions options;
  absl::string_view target_source = "the default target";
  if (env_target.has_value() && !env_target->empty()) {
    options.target = *env_target;
    target_source = "CONVERSIONS_TARGET";
  }

  // First split flags from positional words, then interpret both once the
  // command is known (global flags may come before or after it).
  std::vector<std::pair<std::string, std::string>> flags;
  std::vector<std::string> positional;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (!flags_done && arg == "--") {
      flags_done = true;
      continue;
    }
    if (!flags_done && arg == "-h") arg = "--help";
    if (flags_done || arg.size() <= 2 || !absl::StartsWith(arg, "--")) {
      positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    const size_t eq = name.find('=');
    const bool has_eq = eq != std::string::npos;
    if (has_eq) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const FlagDef* def = FindFlag(name);
    if (def == nullptr) {
      return UsageError(absl::StrCat("unknown flag --", name));
    }
    if (def->takes_value && !has_eq) {
      if (i + 1 >= args.size()) {
        return UsageError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    } else if (!def->takes_value && has_eq) {
      return UsageError(absl::StrCat("flag --", name, " takes no value"));
    }
    flags.emplace_back(std::move(name), std::move(value));
  }

  bool help = false;
  for (const auto& flag : flags) {
    if (flag.first == "help") help = true;
  }
  absl::StatusOr<Command> command = TakeCommand(&positional, &help);
  if (!command.ok()) return command.status();
  options.command = *command;
  if (help) {
    options.help = true;
    return options;
  }
  if (options.command == Command::kNone) {
    return UsageError(
        "missing command; run conversions-cli --help for the list");
  }

  for (const auto& [name, value] : flags) {
    if (!FlagAllowed(options.command, name)) {
      return UsageError(absl::StrCat("flag --", name, " does not apply to ",
                                     CommandName(options.command)));
    }
    if (name == "target") {
      if (value.empty()) return UsageError("--target is empty");
      options.target = value;
      target_source = "--target";
    } else if (name == "timeout") {
      absl::StatusOr<std::chrono::milliseconds> timeout = ParseTimeout(value);
      if (!timeout.ok()) return timeout.status();
      options.timeout = *timeout;
    } else if (name == "json") {
      options.json = true;
    } else if (name == "tls") {
      options.tls = true;
    } else if (name == "ca-file") {
      if (value.empty()) return UsageError("--ca-file is empty");
      options.tls = true;
      options.ca_file = value;
    } else if (name == "cert-file") {
      if (value.empty()) return UsageError("--cert-file is empty");
      options.tls = true;
      options.cert_file = value;
    } else if (name == "key-file") {
      if (value.empty()) return UsageError("--key-file is empty");
      options.tls = true;
      options.key_file = value;
    } else if (name == "destination") {
      options.destination = value;
    } else if (name == "validate-only") {
      options.validate_only = true;
    } else if (name == "dry-run") {
      options.dry_run = true;
    } else if (name == "type") {
      absl::StatusOr<v1::EventType> type = ParseEventType(value);
      if (!type.ok()) return type.status();
      options.type = *type;
    } else if (name == "custom-event-name") {
      options.custom_event_name = value;
    } else if (name == "id") {
      options.id = value;
    } else if (name == "reason") {
      absl::StatusOr<v1::DeadLetterReason> reason =
          ParseDeadLetterReason(value);
      if (!reason.ok()) return reason.status();
      options.reason = *reason;
    } else if (name == "page-size") {
      if (!absl::SimpleAtoi(value, &options.page_size) ||
          options.page_size < 1 || options.page_size > 1000) {
        return UsageError(absl::StrCat("--page-size \"", value,
                                       "\" must be a number from 1 to 1000"));
      }
    } else if (name == "page-token") {
      options.page_token = std::string(value);
    } else if (name == "all") {
      options.all = true;
    } else if (name == "force") {
      options.force = true;
    } else if (name == "lane") {
      if (value == "conversions") {
        options.lane_validate_only = false;
      } else if (value == "validate-only") {
        options.lane_validate_only = true;
      } else {
        return UsageError(absl::StrCat(
            "--lane \"", value, "\" must be conversions or validate-only"));
      }
    } else if (name == "event") {
      absl::StatusOr<v1::EventKey> key = ParseEventKey(value);
      if (!key.ok()) return key.status();
      options.events.push_back(*std::move(key));
    }
  }

  absl::StatusOr<Target> target = ParseTarget(options.target, target_source);
  if (!target.ok()) return target.status();
  options.target = target->address;
  if (target->tls == false && options.tls) {
    return UsageError(
        absl::StrCat(target_source,
                     " is http://, plaintext, but --tls, --ca-file, "
                     "--cert-file or --key-file ask for TLS; use https:// or "
                     "HOST:PORT"));
  }
  if (target->tls == true) options.tls = true;

  switch (options.command) {
    case Command::kSend:
    case Command::kValidate:
    case Command::kTrack:
      if (positional.size() != 1) {
        return UsageError(absl::StrCat(CommandName(options.command),
                                       " needs exactly one FILE (- for "
                                       "standard input)"));
      }
      options.file = positional.front();
      break;
    case Command::kStatus:
      if (!positional.empty()) {
        return UsageError(
            absl::StrCat("unexpected argument \"", positional.front(), "\""));
      }
      if (options.type == v1::EVENT_TYPE_UNSPECIFIED) {
        return UsageError("status needs --type");
      }
      if (options.id.empty()) return UsageError("status needs --id");
      if (options.type == v1::EVENT_TYPE_CUSTOM &&
          options.custom_event_name.empty()) {
        return UsageError("status --type custom needs --custom-event-name");
      }
      break;
    case Command::kDeadLettersList:
      if (!positional.empty()) {
        return UsageError(
            absl::StrCat("unexpected argument \"", positional.front(), "\""));
      }
      break;
    case Command::kDeadLettersRetry:
      // Event keys may also follow as plain arguments:
      // `retry --event order_created:a order_created:b`.
      for (const std::string& word : positional) {
        absl::StatusOr<v1::EventKey> key = ParseEventKey(word);
        if (!key.ok()) return key.status();
        options.events.push_back(*std::move(key));
      }
      break;
    case Command::kDeadLetters:
    case Command::kNone:
      break;
  }
  return options;
}

std::string UsageText(Command command) {
  constexpr char kGlobal[] =
      "Global flags (before or after the command):\n"
      "  --target HOST:PORT  gateway address (default $CONVERSIONS_TARGET, "
      "else\n"
      "                      127.0.0.1:50051); http://HOST:PORT is "
      "plaintext,\n"
      "                      https://HOST[:PORT] TLS (port 443 by default); "
      "gRPC\n"
      "                      URIs (dns:///HOST:PORT, unix:/PATH) are taken "
      "as given\n"
      "  --timeout DURATION  deadline per RPC, e.g. 10s, 500ms or 10 "
      "(seconds)\n"
      "                      (default 10s)\n"
      "  --json              print the response as protobuf JSON\n"
      "  --tls               connect with TLS, trusting the system's CAs\n"
      "  --ca-file PATH      connect with TLS, trusting the PEM CA in PATH\n"
      "  --cert-file PATH    with --key-file: connect with TLS, presenting "
      "the\n"
      "                      PEM client certificate (chain) in PATH (mutual "
      "TLS)\n"
      "  --key-file PATH     the PEM private key of --cert-file\n"
      "  --help              show help\n"
      "Environment: CONVERSIONS_TOKEN, the caller token sent as\n"
      "\"authorization: Bearer ...\" when the gateway authenticates callers\n"
      "(white space around it is dropped).\n";
  constexpr char kExit[] =
      "Exit status: 0 success; 1 RPC or usage error (gRPC code on stderr);\n"
      "2 the RPC succeeded but at least one event was REJECTED (for\n"
      "validate --validate-only, also: the API answered 400 or 422; any\n"
      "other answer but 2xx, or none, is 1).\n";
  constexpr char kEventsFile[] =
      "FILE (- for standard input) holds a JSON array of events, one event\n"
      "object, or an object {\"events\": [...]} that may also set\n"
      "\"destination\" and \"validate_only\" (flags override them); an "
      "object with\n"
      "\"events\" is that request, never one event. Events use the "
      "protobuf\n"
      "JSON mapping of conversions.v1.Event: proto or lowerCamel field "
      "names,\n"
      "enums by name (\"EVENT_TYPE_ORDER_CREATED\"), int64 as number or "
      "string.\n";
  constexpr char kParts[] =
      "A request carries at most 1,000 events and about 4 MiB: a bigger "
      "FILE goes\n"
      "in several requests, one after the other, and the output is the one "
      "a\n"
      "single request would give (#N is the event's index in FILE, one "
      "count line,\n"
      "the same exit status). If a request fails, the later ones are not "
      "made:\n"
      "the results of the earlier ones are printed and the error names the "
      "events\n"
      "left out (exit 1).\n";
  constexpr char kBatchFlags[] =
      "  --destination NAME  configured destination (default: the default "
      "one)\n"
      "  --validate-only     set validate_only on the request\n";
  switch (command) {
    case Command::kSend:
      return absl::StrCat(
          "Usage: conversions-cli send FILE [--destination NAME] "
          "[--validate-only]\n\n"
          "Sends typed events (SendEvents) and prints one line per event:\n"
          "  #0 order_1 ACCEPTED\n"
          "  #1 order_2 REJECTED data.currency REQUIRED: ...  (one line per "
          "violation)\n"
          "      warning user.emails[0] DROPPED_INVALID: ...\n"
          "then accepted=N rejected=N duplicate=N skipped=N.\n"
          "With validate_only (--validate-only, or set in FILE) the first "
          "line is\n"
          "  validate-only: accepted events go to the API to be validated, "
          "never\n"
          "  saved as conversions; status shows each one's verdict\n\n",
          kEventsFile, "\n", kParts,
          "Sending FILE again then is safe: the events already accepted come "
          "back\n"
          "DUPLICATE.\n\n",
          kBatchFlags, "\n", kGlobal, "\n", kExit);
    case Command::kValidate:
      return absl::StrCat(
          "Usage: conversions-cli validate FILE [--destination NAME] "
          "[--validate-only]\n\n"
          "Maps and validates typed events without storing them "
          "(ValidateEvents).\n"
          "Prints what send prints, plus the wire JSON of each accepted "
          "event and,\n"
          "with --validate-only, the API's own answer (api_validation).\n\n",
          kEventsFile, "\n", kParts,
          "With several requests, each has its api_validation line, naming "
          "its events\n"
          "(api_validation events=#0-#999 ...); with --json, api_validation "
          "is the\n"
          "first answer that is not 2xx, else the first.\n\n",
          kBatchFlags, "\n", kGlobal, "\n", kExit);
    case Command::kTrack:
      return absl::StrCat(
          "Usage: conversions-cli track FILE [--destination NAME] "
          "[--validate-only | --dry-run]\n\n"
          "Sends tag-management events (TrackEvents): FILE holds JSON "
          "objects such as\n"
          "{\"event_name\": \"purchase\", \"context\": {\"event_id\": "
          "\"o1\"}, ...}, as an\n"
          "array, one such object, or {\"events\": [...]} (an object with "
          "\"events\" is\n"
          "that request, never one event). Prints what send prints "
          "(validate-only\n"
          "line included); SKIPPED lines carry the skip reason.\n"
          "  --dry-run           map and check only: nothing is stored or "
          "sent, and each\n"
          "                      ACCEPTED event is printed with the wire "
          "JSON it would be\n"
          "                      sent as (also \"dry_run\": true in "
          "FILE)\n\n",
          kParts, "\n", kBatchFlags, "\n", kGlobal, "\n", kExit);
    case Command::kStatus:
      return absl::StrCat(
          "Usage: conversions-cli status --type TYPE [--custom-event-name "
          "NAME] --id ID\n"
          "                              [--destination NAME]\n\n"
          "Shows the delivery state of one accepted event "
          "(GetEventStatus): state,\n"
          "times (RFC 3339), attempts, last error, dead-letter reason.\n\n"
          "  --type TYPE               order_created or "
          "EVENT_TYPE_ORDER_CREATED, ...\n"
          "  --custom-event-name NAME  required for --type custom\n"
          "  --id ID                   the event's id\n"
          "  --destination NAME        configured destination (default: the "
          "default one)\n\n",
          kGlobal, "\n",
          "Exit status: 0 the event is known; 3 it is not (never accepted, "
          "or\npruned after the retention window); 1 RPC or usage error.\n");
    case Command::kDeadLettersList:
      return absl::StrCat(
          "Usage: conversions-cli dead-letters list [--destination NAME] "
          "[--reason R]\n"
          "                                         [--lane L] [--page-size N] "
          "[--page-token T] [--all]\n\n"
          "Lists dead-lettered events, newest first (ListDeadLetters), one "
          "per line:\n"
          "  TIME DESTINATION TYPE:ID REASON [validate-only] attempts=N "
          "MESSAGE\n"
          "TYPE:ID is the key dead-letters retry takes. validate-only marks "
          "an event\n"
          "sent with validate_only: the API refused a check, not a "
          "conversion.\n\n"
          "  --destination NAME  only this destination (default: all)\n"
          "  --reason R          rejected, expired or damaged (default: all)\n"
          "  --lane L            conversions (real events) or validate-only\n"
          "                      (checks) (default: both)\n"
          "  --page-size N       1 to 1000 (default: the server's, 100)\n"
          "  --page-token T      start at the page a previous list printed as\n"
          "                      next_page_token (with the same filters)\n"
          "  --all               follow next_page_token to the last page\n\n",
          kGlobal, "\n", "Exit status: 0 success; 1 RPC or usage error.\n");
    case Command::kDeadLettersRetry:
      return absl::StrCat(
          "Usage: conversions-cli dead-letters retry [--destination NAME] "
          "[--reason R]\n"
          "                                          [--lane L] "
          "[--event TYPE:ID]...\n\n"
          "Queues dead-lettered events for delivery again "
          "(RetryDeadLetters) and\n"
          "prints requeued=N. Without --event, every dead letter of the "
          "destination\n"
          "matching --reason is retried.\n\n"
          "  --destination NAME  configured destination (default: the "
          "default one)\n"
          "  --reason R          rejected, expired or damaged, when no "
          "--event is given\n"
          "  --event TYPE:ID     one event, e.g. order_created:o1 or "
          "custom/my_event:e7;\n"
          "                      repeatable; more keys may follow as "
          "arguments\n"
          "  --lane L            only conversions (real events) or "
          "validate-only\n"
          "                      (checks), with or without --event "
          "(default: both)\n"
          "  --force             accepted, no longer needed\n\n"
          "Dead letters whose 7-day window has closed (or has less than 10 s "
          "left)\n"
          "stay as they are: the API would refuse them. The gateway counts "
          "them\n"
          "(window_closed=N) and a note says so.\n\n",
          kGlobal, "\n",
          "Exit status: 0 success; 1 RPC or usage error; 3 fewer events "
          "were queued\n"
          "again or left for their closed window than --event named (the "
          "others are\n"
          "unknown, already queued or delivered, or of another "
          "destination).\n");
    case Command::kDeadLetters:
      return absl::StrCat(
          "Usage: conversions-cli dead-letters list|retry [flags]\n\n"
          "  dead-letters list    list dead letters, newest first "
          "(ListDeadLetters)\n"
          "  dead-letters retry   queue dead letters again "
          "(RetryDeadLetters)\n\n"
          "Run conversions-cli dead-letters list --help (or retry --help) "
          "for the\nsubcommand's flags.\n\n",
          kGlobal);
    case Command::kNone:
      break;
  }
  return absl::StrCat(
      "Usage: conversions-cli [global flags] COMMAND [flags]\n\n"
      "A command-line client for conversions-gateway "
      "(conversions.v1.ConversionService).\n\n"
      "Commands:\n"
      "  send FILE            send typed events (SendEvents)\n"
      "  validate FILE        validate typed events, show their wire JSON "
      "(ValidateEvents)\n"
      "  track FILE           send tag-management events (TrackEvents)\n"
      "  status               show one event's delivery state "
      "(GetEventStatus)\n"
      "  dead-letters list    list dead letters (ListDeadLetters)\n"
      "  dead-letters retry   queue dead letters again (RetryDeadLetters)\n\n",
      kGlobal,
      "\nRun conversions-cli COMMAND --help for a command's flags.\n\n", kExit,
      "3 not found: status of an event the gateway does not know, or\n"
      "dead-letters retry of named events that are not dead letters.\n");
}

}  // namespace conversions::cli
