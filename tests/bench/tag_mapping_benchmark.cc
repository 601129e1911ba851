// Measures mapping a tag event (MapTagEvent to the wire event: the tag
// mapping feeding MapEvent's core) against mapping the equivalent typed
// event (MapEvent alone), in one run on one core. The tag event is mapped
// from a TagTree parsed once from its serialized Struct (ParseTagTree), as
// the gateway maps requests; tag_struct_ratio, for reading, is the same
// from the parsed Struct (copied into a tree by MapTagEvent). Both
// events are the same purchase: 1 email, 1 phone, 1 user id, IP, user agent
// and 3 items; both produce the same wire JSON (checked before timing). The
// last output line is
//   tag_ratio=<tag CPU time per event divided by typed CPU time per event>
// which the tag destination's performance goal reads (at most 1.5). It is
// measured by alternating batches of both (see InterleavedRatio); the
// Google Benchmark table and tag_ratio_sequential, from runs seconds
// apart, are for reading only.
//
// view_core_ratio, printed before it, is MapEventView alone on the view
// the tag mapping filled: the mapper core's share of tag_ratio; and
// tag_only_ratio the tag mapping alone. The two add up to less than
// tag_ratio: run in turn, the two code paths evict each other's code
// (in cachegrind's model of a 32 KB instruction cache, 416 misses per
// event against 40 for the typed event alone; see the README).
//
// tag_group_ratio, also printed before it, is the same per event for events
// mapped 16 at a time as the gateway maps a request (MapTagEventGroup); for
// reading only. So is tag_parse_ratio: parsing the tag event's Struct from
// its wire bytes against parsing the typed event's; and so are
// tag_tree_speedup_arena and tag_tree_speedup_heap: parsing the same bytes
// with Struct::ParseFromString (on an arena, or on the heap) divided by
// ParseTagTree into a reused TagTree, interleaved as tag_ratio is.
//
// Run: build/tests/bench/tag_mapping_benchmark [--benchmark_min_time=2]
#include <benchmark/benchmark.h>
#include <google/protobuf/arena.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "conversions/v1/event.pb.h"
#include "mapping/event_mapper.h"
#include "mapping/tag_mapper.h"
#include "mapping/tag_tree.h"

namespace conversions::mapping {
namespace {

constexpr std::int64_t kNowMs = 1773892800000;

constexpr char kUserAgent[] =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Safari/605.1.15";
constexpr const char* kNames[] = {"Trail running shoes", "Merino socks",
                                  "Water bottle"};

v1::Event TypedEvent() {
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
  u->set_user_agent(kUserAgent);
  v1::EventData* d = e.mutable_data();
  d->set_amount(12999);
  d->set_currency("USD");
  for (int i = 0; i < 3; ++i) {
    v1::Content* c = d->add_contents();
    c->set_id("sku_" + std::to_string(1000 + i));
    c->set_name(kNames[i]);
    c->set_content_type("product");
    c->set_quantity(i + 1);
    c->set_amount(2999 + i * 1000);
  }
  return e;
}

// The same purchase in the tag event model, with the properties a real
// data layer carries besides the mapped ones.
google::protobuf::Struct TagEvent() {
  std::string items;
  for (int i = 0; i < 3; ++i) {
    items += std::string(i ? "," : "") + R"({"id":"sku_)" +
             std::to_string(1000 + i) + R"(","quantity":)" +
             std::to_string(i + 1) + R"(,"list_position":)" +
             std::to_string(i + 1) + R"(,"product":{"id":"P)" +
             std::to_string(i) + R"(","name":")" + kNames[i] + R"(","price":)" +
             std::to_string(29.99 + i * 10) +
             R"(,"brand":"Example","category_1":"Outdoor"}})";
  }
  std::string json = std::string(R"({
    "event_name": "purchase",
    "id": "ORD-1001", "type": "online", "value": 129.99, "revenue": 108.33,
    "currency": "USD", "payment_method": "card", "status": "in_progress",
    "context": {
      "event_id": "order_8f14e45f-ceea-467f-a8f5-0c2a1b6d9e21",
      "event_timestamp": )") +
                     std::to_string(kNowMs - 60'000) + R"(,
      "page": {"url": "https://shop.example.com/checkout/confirmation",
               "title": "Thank you", "lang": "en"},
      "device": {"ip": "203.0.113.42", "user_agent": ")" +
                     kUserAgent + R"(", "lang": "en-US"}
    },
    "partners": {"openai": {"oppref": "opp_7d1c2e0f9a"}},
    "user": {"email": " Jane.Doe@Example.com ", "phone": "+1 (415) 555-2671",
             "id": "customer_000123456", "consistent_anonymous_id": "a1b2c3",
             "consent_categories": ["1", "2", "3"]},
    "items": [)" + items +
                     "]}";
  google::protobuf::Struct s;
  if (!google::protobuf::util::JsonStringToMessage(json, &s).ok()) {
    std::fprintf(stderr, "bad benchmark tag event\n");
  }
  return s;
}

void BM_TypedMapEvent(benchmark::State& state) {
  const v1::Event event = TypedEvent();
  MappedEvent result;
  for (auto _ : state) {
    MapEvent(event, kNowMs, &result);
    benchmark::DoNotOptimize(result.wire_json.data());
  }
  if (!result.ok()) state.SkipWithError("the typed event is rejected");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TypedMapEvent);

// The tag event as the gateway maps it: parsed once into a TagTree.
TagTree TagEventTree() {
  TagTree tree;
  if (!ParseTagTree(TagEvent().SerializeAsString(), &tree).ok()) {
    std::fprintf(stderr, "bad benchmark tag event bytes\n");
  }
  return tree;
}

// Maps `event`, a TagTree or a Struct, to the wire event over and over.
template <typename Event>
void MapTagEventOverAndOver(benchmark::State& state, const Event& event) {
  const CompiledTagMapping mapping = CompiledTagMapping::Default();
  TagMapResult tagged;
  MappedEvent result;
  for (auto _ : state) {
    MapTagEvent(event, mapping, kNowMs, &tagged, &result);
    benchmark::DoNotOptimize(result.wire_json.data());
  }
  if (!tagged.mapped() || !result.ok()) {
    state.SkipWithError("the tag event is not mapped");
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_TagMapEvent(benchmark::State& state) {
  MapTagEventOverAndOver(state, TagEventTree());
}
BENCHMARK(BM_TagMapEvent);

// The same from the parsed Struct, which MapTagEvent copies into a tree.
void BM_TagMapEventFromStruct(benchmark::State& state) {
  MapTagEventOverAndOver(state, TagEvent());
}
BENCHMARK(BM_TagMapEventFromStruct);

// The tag mapping alone (up to the view MapEvent's core reads): the cost
// the tag model adds.
void BM_MapTagEventOnly(benchmark::State& state) {
  const TagTree event = TagEventTree();
  const CompiledTagMapping mapping = CompiledTagMapping::Default();
  TagMapResult tagged;
  for (auto _ : state) {
    internal::MapTagEventToView(event, mapping, kNowMs, &tagged);
    benchmark::DoNotOptimize(&tagged.view);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MapTagEventOnly);

// The mapper core alone, from the view the tag mapping filled.
void BM_MapEventViewOnly(benchmark::State& state) {
  const TagTree event = TagEventTree();
  const CompiledTagMapping mapping = CompiledTagMapping::Default();
  TagMapResult tagged;
  internal::MapTagEventToView(event, mapping, kNowMs, &tagged);
  MappedEvent result;
  for (auto _ : state) {
    internal::MapEventView(tagged.view, kNowMs, &result);
    benchmark::DoNotOptimize(result.wire_json.data());
  }
  if (!result.ok()) state.SkipWithError("the view is rejected");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MapEventViewOnly);

// For reading: what parsing each event from its wire bytes costs, on a
// protobuf arena as the gateway's gRPC handlers parse requests. This is
// not mapping, and the goal does not count it; but a Struct is a tree of
// protobuf maps, and parsing one costs far more than mapping it.
template <typename Message>
void ParseOnArena(benchmark::State& state, const std::string& bytes) {
  for (auto _ : state) {
    google::protobuf::Arena arena;
    Message* message = google::protobuf::Arena::CreateMessage<Message>(&arena);
    if (!message->ParseFromString(bytes)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(message);
  }
  state.SetItemsProcessed(state.iterations());
}
void BM_ParseTypedEvent(benchmark::State& state) {
  ParseOnArena<v1::Event>(state, TypedEvent().SerializeAsString());
}
BENCHMARK(BM_ParseTypedEvent);
void BM_ParseTagEvent(benchmark::State& state) {
  ParseOnArena<google::protobuf::Struct>(state, TagEvent().SerializeAsString());
}
BENCHMARK(BM_ParseTagEvent);
// The same bytes parsed into a Struct on the heap, as a caller without an
// arena does, and into a TagTree reused from event to event.
void BM_ParseTagEventHeap(benchmark::State& state) {
  const std::string bytes = TagEvent().SerializeAsString();
  for (auto _ : state) {
    google::protobuf::Struct message;
    if (!message.ParseFromString(bytes)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(&message);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseTagEventHeap);
void BM_ParseTagTree(benchmark::State& state) {
  const std::string bytes = TagEvent().SerializeAsString();
  TagTree tree;
  for (auto _ : state) {
    if (!ParseTagTree(bytes, &tree).ok()) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(&tree);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseTagTree);

// Records items/s per benchmark while printing the usual console table.
class RateReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      // With --benchmark_repetitions, the median of the runs counts.
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median") {
        continue;
      }
      auto it = run.counters.find("items_per_second");
      if (it != run.counters.end() && !run.error_occurred) {
        rates[run.run_name.function_name] = it->second.value;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> rates;
};

// Both paths must produce the same wire event, or the ratio means nothing;
// so must the Struct form and the typed form of the tag mapping.
bool SameWireJson() {
  const TagTree tree = TagEventTree();
  const google::protobuf::Struct tag = TagEvent();
  TagMapResult tagged;
  MappedEvent from_tag;
  MapTagEvent(tree, CompiledTagMapping::Default(), kNowMs, &tagged, &from_tag);
  TagMapResult struct_tagged;
  MappedEvent from_struct;
  MapTagEvent(tag, CompiledTagMapping::Default(), kNowMs, &struct_tagged,
              &from_struct);
  TagMapResult typed_form =
      MapTagEvent(tree, CompiledTagMapping::Default(), kNowMs);
  MappedEvent from_typed_form = MapEvent(typed_form.event, kNowMs);
  MappedEvent from_typed = MapEvent(TypedEvent(), kNowMs);
  return tagged.mapped() && from_tag.ok() &&
         from_tag.wire_json == from_typed.wire_json &&
         from_struct.wire_json == from_typed.wire_json &&
         from_typed_form.wire_json == from_typed.wire_json;
}

// Times `batch` typed mappings, then `batch` calls of `other`, alternately,
// `rounds` times on the thread's CPU clock, and returns the median of the
// per-round ratios (other's time / typed time). Pairing each batch with the
// typed batch run just before it cancels most of the noise of a shared
// machine, which skews two benchmarks run seconds apart.
template <typename Base, typename Fn>
double InterleavedRatioTo(Base base, Fn other, int rounds, int batch) {
  auto cpu_ns = [] {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
  };
  std::vector<double> ratios;
  for (int r = 0; r < rounds; ++r) {
    const long long t0 = cpu_ns();
    for (int i = 0; i < batch; ++i) base();
    const long long t1 = cpu_ns();
    for (int i = 0; i < batch; ++i) other();
    const long long t2 = cpu_ns();
    if (t1 > t0 && t2 > t1) {
      ratios.push_back(static_cast<double>(t2 - t1) /
                       static_cast<double>(t1 - t0));
    }
  }
  if (ratios.empty()) return 0;
  std::nth_element(ratios.begin(), ratios.begin() + ratios.size() / 2,
                   ratios.end());
  return ratios[ratios.size() / 2];
}

// InterleavedRatioTo a typed MapEvent.
template <typename Fn>
double InterleavedRatio(Fn other, int rounds, int batch) {
  const v1::Event typed = TypedEvent();
  MappedEvent result;
  return InterleavedRatioTo(
      [&] {
        MapEvent(typed, kNowMs, &result);
        benchmark::DoNotOptimize(result.wire_json.data());
      },
      other, rounds, batch);
}

// For reading: how many times faster ParseTagTree reads the tag event's
// bytes than Struct::ParseFromString does, on an arena and on the heap
// (the Struct's time over the tree's, interleaved). Returns false if the
// tree parse fails.
bool PrintTagTreeSpeedups() {
  const std::string bytes = TagEvent().SerializeAsString();
  TagTree tree;
  if (!ParseTagTree(bytes, &tree).ok()) return false;
  auto parse_tree = [&] {
    benchmark::DoNotOptimize(ParseTagTree(bytes, &tree).ok());
  };
  auto parse_arena = [&] {
    google::protobuf::Arena arena;
    auto* message =
        google::protobuf::Arena::CreateMessage<google::protobuf::Struct>(
            &arena);
    benchmark::DoNotOptimize(message->ParseFromString(bytes));
  };
  auto parse_heap = [&] {
    google::protobuf::Struct message;
    benchmark::DoNotOptimize(message.ParseFromString(bytes));
  };
  std::printf("tag_tree_speedup_arena=%.2f\n",
              1 / InterleavedRatioTo(parse_arena, parse_tree, 200, 200));
  std::printf("tag_tree_speedup_heap=%.2f\n",
              1 / InterleavedRatioTo(parse_heap, parse_tree, 200, 200));
  return true;
}

// Counts every property of `s`, recursively: the least any mapping of a
// Struct must do is visit the properties it reads.
int CountProperties(const google::protobuf::Struct& s) {
  int n = 0;
  for (const auto& [key, value] : s.fields()) {
    ++n;
    if (value.has_struct_value()) n += CountProperties(value.struct_value());
    if (!value.has_list_value()) continue;
    for (const auto& element : value.list_value().values()) {
      if (element.has_struct_value()) {
        n += CountProperties(element.struct_value());
      }
    }
  }
  return n;
}

// Prints the interleaved ratios; tag_ratio last. Returns the exit code.
int PrintRatios() {
  const google::protobuf::Struct tag = TagEvent();
  const TagTree tree = TagEventTree();
  const CompiledTagMapping mapping = CompiledTagMapping::Default();
  TagMapResult tagged;
  MappedEvent result;
  // For reading: what the parts cost, as fractions of a typed MapEvent.
  std::printf(
      "struct_walk_ratio=%.3f\n",
      InterleavedRatio([&] { benchmark::DoNotOptimize(CountProperties(tag)); },
                       200, 500));
  std::printf("tag_only_ratio=%.3f\n",
              InterleavedRatio(
                  [&] {
                    internal::MapTagEventToView(tree, mapping, kNowMs, &tagged);
                    benchmark::DoNotOptimize(&tagged.view);
                  },
                  200, 500));
  // For reading: MapEventView alone, from the view the tag mapping filled:
  // the mapper core's share of tag_ratio.
  internal::MapTagEventToView(tree, mapping, kNowMs, &tagged);
  std::printf("view_core_ratio=%.3f\n",
              InterleavedRatio(
                  [&] {
                    internal::MapEventView(tagged.view, kNowMs, &result);
                    benchmark::DoNotOptimize(result.wire_json.data());
                  },
                  200, 500));
  // For reading: a request of many tag events, mapped in groups as the
  // gateway does (MapTagEventGroup), per event.
  const std::vector<TagTree> group(kTagGroup, tree);
  std::array<TagMapResult, kTagGroup> group_tags;
  std::array<MappedEvent, kTagGroup> group_mapped;
  std::printf("tag_group_ratio=%.3f\n",
              InterleavedRatio(
                  [&] {
                    MapTagEventGroup(group, mapping, kNowMs, group_tags.data(),
                                     group_mapped.data());
                    benchmark::DoNotOptimize(group_mapped[0].wire_json.data());
                  },
                  200, 64) /
                  kTagGroup);
  // For reading: from the parsed Struct, copied into a tree on each call.
  std::printf("tag_struct_ratio=%.3f\n",
              InterleavedRatio(
                  [&] {
                    MapTagEvent(tag, mapping, kNowMs, &tagged, &result);
                    benchmark::DoNotOptimize(result.wire_json.data());
                  },
                  200, 500));
  const double ratio = InterleavedRatio(
      [&] {
        MapTagEvent(tree, mapping, kNowMs, &tagged, &result);
        benchmark::DoNotOptimize(result.wire_json.data());
      },
      400, 500);
  if (ratio <= 0) {
    std::fprintf(stderr, "tag_ratio: the CPU clock did not advance\n");
    return 1;
  }
  std::printf("tag_ratio=%.3f\n", ratio);
  return 0;
}

}  // namespace
}  // namespace conversions::mapping

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!conversions::mapping::SameWireJson()) {
    std::fprintf(stderr, "tag_ratio: the tag and typed events differ\n");
    return 1;
  }
  conversions::mapping::RateReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  // The table above, for reading; the ratio below, for the goal.
  double typed = reporter.rates["BM_TypedMapEvent"];
  double tag = reporter.rates["BM_TagMapEvent"];
  if (typed > 0 && tag > 0) {
    std::printf("typed_events_per_second=%.0f\n", typed);
    std::printf("tag_events_per_second=%.0f\n", tag);
    std::printf("tag_ratio_sequential=%.3f\n", typed / tag);
  }
  double typed_parse = reporter.rates["BM_ParseTypedEvent"];
  double tag_parse = reporter.rates["BM_ParseTagEvent"];
  if (typed_parse > 0 && tag_parse > 0) {
    // For reading: parsing the Struct against parsing the typed event.
    std::printf("tag_parse_ratio=%.3f\n", typed_parse / tag_parse);
  }
  double tree_parse = reporter.rates["BM_ParseTagTree"];
  double heap_parse = reporter.rates["BM_ParseTagEventHeap"];
  if (tree_parse > 0 && tag_parse > 0 && heap_parse > 0) {
    // For reading: ns per parse of the tag event's bytes.
    std::printf(
        "tag_tree_parse_ns=%.0f struct_arena_parse_ns=%.0f "
        "struct_heap_parse_ns=%.0f\n",
        1e9 / tree_parse, 1e9 / tag_parse, 1e9 / heap_parse);
  }
  if (!conversions::mapping::PrintTagTreeSpeedups()) {
    std::fprintf(stderr, "tag_tree: the tag event does not parse\n");
    return 1;
  }
  return conversions::mapping::PrintRatios();
}
