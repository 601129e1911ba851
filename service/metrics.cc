#include "service/metrics.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace conversions::service {
namespace {

// Escapes a label value: backslash, double quote and newline.
std::string EscapeLabel(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string LabelText(const std::vector<std::string>& names,
                      const Labels& values, const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : ",", names[i], "=\"",
                    EscapeLabel(values[i]), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", extra);
  return out.empty() ? out : absl::StrCat("{", out, "}");
}

std::string FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return absl::StrCat(static_cast<std::int64_t>(v));
  }
  return absl::StrCat(v);
}

void Header(const std::string& name, const std::string& help, const char* type,
            std::string* out) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type,
                  "\n");
}

}  // namespace

CounterFamily::CounterFamily(std::string name, std::string help,
                             std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)) {}

std::atomic<std::int64_t>* CounterFamily::Cell(const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& cell = cells_[labels];
  if (!cell) cell = std::make_unique<std::atomic<std::int64_t>>(0);
  return cell.get();
}

void CounterFamily::Add(const Labels& labels, std::int64_t n) {
  Cell(labels)->fetch_add(n, std::memory_order_relaxed);
}

std::int64_t CounterFamily::Value(const Labels& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cells_.find(labels);
  return it == cells_.end() ? 0 : it->second->load(std::memory_order_relaxed);
}

void CounterFamily::Render(std::string* out) const {
  Header(name_, help_, "counter", out);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [labels, cell] : cells_) {
    absl::StrAppend(out, name_, LabelText(label_names_, labels), " ",
                    cell->load(std::memory_order_relaxed), "\n");
  }
}

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names,
                                 std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

HistogramFamily::Cell* HistogramFamily::GetCell(const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& cell = cells_[labels];
  if (!cell) cell = std::make_unique<Cell>(bounds_.size());
  return cell.get();
}

void HistogramFamily::Observe(const Labels& labels, double value) {
  Cell* cell = GetCell(labels);
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  cell->counts[i].fetch_add(1, std::memory_order_relaxed);
  double sum = cell->sum.load(std::memory_order_relaxed);
  while (!cell->sum.compare_exchange_weak(sum, sum + value,
                                          std::memory_order_relaxed)) {
  }
}

void HistogramFamily::Render(std::string* out) const {
  Header(name_, help_, "histogram", out);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [labels, cell] : cells_) {
    std::int64_t cumulative = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      cumulative += cell->counts[i].load(std::memory_order_relaxed);
      std::string le = i < bounds_.size() ? FormatDouble(bounds_[i]) : "+Inf";
      absl::StrAppend(
          out, name_, "_bucket",
          LabelText(label_names_, labels, absl::StrCat("le=\"", le, "\"")), " ",
          cumulative, "\n");
    }
    absl::StrAppend(out, name_, "_sum", LabelText(label_names_, labels), " ",
                    FormatDouble(cell->sum.load(std::memory_order_relaxed)),
                    "\n", name_, "_count", LabelText(label_names_, labels), " ",
                    cumulative, "\n");
  }
}

Metrics::Metrics()
    : events_accepted("conversions_events_accepted_total",
                      "Events accepted and stored durably.",
                      {"destination", "api"}),
      events_rejected("conversions_events_rejected_total",
                      "Events rejected by validation, by first violation "
                      "reason.",
                      {"destination", "api", "reason"}),
      events_duplicate("conversions_events_duplicate_total",
                       "Events answered duplicate by local deduplication.",
                       {"destination", "api"}),
      events_replaced(
          "conversions_events_replaced_total",
          "Accepted events that replaced a stored event with their key "
          "which the API never saved (replaced: dead_letter, of either "
          "lane, or validated: a validate_only event already validated); "
          "also counted accepted.",
          {"destination", "api", "replaced"}),
      events_skipped("conversions_events_skipped_total",
                     "Tag events skipped (unmapped event name, no consent).",
                     {"destination", "reason"}),
      events_not_stored(
          "conversions_events_not_stored_total",
          "Events of requests answered with an error because the spool could "
          "not store them (queue_full: spool.max_queued_events reached; "
          "disk_full; shutting_down; error). Callers may send them again.",
          {"destination", "api", "reason"}),
      identifier_warnings(
          "conversions_identifier_warnings_total",
          "Values dropped or changed in events that were mapped (one per "
          "warning an event's result carries), by its code.",
          {"destination", "api", "reason"}),
      events_delivered("conversions_events_delivered_total",
                       "Events the API accepted (validate_only events are "
                       "counted in conversions_events_validated_total).",
                       {"destination"}),
      events_retried("conversions_events_retried_total",
                     "Events put back for a later attempt (both lanes; a "
                     "destination's pause (cause auth: 401, 403; endpoint: "
                     "3xx, 404, 405, 410; request: a 400 or 422 naming a "
                     "request parameter; status: another 4xx) counts its "
                     "events once, when it begins, "
                     "not at each failed probe; cause shutdown: a request "
                     "cancelled at the drain deadline).",
                     {"destination", "cause"}),
      events_dead_lettered("conversions_events_dead_lettered_total",
                           "Events dead-lettered (validate_only events are "
                           "counted in conversions_events_validated_total).",
                           {"destination", "reason"}),
      events_validated(
          "conversions_events_validated_total",
          "validate_only events the API checked (result: valid, invalid) or "
          "that expired before it could; never saved as conversions.",
          {"destination", "result"}),
      api_requests(
          "conversions_api_requests_total",
          "Requests to the API by HTTP status (0: no answer, a network error "
          "or a timeout).",
          {"destination", "code"}),
      destination_pauses("conversions_destination_pauses_total",
                         "Times a destination was paused by the API: 401 "
                         "or 403, a 3xx, 404, 405, 410 or another 4xx.",
                         {"destination"}),
      requests_denied("conversions_requests_denied_total",
                      "Requests refused by caller authentication, by entry "
                      "point and reason (unauthenticated, permission_denied).",
                      {"api", "reason"}),
      requests_refused(
          "conversions_requests_refused_total",
          "Requests refused whole, before any event was stored, by entry "
          "point and reason (invalid_request, event_count, "
          "unknown_destination, draining; for POST /v1/track also "
          "unsupported_media_type, length_required, too_large).",
          {"api", "reason"}),
      batch_size("conversions_batch_size_events",
                 "Events per request sent to the API.", {"destination"},
                 {1, 10, 50, 100, 250, 500, 1000}),
      api_latency(
          "conversions_api_latency_seconds", "Latency of requests to the API.",
          {"destination"},
          {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      spool_sync_seconds(
          "conversions_spool_sync_seconds",
          "Time the spool's durability syncs took (fdatasync of the SQLite "
          "WAL and of the payload log, at the same time). Every accepted "
          "event waits for one: a slow disk shows here first.",
          {},
          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
           2.5}),
      spool_sync_calls("conversions_spool_sync_calls",
                       "Calls (gRPC and HTTP requests, and the dispatcher's "
                       "writes) one durability sync answered: group commit "
                       "at work.",
                       {}, {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}),
      spool_sync_failures("conversions_spool_sync_failures_total",
                          "Durability syncs that failed; their calls were "
                          "answered with an error.",
                          {}) {}

void Metrics::AddGauge(std::string name, std::string help,
                       std::vector<std::string> label_names,
                       GaugeCallback callback) {
  std::lock_guard<std::mutex> lock(mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(label_names),
                     std::move(callback)});
}

std::string Metrics::Render() const {
  std::string out;
  for (const CounterFamily* c :
       {&events_accepted, &events_rejected, &events_duplicate, &events_replaced,
        &events_skipped, &events_not_stored, &identifier_warnings,
        &events_delivered, &events_retried, &events_dead_lettered,
        &events_validated, &api_requests, &destination_pauses, &requests_denied,
        &requests_refused, &spool_sync_failures}) {
    c->Render(&out);
  }
  for (const HistogramFamily* h :
       {&batch_size, &api_latency, &spool_sync_seconds, &spool_sync_calls}) {
    h->Render(&out);
  }
  std::vector<Gauge> gauges;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gauges = gauges_;
  }
  for (const Gauge& g : gauges) {
    Header(g.name, g.help, "gauge", &out);
    for (const GaugeSample& s : g.callback()) {
      absl::StrAppend(&out, g.name, LabelText(g.label_names, s.labels), " ",
                      FormatDouble(s.value), "\n");
    }
  }
  return out;
}

}  // namespace conversions::service
