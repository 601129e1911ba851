#include "mapping/money.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "absl/status/status.h"

namespace conversions::mapping {
namespace {

// Returns the value or fails the test; keeps each test to one line.
std::int64_t Minor(std::string_view decimal, int exponent) {
  absl::StatusOr<std::int64_t> result = DecimalToMinorUnits(decimal, exponent);
  EXPECT_TRUE(result.ok()) << decimal << ": " << result.status();
  return result.ok() ? *result : -999;
}

absl::StatusCode Code(std::string_view decimal, int exponent) {
  return DecimalToMinorUnits(decimal, exponent).status().code();
}

// --- DecimalToMinorUnits: exact decimal arithmetic ---

TEST(DecimalToMinorUnitsTest, ConvertsWithoutBinaryFloatingPointError) {
  // 0.29 * 100 is 28.999999999999996 in binary floating point.
  EXPECT_EQ(Minor("0.29", 2), 29);
  EXPECT_EQ(Minor("1234567.89", 2), 123456789);
  EXPECT_EQ(Minor("129.99", 2), 12999);
  EXPECT_EQ(Minor("42", 2), 4200);
}

TEST(DecimalToMinorUnitsTest, KeepsWholeUnitsForExponentZero) {
  EXPECT_EQ(Minor("8900", 0), 8900);
}

TEST(DecimalToMinorUnitsTest, ScalesByThreeDecimalsForExponentThree) {
  EXPECT_EQ(Minor("1.5", 3), 1500);
  EXPECT_EQ(Minor("0.001", 3), 1);
}

TEST(DecimalToMinorUnitsTest, RoundsHalfAwayFromZero) {
  EXPECT_EQ(Minor("2.5", 0), 3);
  EXPECT_EQ(Minor("-2.5", 0), -3);
  EXPECT_EQ(Minor("4.5", 0), 5);  // banker's rounding would give 4
  EXPECT_EQ(Minor("0.005", 2), 1);
  EXPECT_EQ(Minor("-0.005", 2), -1);
}

TEST(DecimalToMinorUnitsTest, RoundsBelowHalfTowardZero) {
  EXPECT_EQ(Minor("0.0049", 2), 0);
  EXPECT_EQ(Minor("0.00499999999999999999", 2), 0);
  EXPECT_EQ(Minor("2.4999", 0), 2);
  EXPECT_EQ(Minor("-2.4999", 0), -2);
}

TEST(DecimalToMinorUnitsTest, RoundsJustAboveHalfAwayFromZero) {
  EXPECT_EQ(Minor("0.00500000000000000001", 2), 1);
  EXPECT_EQ(Minor("19.995", 2), 2000);
}

TEST(DecimalToMinorUnitsTest, AcceptsSignsAndZero) {
  EXPECT_EQ(Minor("+1.25", 2), 125);
  EXPECT_EQ(Minor("-1.25", 2), -125);
  EXPECT_EQ(Minor("0", 2), 0);
  EXPECT_EQ(Minor("-0.00", 2), 0);
}

TEST(DecimalToMinorUnitsTest, AcceptsExponentNotation) {
  EXPECT_EQ(Minor("1e3", 2), 100000);
  EXPECT_EQ(Minor("2.5E-1", 2), 25);
  EXPECT_EQ(Minor("1.2345e2", 2), 12345);
  EXPECT_EQ(Minor("5e-3", 2), 1);  // 0.5 minor units rounds up
  EXPECT_EQ(Minor("4e-3", 2), 0);
  EXPECT_EQ(Minor("1E+2", 0), 100);
}

TEST(DecimalToMinorUnitsTest, GivesZeroForTinyValues) {
  EXPECT_EQ(Minor("5e-100", 2), 0);
  EXPECT_EQ(Minor("0e999999", 2), 0);
}

TEST(DecimalToMinorUnitsTest, AcceptsLeadingZeros) {
  EXPECT_EQ(Minor("000000000000000000000000012.50", 2), 1250);
}

TEST(DecimalToMinorUnitsTest, ReachesTheLargestInt64) {
  EXPECT_EQ(Minor("92233720368547758.07", 2),
            std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(Minor("9223372036854775807", 0),
            std::numeric_limits<std::int64_t>::max());
}

TEST(DecimalToMinorUnitsTest, ReportsOverflowAsOutOfRange) {
  EXPECT_EQ(Code("92233720368547758.08", 2), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Code("9223372036854775808", 0), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Code("92233720368547758.075", 2), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Code("1e17", 2), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Code("1e99999999999", 2), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(Code("-1e30", 2), absl::StatusCode::kOutOfRange);
}

TEST(DecimalToMinorUnitsTest, RejectsTextThatIsNotADecimalNumber) {
  for (const char* text :
       {"", "abc", "-", "+", ".", "1.2.3", "1,50", "1e", "1e+", "1e-x", " 1",
        "1 ", "0x10", "1.5x", "NaN", "inf", "--1", "1_000", "$5"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(Code(text, 2), absl::StatusCode::kInvalidArgument);
  }
}

TEST(DecimalToMinorUnitsTest, RejectsExponentsOutsideZeroToEighteen) {
  EXPECT_EQ(Code("1", -1), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Code("1", 19), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Minor("1", 18), 1000000000000000000);
}

// --- DoubleToMinorUnits: by way of the shortest decimal text ---

TEST(DoubleToMinorUnitsTest, ConvertsByWayOfTheShortestDecimal) {
  EXPECT_EQ(*DoubleToMinorUnits(0.29, 2), 29);
  EXPECT_EQ(*DoubleToMinorUnits(1234567.89, 2), 123456789);
  EXPECT_EQ(*DoubleToMinorUnits(19.99, 2), 1999);
  EXPECT_EQ(*DoubleToMinorUnits(8900.0, 0), 8900);
}

TEST(DoubleToMinorUnitsTest, RoundsTheDecimalHalfAwayFromZero) {
  // 1.005 is 1.00499999999999989... in binary; its shortest text is "1.005".
  EXPECT_EQ(*DoubleToMinorUnits(1.005, 2), 101);
  EXPECT_EQ(*DoubleToMinorUnits(-2.5, 0), -3);
}

TEST(DoubleToMinorUnitsTest, ConvertsLargeAndTinyValues) {
  EXPECT_EQ(*DoubleToMinorUnits(1e15, 2), 100000000000000000);
  EXPECT_EQ(*DoubleToMinorUnits(1e-20, 2), 0);
}

TEST(DoubleToMinorUnitsTest, ReportsOverflowAsOutOfRange) {
  EXPECT_EQ(DoubleToMinorUnits(1e21, 2).status().code(),
            absl::StatusCode::kOutOfRange);
}

TEST(DoubleToMinorUnitsTest, RejectsNanAndInfinity) {
  EXPECT_EQ(DoubleToMinorUnits(std::nan(""), 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DoubleToMinorUnits(std::numeric_limits<double>::infinity(), 2)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// --- ToMinorUnits: the currency decides the exponent ---

TEST(ToMinorUnitsTest, UsesTwoDecimalsForUsd) {
  EXPECT_EQ(*ToMinorUnits("129.99", "USD"), 12999);  // the spec's example
  EXPECT_EQ(*ToMinorUnits("42", "USD"), 4200);
}

TEST(ToMinorUnitsTest, UsesNoDecimalsForJpy) {
  EXPECT_EQ(*ToMinorUnits("8900", "JPY"), 8900);  // the spec's example
  EXPECT_EQ(*ToMinorUnits("8900.5", "JPY"), 8901);
}

TEST(ToMinorUnitsTest, UsesThreeDecimalsForKwd) {
  EXPECT_EQ(*ToMinorUnits("1.5", "KWD"), 1500);
  EXPECT_EQ(*ToMinorUnits("0.0005", "KWD"), 1);
}

TEST(ToMinorUnitsTest, RejectsAnUnknownCurrency) {
  EXPECT_EQ(ToMinorUnits("1", "XYZ").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToMinorUnits("1", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToMinorUnits("1", "US").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ToMinorUnitsTest, PassesDecimalErrorsThrough) {
  EXPECT_EQ(ToMinorUnits("abc", "USD").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToMinorUnits("1e30", "USD").status().code(),
            absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace conversions::mapping
