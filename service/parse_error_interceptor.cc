#include "service/parse_error_interceptor.h"

#include <grpcpp/support/interceptor.h>
#include <grpcpp/support/status.h>

#include <string_view>

namespace conversions::service {
namespace {

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
    }
    if (unparsed_ &&
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS) &&
        methods->GetSendStatus().error_code() ==
            grpc::StatusCode::UNIMPLEMENTED) {
      methods->ModifySendStatus(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       std::string(method_) +
                           ": the request is not valid protobuf for this "
                           "method, or a string field holds invalid UTF-8 "
                           "(proto3 strings must be UTF-8; a JavaScript "
                           "string with a lone surrogate encodes as invalid "
                           "UTF-8)"));
      if (*on_unparsed_) (*on_unparsed_)(method_);
    }
    methods->Proceed();
  }

 private:
  const std::string_view method_;  // the method's name, owned by gRPC
  const UnparsedRequestObserver* const on_unparsed_;  // the factory's
  bool unparsed_ = false;
};

}  // namespace

grpc::experimental::Interceptor*
ParseErrorInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  std::string_view method = info->method();
  if (method.compare(0, prefix_.size(), prefix_) != 0) return nullptr;
  method.remove_prefix(prefix_.size());
  return new ParseErrorInterceptor(method, &on_unparsed_);
}

}  // namespace conversions::service
