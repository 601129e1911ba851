// Metrics in the Prometheus text exposition format (version 0.0.4).
//
// Hand-written: Debian 12 packages no Prometheus client library, and the
// format is small. Counters and histograms find their label set's cell
// under a short mutex, then update it atomically.
#ifndef CONVERSIONS_SERVICE_METRICS_H_
#define CONVERSIONS_SERVICE_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace conversions::service {

// Label values in declaration order of the family's label names.
using Labels = std::vector<std::string>;

// A monotonically increasing count, one per label set.
class CounterFamily {
 public:
  CounterFamily(std::string name, std::string help,
                std::vector<std::string> label_names);
  // Adds `n` to the counter of `labels`.
  void Add(const Labels& labels, std::int64_t n = 1);
  std::int64_t Value(const Labels& labels) const;
  void Render(std::string* out) const;

 private:
  std::atomic<std::int64_t>* Cell(const Labels& labels);

  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  mutable std::mutex mu_;
  std::map<Labels, std::unique_ptr<std::atomic<std::int64_t>>> cells_;
};

// A distribution over fixed bucket bounds, one per label set.
class HistogramFamily {
 public:
  HistogramFamily(std::string name, std::string help,
                  std::vector<std::string> label_names,
                  std::vector<double> bounds);
  void Observe(const Labels& labels, double value);
  void Render(std::string* out) const;

 private:
  struct Cell {
    explicit Cell(size_t buckets) : counts(buckets + 1) {}
    std::vector<std::atomic<std::int64_t>> counts;  // last one: +Inf
    std::atomic<double> sum{0};
  };
  Cell* GetCell(const Labels& labels);

  const std::string name_, help_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<Labels, std::unique_ptr<Cell>> cells_;
};

// Gauges are read when scraped: a callback appends samples.
struct GaugeSample {
  Labels labels;
  double value = 0;
};
using GaugeCallback = std::function<std::vector<GaugeSample>()>;

// Every metric of the gateway, declared in one place.
class Metrics {
 public:
  Metrics();

  CounterFamily events_accepted;       // {destination, api}
  CounterFamily events_rejected;       // {destination, api, reason}
  CounterFamily events_duplicate;      // {destination, api}
  CounterFamily events_replaced;       // {destination, api, replaced}
  CounterFamily events_skipped;        // {destination, reason}
  CounterFamily events_not_stored;     // {destination, api, reason}
  CounterFamily identifier_warnings;   // {destination, api, reason}
  CounterFamily events_delivered;      // {destination}
  CounterFamily events_retried;        // {destination, cause}
  CounterFamily events_dead_lettered;  // {destination, reason}
  // validate_only events, which are neither delivered nor dead-lettered:
  // {destination, result} (valid, invalid, expired).
  CounterFamily events_validated;
  CounterFamily api_requests;        // {destination, code}
  CounterFamily destination_pauses;  // {destination}
  CounterFamily requests_denied;     // {api, reason}
  CounterFamily requests_refused;    // {api, reason}
  HistogramFamily batch_size;        // {destination}
  HistogramFamily api_latency;       // {destination}, seconds
  // The spool's durability syncs (group commit): how long each took, how
  // many calls it answered, and how many failed.
  HistogramFamily spool_sync_seconds;  // {}
  HistogramFamily spool_sync_calls;    // {}
  CounterFamily spool_sync_failures;   // {}

  // Registers a gauge family whose samples come from `callback` at scrape.
  void AddGauge(std::string name, std::string help,
                std::vector<std::string> label_names, GaugeCallback callback);

  // Returns the whole exposition text.
  std::string Render() const;

 private:
  struct Gauge {
    std::string name, help;
    std::vector<std::string> label_names;
    GaugeCallback callback;
  };
  mutable std::mutex mu_;
  std::vector<Gauge> gauges_;
};

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_METRICS_H_
