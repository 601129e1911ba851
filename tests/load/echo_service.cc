#include "tests/load/echo_service.h"

namespace conversions::load {

grpc::ServerUnaryReactor* EchoConversionService::SendEvents(
    grpc::CallbackServerContext* context, const v1::SendEventsRequest* request,
    v1::SendEventsResponse* response) {
  const int count = request->events_size();
  response->mutable_results()->Reserve(count);
  for (int i = 0; i < count; ++i) {
    v1::EventResult* result = response->add_results();
    result->set_index(i);
    result->set_event_id(request->events(i).id());
    result->set_outcome(v1::EventResult::OUTCOME_ACCEPTED);
  }
  events_.fetch_add(count, std::memory_order_relaxed);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

void ApplyGatewayServerSettings(grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  builder->SetMaxSendMessageSize(kMaxReceiveMessageBytes);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60 * 1000);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20 * 1000);
  builder->AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10 * 1000);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 1000);
}

}  // namespace conversions::load
