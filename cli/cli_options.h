// Command-line parsing for conversions-cli: turns argv into a CliOptions
// struct, with no I/O, so every rule is unit-tested.
//
//   conversions-cli [--target HOST:PORT] [--timeout 10s] [--json] COMMAND ...
//
// Global flags may also follow the command. Flags take their value as the
// next argument or after `=` (`--timeout=5s`); `--` ends the flags.
#ifndef CONVERSIONS_CLI_CLI_OPTIONS_H_
#define CONVERSIONS_CLI_CLI_OPTIONS_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "conversions/v1/conversion_service.pb.h"
#include "conversions/v1/event.pb.h"

namespace conversions::cli {

namespace v1 = ::conversions::v1;

// The target used when neither --target nor $CONVERSIONS_TARGET is set.
inline constexpr std::string_view kDefaultTarget = "127.0.0.1:50051";

// What the person asked for.
enum class Command {
  kNone,              // no command: only valid with --help
  kSend,              // send FILE -> SendEvents
  kValidate,          // validate FILE -> ValidateEvents
  kTrack,             // track FILE -> TrackEvents
  kStatus,            // status --type T --id ID -> GetEventStatus
  kDeadLettersList,   // dead-letters list -> ListDeadLetters
  kDeadLettersRetry,  // dead-letters retry -> RetryDeadLetters
  kDeadLetters,       // dead-letters alone: only valid with --help
};

struct CliOptions {
  // gRPC target, as ParseTarget makes it; default $CONVERSIONS_TARGET or
  // kDefaultTarget.
  std::string target{kDefaultTarget};
  // Deadline of each RPC; default 10 s.
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  // The command; kNone only together with `help`.
  Command command = Command::kNone;
  // Print the help of `command` (the general help for kNone) and exit 0.
  bool help = false;
  // Print the response as protobuf JSON instead of text lines.
  bool json = false;
  // Connect with TLS (--tls, or --ca-file); trust the PEM CA certificates of
  // ca_file when set, else the system's.
  bool tls = false;
  std::string ca_file;
  // ca_file's content, read by RunCli.
  std::string ca_pem;
  // Mutual TLS (--cert-file, --key-file; both or neither): the client
  // certificate chain and its private key, and their contents, read by
  // RunCli.
  std::string cert_file;
  std::string key_file;
  std::string cert_pem;
  std::string key_pem;
  // Bearer token sent as `authorization` metadata; from $CONVERSIONS_TOKEN,
  // never a flag (flags show in `ps`). Empty: none.
  std::string token;

  // send, validate, track: the JSON file, "-" for standard input.
  std::string file;
  // Destination name; empty means the default (for dead-letters list: all).
  std::string destination;
  // send, validate, track: set validate_only on the request.
  bool validate_only = false;
  // track: set dry_run on the request (map only, print the wire JSON).
  bool dry_run = false;

  // status: the event's type, custom event name and id.
  v1::EventType type = v1::EVENT_TYPE_UNSPECIFIED;
  std::string custom_event_name;
  std::string id;

  // dead-letters: the reason filter; UNSPECIFIED matches every reason.
  v1::DeadLetterReason reason = v1::DEAD_LETTER_REASON_UNSPECIFIED;
  // dead-letters: one lane only (--lane): true, validate-only; false,
  // conversions; nullopt, both.
  std::optional<bool> lane_validate_only;
  // dead-letters list: page size, 0 = server default (100).
  int page_size = 0;
  // dead-letters list: the page to start at (a next_page_token printed
  // before); empty for the first.
  std::string page_token;
  // dead-letters list: follow next_page_token to the last page.
  bool all = false;
  // dead-letters retry: the selected events (--event TYPE:ID, repeatable).
  std::vector<v1::EventKey> events;
  // dead-letters retry --force: accepted for the scripts that passed it
  // when --reason expired needed it; it changes nothing now (the gateway
  // leaves dead letters whose window has closed as they are).
  bool force = false;
};

// Parses the arguments after the program name. `env_target` is the value
// of $CONVERSIONS_TARGET, or nullopt when unset. Errors are InvalidArgument
// with a message fit for a person.
absl::StatusOr<CliOptions> ParseCliArgs(const std::vector<std::string>& args,
                                        std::optional<std::string> env_target);

// Returns the help text for a command, or the general help for kNone.
std::string UsageText(Command command);

// Parses an event type: "order_created", "ORDER_CREATED" or
// "EVENT_TYPE_ORDER_CREATED" (any case).
absl::StatusOr<v1::EventType> ParseEventType(const std::string& text);

// Parses a dead-letter reason: "rejected", "expired", or the enum name.
absl::StatusOr<v1::DeadLetterReason> ParseDeadLetterReason(
    const std::string& text);

// Parses an event key "TYPE:ID", or "custom/NAME:ID" for custom events.
// The id is everything after the first ':' and may itself contain ':'.
absl::StatusOr<v1::EventKey> ParseEventKey(const std::string& text);

// Parses a duration: "10s", "500ms", "1m", "1.5s", or whole seconds ("10").
absl::StatusOr<std::chrono::milliseconds> ParseTimeout(const std::string& text);

}  // namespace conversions::cli

#endif  // CONVERSIONS_CLI_CLI_OPTIONS_H_
