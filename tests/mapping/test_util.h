// Helpers shared by the mapping tests.
#ifndef CONVERSIONS_TESTS_MAPPING_TEST_UTIL_H_
#define CONVERSIONS_TESTS_MAPPING_TEST_UTIL_H_

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "conversions/v1/event.pb.h"

namespace conversions::testing {

// A fixed "now" for tests: 2026-03-19T04:00:00Z in epoch milliseconds.
inline constexpr std::int64_t kNowMs = 1773892800000;

// Returns the contents of a file under tests/data.
inline std::string ReadTestData(const std::string& relative_path) {
  std::ifstream in(std::string(CONVERSIONS_TEST_DATA_DIR) + "/" +
                   relative_path);
  EXPECT_TRUE(in.good()) << "cannot read tests/data/" << relative_path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Parses a text-format conversions.v1.Event; fails the test on bad input.
inline v1::Event EventFromText(const std::string& text) {
  v1::Event event;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &event))
      << "bad text-format Event";
  return event;
}

// Parses JSON with a real parser (nlohmann); fails the test on bad JSON.
inline nlohmann::json ParseJson(const std::string& text) {
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << "not valid JSON: " << text;
  return parsed;
}

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_MAPPING_TEST_UTIL_H_
