// Spool throughput alone, without gRPC or HTTP: how many events per second
// the SQLite spool stores (group commit, fsync on) from concurrent appenders,
// and how many it hands out and retires when a dispatcher drains it.
//
//   spool_benchmark [--events=N] [--batch=N] [--appenders=N] [--workers=N]
//                   [--ids=random|sequential] [--synchronous=full|normal]
//                   [--dir=PATH]
//
// Prints key=value lines; the figures of interest:
//   append_events_per_second  appends of --batch events from --appenders
//                             concurrent callers, each waiting for its commit
//   drain_events_per_second   --workers threads claiming 1,000 events,
//                             marking them delivered, until the queue is empty
//   mixed_append_events_per_second / mixed_drain_events_per_second
//                             both at once, on a fresh spool
//   bytes_per_queued_event    size of the spool folder (SQLite file, WAL
//                             and payload log) / events queued
// Event ids are random UUID-like strings by default, as real clients send
// them; sequential ids flatter any index on the id.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "service/spool.h"

namespace conversions::service {
namespace {

struct Flags {
  int events = 200000;
  int batch = 100;
  int appenders = 16;
  int workers = 4;
  bool random_ids = true;
  bool fsync = true;
  std::string dir;
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    auto value = [&](absl::string_view name, absl::string_view* out) {
      std::string prefix = absl::StrCat("--", name, "=");
      if (arg.substr(0, prefix.size()) != prefix) return false;
      *out = arg.substr(prefix.size());
      return true;
    };
    absl::string_view v;
    if (value("events", &v)) {
      if (!absl::SimpleAtoi(v, &f->events) || f->events <= 0) return false;
    } else if (value("batch", &v)) {
      if (!absl::SimpleAtoi(v, &f->batch) || f->batch <= 0) return false;
    } else if (value("appenders", &v)) {
      if (!absl::SimpleAtoi(v, &f->appenders) || f->appenders <= 0)
        return false;
    } else if (value("workers", &v)) {
      if (!absl::SimpleAtoi(v, &f->workers) || f->workers <= 0) return false;
    } else if (value("ids", &v)) {
      if (v != "random" && v != "sequential") return false;
      f->random_ids = v == "random";
    } else if (value("synchronous", &v)) {
      if (v != "full" && v != "normal") return false;
      f->fsync = v == "full";
    } else if (value("dir", &v)) {
      f->dir = std::string(v);
    } else {
      return false;
    }
  }
  return true;
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

// Event ids and wire JSON shaped like the load generator's order: three
// hashed identifiers, IP, user agent, three contents (~900 bytes).
class EventSource {
 public:
  EventSource(bool random_ids, std::uint64_t seed)
      : random_ids_(random_ids), rng_(seed) {}

  SpoolEvent Next(std::int64_t now_ms) {
    SpoolEvent e;
    e.destination = "default";
    e.event_name = "order_created";
    e.event_id = random_ids_ ? Uuid() : absl::StrCat("evt-", seq_++);
    e.timestamp_ms = now_ms;
    e.wire_json = absl::StrCat(
        R"({"id":")", e.event_id, R"(","type":"order_created","timestamp_ms":)",
        now_ms,
        R"(,"action_source":"web","source_url":"https://shop.example.com/checkout/confirmation","user":{"emails":[")",
        Hex(64), R"("],"phone_numbers":[")", Hex(64), R"("],"external_ids":[")",
        Hex(64),
        R"("],"ip_address":"203.0.113.42","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"},"data":{"currency":"USD","amount":11997,"contents":[{"id":"sku_1000","name":"Trail running shoe","content_type":"product","quantity":1,"amount":2999},{"id":"sku_1001","name":"Merino socks","content_type":"product","quantity":2,"amount":3999},{"id":"sku_1002","name":"Water bottle","content_type":"product","quantity":3,"amount":4999}]}})");
    return e;
  }

 private:
  std::string Hex(int n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s(static_cast<size_t>(n), '0');
    for (char& c : s) c = kDigits[rng_() & 15];
    return s;
  }
  std::string Uuid() {
    std::string h = Hex(32);
    return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-",
                        h.substr(12, 4), "-", h.substr(16, 4), "-",
                        h.substr(20));
  }

  bool random_ids_;
  std::mt19937_64 rng_;
  std::uint64_t seq_ = 0;
};

// Appends `total` events in batches from `appenders` threads, each waiting
// for its commit before the next append. Returns events/s.
double RunAppends(Spool& spool, const Flags& f, int total, std::uint64_t seed) {
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < f.appenders; ++t) {
    threads.emplace_back([&, t] {
      EventSource source(f.random_ids, seed * 1000 + static_cast<unsigned>(t));
      for (;;) {
        int first = next.fetch_add(f.batch);
        if (first >= total) return;
        int n = std::min(f.batch, total - first);
        std::vector<SpoolEvent> events;
        events.reserve(static_cast<size_t>(n));
        std::int64_t now = NowMs();
        for (int i = 0; i < n; ++i) events.push_back(source.Next(now));
        std::promise<bool> done;
        spool.Append(std::move(events), now,
                     [&done](absl::StatusOr<std::vector<AppendOutcome>> r) {
                       done.set_value(r.ok());
                     });
        if (!done.get_future().get()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  double s = Seconds(started);
  if (failures > 0)
    std::fprintf(stderr, "append failures: %d\n", failures.load());
  return total / s;
}

// Claims and marks delivered until `stop` says so and the queue is empty.
// Returns events delivered.
std::int64_t RunDrain(Spool& spool, const Flags& f,
                      const std::atomic<bool>& appending) {
  std::atomic<std::int64_t> delivered{0};
  std::vector<std::thread> threads;
  const LaneKey lane{"default", false};
  for (int w = 0; w < f.workers; ++w) {
    threads.emplace_back([&] {
      for (;;) {
        bool more_coming = appending.load();
        auto claimed = spool.Claim(lane, NowMs(), 1000, 4 << 20);
        if (!claimed.ok()) {
          std::fprintf(stderr, "claim: %s\n",
                       std::string(claimed.status().message()).c_str());
          return;
        }
        if (claimed->empty()) {
          if (!more_coming) return;
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;
        }
        std::vector<std::int64_t> rows;
        rows.reserve(claimed->size());
        for (const ClaimedEvent& e : *claimed) rows.push_back(e.row_id);
        absl::Status s = spool.MarkDelivered(rows, NowMs(), 1);
        if (!s.ok()) {
          std::fprintf(stderr, "mark: %s\n", std::string(s.message()).c_str());
          return;
        }
        delivered += static_cast<std::int64_t>(rows.size());
      }
    });
  }
  for (auto& th : threads) th.join();
  return delivered.load();
}

std::uint64_t FolderBytes(const std::string& dir) {
  std::uint64_t bytes = 0;
  // Recursive: the payload log is a folder beside the SQLite file.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

std::unique_ptr<Spool> OpenOrDie(const Flags& f, const std::string& path) {
  SpoolOptions options;
  options.path = path;
  options.max_queued_events = 100'000'000;
  options.synchronous =
      f.fsync ? SpoolSynchronous::kFull : SpoolSynchronous::kNormal;
  auto spool = Spool::Open(options);
  if (!spool.ok()) {
    std::fprintf(stderr, "open: %s\n",
                 std::string(spool.status().message()).c_str());
    std::exit(1);
  }
  return std::move(*spool);
}

int Main(int argc, char** argv) {
  Flags f;
  if (!ParseFlags(argc, argv, &f)) {
    std::fprintf(stderr,
                 "usage: spool_benchmark [--events=N] [--batch=N] "
                 "[--appenders=N] [--workers=N] [--ids=random|sequential] "
                 "[--synchronous=full|normal] [--dir=PATH]\n");
    return 2;
  }
  std::string dir = f.dir;
  bool remove_dir = false;
  if (dir.empty()) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "spool-bench-XXXXXX")
            .string();
    if (mkdtemp(pattern.data()) == nullptr) return 1;
    dir = pattern;
    remove_dir = true;
  }
  std::printf("events=%d batch=%d appenders=%d workers=%d ids=%s fsync=%d\n",
              f.events, f.batch, f.appenders, f.workers,
              f.random_ids ? "random" : "sequential", f.fsync ? 1 : 0);
  {
    // Phase 1: appends alone, then a drain of what they queued.
    std::unique_ptr<Spool> spool = OpenOrDie(f, dir + "/a/spool.db");
    double append_rate = RunAppends(*spool, f, f.events, 1);
    std::printf("append_events_per_second=%.0f\n", append_rate);
    std::printf("bytes_per_queued_event=%.0f\n",
                static_cast<double>(FolderBytes(dir + "/a")) / f.events);
    std::atomic<bool> appending{false};
    auto started = std::chrono::steady_clock::now();
    std::int64_t drained = RunDrain(*spool, f, appending);
    double drain_s = Seconds(started);
    std::printf("drain_events_per_second=%.0f\n", drained / drain_s);
    if (drained != f.events) {
      std::fprintf(stderr, "drained %lld of %d events\n",
                   static_cast<long long>(drained), f.events);
      return 1;
    }
  }
  {
    // Phase 2: appends and drain at the same time.
    std::unique_ptr<Spool> spool = OpenOrDie(f, dir + "/b/spool.db");
    std::atomic<bool> appending{true};
    std::int64_t drained = 0;
    auto started = std::chrono::steady_clock::now();
    std::thread drainer([&] { drained = RunDrain(*spool, f, appending); });
    double append_rate = RunAppends(*spool, f, f.events, 2);
    appending = false;
    drainer.join();
    double total_s = Seconds(started);
    std::printf("mixed_append_events_per_second=%.0f\n", append_rate);
    std::printf("mixed_drain_events_per_second=%.0f\n", drained / total_s);
  }
  if (remove_dir) std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace conversions::service

int main(int argc, char** argv) {
  return conversions::service::Main(argc, argv);
}
