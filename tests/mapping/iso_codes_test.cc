#include "mapping/iso_codes.h"

#include <gtest/gtest.h>

namespace conversions::mapping {
namespace {

// --- CurrencyExponent: ISO 4217 minor units ---

TEST(CurrencyExponentTest, GivesTwoForUsdAndEur) {
  EXPECT_EQ(CurrencyExponent("USD"), 2);
  EXPECT_EQ(CurrencyExponent("EUR"), 2);
  EXPECT_EQ(CurrencyExponent("GBP"), 2);
}

TEST(CurrencyExponentTest, GivesZeroForJpy) {
  EXPECT_EQ(CurrencyExponent("JPY"), 0);
}

TEST(CurrencyExponentTest, GivesThreeForKwd) {
  EXPECT_EQ(CurrencyExponent("KWD"), 3);
}

TEST(CurrencyExponentTest, GivesFourForClf) {
  EXPECT_EQ(CurrencyExponent("CLF"), 4);
}

// The zero-decimal currencies that the spec's section 10 lists from peers.
TEST(CurrencyExponentTest, GivesZeroForEveryZeroDecimalCurrency) {
  for (const char* code :
       {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
        "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}) {
    SCOPED_TRACE(code);
    EXPECT_EQ(CurrencyExponent(code), 0);
  }
}

// The three-decimal currencies that the spec's section 10 lists.
TEST(CurrencyExponentTest, GivesThreeForEveryThreeDecimalCurrency) {
  for (const char* code : {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}) {
    SCOPED_TRACE(code);
    EXPECT_EQ(CurrencyExponent(code), 3);
  }
}

// Stape treats IDR and MGA as zero-decimal; ISO 4217 says 2.
TEST(CurrencyExponentTest, FollowsIso4217WherePeersDisagree) {
  EXPECT_EQ(CurrencyExponent("IDR"), 2);
  EXPECT_EQ(CurrencyExponent("MGA"), 2);
}

TEST(CurrencyExponentTest, RejectsUnknownCodes) {
  EXPECT_EQ(CurrencyExponent("XYZ"), std::nullopt);
  EXPECT_EQ(CurrencyExponent("ABC"), std::nullopt);
  EXPECT_EQ(CurrencyExponent("AAA"), std::nullopt);  // before the first entry
  EXPECT_EQ(CurrencyExponent("ZZZ"), std::nullopt);  // after the last entry
}

// Replaced codes are history, not currencies: the kuna (HRK, by the euro
// in 2023, though Debian's iso-codes still lists it), the Deutsche Mark.
// Their successors are current, as are codes newer than iso-codes.
TEST(CurrencyExponentTest, RejectsWithdrawnCodes) {
  for (const char* code : {"HRK", "DEM", "VEF", "MRO", "LTL"}) {
    EXPECT_EQ(CurrencyExponent(code), std::nullopt) << code;
  }
  for (const char* code : {"EUR", "VES", "MRU", "ZWG", "XCG"}) {
    EXPECT_EQ(CurrencyExponent(code), 2) << code;
  }
}

TEST(CurrencyExponentTest, RejectsCodesWithoutAMinorUnit) {
  EXPECT_EQ(CurrencyExponent("XAU"), std::nullopt);  // gold
  EXPECT_EQ(CurrencyExponent("XXX"), std::nullopt);  // no currency
}

TEST(CurrencyExponentTest, TellsCodesWithoutAMinorUnitFromUnknownOnes) {
  for (const char* code : {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR",
                           "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}) {
    EXPECT_TRUE(IsCurrencyWithoutMinorUnit(code)) << code;
    EXPECT_EQ(CurrencyExponent(code), std::nullopt) << code;
  }
  EXPECT_FALSE(IsCurrencyWithoutMinorUnit("USD"));
  EXPECT_FALSE(IsCurrencyWithoutMinorUnit("XYZ"));
  EXPECT_EQ(CurrencyProblem("usd@example.com"),
            " is not an ISO 4217 currency code");
  EXPECT_EQ(CurrencyProblem("xau").rfind(" XAU is an ISO 4217 code", 0), 0u);
}

TEST(CurrencyExponentTest, RejectsLowerCaseAndWrongLengths) {
  EXPECT_EQ(CurrencyExponent("usd"), std::nullopt);
  EXPECT_EQ(CurrencyExponent("US"), std::nullopt);
  EXPECT_EQ(CurrencyExponent("USDD"), std::nullopt);
  EXPECT_EQ(CurrencyExponent(""), std::nullopt);
}

// --- CountryAlpha2: ISO 3166-1 ---

TEST(CountryAlpha2Test, KeepsAnAlpha2Code) {
  EXPECT_EQ(CountryAlpha2("US"), "US");
  EXPECT_EQ(CountryAlpha2("GB"), "GB");
  EXPECT_EQ(CountryAlpha2("AD"), "AD");  // first entry
  EXPECT_EQ(CountryAlpha2("ZW"), "ZW");  // last entry
}

TEST(CountryAlpha2Test, MapsAnAlpha3CodeToAlpha2) {
  EXPECT_EQ(CountryAlpha2("USA"), "US");
  EXPECT_EQ(CountryAlpha2("GBR"), "GB");
  EXPECT_EQ(CountryAlpha2("DEU"), "DE");
  EXPECT_EQ(CountryAlpha2("CHE"), "CH");
  EXPECT_EQ(CountryAlpha2("JPN"), "JP");
}

TEST(CountryAlpha2Test, RejectsCodesThatNameNoCountry) {
  EXPECT_EQ(CountryAlpha2("UK"), std::nullopt);  // reserved, not assigned
  EXPECT_EQ(CountryAlpha2("XX"), std::nullopt);
  EXPECT_EQ(CountryAlpha2("AA"), std::nullopt);
  EXPECT_EQ(CountryAlpha2("ZZ"), std::nullopt);
  EXPECT_EQ(CountryAlpha2("ZZZ"), std::nullopt);
}

TEST(CountryAlpha2Test, RejectsLowerCaseAndWrongLengths) {
  EXPECT_EQ(CountryAlpha2("us"), std::nullopt);
  EXPECT_EQ(CountryAlpha2("usa"), std::nullopt);
  EXPECT_EQ(CountryAlpha2("U"), std::nullopt);
  EXPECT_EQ(CountryAlpha2("USAA"), std::nullopt);
  EXPECT_EQ(CountryAlpha2(""), std::nullopt);
}

}  // namespace
}  // namespace conversions::mapping
