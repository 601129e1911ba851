#include "tests/load/load_generator.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace conversions::load {
namespace {

// Responses carry one small result per event; this is ample.
constexpr int kMaxReceiveMessageBytes = 64 * 1024 * 1024;

std::string RandomPrefix() {
  std::random_device random;
  return absl::StrFormat("load-%08x-", random());
}

// SplitMix64's finalizer: a bijection on 64 bits, so distinct sequence
// numbers give distinct, evenly scattered values.
std::uint64_t Scatter(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatMs(std::chrono::milliseconds ms) {
  if (ms.count() % 1000 == 0) return absl::StrCat(ms.count() / 1000, "s");
  return absl::StrCat(ms.count(), "ms");
}

}  // namespace

// One outstanding request slot; reused for the next request when done.
struct LoadGenerator::Call {
  v1::ConversionService::Stub* stub = nullptr;
  std::unique_ptr<grpc::ClientContext> context;
  v1::SendEventsRequest request;
  v1::SendEventsResponse response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::SendEventsResponse>>
      reader;
  Clock::time_point start;
};

// Owned by one worker thread; merged after the run.
struct LoadGenerator::WorkerStats {
  std::vector<std::int64_t> latencies_ns;
  std::int64_t measured_requests = 0;
  std::int64_t measured_events = 0;
  std::int64_t requests_completed = 0;
  std::int64_t events_completed = 0;
  std::int64_t requests_failed = 0;
  std::map<int, std::int64_t> errors;
  std::map<int, std::string> error_examples;
  std::int64_t accepted = 0;
  std::int64_t rejected = 0;
  std::int64_t duplicate = 0;
  std::int64_t other = 0;
  std::int64_t missing_results = 0;
  std::string accepted_ids;
  Clock::time_point last_completion{};
};

v1::Event RealisticEvent() {
  v1::Event e;
  e.set_type(v1::EVENT_TYPE_ORDER_CREATED);
  e.set_action_source(v1::ACTION_SOURCE_WEB);
  e.set_source_url("https://shop.example.com/checkout/confirmation");
  v1::UserData* user = e.mutable_user();
  user->add_emails("jane.doe@example.com");
  user->add_phone_numbers("+1 (415) 555-2671");
  user->add_external_ids("customer_000123456");
  user->set_ip_address("203.0.113.42");
  user->set_user_agent(
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
      "(KHTML, like Gecko) Version/17.5 Safari/605.1.15");
  v1::EventData* data = e.mutable_data();
  data->set_currency("USD");
  const char* names[] = {"Trail running shoes", "Merino socks", "Water bottle"};
  std::int64_t total = 0;
  for (int i = 0; i < 3; ++i) {
    v1::Content* content = data->add_contents();
    content->set_id(absl::StrCat("sku_", 1000 + i));
    content->set_name(names[i]);
    content->set_content_type("product");
    content->set_quantity(i + 1);
    content->set_amount(2999 + i * 1000);
    total += content->quantity() * content->amount();
  }
  data->set_amount(total);
  return e;
}

std::int64_t Percentile(const std::vector<std::int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(q * static_cast<double>(sorted.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

LoadGenerator::LoadGenerator(LoadOptions options)
    : options_(std::move(options)),
      id_prefix_(options_.id_prefix.empty() ? RandomPrefix()
                                            : options_.id_prefix),
      template_event_(RealisticEvent()) {}

LoadGenerator::~LoadGenerator() = default;

absl::Status LoadGenerator::Connect() {
  const auto deadline =
      std::chrono::system_clock::now() + options_.connect_timeout;
  for (int i = 0; i < options_.channels; ++i) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
    // Without these, channels with equal arguments share one connection.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("conversions.load.channel_index", i);
    std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
        options_.target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(deadline)) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", options_.target, " within ",
                       FormatMs(options_.connect_timeout)));
    }
    stubs_.push_back(v1::ConversionService::NewStub(channel));
  }
  return absl::OkStatus();
}

void LoadGenerator::Stop() {
  stop_.store(true);
  const std::int64_t now = Clock::now().time_since_epoch().count();
  std::int64_t end = measure_end_ns_.load();
  while (now < end && !measure_end_ns_.compare_exchange_weak(end, now)) {
  }
  std::lock_guard<std::mutex> lock(mu_);
  stop_requested_ = true;
  cv_.notify_all();
}

bool LoadGenerator::StartCall(Call* call, grpc::CompletionQueue* cq) {
  if (stop_.load(std::memory_order_relaxed)) return false;
  std::int64_t count = options_.events_per_request;
  const std::int64_t first = next_event_.fetch_add(count);
  if (options_.total_events > 0) {
    if (first >= options_.total_events) return false;
    count = std::min(count, options_.total_events - first);
  }

  auto* events = call->request.mutable_events();
  if (events->size() > count) {
    events->DeleteSubrange(static_cast<int>(count),
                           events->size() - static_cast<int>(count));
  }
  while (events->size() < count) *events->Add() = template_event_;
  const std::int64_t now_ms = NowUnixMs();
  for (int i = 0; i < events->size(); ++i) {
    v1::Event* event = events->Mutable(i);
    event->set_id(EventId(first + i));
    event->set_timestamp_ms(now_ms);
  }

  call->response.Clear();
  call->context = std::make_unique<grpc::ClientContext>();
  call->context->set_deadline(std::chrono::system_clock::now() +
                              options_.rpc_timeout);
  call->start = Clock::now();
  call->reader =
      call->stub->AsyncSendEvents(call->context.get(), call->request, cq);
  call->reader->Finish(&call->response, &call->status, call);
  return true;
}

std::string LoadGenerator::EventId(std::int64_t n) const {
  if (!options_.random_ids) return absl::StrCat(id_prefix_, n);
  return absl::StrCat(
      id_prefix_,
      absl::Hex(Scatter(static_cast<std::uint64_t>(n)), absl::kZeroPad16));
}

void LoadGenerator::CompleteCall(const Call& call, WorkerStats* stats) {
  const Clock::time_point now = Clock::now();
  const int events = call.request.events_size();
  ++stats->requests_completed;
  stats->events_completed += events;
  stats->last_completion = now;
  if (!call.status.ok()) {
    ++stats->requests_failed;
    const int code = static_cast<int>(call.status.error_code());
    if (stats->errors[code]++ == 0) {
      stats->error_examples[code] = call.status.error_message();
    }
    return;
  }
  const int results = call.response.results_size();
  if (results < events) stats->missing_results += events - results;
  for (const v1::EventResult& result : call.response.results()) {
    switch (result.outcome()) {
      case v1::EventResult::OUTCOME_ACCEPTED:
        ++stats->accepted;
        if (!options_.ids_file.empty()) {
          const bool known_index =
              result.index() >= 0 && result.index() < events;
          const std::string& id =
              !result.event_id().empty() || !known_index
                  ? result.event_id()
                  : call.request.events(result.index()).id();
          absl::StrAppend(&stats->accepted_ids, id, "\n");
        }
        break;
      case v1::EventResult::OUTCOME_REJECTED:
        ++stats->rejected;
        break;
      case v1::EventResult::OUTCOME_DUPLICATE:
        ++stats->duplicate;
        break;
      default:
        ++stats->other;
        break;
    }
  }
  if (now >= measure_start_ &&
      now.time_since_epoch().count() < measure_end_ns_.load()) {
    ++stats->measured_requests;
    stats->measured_events += events;
    stats->latencies_ns.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - call.start)
            .count());
  }
}

void LoadGenerator::Worker(int index, WorkerStats* stats) {
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<Call>> calls;
  for (int slot = index; slot < options_.concurrency;
       slot += options_.threads) {
    auto call = std::make_unique<Call>();
    call->stub = stubs_[static_cast<size_t>(slot % options_.channels)].get();
    call->request.set_destination(options_.destination);
    calls.push_back(std::move(call));
  }
  int outstanding = 0;
  for (auto& call : calls) {
    if (StartCall(call.get(), &cq)) ++outstanding;
  }
  void* tag = nullptr;
  bool ok = false;
  while (outstanding > 0 && cq.Next(&tag, &ok)) {
    Call* call = static_cast<Call*>(tag);
    CompleteCall(*call, stats);
    if (!StartCall(call, &cq)) --outstanding;
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++workers_finished_;
  cv_.notify_all();
}

LoadReport LoadGenerator::Run() {
  const bool total_mode = options_.total_events > 0;
  const Clock::time_point start = Clock::now();
  Clock::time_point end = Clock::time_point::max();
  if (total_mode) {
    measure_start_ = start;
    if (options_.duration_given) end = start + options_.duration;
  } else {
    measure_start_ = start + options_.warmup;
    end = measure_start_ + options_.duration;
  }
  measure_end_ns_.store(end.time_since_epoch().count());
  // A Stop before Run leaves an empty window.
  if (stop_.load()) measure_end_ns_.store(start.time_since_epoch().count());

  const int threads = std::min(options_.threads, options_.concurrency);
  std::vector<WorkerStats> stats(static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back(
        [this, i, &stats] { Worker(i, &stats[static_cast<size_t>(i)]); });
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto done = [&] { return stop_requested_ || workers_finished_ == threads; };
    if (end == Clock::time_point::max()) {
      cv_.wait(lock, done);
    } else {
      cv_.wait_until(lock, end, done);
    }
  }
  Stop();
  for (std::thread& worker : workers) worker.join();

  LoadReport report;
  std::vector<std::int64_t> latencies;
  Clock::time_point last_completion = start;
  for (WorkerStats& s : stats) {
    latencies.insert(latencies.end(), s.latencies_ns.begin(),
                     s.latencies_ns.end());
    report.measured_requests += s.measured_requests;
    report.measured_events += s.measured_events;
    report.requests_completed += s.requests_completed;
    report.events_completed += s.events_completed;
    report.requests_failed += s.requests_failed;
    for (const auto& [code, count] : s.errors) {
      const std::string name =
          absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
      report.errors[name] += count;
      report.error_examples.emplace(name, s.error_examples[code]);
    }
    report.accepted += s.accepted;
    report.rejected += s.rejected;
    report.duplicate += s.duplicate;
    report.other += s.other;
    report.missing_results += s.missing_results;
    report.accepted_ids += s.accepted_ids;
    last_completion = std::max(last_completion, s.last_completion);
  }

  const Clock::time_point measure_end{Clock::duration(measure_end_ns_.load())};
  const Clock::time_point window_end =
      total_mode ? std::min(last_completion, measure_end) : measure_end;
  report.window_seconds =
      window_end > measure_start_
          ? std::chrono::duration<double>(window_end - measure_start_).count()
          : 0.0;
  if (report.window_seconds > 0) {
    report.requests_per_second =
        static_cast<double>(report.measured_requests) / report.window_seconds;
    report.events_per_second =
        static_cast<double>(report.measured_events) / report.window_seconds;
  }
  std::sort(latencies.begin(), latencies.end());
  report.p50_ms = static_cast<double>(Percentile(latencies, 0.50)) / 1e6;
  report.p99_ms = static_cast<double>(Percentile(latencies, 0.99)) / 1e6;
  report.max_ms =
      latencies.empty() ? 0.0 : static_cast<double>(latencies.back()) / 1e6;
  return report;
}

std::string FormatReport(const LoadReport& report, const LoadOptions& options,
                         const std::string& id_prefix) {
  std::string mode =
      options.total_events > 0
          ? absl::StrCat("total_events=", options.total_events,
                         options.duration_given
                             ? absl::StrCat(" cap=", FormatMs(options.duration))
                             : std::string())
          : absl::StrCat("warmup=", FormatMs(options.warmup),
                         " duration=", FormatMs(options.duration));
  std::string errors;
  for (const auto& [name, count] : report.errors) {
    absl::StrAppend(&errors, errors.empty() ? "" : " ", name, "=", count);
  }
  std::string text = absl::StrFormat(
      "conversions-load target=%s concurrency=%d channels=%d threads=%d "
      "events_per_request=%d %s id_prefix=%s\n"
      "window_s=%.3f measured_requests=%d measured_events=%d\n"
      "requests/s: %.1f\n"
      "events/s: %.1f\n"
      "latency_ms: p50=%.3f p99=%.3f max=%.3f\n"
      "completed: requests=%d events=%d failed_requests=%d\n"
      "outcomes: accepted=%d rejected=%d duplicate=%d other=%d "
      "missing_results=%d\n"
      "errors: %s\n",
      options.target, options.concurrency, options.channels, options.threads,
      options.events_per_request, mode, id_prefix, report.window_seconds,
      report.measured_requests, report.measured_events,
      report.requests_per_second, report.events_per_second, report.p50_ms,
      report.p99_ms, report.max_ms, report.requests_completed,
      report.events_completed, report.requests_failed, report.accepted,
      report.rejected, report.duplicate, report.other, report.missing_results,
      errors.empty() ? "none" : errors);
  for (const auto& [name, message] : report.error_examples) {
    absl::StrAppend(&text, "  first ", name, ": ", message, "\n");
  }
  absl::StrAppend(
      &text,
      absl::StrFormat(
          "result requests_per_second=%.1f events_per_second=%.1f "
          "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d accepted=%d "
          "rejected=%d duplicate=%d requests=%d events=%d\n",
          report.requests_per_second, report.events_per_second, report.p50_ms,
          report.p99_ms, report.max_ms, report.requests_failed, report.accepted,
          report.rejected, report.duplicate, report.measured_requests,
          report.measured_events));
  return text;
}

absl::Status WriteOutputFiles(const LoadReport& report,
                              const LoadOptions& options) {
  if (!options.ids_file.empty()) {
    std::ofstream ids(options.ids_file, std::ios::binary | std::ios::trunc);
    ids << report.accepted_ids;
    ids.close();
    if (!ids) {
      return absl::UnavailableError(
          absl::StrCat("cannot write ", options.ids_file));
    }
  }
  if (!options.count_file.empty()) {
    std::ofstream count(options.count_file, std::ios::trunc);
    count << report.accepted << "\n";
    count.close();
    if (!count) {
      return absl::UnavailableError(
          absl::StrCat("cannot write ", options.count_file));
    }
  }
  return absl::OkStatus();
}

}  // namespace conversions::load
