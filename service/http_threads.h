// The threads that serve the HTTP port's connections (cpp-httplib's
// TaskQueue): a thread per open connection, started when a connection
// finds every thread busy, up to a bound, and kept for the next ones.
//
// cpp-httplib's own pool has a fixed number of threads (8 on a small
// machine), each held by one connection for as long as it stays open: a
// client's eight idle keep-alive connections, or eight that send a request
// slowly, left /healthz and /readyz unanswered until they went, and
// Kubernetes restarted the pod. With this pool a connection waits only
// when `max_threads` connections are open at once.
#ifndef CONVERSIONS_SERVICE_HTTP_THREADS_H_
#define CONVERSIONS_SERVICE_HTTP_THREADS_H_

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace conversions::service {

class HttpThreads : public httplib::TaskQueue {
 public:
  explicit HttpThreads(size_t max_threads) : max_threads_(max_threads) {}
  ~HttpThreads() override { shutdown(); }

  HttpThreads(const HttpThreads&) = delete;
  HttpThreads& operator=(const HttpThreads&) = delete;

  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_) {  // cpp-httplib stops accepting first; just in case
      lock.unlock();
      fn();
      return;
    }
    jobs_.push_back(std::move(fn));
    if (idle_ >= jobs_.size() || threads_.size() >= max_threads_) {
      cv_.notify_one();
      return;
    }
    threads_.emplace_back([this] { Work(); });
  }

  // Runs the jobs queued, then joins every thread. Idempotent.
  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  // Threads started so far (for tests).
  size_t threads() {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_.size();
  }

 private:
  void Work() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [&] { return !jobs_.empty() || stop_; });
      --idle_;
      if (jobs_.empty()) return;  // stopping
      std::function<void()> fn = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  const size_t max_threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;  // guarded by mu_
  std::vector<std::thread> threads_;        // guarded by mu_ (joined unlocked
                                            // once stop_ is set)
  size_t idle_ = 0;                         // guarded by mu_
  bool stop_ = false;                       // guarded by mu_
};

}  // namespace conversions::service

#endif  // CONVERSIONS_SERVICE_HTTP_THREADS_H_
