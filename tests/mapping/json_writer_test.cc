#include "mapping/json_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "tests/mapping/test_util.h"

namespace conversions::mapping {
namespace {

using ::conversions::testing::ParseJson;

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// Returns what AppendJsonString writes for `s`, after checking that a real
// parser reads it as one JSON string.
std::string Quote(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  EXPECT_TRUE(ParseJson(out).is_string());
  return out;
}

// Runs `write` on a fresh writer and returns the text once the writer is
// gone (it may hold unwritten buffer space until then); checks that a real
// parser accepts it.
std::string Write(const std::function<void(JsonWriter&)>& write) {
  std::string out;
  {
    JsonWriter w(&out);
    write(w);
  }
  ParseJson(out);  // fails the test unless it is valid JSON
  return out;
}

// Parses the quoted text back with nlohmann and returns the string value.
std::string RoundTrip(std::string_view s) {
  nlohmann::json parsed = ParseJson(Quote(s));
  EXPECT_TRUE(parsed.is_string());
  return parsed.is_string() ? parsed.get<std::string>() : "";
}

// --- AppendJsonString ---

TEST(AppendJsonStringTest, QuotesPlainText) {
  EXPECT_EQ(Quote("hello"), R"("hello")");
  EXPECT_EQ(Quote(""), R"("")");
}

TEST(AppendJsonStringTest, EscapesQuotesAndBackslashes) {
  EXPECT_EQ(Quote(R"(say "hi" \ bye)"), R"("say \"hi\" \\ bye")");
  EXPECT_EQ(RoundTrip(R"(say "hi" \ bye)"), R"(say "hi" \ bye)");
}

TEST(AppendJsonStringTest, EscapesControlCharactersByName) {
  EXPECT_EQ(Quote("a\nb\rc\td\be\ff"), R"("a\nb\rc\td\be\ff")");
}

TEST(AppendJsonStringTest, EscapesOtherControlCharactersAsUnicode) {
  EXPECT_EQ(Quote(std::string("\0\x01\x1f", 3)), R"("\u0000\u0001\u001f")");
  EXPECT_EQ(RoundTrip(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(AppendJsonStringTest, EscapesEveryControlCharacter) {
  for (int c = 0; c < 0x20; ++c) {
    SCOPED_TRACE(c);
    std::string s(1, static_cast<char>(c));
    std::string quoted = Quote(s);
    EXPECT_EQ(quoted.find(static_cast<char>(c)), std::string::npos);
    EXPECT_EQ(RoundTrip(s), s);
  }
}

TEST(AppendJsonStringTest, CopiesDeleteAndSlashAsIs) {
  EXPECT_EQ(Quote("\x7f/"), "\"\x7f/\"");
}

TEST(AppendJsonStringTest, KeepsMultiByteUtf8AsIs) {
  const std::string text = "Jos\xC3\xA9 \xC8\x98tef\xC4\x83nescu \xE6\x9D\x8E";
  EXPECT_EQ(Quote(text), "\"" + text + "\"");
  EXPECT_EQ(RoundTrip(text), text);
}

TEST(AppendJsonStringTest, KeepsEmojiAsIs) {
  const std::string emoji = "\xF0\x9F\x98\x80\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD";
  EXPECT_EQ(Quote(emoji), "\"" + emoji + "\"");
  EXPECT_EQ(RoundTrip(emoji), emoji);
}

TEST(AppendJsonStringTest, KeepsLineAndParagraphSeparators) {
  const std::string text =
      "a\xE2\x80\xA8"
      "b\xE2\x80\xA9";
  EXPECT_EQ(RoundTrip(text), text);
}

TEST(AppendJsonStringTest, ReplacesALoneInvalidByte) {
  EXPECT_EQ(Quote("a\xFF"
                  "b"),
            std::string("\"a") + kReplacement + "b\"");
}

TEST(AppendJsonStringTest, ReplacesEachByteOfATruncatedSequence) {
  EXPECT_EQ(Quote("\xE2\x82"),
            std::string("\"") + kReplacement + kReplacement + "\"");
  EXPECT_EQ(Quote("\xC3(x"), std::string("\"") + kReplacement + "(x\"");
}

TEST(AppendJsonStringTest, ReplacesOverlongForms) {
  EXPECT_EQ(Quote("\xC0\xAF"),
            std::string("\"") + kReplacement + kReplacement + "\"");
  EXPECT_EQ(Quote("\xE0\x80\xAF"), std::string("\"") + kReplacement +
                                       kReplacement + kReplacement + "\"");
}

TEST(AppendJsonStringTest, ReplacesSurrogates) {
  EXPECT_EQ(Quote("\xED\xA0\x80"), std::string("\"") + kReplacement +
                                       kReplacement + kReplacement + "\"");
}

TEST(AppendJsonStringTest, ReplacesCodePointsAboveU10FFFF) {
  EXPECT_EQ(Quote("\xF4\x90\x80\x80"), std::string("\"") + kReplacement +
                                           kReplacement + kReplacement +
                                           kReplacement + "\"");
}

TEST(AppendJsonStringTest, KeepsValidTextAroundInvalidBytes) {
  const std::string input = "ok \xC3\xA9 \x80 \"q\" \xF0\x9F\x98\x80\xFF";
  EXPECT_EQ(RoundTrip(input), std::string("ok \xC3\xA9 ") + kReplacement +
                                  " \"q\" \xF0\x9F\x98\x80" + kReplacement);
}

TEST(AppendJsonStringTest, AlwaysProducesParseableJson) {
  // Every single byte, and every byte after a lead byte.
  for (int a = 0; a < 256; ++a) {
    std::string one(1, static_cast<char>(a));
    nlohmann::json parsed = ParseJson(Quote(one));
    ASSERT_TRUE(parsed.is_string()) << a;
    for (int b = 0; b < 256; b += 7) {
      std::string two = one + static_cast<char>(b);
      ASSERT_TRUE(ParseJson(Quote(two)).is_string()) << a << " " << b;
    }
  }
}

// A reference for what AppendJsonString must produce once parsed: the
// input with every byte of an invalid UTF-8 sequence replaced by U+FFFD.
// Written independently of the code under test, straight from RFC 3629.
std::string ExpectedDecoded(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    bool ok = len != 0 && i + len <= s.size();
    std::uint32_t cp = len == 1   ? c
                       : len == 2 ? (c & 0x1F)
                       : len == 3 ? (c & 0x0F)
                                  : (c & 0x07);
    for (size_t k = 1; ok && k < len; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      ok = (d & 0xC0) == 0x80;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (ok) {
      const std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append(kReplacement);
      ++i;
    }
  }
  return out;
}

// The writer scans 16 and 8 bytes at a time: every special byte must be
// found wherever it falls relative to those blocks, and a multi-byte
// sequence may straddle them.
TEST(AppendJsonStringTest, HandlesSpecialBytesAtEveryOffset) {
  const std::string payloads[] = {"\"",           "\\",
                                  "\n",           "\x01",
                                  "\x1f",         " ",
                                  "\x7f",         "\xC3\xA9",
                                  "\xE6\x9D\x8E", "\xF0\x9F\x98\x80",
                                  "\xFF",         "\xC3",
                                  "\xE2\x82",     std::string("\0", 1)};
  for (const std::string& payload : payloads) {
    for (size_t offset = 0; offset < 40; ++offset) {
      for (size_t tail = 0; tail < 20; tail += 3) {
        std::string input =
            std::string(offset, 'a') + payload + std::string(tail, 'b');
        std::string quoted = Quote(input);
        nlohmann::json parsed = ParseJson(quoted);
        ASSERT_TRUE(parsed.is_string()) << offset << " " << tail;
        ASSERT_EQ(parsed.get<std::string>(), ExpectedDecoded(input))
            << "offset " << offset << " tail " << tail;
      }
    }
  }
}

TEST(AppendJsonStringTest, MatchesTheReferenceOnPseudoRandomBytes) {
  std::mt19937 rng(20260319);  // fixed seed: the same inputs every run
  // Bias towards interesting bytes: ASCII text, specials, UTF-8 parts.
  const unsigned char kAlphabet[] = {
      'a',  'z',  ' ',  '"',  '\\', 0x00, 0x1f, 0x7f, 0x80, 0xBF, 0xC2,
      0xC3, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0xA0, 0x9F, 0x90};
  std::uniform_int_distribution<size_t> length(0, 80);
  std::uniform_int_distribution<size_t> pick(0, sizeof(kAlphabet) - 1);
  for (int n = 0; n < 2000; ++n) {
    std::string input(length(rng), '\0');
    for (char& c : input) c = static_cast<char>(kAlphabet[pick(rng)]);
    nlohmann::json parsed = ParseJson(Quote(input));
    ASSERT_TRUE(parsed.is_string()) << "case " << n;
    ASSERT_EQ(parsed.get<std::string>(), ExpectedDecoded(input))
        << "case " << n;
  }
}

TEST(AppendJsonStringTest, AppendsToExistingText) {
  std::string out = "prefix:";
  AppendJsonString("x", &out);
  EXPECT_EQ(out, R"(prefix:"x")");
}

// --- JsonWriter ---

TEST(JsonWriterTest, WritesAnEmptyObject) {
  EXPECT_EQ(Write([](JsonWriter& w) {
              w.BeginObject();
              w.EndObject();
            }),
            "{}");
}

TEST(JsonWriterTest, WritesKeysInCallOrder) {
  std::string json = Write([](JsonWriter& w) {
    w.BeginObject();
    w.Key("z");
    w.Int(1);
    w.Key("a");
    w.String("x");
    w.Key("m");
    w.Bool(true);
    w.EndObject();
  });
  EXPECT_EQ(json, R"({"z":1,"a":"x","m":true})");
}

TEST(JsonWriterTest, SeparatesNestedValuesWithCommas) {
  std::string json = Write([](JsonWriter& w) {
    w.BeginArray();
    w.BeginArray();
    w.EndArray();
    w.BeginArray();
    w.Int(1);
    w.Int(2);
    w.EndArray();
    w.BeginObject();
    w.Key("k");
    w.BeginObject();
    w.EndObject();
    w.Key("l");
    w.Null();
    w.EndObject();
    w.Bool(false);
    w.EndArray();
  });
  EXPECT_EQ(json, R"([[],[1,2],{"k":{},"l":null},false])");
  EXPECT_EQ(ParseJson(json),
            nlohmann::json::parse(R"([[],[1,2],{"k":{},"l":null},false])"));
}

TEST(JsonWriterTest, EscapesKeys) {
  std::string json = Write([](JsonWriter& w) {
    w.BeginObject();
    w.Key("a\"b\n");
    w.Int(0);
    w.EndObject();
  });
  EXPECT_EQ(json, R"({"a\"b\n":0})");
  EXPECT_EQ(ParseJson(json)["a\"b\n"], 0);
}

TEST(JsonWriterTest, WritesInt64Extremes) {
  std::string json = Write([](JsonWriter& w) {
    w.BeginArray();
    w.Int(std::numeric_limits<std::int64_t>::min());
    w.Int(std::numeric_limits<std::int64_t>::max());
    w.Int(0);
    w.Int(-1);
    w.EndArray();
  });
  EXPECT_EQ(json, "[-9223372036854775808,9223372036854775807,0,-1]");
  nlohmann::json parsed = ParseJson(json);
  EXPECT_EQ(parsed[0].get<std::int64_t>(),
            std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(parsed[1].get<std::int64_t>(),
            std::numeric_limits<std::int64_t>::max());
}

std::string WriteDouble(double value) {
  return Write([value](JsonWriter& w) { w.Double(value); });
}

TEST(JsonWriterTest, WritesWholeDoublesAsIntegers) {
  EXPECT_EQ(WriteDouble(3.0), "3");
  EXPECT_EQ(WriteDouble(-42.0), "-42");
  EXPECT_EQ(WriteDouble(-0.0), "0");
  EXPECT_EQ(WriteDouble(9007199254740992.0), "9007199254740992");  // 2^53
  EXPECT_TRUE(ParseJson(WriteDouble(3.0)).is_number_integer());
}

TEST(JsonWriterTest, WritesFractionalDoublesInShortestForm) {
  EXPECT_EQ(WriteDouble(0.1), "0.1");
  EXPECT_EQ(WriteDouble(-2.25), "-2.25");
  EXPECT_EQ(WriteDouble(0.29), "0.29");
  EXPECT_EQ(ParseJson(WriteDouble(0.1)).get<double>(), 0.1);
}

TEST(JsonWriterTest, WritesHugeAndTinyDoublesAsParseableNumbers) {
  for (double value : {1e300, -1e300, 1e-7, 5e-324, 1.7976931348623157e308,
                       18014398509481984.0 /* 2^54 */}) {
    SCOPED_TRACE(value);
    nlohmann::json parsed = ParseJson(WriteDouble(value));
    ASSERT_TRUE(parsed.is_number());
    EXPECT_EQ(parsed.get<double>(), value);
  }
}

TEST(JsonWriterTest, WritesNanAndInfinityAsNull) {
  EXPECT_EQ(WriteDouble(std::nan("")), "null");
  EXPECT_EQ(WriteDouble(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(WriteDouble(-std::numeric_limits<double>::infinity()), "null");
}

TEST(JsonWriterTest, WritesRawJsonAsOneValue) {
  std::string json = Write([](JsonWriter& w) {
    w.BeginArray();
    w.Raw(R"({"a":1})");
    w.Raw("[2]");
    w.EndArray();
  });
  EXPECT_EQ(json, R"([{"a":1},[2]])");
}

TEST(JsonWriterTest, WritesRawJsonAsAnObjectValue) {
  std::string json = Write([](JsonWriter& w) {
    w.BeginObject();
    w.Key("e");
    w.Raw("{}");
    w.Key("f");
    w.Raw("1");
    w.EndObject();
  });
  EXPECT_EQ(json, R"({"e":{},"f":1})");
}

TEST(JsonWriterTest, NestsSixtyFourLevels) {
  std::string json = Write([](JsonWriter& w) {
    for (int i = 0; i < 64; ++i) {
      w.BeginArray();
      w.Int(i);
    }
    for (int i = 0; i < 64; ++i) {
      w.String("end");
      w.EndArray();
    }
  });
  nlohmann::json parsed = ParseJson(json);
  const nlohmann::json* level = &parsed;
  for (int i = 0; i < 63; ++i) {
    ASSERT_TRUE(level->is_array());
    ASSERT_EQ(level->size(), 3u) << "level " << i;
    EXPECT_EQ((*level)[0], i);
    EXPECT_EQ((*level)[2], "end");
    level = &(*level)[1];
  }
  EXPECT_EQ(*level, nlohmann::json::parse(R"([63,"end"])"));
}

TEST(JsonWriterTest, AppendsAfterExistingText) {
  std::string out = "body=";
  {
    JsonWriter w(&out);
    w.BeginObject();
    w.Key("a");
    w.Int(1);
    w.EndObject();
  }
  EXPECT_EQ(out, R"(body={"a":1})");
}

TEST(JsonWriterTest, FinishTrimsTheBufferAndIsIdempotent) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray();
  w.Int(1);
  w.EndArray();
  w.Finish();
  EXPECT_EQ(out, "[1]");
  w.Finish();
  EXPECT_EQ(out, "[1]");
}

TEST(JsonWriterTest, WritesSafeKeysLikeKeys) {
  std::string json = Write([](JsonWriter& w) {
    w.BeginObject();
    w.SafeKey("emails_sha256");
    w.BeginArray();
    w.EndArray();
    w.Key("k");
    w.Int(1);
    w.SafeKey("id");
    w.String("x");
    w.EndObject();
  });
  EXPECT_EQ(json, R"({"emails_sha256":[],"k":1,"id":"x"})");
}

TEST(JsonWriterTest, WritesLongStringsThatOutgrowTheBuffer) {
  std::string long_value(100000, 'x');
  long_value[5000] = '"';
  long_value[70000] = '\n';
  std::string json = Write([&](JsonWriter& w) {
    w.BeginArray();
    for (int i = 0; i < 3; ++i) w.String(long_value);
    w.EndArray();
  });
  nlohmann::json parsed = ParseJson(json);
  ASSERT_EQ(parsed.size(), 3u);
  for (const auto& item : parsed) EXPECT_EQ(item, long_value);
}

}  // namespace
}  // namespace conversions::mapping
