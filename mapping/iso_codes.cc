#include "mapping/iso_codes.h"

#include <cstdint>
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

// Index of an upper-case ASCII letter (0 to 25), or -1.
constexpr int LetterIndex(char c) {
  return c >= 'A' && c <= 'Z' ? c - 'A' : -1;
}

// Slot of a code of upper-case letters in a table of 26^N entries, or -1.
template <size_t N>
constexpr int CodeSlot(std::string_view code) {
  if (code.size() != N) return -1;
  int slot = 0;
  for (char c : code) {
    int letter = LetterIndex(c);
    if (letter < 0) return -1;
    slot = slot * 26 + letter;
  }
  return slot;
}

// Direct lookup tables built at compile time: currencies are checked twice
// per priced item (validation and encoding), and a 17 KB table answers in
// one load where a binary search takes eight string compares.
constexpr internal::CurrencyExponents BuildCurrencyExponents() {
  internal::CurrencyExponents table{};
  for (std::int8_t& e : table.by_code) e = -1;
  for (const CurrencyEntry& c : kCurrencies) {
    table.by_code[CodeSlot<3>(c.code)] = static_cast<std::int8_t>(c.exponent);
  }
  return table;
}

struct CountryTable {
  // 1 + index into kCountries of every alpha-2 code; 0 where none.
  std::uint8_t entry[26 * 26];
  constexpr CountryTable() : entry() {
    for (size_t i = 0; i < std::size(kCountries); ++i) {
      entry[CodeSlot<2>(kCountries[i].alpha2)] =
          static_cast<std::uint8_t>(i + 1);
    }
  }
};
static_assert(std::size(kCountries) < 256, "CountryTable holds uint8 indexes");
constexpr CountryTable kCountryTable;

}  // namespace

constexpr internal::CurrencyExponents internal::kCurrencyExponents =
    BuildCurrencyExponents();

std::optional<std::string_view> CountryAlpha2(std::string_view upper_code) {
  if (upper_code.size() == 2) {
    int slot = CodeSlot<2>(upper_code);
    if (slot < 0 || kCountryTable.entry[slot] == 0) return std::nullopt;
    return kCountries[kCountryTable.entry[slot] - 1].alpha2;
  }
  if (upper_code.size() == 3) {
    // Looked up rarely: a linear scan of the 249 entries saves a 17 KB table.
    for (const CountryEntry& e : kCountries) {
      if (e.alpha3 == upper_code) return e.alpha2;
    }
  }
  return std::nullopt;
}

bool IsCurrencyWithoutMinorUnit(std::string_view upper_code) {
  // As tools/gen_iso_tables.py's NO_MINOR_UNIT.
  static constexpr std::string_view kCodes[] = {
      "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR",
      "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"};
  for (std::string_view code : kCodes) {
    if (code == upper_code) return true;
  }
  return false;
}

std::string CurrencyProblem(std::string_view code) {
  std::string upper(code.substr(0, 4));
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  if (!IsCurrencyWithoutMinorUnit(upper)) {
    return " is not an ISO 4217 currency code";
  }
  return " " + upper +
         " is an ISO 4217 code without a minor unit (a precious metal, a "
         "fund or test code, or no currency): a conversion amount cannot be "
         "given in it";
}

}  // namespace conversions::mapping
