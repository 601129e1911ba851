// ISO 4217 currencies and ISO 3166-1 countries, from Debian's iso-codes.
#ifndef CONVERSIONS_MAPPING_ISO_CODES_H_
#define CONVERSIONS_MAPPING_ISO_CODES_H_

#include <optional>
#include <string_view>

namespace conversions::mapping {

// Returns the ISO 4217 minor-unit exponent of an upper-case currency code
// (JPY 0, USD 2, KWD 3, CLF 4), or nullopt when the code is not a current
// ISO 4217 currency with a minor unit.
std::optional<int> CurrencyExponent(std::string_view upper_code);

// Returns the ISO 3166-1 alpha-2 code for an upper-case alpha-2 or alpha-3
// code ("US" or "USA" give "US"), or nullopt when it names no country. The
// returned view points at static storage.
std::optional<std::string_view> CountryAlpha2(std::string_view upper_code);

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_ISO_CODES_H_
