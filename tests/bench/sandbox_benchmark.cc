// The sandbox's POST /v1/events handler alone, without sockets: parse,
// validate and record one 1,000-event batch per iteration, single-threaded,
// with the RapidJSON fast path (fast_path:1) and with the nlohmann path only
// (fast_path:0, what every request took before the fast path).
//
//   sandbox_benchmark [--benchmark_filter=...]
//
// items_per_second is events/s. The sandbox is reset between iterations
// (outside the timing), so every event is new and gets recorded.
#include <benchmark/benchmark.h>
#include <httplib.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/sandbox/sandbox.h"

namespace conversions::sandbox {
namespace {

using ::nlohmann::json;

// The sandbox clock: the golden events are one hour old at this time.
constexpr int64_t kNowMs = 1'773'892'800'000;
constexpr int kEventsPerBatch = 1000;

json ReadGolden(const std::string& name) {
  std::ifstream in(
      absl::StrCat(CONVERSIONS_TEST_DATA_DIR, "/golden/", name, ".wire.json"));
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

// 1,000 events with distinct ids, cycling through `golden` (wire JSON as
// the gateway sends it).
std::string BatchBody(const std::vector<std::string>& golden) {
  std::vector<json> events;
  for (const std::string& name : golden) events.push_back(ReadGolden(name));
  json body = {{"events", json::array()}};
  for (int i = 0; i < kEventsPerBatch; ++i) {
    json event = events[static_cast<size_t>(i) % events.size()];
    event["id"] = absl::StrCat(event["id"].get<std::string>(), "-", i);
    body["events"].push_back(std::move(event));
  }
  return body.dump();
}

void RunBatches(benchmark::State& state, const std::string& body) {
  SandboxOptions options;
  options.now_ms = [] { return kNowMs; };
  options.threads = 1;
  options.fast_path = state.range(0) != 0;
  absl::StatusOr<std::unique_ptr<Sandbox>> sandbox =
      Sandbox::Start(std::move(options));
  if (!sandbox.ok()) {
    state.SkipWithError("cannot start the sandbox");
    return;
  }
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/events";
  req.set_header("Authorization", "Bearer sandbox-key");
  req.set_header("Content-Type", "application/json");
  req.params.emplace("pid", "sandbox-pixel");
  req.body = body;
  for (auto _ : state) {
    httplib::Response res;
    (*sandbox)->HandleEvents(req, res);
    if (res.status != 200) {
      state.SkipWithError(res.body.c_str());
      return;
    }
    state.PauseTiming();
    (*sandbox)->Reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kEventsPerBatch);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(body.size()));
}

// The web purchase golden event: 3 contents, a full user, ~1.2 KB.
void BM_WebPurchaseBatch(benchmark::State& state) {
  static const std::string* body =
      new std::string(BatchBody({"web_purchase_three_contents"}));
  RunBatches(state, *body);
}
BENCHMARK(BM_WebPurchaseBatch)
    ->ArgName("fast_path")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond);

// Every golden event in turn (all data shapes), ~550 bytes on average.
void BM_GoldenMixBatch(benchmark::State& state) {
  static const std::string* body = new std::string(
      BatchBody({"app_install", "checkout_jpy", "custom_quote_requested",
                 "items_added_kwd", "lead_unicode_names",
                 "offline_order_with_drops", "page_view_prehashed",
                 "phone_call_appointment", "subscription_pro_monthly",
                 "trial_started_opt_out", "web_purchase_three_contents"}));
  RunBatches(state, *body);
}
BENCHMARK(BM_GoldenMixBatch)
    ->ArgName("fast_path")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace conversions::sandbox

BENCHMARK_MAIN();
