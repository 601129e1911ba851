#include "cli/cli.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cli/cli_options.h"
#include "cli/event_file.h"
#include "cli/result_format.h"
#include "conversions/v1/conversion_service.grpc.pb.h"

namespace conversions::cli {
namespace {

using Stub = v1::ConversionService::Stub;

// The largest response accepted: a page of 1,000 dead letters or 1,000
// results with their wire JSON stays far below it.
constexpr int kMaxReceiveMessageBytes = 64 * 1024 * 1024;
// Bounds `dead-letters list --all`: 10,000 pages of up to 1,000.
constexpr int kMaxPages = 10000;

class Runner {
 public:
  Runner(const CliOptions& options, std::istream& in, std::ostream& out,
         std::ostream& err)
      : options_(options), in_(in), out_(out), err_(err) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
    std::shared_ptr<grpc::ChannelCredentials> credentials =
        grpc::InsecureChannelCredentials();
    if (options_.tls) {
      grpc::SslCredentialsOptions tls;
      tls.pem_root_certs = options_.ca_pem;    // empty: the system's roots
      tls.pem_cert_chain = options_.cert_pem;  // empty: no client certificate
      tls.pem_private_key = options_.key_pem;
      credentials = grpc::SslCredentials(tls);
    }
    stub_ = v1::ConversionService::NewStub(
        grpc::CreateCustomChannel(options_.target, credentials, args));
  }

  int Run() {
    switch (options_.command) {
      case Command::kSend:
        return Send();
      case Command::kValidate:
        return Validate();
      case Command::kTrack:
        return Track();
      case Command::kStatus:
        return Status();
      case Command::kDeadLettersList:
        return ListDeadLetters();
      case Command::kDeadLettersRetry:
        return RetryDeadLetters();
      case Command::kDeadLetters:  // only with --help, answered before
      case Command::kNone:
        break;
    }
    err_ << "error: missing command\n";
    return kExitError;
  }

 private:
  std::unique_ptr<grpc::ClientContext> NewContext() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + options_.timeout);
    if (!options_.token.empty()) {
      context->AddMetadata("authorization", "Bearer " + options_.token);
    }
    return context;
  }

  // Reads and parses the events file into `request`; prints the error.
  bool LoadRequest(google::protobuf::Message* request) {
    absl::StatusOr<std::string> text = ReadInput(options_.file, in_);
    absl::Status status = text.status();
    if (status.ok()) {
      status = ParseEventsJson(
          *text, options_.file == "-" ? "<stdin>" : options_.file, request);
    }
    if (!status.ok()) {
      err_ << "error: " << status.message() << "\n";
      const std::string hint = FileErrorHint(
          options_.command == Command::kSend       ? "send"
          : options_.command == Command::kValidate ? "validate"
                                                   : "track",
          std::string_view(status.message().data(), status.message().size()));
      if (!hint.empty()) err_ << hint << "\n";
      return false;
    }
    return true;
  }

  // Flags override what the file set.
  template <typename Request>
  void ApplyBatchFlags(Request* request) const {
    if (!options_.destination.empty()) {
      request->set_destination(options_.destination);
    }
    if (options_.validate_only) request->set_validate_only(true);
    if constexpr (std::is_same_v<Request, v1::TrackEventsRequest>) {
      if (options_.dry_run) request->set_dry_run(true);
    }
  }

  int RpcError(const grpc::Status& status) const {
    err_ << "error: " << GrpcCodeName(status.error_code()) << ": "
         << status.error_message() << "\n";
    const bool stores_events = (options_.command == Command::kSend ||
                                options_.command == Command::kTrack) &&
                               !options_.dry_run;
    const std::string hint = RpcErrorHint(
        status.error_code(), status.error_message(), stores_events);
    if (!hint.empty()) err_ << hint << "\n";
    return kExitError;
  }

  // Prints the results of send or track. With validate_only (the flag or
  // the file's) the first line says so: ACCEPTED then means queued for the
  // API to validate, not a conversion on its way.
  // With dry_run (track) the first line says so, and each ACCEPTED event
  // comes with its wire JSON: nothing was stored or sent.
  void PrintBatchResults(bool validate_only, bool dry_run,
                         const EventResults& results) const {
    if (dry_run) {
      out_ << "dry-run: mapped and checked only, nothing stored or sent\n";
    } else if (validate_only) {
      out_ << kValidateOnlyLine << "\n";
    }
    PrintResults(results, /*with_wire_json=*/dry_run, out_);
  }

  int BatchExit(const EventResults& results) const {
    return CountOutcomes(results).rejected > 0 ? kExitRejected : kExitOk;
  }

  // One request's answer and the events of the file it carried.
  template <typename Response>
  struct Part {
    EventRange events;
    Response response;
  };

  // Calls `call` with the events of `request` in requests of at most
  // kMaxEventsPerRequest events and kMaxRequestBytes (the API takes 1,000
  // events a request), one after the other in file order, appending each
  // answer to `parts`. Stops at the first failed call and returns it.
  template <typename Request, typename Response, typename Call>
  grpc::Status CallInParts(const Request& request, Call call,
                           std::vector<Part<Response>>* parts) const {
    for (const EventRange& range : SplitEvents(request)) {
      Request part;
      part.set_destination(request.destination());
      part.set_validate_only(request.validate_only());
      if constexpr (std::is_same_v<Request, v1::TrackEventsRequest>) {
        part.set_dry_run(request.dry_run());
      }
      for (int i = range.begin; i < range.end; ++i) {
        *part.add_events() = request.events(i);
      }
      Part<Response> answer{range, Response()};
      const grpc::Status status =
          call(NewContext().get(), part, &answer.response);
      if (!status.ok()) return status;
      parts->push_back(std::move(answer));
    }
    return grpc::Status::OK;
  }

  // Appends the results of `parts` to `results`, each index made the
  // event's index in the file: the answer one request would have given.
  template <typename Response>
  static void MergeResults(const std::vector<Part<Response>>& parts,
                           EventResults* results) {
    for (const Part<Response>& part : parts) {
      for (const v1::EventResult& result : part.response.results()) {
        v1::EventResult* merged = results->Add();
        *merged = result;
        merged->set_index(result.index() + part.events.begin);
      }
    }
  }

  // A call failed after `done` events of `total` were `verb` by the calls
  // before it (their results printed): says which were and were not.
  int PartialRpcError(const grpc::Status& status, int done, int total,
                      std::string_view verb) const {
    RpcError(status);
    if (done > 0) {
      err_ << "error: events #0 to #" << done - 1 << " of " << total << " were "
           << verb << " (results above), #" << done << " to #" << total - 1
           << " were not\n";
    }
    return kExitError;
  }

  // The first call failed: its error, and for a file sent in several
  // requests, that none of its events was `verb` (the others were not
  // made).
  template <typename Request>
  int FirstCallError(const grpc::Status& status, const Request& request,
                     std::string_view verb) const {
    RpcError(status);
    if (SplitEvents(request).size() > 1) {
      err_ << "error: none of the " << request.events_size() << " events was "
           << verb << " (the file's later requests were not made)\n";
    }
    return kExitError;
  }

  // send and track: the same but for the RPC.
  template <typename Request, typename Response, typename Call>
  int SendInParts(Call call) {
    Request request;
    if (!LoadRequest(&request)) return kExitError;
    ApplyBatchFlags(&request);
    std::vector<Part<Response>> parts;
    const grpc::Status status = CallInParts(request, call, &parts);
    bool checked_only = false;
    if constexpr (std::is_same_v<Request, v1::TrackEventsRequest>) {
      checked_only = request.dry_run();
    }
    const char* verb = checked_only ? "checked" : "sent";
    if (!status.ok() && parts.empty()) {
      return FirstCallError(status, request, verb);
    }
    Response response;
    MergeResults(parts, response.mutable_results());
    if (options_.json) {
      out_ << MessageToJson(response);
    } else {
      bool dry_run = false;
      if constexpr (std::is_same_v<Request, v1::TrackEventsRequest>) {
        dry_run = request.dry_run();
      }
      PrintBatchResults(request.validate_only(), dry_run, response.results());
    }
    if constexpr (std::is_same_v<Request, v1::TrackEventsRequest>) {
      if (const std::string hint = TrackFileHint(request); !hint.empty()) {
        err_ << hint << "\n";
      }
    }
    if (!status.ok()) {
      return PartialRpcError(status, parts.back().events.end,
                             request.events_size(), verb);
    }
    return BatchExit(response.results());
  }

  int Send() {
    return SendInParts<v1::SendEventsRequest, v1::SendEventsResponse>(
        [this](grpc::ClientContext* context,
               const v1::SendEventsRequest& request,
               v1::SendEventsResponse* response) {
          return stub_->SendEvents(context, request, response);
        });
  }

  int Track() {
    return SendInParts<v1::TrackEventsRequest, v1::TrackEventsResponse>(
        [this](grpc::ClientContext* context,
               const v1::TrackEventsRequest& request,
               v1::TrackEventsResponse* response) {
          return stub_->TrackEvents(context, request, response);
        });
  }

  int Validate() {
    v1::ValidateEventsRequest request;
    if (!LoadRequest(&request)) return kExitError;
    ApplyBatchFlags(&request);
    std::vector<Part<v1::ValidateEventsResponse>> parts;
    const grpc::Status status = CallInParts(
        request,
        [this](grpc::ClientContext* context,
               const v1::ValidateEventsRequest& part,
               v1::ValidateEventsResponse* response) {
          return stub_->ValidateEvents(context, part, response);
        },
        &parts);
    if (!status.ok() && parts.empty()) {
      return FirstCallError(status, request, "validated");
    }
    v1::ValidateEventsResponse response;
    MergeResults(parts, response.mutable_results());
    // With --validate-only each request has the API's answer. The text
    // shows each (naming its events when there are several); --json the
    // first that is not 2xx, else the first.
    auto is_2xx = [](const v1::ApiValidation& validation) {
      return validation.http_status() >= 200 && validation.http_status() <= 299;
    };
    auto events_of = [&parts](const EventRange& range) {
      return parts.size() == 1 ? std::string("the events")
                               : absl::StrCat("events #", range.begin, " to #",
                                              range.end - 1);
    };
    for (const auto& part : parts) {
      if (part.response.has_api_validation() &&
          (!response.has_api_validation() ||
           (is_2xx(response.api_validation()) &&
            !is_2xx(part.response.api_validation())))) {
        *response.mutable_api_validation() = part.response.api_validation();
      }
    }
    if (options_.json) {
      out_ << MessageToJson(response);
    } else {
      for (const v1::EventResult& result : response.results()) {
        PrintResult(result, /*with_wire_json=*/true, out_);
      }
      for (const auto& part : parts) {
        if (!part.response.has_api_validation()) continue;
        out_ << FormatApiValidation(
                    part.response.api_validation(),
                    parts.size() == 1 ? std::string()
                                      : absl::StrCat("#", part.events.begin,
                                                     "-#", part.events.end - 1))
             << "\n";
      }
      out_ << FormatCounts(CountOutcomes(response.results())) << "\n";
    }
    if (!status.ok()) {
      return PartialRpcError(status, parts.back().events.end,
                             request.events_size(), "validated");
    }
    // With --validate-only the API's answer counts too: 400 or 422 refused
    // the events, anything else but 2xx is an error (0: not reached), and
    // that wins over a refusal.
    bool refused = false;
    bool not_validated = false;
    for (const auto& part : parts) {
      if (!part.response.has_api_validation()) continue;
      const int http = part.response.api_validation().http_status();
      if (http == 400 || http == 422) {
        err_ << "error: the API refused " << events_of(part.events) << " (HTTP "
             << http << ")\n";
        refused = true;
      } else if (http < 200 || http > 299) {
        err_ << "error: the API did not validate " << events_of(part.events)
             << " ("
             << (http == 0 ? std::string("not reached")
                           : absl::StrCat("HTTP ", http))
             << ")\n";
        not_validated = true;
      }
    }
    if (not_validated) return kExitError;
    if (refused) return kExitRejected;
    return BatchExit(response.results());
  }

  int Status() {
    v1::GetEventStatusRequest request;
    request.set_destination(options_.destination);
    request.set_type(options_.type);
    request.set_custom_event_name(options_.custom_event_name);
    request.set_id(options_.id);
    v1::GetEventStatusResponse response;
    const grpc::Status status =
        stub_->GetEventStatus(NewContext().get(), request, &response);
    if (!status.ok()) return RpcError(status);
    if (options_.json) {
      out_ << MessageToJson(response);
    } else {
      PrintEventStatus(response, out_);
    }
    return response.state() == v1::DELIVERY_STATE_UNSPECIFIED
               ? kExitUnknownEvent
               : kExitOk;
  }

  int ListDeadLetters() {
    v1::ListDeadLettersRequest request;
    request.set_destination(options_.destination);
    request.set_reason(options_.reason);
    if (options_.lane_validate_only) {
      request.set_validate_only(*options_.lane_validate_only);
    }
    request.set_page_size(options_.page_size);
    request.set_page_token(options_.page_token);
    // With --json the pages are merged into one response.
    v1::ListDeadLettersResponse merged;
    int count = 0;
    for (int page = 0; page < kMaxPages; ++page) {
      v1::ListDeadLettersResponse response;
      const grpc::Status status =
          stub_->ListDeadLetters(NewContext().get(), request, &response);
      if (!status.ok()) return RpcError(status);
      count += response.dead_letters_size();
      if (options_.json) {
        merged.mutable_dead_letters()->MergeFrom(response.dead_letters());
        merged.set_next_page_token(response.next_page_token());
      } else {
        for (const v1::DeadLetter& dead_letter : response.dead_letters()) {
          out_ << FormatDeadLetter(dead_letter) << "\n";
        }
      }
      const bool more = !response.next_page_token().empty();
      if (!options_.all || !more) {
        if (options_.json) {
          out_ << MessageToJson(merged);
        } else {
          out_ << "dead_letters=" << count;
          if (more) out_ << " next_page_token=" << response.next_page_token();
          out_ << "\n";
        }
        return kExitOk;
      }
      if (response.next_page_token() == request.page_token()) {
        err_ << "error: the server returned the same page token twice\n";
        return kExitError;
      }
      request.set_page_token(response.next_page_token());
    }
    err_ << "error: stopped after " << kMaxPages << " pages\n";
    return kExitError;
  }

  int RetryDeadLetters() {
    v1::RetryDeadLettersRequest request;
    request.set_destination(options_.destination);
    request.set_reason(options_.reason);
    if (options_.lane_validate_only) {
      request.set_validate_only(*options_.lane_validate_only);
    }
    for (const v1::EventKey& key : options_.events) {
      *request.add_events() = key;
    }
    v1::RetryDeadLettersResponse response;
    const grpc::Status status =
        stub_->RetryDeadLetters(NewContext().get(), request, &response);
    if (!status.ok()) return RpcError(status);
    if (options_.json) {
      out_ << MessageToJson(response);
    } else {
      out_ << "requeued=" << response.requeued_count() << "\n";
      if (response.window_closed_count() > 0) {
        out_ << "window_closed=" << response.window_closed_count() << "\n";
      }
    }
    if (response.window_closed_count() > 0) {
      err_ << "note: " << response.window_closed_count()
           << " dead letters were left as they are: their 7-day window has "
              "closed, so the API would refuse them\n";
    }
    // Events named one by one that were not queued again: a typo, an event
    // delivered, or one of another destination. Said, not passed over.
    // (Those too old to send were counted and said above.)
    std::set<std::string> named;
    for (const v1::EventKey& key : options_.events) {
      named.insert(key.SerializeAsString());
    }
    const size_t found = static_cast<size_t>(response.requeued_count()) +
                         static_cast<size_t>(response.window_closed_count());
    if (!named.empty() && found < named.size()) {
      err_ << "error: " << named.size() - found << " of " << named.size()
           << " events named are not dead letters of this destination"
           << (options_.lane_validate_only ? " in this lane (--lane)" : "")
           << " (unknown, already queued or delivered)\n";
      return kExitUnknownEvent;
    }
    return kExitOk;
  }

  const CliOptions& options_;
  std::istream& in_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<Stub> stub_;
};

}  // namespace

int RunCli(const std::vector<std::string>& args,
           std::optional<std::string> env_target, std::istream& in,
           std::ostream& out, std::ostream& err,
           std::optional<std::string> env_token) {
  absl::StatusOr<CliOptions> options =
      ParseCliArgs(args, std::move(env_target));
  if (!options.ok()) {
    err << "error: " << options.status().message() << "\n";
    return kExitError;
  }
  if (env_token) {
    // A token read from a file often ends with a newline; gRPC aborts on a
    // header value it cannot carry, printing it. Neither message here shows
    // the token.
    options->token = std::string(absl::StripAsciiWhitespace(*env_token));
    for (char c : options->token) {
      if (c < 0x21 || c > 0x7e) {
        err << "error: CONVERSIONS_TOKEN holds a character an authorization "
               "header cannot carry (only visible ASCII; the value is not "
               "shown)\n";
        return kExitError;
      }
    }
  }
  // Reads a PEM file given with `flag`; the content is never printed (it
  // may be a private key).
  auto read_pem = [&err](const std::string& flag, const std::string& path,
                         std::string_view marker, std::string_view what,
                         std::string* pem) {
    std::ifstream file(path, std::ios::binary);
    std::ostringstream content;
    content << file.rdbuf();
    if (!file || content.str().find(marker) == std::string::npos) {
      err << "error: --" << flag << " " << path << ": cannot read a PEM "
          << what << "\n";
      return false;
    }
    *pem = content.str();
    return true;
  };
  if (options->cert_file.empty() != options->key_file.empty()) {
    err << "error: --cert-file and --key-file go together\n";
    return kExitError;
  }
  if ((!options->ca_file.empty() &&
       !read_pem("ca-file", options->ca_file, "CERTIFICATE", "certificate",
                 &options->ca_pem)) ||
      (!options->cert_file.empty() &&
       (!read_pem("cert-file", options->cert_file, "CERTIFICATE", "certificate",
                  &options->cert_pem) ||
        !read_pem("key-file", options->key_file, "PRIVATE KEY", "private key",
                  &options->key_pem)))) {
    return kExitError;
  }
  if (options->help) {
    out << UsageText(options->command);
    return kExitOk;
  }
  return Runner(*options, in, out, err).Run();
}

int RunCli(int argc, char** argv, std::ostream& out, std::ostream& err) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  std::optional<std::string> env_target;
  if (const char* value = std::getenv("CONVERSIONS_TARGET")) {
    env_target = value;
  }
  std::optional<std::string> env_token;
  if (const char* value = std::getenv("CONVERSIONS_TOKEN")) env_token = value;
  return RunCli(args, std::move(env_target), std::cin, out, err,
                std::move(env_token));
}

}  // namespace conversions::cli
