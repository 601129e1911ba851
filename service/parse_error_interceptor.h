// A gRPC server interceptor that answers a ConversionService request whose
// bytes do not parse with INVALID_ARGUMENT and a message, instead of the
// UNIMPLEMENTED with an empty message that gRPC C++'s callback API sends.
//
// Such requests come from real clients: protobufjs (Node.js) encodes a
// JavaScript string holding a lone surrogate (an emoji cut in half by
// `slice`) as invalid UTF-8, which proto3 refuses in a string field; a
// client built from a proto whose field types changed sends bytes that do
// not parse. UNIMPLEMENTED tells such a caller that the method does not
// exist, and the empty message gives no hint.
#ifndef CONVERSIONS_SERVICE_PARSE_ERROR_INTERCEPTOR_H_
#define CONVERSIONS_SERVICE_PARSE_ERROR_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

#include <functional>
#include <string>
#include <string_view>

namespace conversions::service {

// Hears of each request that did not parse, with its method's name
// ("SendEvents"); called on a gRPC thread, so it must be quick.
using UnparsedRequestObserver = std::function<void(std::string_view method)>;

// Notes, for the calling thread, the field that protobuf's log `message`
// names when it complains of invalid UTF-8 in a string field while parsing
// ("String field 'conversions.v1.Event.id' contains invalid UTF-8 ...").
// The library's log handler calls it; the interceptor, which runs on the
// thread that parsed the request, names that field in its answer.
void NoteProtobufParseMessage(std::string_view message);

// Creates the interceptor for the methods of services whose full name
// starts with `prefix` ("/conversions.v1.ConversionService/"); other calls
// (health, reflection) get none. Register it with
// ServerBuilder::experimental().SetInterceptorCreators. `on_unparsed`, if
// set, hears of every request answered INVALID_ARGUMENT for that reason.
class ParseErrorInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ParseErrorInterceptorFactory(
      std::string prefix, UnparsedRequestObserver on_unparsed = nullptr)
      : prefix_(std::move(prefix)), on_unparsed_(std::move(on_unparsed)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  const std::string prefix_;
  const UnparsedRequestObserver on_unparsed_;
};

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_PARSE_ERROR_INTERCEPTOR_H_
