// Measures the whole mapping of a realistic event (validate, normalize,
// hash, encode) against SHA-256 alone over the same identifiers, in one run
// on one core. The last output line is
//   ratio=<mapping events/s divided by hash-only events/s>
// which the project's performance goal reads (at least 0.25: the mapping
// costs at most four times the hashing it cannot avoid).
//
// Run: build/tests/bench/mapping_benchmark [--benchmark_min_time=2]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>

#include "conversions/v1/event.pb.h"
#include "mapping/event_mapper.h"
#include "mapping/sha256.h"

namespace conversions::mapping {
namespace {

constexpr std::int64_t kNowMs = 1773892800000;

// 1 email, 1 phone, 1 external id, IP, user agent and 3 contents.
v1::Event RealisticEvent() {
  v1::Event e;
  e.set_id("order_8f14e45f-ceea-467f-a8f5-0c2a1b6d9e21");
  e.set_type(v1::EVENT_TYPE_ORDER_CREATED);
  e.set_timestamp_ms(kNowMs - 60'000);
  e.set_source_url("https://shop.example.com/checkout/confirmation");
  e.set_action_source(v1::ACTION_SOURCE_WEB);
  e.set_oppref("opp_7d1c2e0f9a");
  v1::UserData* u = e.mutable_user();
  u->add_emails(" Jane.Doe@Example.com ");
  u->add_phone_numbers("+1 (415) 555-2671");
  u->add_external_ids("customer_000123456");
  u->set_ip_address("203.0.113.42");
  u->set_user_agent(
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
      "(KHTML, like Gecko) Version/17.5 Safari/605.1.15");
  v1::EventData* d = e.mutable_data();
  d->set_amount(12999);
  d->set_currency("USD");
  const char* names[] = {"Trail running shoes", "Merino socks", "Water bottle"};
  for (int i = 0; i < 3; ++i) {
    v1::Content* c = d->add_contents();
    c->set_id("sku_" + std::to_string(1000 + i));
    c->set_name(names[i]);
    c->set_content_type("product");
    c->set_quantity(i + 1);
    c->set_amount(2999 + i * 1000);
  }
  return e;
}

void BM_MapEvent(benchmark::State& state) {
  const v1::Event event = RealisticEvent();
  MappedEvent result;
  for (auto _ : state) {
    MapEvent(event, kNowMs, &result);
    benchmark::DoNotOptimize(result.wire_json.data());
  }
  if (!result.ok()) state.SkipWithError("the benchmark event is rejected");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MapEvent);

// The hashing the mapping cannot avoid: SHA-256 of the three normalized
// identifiers of the same event.
void BM_HashOnly(benchmark::State& state) {
  const std::string identifiers[] = {"jane.doe@example.com", "14155552671",
                                     "customer_000123456"};
  for (auto _ : state) {
    for (const std::string& id : identifiers) {
      Sha256Digest digest = Sha256(id);
      benchmark::DoNotOptimize(digest.data());
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HashOnly);

// Records items/s per benchmark while printing the usual console table.
class RateReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      auto it = run.counters.find("items_per_second");
      if (it != run.counters.end() && !run.error_occurred) {
        rates[run.benchmark_name()] = it->second.value;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> rates;
};

}  // namespace
}  // namespace conversions::mapping

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  conversions::mapping::RateReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  double mapping = reporter.rates["BM_MapEvent"];
  double hashing = reporter.rates["BM_HashOnly"];
  if (mapping <= 0 || hashing <= 0) {
    std::fprintf(stderr, "ratio: a benchmark did not run\n");
    return 1;
  }
  std::printf("mapping_events_per_second=%.0f\n", mapping);
  std::printf("hash_only_events_per_second=%.0f\n", hashing);
  std::printf("ratio=%.3f\n", mapping / hashing);
  return 0;
}
