// Money: decimal major-unit values to integer ISO 4217 minor units.
#ifndef CONVERSIONS_MAPPING_MONEY_H_
#define CONVERSIONS_MAPPING_MONEY_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace conversions::mapping {

// Converts a decimal number of major units, given as text, to an integer of
// minor units: value x 10^exponent, rounded half away from zero. Exact for
// any decimal text (no binary floating point): "0.29" with exponent 2 is 29,
// "1234567.89" is 123456789, "2.5" with exponent 0 is 3, "-2.5" is -3.
// Accepts an optional sign, digits with an optional fraction, and an
// optional exponent ("1e3", "2.5E-1"), as in JSON numbers. Returns
// InvalidArgument for other text and OutOfRange past int64.
absl::StatusOr<std::int64_t> DecimalToMinorUnits(std::string_view decimal,
                                                 int exponent);

// Converts a binary floating-point number of major units to minor units, by
// way of its shortest round-trip decimal text (0.29 is converted as "0.29",
// not as 0.28999999999999998). Returns InvalidArgument for NaN or infinity.
absl::StatusOr<std::int64_t> DoubleToMinorUnits(double major, int exponent);

// Whether DoubleToMinorUnits(major, exponent), `minor`, is what the number
// a sender wrote comes to, whatever digits past a double's it had. A
// double holds 15 significant digits exactly: a whole number, or one whose
// shortest text has at most 15 digits and comes to less than 10^15 minor
// units, is that text. Past that the sender's number lies within half a
// step of `major`, and the result is certain only if both neighbouring
// doubles give `minor` too: 90071992547409.91 arrives as
// 90071992547409.90625 (...409.9), and 9000000000007.065 as ...7.0644.
bool MinorUnitsAreCertain(double major, int exponent, std::int64_t minor);

// Converts major units to minor units of an ISO 4217 currency (upper case),
// using the currency's exponent (JPY 0, USD 2, KWD 3). Returns
// InvalidArgument for an unknown currency.
absl::StatusOr<std::int64_t> ToMinorUnits(std::string_view decimal,
                                          std::string_view currency);

}  // namespace conversions::mapping

#endif  // CONVERSIONS_MAPPING_MONEY_H_
