#include "mapping/unicode.h"

#include <gtest/gtest.h>

#include <string>

namespace conversions::mapping {
namespace {

// --- IsValidUtf8 ---

TEST(IsValidUtf8Test, AcceptsEmptyAndAscii) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii, with \t and \x7f"));
  EXPECT_TRUE(IsValidUtf8(std::string("nul\0inside", 10)));
}

TEST(IsValidUtf8Test, AcceptsTheBoundariesOfEachSequenceLength) {
  EXPECT_TRUE(IsValidUtf8("\xC2\x80"));          // U+0080
  EXPECT_TRUE(IsValidUtf8("\xDF\xBF"));          // U+07FF
  EXPECT_TRUE(IsValidUtf8("\xE0\xA0\x80"));      // U+0800
  EXPECT_TRUE(IsValidUtf8("\xED\x9F\xBF"));      // U+D7FF
  EXPECT_TRUE(IsValidUtf8("\xEE\x80\x80"));      // U+E000
  EXPECT_TRUE(IsValidUtf8("\xEF\xBF\xBF"));      // U+FFFF
  EXPECT_TRUE(IsValidUtf8("\xF0\x90\x80\x80"));  // U+10000
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
}

TEST(IsValidUtf8Test, AcceptsMixedText) {
  EXPECT_TRUE(IsValidUtf8("Jos\xC3\xA9 \xE6\x9D\x8E \xF0\x9F\x98\x80!"));
}

TEST(IsValidUtf8Test, RejectsOverlongForms) {
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC1\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xE0\x9F\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xF0\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF0\x8F\xBF\xBF"));
}

TEST(IsValidUtf8Test, RejectsSurrogates) {
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));  // U+D800
  EXPECT_FALSE(IsValidUtf8("\xED\xBF\xBF"));  // U+DFFF
}

TEST(IsValidUtf8Test, RejectsCodePointsAboveU10FFFF) {
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xFF"));
}

TEST(IsValidUtf8Test, RejectsLoneContinuationBytes) {
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("a\xBF"));
}

TEST(IsValidUtf8Test, RejectsTruncatedSequences) {
  EXPECT_FALSE(IsValidUtf8("\xC3"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));
  EXPECT_FALSE(IsValidUtf8("\xF0\x9F\x98"));
  EXPECT_FALSE(IsValidUtf8("\xC3("));  // continuation replaced by ASCII
}

// The validator skips ASCII eight bytes at a time; the bad byte must be
// found in every position relative to those words.
TEST(IsValidUtf8Test, FindsAnInvalidByteAfterLongAsciiRuns) {
  for (size_t prefix = 0; prefix < 20; ++prefix) {
    SCOPED_TRACE(prefix);
    std::string s(prefix, 'a');
    s += "\xFF";
    s += "tail";
    EXPECT_FALSE(IsValidUtf8(s));
    s = std::string(prefix, 'a') + "\xC3\xA9" + std::string(9, 'b');
    EXPECT_TRUE(IsValidUtf8(s));
  }
}

// --- IsAscii ---

TEST(IsAsciiTest, AcceptsOnlyBytesBelow0x80) {
  EXPECT_TRUE(IsAscii(""));
  EXPECT_TRUE(IsAscii("hello world 0123456789 \x7f"));
  EXPECT_FALSE(IsAscii("caf\xC3\xA9"));
  EXPECT_FALSE(IsAscii(std::string(17, 'a') + "\x80"));
}

// --- TrimWhitespace ---

TEST(TrimWhitespaceTest, RemovesAsciiWhiteSpaceAtBothEnds) {
  EXPECT_EQ(TrimWhitespace(" \t\r\n\v\fab c\t \n"), "ab c");
}

TEST(TrimWhitespaceTest, RemovesUnicodeWhiteSpaceAtBothEnds) {
  // NBSP, EM SPACE, IDEOGRAPHIC SPACE, NEL, NARROW NBSP
  EXPECT_EQ(TrimWhitespace("\xC2\xA0\xE2\x80\x83x\xE3\x80\x80\xC2\x85"
                           "\xE2\x80\xAF"),
            "x");
}

TEST(TrimWhitespaceTest, KeepsInnerWhiteSpace) {
  EXPECT_EQ(TrimWhitespace("  Mary\xC2\xA0Jane  "), "Mary\xC2\xA0Jane");
}

TEST(TrimWhitespaceTest, KeepsCharactersThatAreNotWhiteSpace) {
  // ZERO WIDTH SPACE and the BOM are not White_Space.
  EXPECT_EQ(TrimWhitespace("\xE2\x80\x8Bx\xEF\xBB\xBF"),
            "\xE2\x80\x8Bx\xEF\xBB\xBF");
}

TEST(TrimWhitespaceTest, TrimsBlankTextToEmpty) {
  EXPECT_EQ(TrimWhitespace(""), "");
  EXPECT_EQ(TrimWhitespace(" \t\xC2\xA0 "), "");
}

// --- LowerCase ---

std::string Lower(std::string_view s) {
  std::string out = "stale";
  EXPECT_TRUE(LowerCase(s, &out));
  return out;
}

TEST(LowerCaseTest, LowerCasesAscii) {
  EXPECT_EQ(Lower("User@Example.COM 123"), "user@example.com 123");
}

TEST(LowerCaseTest, LowerCasesLatinLettersWithDiacritics) {
  EXPECT_EQ(Lower("JOS\xC3\x89"), "jos\xC3\xA9");  // JOSÉ -> josé
  EXPECT_EQ(Lower("\xC8\x98tef\xC4\x83nescu"),
            "\xC8\x99tef\xC4\x83nescu");  // Ștefănescu -> ștefănescu
}

TEST(LowerCaseTest, KeepsDecomposedInputDecomposed) {
  EXPECT_EQ(Lower("JOSE\xCC\x81"), "jose\xCC\x81");  // E + U+0301
}

TEST(LowerCaseTest, UsesFullCaseMapping) {
  EXPECT_EQ(Lower("\xC4\xB0"), "i\xCC\x87");           // İ -> i + U+0307
  EXPECT_EQ(Lower("GRO\xE1\xBA\x9E"), "gro\xC3\x9F");  // ẞ -> ß
}

TEST(LowerCaseTest, UsesTheFinalSigmaAtTheEndOfAWord) {
  // ΟΔΥΣΣΕΥΣ -> οδυσσευς
  EXPECT_EQ(Lower("\xCE\x9F\xCE\x94\xCE\xA5\xCE\xA3\xCE\xA3\xCE\x95\xCE\xA5"
                  "\xCE\xA3"),
            "\xCE\xBF\xCE\xB4\xCF\x85\xCF\x83\xCF\x83\xCE\xB5\xCF\x85\xCF\x82");
}

TEST(LowerCaseTest, KeepsCaselessScripts) {
  EXPECT_EQ(Lower("\xE6\x9D\x8E\xE5\xB0\x8F\xE9\xBE\x8D"),
            "\xE6\x9D\x8E\xE5\xB0\x8F\xE9\xBE\x8D");
}

TEST(LowerCaseTest, ReplacesThePreviousOutput) {
  EXPECT_EQ(Lower(""), "");
  EXPECT_EQ(Lower("\xC3\x89"), "\xC3\xA9");
}

// --- CodePointCount and TruncateCodePoints ---

TEST(CodePointCountTest, CountsCodePointsNotBytes) {
  EXPECT_EQ(CodePointCount(""), 0u);
  EXPECT_EQ(CodePointCount("abc"), 3u);
  EXPECT_EQ(CodePointCount("a\xC3\xB1"
                           "b"),
            3u);
  EXPECT_EQ(CodePointCount("\xF0\x9F\x98\x80\xE6\x9D\x8E"), 2u);
}

TEST(TruncateCodePointsTest, CutsAtACodePointBoundary) {
  EXPECT_EQ(TruncateCodePoints("a\xC3\xB1"
                               "b",
                               2),
            "a\xC3\xB1");
  EXPECT_EQ(TruncateCodePoints("\xF0\x9F\x98\x80xyz", 1), "\xF0\x9F\x98\x80");
}

TEST(TruncateCodePointsTest, KeepsShortTextWhole) {
  EXPECT_EQ(TruncateCodePoints("a\xC3\xB1"
                               "b",
                               3),
            "a\xC3\xB1"
            "b");
  EXPECT_EQ(TruncateCodePoints("abc", 100), "abc");
}

TEST(TruncateCodePointsTest, TruncatesToEmpty) {
  EXPECT_EQ(TruncateCodePoints("abc", 0), "");
}

// --- character classes ---

TEST(IsAsciiPunctuationTest, MatchesExactlyThe32PunctuationCharacters) {
  const std::string punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
  ASSERT_EQ(punctuation.size(), 32u);
  int count = 0;
  for (int c = 0; c < 256; ++c) {
    bool expected = punctuation.find(static_cast<char>(c)) != std::string::npos;
    EXPECT_EQ(IsAsciiPunctuation(static_cast<char>(c)), expected) << c;
    count += IsAsciiPunctuation(static_cast<char>(c)) ? 1 : 0;
  }
  EXPECT_EQ(count, 32);
}

TEST(IsAsciiWhitespaceTest, MatchesTheSixAsciiWhiteSpaceCharacters) {
  int count = 0;
  for (int c = 0; c < 256; ++c) {
    bool expected = c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
                    c == '\f' || c == '\r';
    EXPECT_EQ(IsAsciiWhitespace(static_cast<char>(c)), expected) << c;
    count += IsAsciiWhitespace(static_cast<char>(c)) ? 1 : 0;
  }
  EXPECT_EQ(count, 6);
}

}  // namespace
}  // namespace conversions::mapping
