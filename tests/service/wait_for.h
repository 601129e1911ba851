// Waiting for a condition in tests, by polling it: never a fixed sleep.
#ifndef CONVERSIONS_TESTS_SERVICE_WAIT_FOR_H_
#define CONVERSIONS_TESTS_SERVICE_WAIT_FOR_H_

#include <chrono>
#include <functional>
#include <thread>

namespace conversions::testing {

// Waits until `done` holds or `timeout` passes; returns the final value.
// Polls the result the test waits for; never a fixed sleep.
inline bool WaitFor(
    const std::function<bool()>& done,
    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_SERVICE_WAIT_FOR_H_
