#include "service/parse_error_interceptor.h"

#include <grpcpp/support/interceptor.h>
#include <grpcpp/support/status.h>

#include <string_view>

namespace conversions::service {
namespace {

// The field of the last invalid UTF-8 complaint on this thread, taken by
// the next interceptor that finds a request that did not parse.
thread_local std::string invalid_utf8_field;

bool IsFieldName(std::string_view name) {
  if (name.empty() || name.size() > 200) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

using grpc::experimental::InterceptionHookPoints;

class ParseErrorInterceptor final : public grpc::experimental::Interceptor {
 public:
  ParseErrorInterceptor(std::string_view method,
                        const UnparsedRequestObserver* on_unparsed)
      : method_(method), on_unparsed_(on_unparsed) {}

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    // The server parses the request before the handler runs; a request
    // that did not parse reaches this hook as no message at all.
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unparsed_ = true;
      field_ = std::move(invalid_utf8_field);
    }
    invalid_utf8_field.clear();
    if (unparsed_ &&
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS) &&
        methods->GetSendStatus().error_code() ==
            grpc::StatusCode::UNIMPLEMENTED) {
      const std::string what =
          field_.empty() ? "the request is not valid protobuf for this "
                           "method, or a string field holds invalid UTF-8"
                         : "string field " + field_ + " holds invalid UTF-8";
      methods->ModifySendStatus(grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          std::string(method_) + ": " + what +
              " (proto3 strings must be UTF-8; a JavaScript string with a "
              "lone surrogate encodes as invalid UTF-8)"));
      if (*on_unparsed_) (*on_unparsed_)(method_);
    }
    methods->Proceed();
  }

 private:
  const std::string_view method_;  // the method's name, owned by gRPC
  const UnparsedRequestObserver* const on_unparsed_;  // the factory's
  bool unparsed_ = false;
  std::string field_;  // named by protobuf's complaint, if any
};

}  // namespace

void NoteProtobufParseMessage(std::string_view message) {
  constexpr std::string_view kPrefix = "String field '";
  if (message.rfind(kPrefix, 0) != 0 ||
      message.find("invalid UTF-8") == std::string_view::npos) {
    return;
  }
  message.remove_prefix(kPrefix.size());
  const std::string_view name = message.substr(0, message.find('\''));
  if (IsFieldName(name)) invalid_utf8_field.assign(name);
}

grpc::experimental::Interceptor*
ParseErrorInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  std::string_view method = info->method();
  if (method.compare(0, prefix_.size(), prefix_) != 0) return nullptr;
  method.remove_prefix(prefix_.size());
  return new ParseErrorInterceptor(method, &on_unparsed_);
}

}  // namespace conversions::service
