// Measures reading a POST /v1/track body of 100 purchase events into the
// tag mapper's trees: ReadTrackEventsJson (the direct reader the gateway
// tries first) against ParseTrackEventsJsonGenerally (the strict syntax
// check, the nesting check, protobuf's JSON parser and a copy of each
// Struct into a tree: what every body took before). Both give the same
// trees (checked before timing). The last output line is
//   track_json_speedup=<general CPU time / reader CPU time>
// from alternating batches of both on one core (the median of 40 rounds'
// ratios), which a shared machine's noise moves far less than two
// benchmarks run seconds apart; the Google Benchmark table is for reading.
//
// Run: build/tests/bench/track_json_benchmark [--benchmark_min_time=1]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "service/track_json.h"
#include "tests/mapping/tag_tree_util.h"

namespace conversions::service {
namespace {

constexpr int kEvents = 100;

// One purchase with three items, as a data layer sends it, in the tag
// event model (the event of tag_mapping_benchmark), made unique by `n`.
std::string Event(int n) {
  std::string items;
  for (int i = 0; i < 3; ++i) {
    items += std::string(i ? "," : "") + R"({"id":"sku_)" +
             std::to_string(1000 + i) + R"(","quantity":)" +
             std::to_string(i + 1) + R"(,"list_position":)" +
             std::to_string(i + 1) + R"(,"product":{"id":"P)" +
             std::to_string(i) + R"(","name":"Trail running shoes","price":)" +
             std::to_string(29.99 + i * 10) +
             R"(,"brand":"Example","category_1":"Outdoor"}})";
  }
  return R"({"event_name": "purchase", "id": "ORD-)" + std::to_string(n) +
         R"(", "type": "online", "value": 129.99, "revenue": 108.33,
    "currency": "USD", "payment_method": "card", "status": "in_progress",
    "context": {"event_id": "order_8f14e45f-ceea-467f-a8f5-)" +
         std::to_string(100000000000 + n) + R"(",
      "event_timestamp": 1773892740000,
      "page": {"url": "https://shop.example.com/checkout/confirmation",
               "title": "Thank you", "lang": "en"},
      "device": {"ip": "203.0.113.42", "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "lang": "en-US"}},
    "partners": {"openai": {"oppref": "opp_7d1c2e0f9a"}},
    "user": {"email": " Jane.Doe@Example.com ", "phone": "+1 (415) 555-2671",
             "id": "customer_000123456", "consistent_anonymous_id": "a1b2c3",
             "consent_categories": ["1", "2", "3"]},
    "items": [)" +
         items + "]}";
}

std::string Body() {
  std::string body = R"({"destination": "default", "events": [)";
  for (int n = 0; n < kEvents; ++n) body += (n ? ",\n" : "\n") + Event(n);
  return body + "]}";
}

void BM_GeneralWay(benchmark::State& state) {
  const std::string body = Body();
  TrackEventsInput out;
  for (auto _ : state) {
    if (!ParseTrackEventsJsonGenerally(body, &out).ok()) {
      state.SkipWithError("refused");
    }
    benchmark::DoNotOptimize(out.events.data());
  }
  state.SetItemsProcessed(state.iterations() * kEvents);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>(body.size()));
}
BENCHMARK(BM_GeneralWay);

void BM_Reader(benchmark::State& state) {
  const std::string body = Body();
  TrackEventsInput out;
  for (auto _ : state) {
    if (!ReadTrackEventsJson(body, &out)) state.SkipWithError("not taken");
    benchmark::DoNotOptimize(out.events.data());
  }
  state.SetItemsProcessed(state.iterations() * kEvents);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>(body.size()));
}
BENCHMARK(BM_Reader);

// Both ways give the same trees, or the ratio means nothing.
bool SameTrees() {
  const std::string body = Body();
  TrackEventsInput fast, general;
  if (!ReadTrackEventsJson(body, &fast) ||
      !ParseTrackEventsJsonGenerally(body, &general).ok() ||
      fast.events.size() != general.events.size() ||
      fast.events.size() != static_cast<size_t>(kEvents)) {
    return false;
  }
  for (size_t i = 0; i < fast.events.size(); ++i) {
    if (!conversions::testing::TagTreeDiff(fast.events[i], general.events[i])
             .empty()) {
      return false;
    }
  }
  return true;
}

long long CpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

}  // namespace
}  // namespace conversions::service

int main(int argc, char** argv) {
  using namespace conversions::service;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!SameTrees()) {
    std::fprintf(stderr, "track_json: the two ways give different trees\n");
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  const std::string body = Body();
  TrackEventsInput out;
  std::vector<double> ratios;
  std::vector<double> reader_us;
  for (int round = 0; round < 40; ++round) {
    const long long t0 = CpuNs();
    for (int i = 0; i < 5; ++i) {
      benchmark::DoNotOptimize(ParseTrackEventsJsonGenerally(body, &out).ok());
    }
    const long long t1 = CpuNs();
    for (int i = 0; i < 5; ++i) {
      benchmark::DoNotOptimize(ReadTrackEventsJson(body, &out));
    }
    const long long t2 = CpuNs();
    if (t1 > t0 && t2 > t1) {
      ratios.push_back(static_cast<double>(t1 - t0) /
                       static_cast<double>(t2 - t1));
      reader_us.push_back(static_cast<double>(t2 - t1) / 5 / 1000);
    }
  }
  if (ratios.empty()) {
    std::fprintf(stderr, "track_json: the CPU clock did not advance\n");
    return 1;
  }
  std::sort(ratios.begin(), ratios.end());
  std::sort(reader_us.begin(), reader_us.end());
  std::printf("body_bytes=%zu events=%d reader_us_per_body=%.0f\n", body.size(),
              kEvents, reader_us[reader_us.size() / 2]);
  std::printf("track_json_speedup=%.2f\n", ratios[ratios.size() / 2]);
  return 0;
}
