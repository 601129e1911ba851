#include "mapping/iso_codes.h"

#include <algorithm>
#include <iterator>

namespace conversions::mapping {
namespace {

struct CurrencyEntry {
  std::string_view code;
  int exponent;
};
struct CountryEntry {
  std::string_view alpha2;
  std::string_view alpha3;
};

#include "mapping/iso_tables.inc"

}  // namespace

std::optional<int> CurrencyExponent(std::string_view upper_code) {
  if (upper_code.size() != 3) return std::nullopt;
  auto it = std::lower_bound(
      std::begin(kCurrencies), std::end(kCurrencies), upper_code,
      [](const CurrencyEntry& e, std::string_view c) { return e.code < c; });
  if (it == std::end(kCurrencies) || it->code != upper_code) {
    return std::nullopt;
  }
  return it->exponent;
}

std::optional<std::string_view> CountryAlpha2(std::string_view upper_code) {
  if (upper_code.size() == 2) {
    auto it = std::lower_bound(
        std::begin(kCountries), std::end(kCountries), upper_code,
        [](const CountryEntry& e, std::string_view c) { return e.alpha2 < c; });
    if (it != std::end(kCountries) && it->alpha2 == upper_code) {
      return it->alpha2;
    }
    return std::nullopt;
  }
  if (upper_code.size() == 3) {
    // 249 entries, looked up rarely: a linear scan keeps one table.
    for (const CountryEntry& e : kCountries) {
      if (e.alpha3 == upper_code) return e.alpha2;
    }
  }
  return std::nullopt;
}

}  // namespace conversions::mapping
