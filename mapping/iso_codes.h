// ISO 4217 currencies and ISO 3166-1 countries, from Debian's iso-codes.
#ifndef CONVERSIONS_MAPPING_ISO_CODES_H_
#define CONVERSIONS_MAPPING_ISO_CODES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace conversions::mapping {

namespace internal {
// The minor-unit exponent of every code of three letters A to Z, at
// ((first * 26) + second) * 26 + third; -1 where there is no currency.
// Built at compile time in iso_codes.cc.
struct CurrencyExponents {
  std::int8_t by_code[26 * 26 * 26];
};
extern const CurrencyExponents kCurrencyExponents;
}  // namespace internal

// Returns the ISO 4217 minor-unit exponent of an upper-case currency code
// (JPY 0, USD 2, KWD 3, CLF 4), or nullopt when the code is not a current
// ISO 4217 currency with a minor unit.
//
// Inline: it runs for every priced item, and GCC returns a std::optional
// from an out-of-line call through memory, a store-to-load stall.
inline std::optional<int> CurrencyExponent(std::string_view upper_code) {
  if (upper_code.size() != 3) return std::nullopt;
  int slot = 0;
  for (char c : upper_code) {
    if (c < 'A' || c > 'Z') return std::nullopt;
    slot = slot * 26 + (c - 'A');
  }
  int exponent = internal::kCurrencyExponents.by_code[slot];
  if (exponent < 0) return std::nullopt;
  return exponent;
}

// Whether `upper_code` is one of ISO 4217's codes without a minor unit
// (precious metals XAU XAG XPD XPT, the bond-market units XBA to XBD, SDR
// XDR, XSU, XUA, the test code XTS and "no currency" XXX): valid codes, but
// no conversion amount can be given in minor units of them, so
// CurrencyExponent has none.
bool IsCurrencyWithoutMinorUnit(std::string_view upper_code);

// The end of a message for a currency field whose value CurrencyExponent
// refused (ASCII case ignored): why, and the code itself only when it is
// one of IsCurrencyWithoutMinorUnit's (never other text of the event).
// " is not an ISO 4217 currency code", or " XAU is an ISO 4217 code
// without a minor unit ...".
std::string CurrencyProblem(std::string_view code);

// Returns the ISO 3166-1 alpha-2 code for an upper-case alpha-2 or alpha-3
// code ("US" or "USA" give "US"), or nullopt when it names no country. The
// returned view points at static storage.
std::optional<std::string_view> CountryAlpha2(std::string_view upper_code);

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_ISO_CODES_H_
