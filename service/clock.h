// The clock seam: every component that reads time or waits takes a Clock.
#ifndef CONVERSIONS_SERVICE_CLOCK_H_
#define CONVERSIONS_SERVICE_CLOCK_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace conversions::service {

// Reads wall-clock time. Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // Returns Unix epoch milliseconds.
  virtual std::int64_t NowMs() = 0;
};

// The real clock.
class SystemClock : public Clock {
 public:
  std::int64_t NowMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock for tests: stands still until Advance() or Set().
class FakeClock : public Clock {
 public:
  explicit FakeClock(std::int64_t now_ms) : now_ms_(now_ms) {}
  std::int64_t NowMs() override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_ms_;
  }
  void Advance(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ms_ += d.count();
  }
  void Set(std::int64_t now_ms) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ms_ = now_ms;
  }

 private:
  std::mutex mu_;
  std::int64_t now_ms_;
};

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_CLOCK_H_
