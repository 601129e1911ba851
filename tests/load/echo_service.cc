#include "tests/load/echo_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace conversions::load {

namespace {
constexpr std::int64_t kDurableFileBytes = std::int64_t{64} << 20;
}  // namespace

absl::StatusOr<std::unique_ptr<DurableAnswers>> DurableAnswers::Open(
    const std::string& path) {
  const int fd =
      open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<DurableAnswers>(new DurableAnswers(fd));
}

DurableAnswers::DurableAnswers(int fd) : fd_(fd) {
  thread_ = std::thread([this] { Loop(); });
}

DurableAnswers::~DurableAnswers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
  close(fd_);
}

void DurableAnswers::Answer(grpc::ServerUnaryReactor* reactor,
                            std::string record) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    records_ += record;
    reactors_.push_back(reactor);
  }
  cv_.notify_one();
}

void DurableAnswers::Loop() {
  std::string records;
  std::vector<grpc::ServerUnaryReactor*> reactors;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !reactors_.empty() || stop_; });
      if (reactors_.empty()) return;  // stopping, nothing queued
      records.clear();
      records.swap(records_);
      reactors.clear();
      reactors.swap(reactors_);
    }
    if (offset_ + static_cast<std::int64_t>(records.size()) >
        kDurableFileBytes) {
      offset_ = 0;
    }
    grpc::Status status = grpc::Status::OK;
    const ssize_t n = pwrite(fd_, records.data(), records.size(), offset_);
    if (n != static_cast<ssize_t>(records.size()) || fdatasync(fd_) != 0) {
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            absl::StrCat("echo-server: write or fdatasync: ",
                                         std::strerror(errno)));
    }
    offset_ += static_cast<std::int64_t>(records.size());
    syncs_.fetch_add(1, std::memory_order_relaxed);
    for (grpc::ServerUnaryReactor* reactor : reactors) reactor->Finish(status);
  }
}

grpc::ServerUnaryReactor* EchoConversionService::SendEvents(
    grpc::CallbackServerContext* context, const v1::SendEventsRequest* request,
    v1::SendEventsResponse* response) {
  const int count = request->events_size();
  response->mutable_results()->Reserve(count);
  std::string record;
  for (int i = 0; i < count; ++i) {
    v1::EventResult* result = response->add_results();
    result->set_index(i);
    result->set_event_id(request->events(i).id());
    result->set_outcome(v1::EventResult::OUTCOME_ACCEPTED);
    if (durable_ != nullptr)
      absl::StrAppend(&record, request->events(i).id(), "\n");
  }
  events_.fetch_add(count, std::memory_order_relaxed);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (durable_ != nullptr) {
    durable_->Answer(reactor, std::move(record));
  } else {
    reactor->Finish(grpc::Status::OK);
  }
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
