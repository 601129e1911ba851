#include "mapping/money.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "mapping/iso_codes.h"

namespace conversions::mapping {
namespace {

constexpr std::uint64_t kMaxMagnitude =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

absl::Status NotADecimal() {
  return absl::InvalidArgumentError("not a decimal number");
}
absl::Status TooLarge() {
  return absl::OutOfRangeError("amount does not fit a 64-bit integer");
}

}  // namespace

absl::StatusOr<std::int64_t> DecimalToMinorUnits(std::string_view s,
                                                 int exponent) {
  if (exponent < 0 || exponent > 18) {
    return absl::InvalidArgumentError("exponent must be 0 to 18");
  }
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    negative = s[i] == '-';
    ++i;
  }
  // Collect the significant digits and where the decimal point sits.
  std::string_view int_part;
  std::string_view frac_part;
  size_t start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  int_part = s.substr(start, i - start);
  if (i < s.size() && s[i] == '.') {
    ++i;
    start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    frac_part = s.substr(start, i - start);
  }
  if (int_part.empty() && frac_part.empty()) return NotADecimal();
  long long exp10 = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
      exp_negative = s[i] == '-';
      ++i;
    }
    if (i == s.size()) return NotADecimal();
    while (i < s.size() && IsDigit(s[i])) {
      if (exp10 < 100000) exp10 = exp10 * 10 + (s[i] - '0');
      ++i;
    }
    if (exp_negative) exp10 = -exp10;
  }
  if (i != s.size()) return NotADecimal();

  // The value is digits(int_part frac_part) x 10^shift minor units.
  const long long total =
      static_cast<long long>(int_part.size() + frac_part.size());
  const long long shift =
      exp10 + exponent - static_cast<long long>(frac_part.size());
  auto digit = [&](long long k) {
    return k < static_cast<long long>(int_part.size())
               ? int_part[k] - '0'
               : frac_part[k - int_part.size()] - '0';
  };
  // Keep every digit when shift >= 0, else all but the last -shift; the
  // first dropped digit decides the rounding: 5 or more (a half or more)
  // rounds away from zero.
  const long long keep = shift >= 0 ? total : total + shift;
  std::uint64_t magnitude = 0;
  for (long long k = 0; k < keep; ++k) {
    int d = digit(k);
    if (magnitude > (kMaxMagnitude - d) / 10) return TooLarge();
    magnitude = magnitude * 10 + d;
  }
  const bool round_up = keep >= 0 && keep < total && digit(keep) >= 5;
  for (long long k = 0; k < shift && magnitude != 0; ++k) {
    if (magnitude > kMaxMagnitude / 10) return TooLarge();
    magnitude *= 10;
  }
  if (round_up) {
    if (magnitude == kMaxMagnitude) return TooLarge();
    ++magnitude;
  }
  std::int64_t value = static_cast<std::int64_t>(magnitude);
  return negative ? -value : value;
}

absl::StatusOr<std::int64_t> DoubleToMinorUnits(double major, int exponent) {
  if (!std::isfinite(major)) {
    return absl::InvalidArgumentError("amount is not a finite number");
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), major);
  if (ec != std::errc()) return absl::InternalError("cannot format amount");
  return DecimalToMinorUnits(std::string_view(buf, end - buf), exponent);
}

bool MinorUnitsAreCertain(double major, int exponent, std::int64_t minor) {
  if (!std::isfinite(major) || std::trunc(major) == major) return true;
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), major);
  if (ec != std::errc()) return false;
  int digits = 0;  // significant: from the first nonzero digit on
  for (const char* p = buf; p != end && *p != 'e' && *p != 'E'; ++p) {
    if (*p >= '1' && *p <= '9')
      ++digits;
    else if (*p == '0' && digits > 0)
      ++digits;
  }
  constexpr std::int64_t kExact = 1'000'000'000'000'000;  // 10^15
  if (digits <= 15 && minor < kExact && minor > -kExact) return true;
  for (double neighbour :
       {std::nextafter(major, -std::numeric_limits<double>::infinity()),
        std::nextafter(major, std::numeric_limits<double>::infinity())}) {
    absl::StatusOr<std::int64_t> m = DoubleToMinorUnits(neighbour, exponent);
    if (!m.ok() || *m != minor) return false;
  }
  return true;
}

absl::StatusOr<std::int64_t> ToMinorUnits(std::string_view decimal,
                                          std::string_view currency) {
  std::optional<int> exponent = CurrencyExponent(currency);
  if (!exponent) {
    return absl::InvalidArgumentError(
        absl::StrCat("currency", CurrencyProblem(currency)));
  }
  return DecimalToMinorUnits(decimal, *exponent);
}

}  // namespace conversions::mapping
