#include "mapping/normalize.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mapping/sha256.h"
#include "mapping/unicode.h"
#include "tests/mapping/golden_vectors.h"

namespace conversions::mapping {
namespace {

using ::conversions::testing::ReadVectorFile;
using ::conversions::testing::ReadVectorRows;
using ::conversions::testing::RowLocation;
using ::conversions::testing::VectorRow;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using NormalizeFn = DropReason (*)(std::string_view, std::string*);

NormalizeFn NormalizerFor(const std::string& kind) {
  static const std::map<std::string, NormalizeFn> kByKind = {
      {"email", NormalizeEmail},
      {"phone", NormalizePhone},
      {"external_id", NormalizeExternalId},
      {"name", NormalizeName},
      {"country", NormalizeCountry},
      {"postal_code", NormalizePostalCode},
      {"location", NormalizeLocation},
      {"ip_address", NormalizeIpAddress},
      {"advertising_id", NormalizeAdvertisingId},
  };
  auto it = kByKind.find(kind);
  return it == kByKind.end() ? nullptr : it->second;
}

// Checks that a drop reason does not quote the value it dropped: reasons go
// into warnings that clients see and logs may hold.
void ExpectReasonDoesNotQuote(const DropReason& drop, std::string_view input) {
  std::string_view value = TrimWhitespace(input);
  if (value.size() < 3 || !IsValidUtf8(value)) return;
  EXPECT_THAT(std::string(drop.description), Not(HasSubstr(std::string(value))))
      << "the drop reason quotes the input";
}

// --- identifier_vectors.tsv: normalized form and hash of every vector ---

// Checks one row of identifier_vectors.tsv: the normalized value and its
// hash, or the drop code.
void CheckIdentifierRow(const VectorRow& row) {
  NormalizeFn normalize = NormalizerFor(row.kind);
  ASSERT_NE(normalize, nullptr) << "unknown kind " << row.kind;
  std::string out;
  DropReason drop = normalize(row.input, &out);
  if (row.dropped()) {
    EXPECT_FALSE(drop.kept());
    EXPECT_STREQ(drop.code == nullptr ? "(kept)" : drop.code, row.last.c_str());
    EXPECT_NE(drop.description, nullptr);
    if (!drop.kept()) ExpectReasonDoesNotQuote(drop, row.input);
    return;
  }
  ASSERT_TRUE(drop.kept()) << drop.code << ": " << drop.description;
  EXPECT_EQ(out, row.normalized);
  EXPECT_EQ(ToString(Sha256Hex(out)), row.last);
}

TEST(IdentifierVectorsTest, NormalizeAndHashAsTheGoldenFileSays) {
  std::vector<VectorRow> rows = ReadVectorRows("identifier_vectors.tsv");
  ASSERT_FALSE(rows.empty());
  for (const VectorRow& row : rows) {
    SCOPED_TRACE(RowLocation(row));
    CheckIdentifierRow(row);
  }
}

TEST(IdentifierVectorFileTest, EveryLineIsAWellFormedRow) {
  auto file = ReadVectorFile("identifier_vectors.tsv");
  EXPECT_THAT(file.malformed_lines, IsEmpty());
  EXPECT_GE(file.rows.size(), 80u);
  for (const VectorRow& row : file.rows) {
    SCOPED_TRACE(RowLocation(row));
    if (row.dropped()) {
      EXPECT_TRUE(row.last == kDroppedEmpty || row.last == kDroppedInvalid);
    } else {
      EXPECT_TRUE(IsSha256Hex(row.last));
      EXPECT_EQ(ToString(LowerHex(row.last)), row.last) << "hash not lower";
    }
  }
}

// The spec's section 5a vectors must stay in the golden file: normalized
// value and hash, as the spec (and sha256sum) give them.
TEST(IdentifierVectorFileTest, HoldsEverySpecTestVector) {
  const std::map<std::string, std::string> kSpecVectors = {
      {"user@example.com",
       "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514"},
      {"14155552671",
       "758fbf68945f21c416814c539ab578876c8d98fb69e6da692def92cd52417fe0"},
      {"customer_123",
       "18f69bcd2f9cc9c38195e722b2a5590429840ea5090971d2256e026926e55fa1"},
      {"customer_12345",
       "73d83a078369bb4f0971b317aa7797a91cf5c0df1b62161c2e47d75c33ab5b6e"},
      {"ada",
       "fdee430d40bd57deeac186cd9790033d0f06f909a8806e7ce6e717ab7c7d5029"},
      {"lovelace",
       "fb1e7ec987523d2cb9e022cec1d6ae7c99dc46edfae4fe51254025fe4bea571f"},
      {"ada@example.com",
       "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72"},
      {"\xC8\x99tef\xC4\x83nescu",  // ștefănescu
       "1c43886f1047ed5dfae59c0945ff61475b7df3a912312a6484ce80429df049a1"},
  };
  std::map<std::string, std::string> found;
  for (const VectorRow& row : ReadVectorRows("identifier_vectors.tsv")) {
    if (!row.dropped()) found[row.normalized] = row.last;
  }
  for (const auto& [normalized, hash] : kSpecVectors) {
    auto it = found.find(normalized);
    ASSERT_NE(it, found.end()) << "missing spec vector for hash " << hash;
    EXPECT_EQ(it->second, hash);
  }
}

// The spec's section 5a inputs with their documented normalized forms.
TEST(IdentifierVectorFileTest, HoldsEverySpecNormalizationExample) {
  const std::map<std::pair<std::string, std::string>, std::string> kExamples = {
      {{"phone", "+1 (415) 555-2671"}, "14155552671"},
      {{"name", "\xC8\x98tef\xC4\x83nescu"},  // Ștefănescu
       "\xC8\x99tef\xC4\x83nescu"},
      {{"name", "O'Connor"}, "oconnor"},
      {{"name", "Jos\xC3\xA9"}, "jos\xC3\xA9"},
      {{"name", "Mary Jane"}, "maryjane"},
  };
  std::map<std::pair<std::string, std::string>, std::string> found;
  for (const VectorRow& row : ReadVectorRows("identifier_vectors.tsv")) {
    found[{row.kind, row.input}] = row.normalized;
  }
  for (const auto& [key, normalized] : kExamples) {
    auto it = found.find(key);
    ASSERT_NE(it, found.end()) << "missing spec example " << key.second;
    EXPECT_EQ(it->second, normalized);
  }
}

// --- raw_field_vectors.tsv: raw fields, normalized or dropped ---

// Checks one row of raw_field_vectors.tsv: the value sent, or the drop
// code.
void CheckRawFieldRow(const VectorRow& row) {
  NormalizeFn normalize = NormalizerFor(row.kind);
  ASSERT_NE(normalize, nullptr) << "unknown kind " << row.kind;
  std::string out;
  DropReason drop = normalize(row.input, &out);
  if (row.dropped()) {
    EXPECT_STREQ(drop.code == nullptr ? "(kept)" : drop.code, row.last.c_str());
    if (!drop.kept()) ExpectReasonDoesNotQuote(drop, row.input);
    return;
  }
  ASSERT_TRUE(drop.kept()) << drop.code << ": " << drop.description;
  EXPECT_EQ(out, row.normalized);
}

TEST(RawFieldVectorsTest, NormalizeAsTheGoldenFileSays) {
  std::vector<VectorRow> rows = ReadVectorRows("raw_field_vectors.tsv");
  ASSERT_FALSE(rows.empty());
  for (const VectorRow& row : rows) {
    SCOPED_TRACE(RowLocation(row));
    CheckRawFieldRow(row);
  }
}

TEST(RawFieldVectorFileTest, EveryLineIsAWellFormedRow) {
  auto file = ReadVectorFile("raw_field_vectors.tsv");
  EXPECT_THAT(file.malformed_lines, IsEmpty());
  EXPECT_GE(file.rows.size(), 60u);
  for (const VectorRow& row : file.rows) {
    SCOPED_TRACE(RowLocation(row));
    if (row.dropped()) {
      EXPECT_TRUE(row.last == kDroppedEmpty || row.last == kDroppedInvalid);
    } else {
      EXPECT_EQ(row.last, "-");
    }
  }
}

// --- limits and properties that do not fit a one-line vector ---

TEST(NormalizeEmailTest, KeepsAnAddressOf254Bytes) {
  std::string email = std::string(242, 'a') + "@example.com";
  ASSERT_EQ(email.size(), 254u);
  std::string out;
  EXPECT_TRUE(NormalizeEmail(email, &out).kept());
  EXPECT_EQ(out, email);
}

TEST(NormalizeEmailTest, DropsAnAddressOver254Bytes) {
  std::string email = std::string(243, 'a') + "@example.com";
  std::string out;
  EXPECT_STREQ(NormalizeEmail(email, &out).code, kDroppedInvalid);
}

// Spec 5a: trim, then lower-case; nothing else. A decomposed accent
// (e + U+0301) stays decomposed, so the digest is the one the Pixel
// computes from the same text. So are names (NormalizeNameTest).
TEST(NormalizeEmailTest, LowerCasesWithoutComposing) {
  std::string out;
  ASSERT_TRUE(NormalizeEmail("Jose\xCC\x81@Example.com", &out).kept());
  EXPECT_EQ(out, "jose\xCC\x81@example.com");
  ASSERT_TRUE(NormalizeEmail("JOS\xC3\x89@Example.com", &out).kept());
  EXPECT_EQ(out, "jos\xC3\xA9@example.com");
}

TEST(NormalizeEmailTest, IsIdempotent) {
  std::string once, twice;
  ASSERT_TRUE(
      NormalizeEmail(" J\xC3\x89R\xC3\x94ME@Example.FR ", &once).kept());
  ASSERT_TRUE(NormalizeEmail(once, &twice).kept());
  EXPECT_EQ(once, twice);
}

TEST(NormalizePhoneTest, IsIdempotent) {
  std::string once, twice;
  ASSERT_TRUE(NormalizePhone("+44 (20) 7946-0958", &once).kept());
  ASSERT_TRUE(NormalizePhone(once, &twice).kept());
  EXPECT_EQ(once, twice);
}

TEST(NormalizePhoneTest, ClearsTheOutputOfADroppedValue) {
  std::string out = "stale";
  EXPECT_FALSE(NormalizePhone("12", &out).kept());
  EXPECT_NE(out, "stale");
}

// Zeros alone are a placeholder, not a missing value: the warning says so.
TEST(NormalizePhoneTest, NamesANumberOfZerosAlone) {
  std::string out;
  DropReason zeros = NormalizePhone("0000000000", &out);
  EXPECT_STREQ(zeros.code, kDroppedInvalid);
  EXPECT_STREQ(zeros.description, "phone number has no digits but zeros");
  DropReason none = NormalizePhone("+ ( ) -", &out);
  EXPECT_STREQ(none.code, kDroppedEmpty);
  EXPECT_STREQ(none.description, "phone number has no digits");
}

TEST(NormalizeExternalIdTest, KeepsAnIdOf1024Bytes) {
  std::string out;
  EXPECT_TRUE(NormalizeExternalId(std::string(1024, 'x'), &out).kept());
  EXPECT_EQ(out.size(), 1024u);
}

TEST(NormalizeExternalIdTest, DropsAnIdOver1024Bytes) {
  std::string out;
  EXPECT_STREQ(NormalizeExternalId(std::string(1025, 'x'), &out).code,
               kDroppedInvalid);
}

TEST(NormalizeNameTest, DropsANameOver1024Bytes) {
  std::string out;
  EXPECT_STREQ(NormalizeName(std::string(1025, 'a'), &out).code,
               kDroppedInvalid);
}

TEST(NormalizeNameTest, IsIdempotent) {
  std::string once, twice;
  ASSERT_TRUE(
      NormalizeName("  \xC8\x98tef\xC4\x83nescu-O'Brien ", &once).kept());
  ASSERT_TRUE(NormalizeName(once, &twice).kept());
  EXPECT_EQ(once, twice);
}

TEST(NormalizeNameTest, RemovesEveryAsciiPunctuationCharacter) {
  std::string out;
  ASSERT_TRUE(
      NormalizeName("a!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~b", &out).kept());
  EXPECT_EQ(out, "ab");
}

TEST(NormalizeNameTest, KeepsDigits) {
  std::string out;
  ASSERT_TRUE(NormalizeName("Louis XIV 2nd", &out).kept());
  EXPECT_EQ(out, "louisxiv2nd");
}

TEST(NormalizeLocationTest, KeepsLongValuesForTheCallerToTruncate) {
  std::string city(300, 'a');
  std::string out;
  ASSERT_TRUE(NormalizeLocation(city, &out).kept());
  EXPECT_EQ(out, city);
}

// Places are sent in clear: an email address or a phone number put there
// by mistake must not pass.
TEST(NormalizeLocationTest, DropsWhatIsAnEmailAddressOrAPhoneNumber) {
  std::string out;
  for (const char* identifier :
       {"jane@example.com", "Paris jane@example.com", "a@b@c",
        "+1 (415) 555-2671", "0612345678", "1234567", "06.12.34.56.78"}) {
    DropReason drop = NormalizeLocation(identifier, &out);
    EXPECT_STREQ(drop.code, kDroppedInvalid) << identifier;
  }
  for (const char* place : {"75", "123456", "Paris 75001", "São Paulo",
                            "Saint-Étienne", "CA", "13", "10115 Berlin"}) {
    ASSERT_TRUE(NormalizeLocation(place, &out).kept()) << place;
    EXPECT_EQ(out, place);
  }
}

// A confirmation page's URL often carries the buyer's email address
// ("?email="): it is replaced, written as is or percent-encoded.
TEST(RedactUrlEmailsTest, ReplacesEmailAddressesAfterTheHost) {
  struct Case {
    const char* url;
    int count;
    const char* redacted;
  };
  for (const Case& c : {
           Case{"https://shop.example.com/done?email=jane.doe%40example.com"
                "&order=1",
                1, "https://shop.example.com/done?email=redacted&order=1"},
           Case{"https://x.example/u/jane@example.com/orders"
                "#k=bob+tag@mail.example.org.",
                2, "https://x.example/u/redacted/orders#k=redacted."},
           Case{"https://x.example/?a=jane_d-1@example.co.uk;b=c", 1,
                "https://x.example/?a=redacted;b=c"},
           Case{"https://x.example/?e=jos\xC3\xA9@ex\xC3\xA4mple.de", 1,
                "https://x.example/?e=redacted"},
           Case{"https://x.example/?e=jane%2Btag%40example.com", 1,
                "https://x.example/?e=redacted"},
           Case{"myapp://host/p?e=a@b.io", 1, "myapp://host/p?e=redacted"},
           // Escaped twice: a return URL inside another URL's query.
           Case{"https://x.example/r?next=%2Fdone%3Fe%3Djane%2540example.com",
                1, "https://x.example/r?next=%2Fdone%3Fe%3Dredacted"},
           Case{"https://x.example/r?next=%2Fdone%3Fe%3Djane%252Btag%2540"
                "example.com%26o%3D1",
                1, "https://x.example/r?next=%2Fdone%3Fe%3Dredacted%26o%3D1"},
           Case{"https://x.example/?e=%3Cjane%40example.com%3E", 1,
                "https://x.example/?e=%3Credacted%3E"},
       }) {
    SCOPED_TRACE(c.url);
    std::string out = "stale";
    ASSERT_EQ(RedactUrlEmails(c.url, &out), c.count);
    EXPECT_EQ(out, c.redacted);
  }
}

// Only an address is replaced: an '@' with nothing before it, no dotted
// name after it, or in the authority (user information, which the URL
// checks refuse) leaves the URL and *out as they were.
TEST(RedactUrlEmailsTest, LeavesEveryOtherAtSign) {
  for (const char* url :
       {"https://medium.example/@user/post", "https://maps.example/@48.85,2.35",
        "https://example.com/a@b?c=d@e", "https://example.com/x@",
        "https://example.com/x@.com", "https://example.com/x%40",
        "https://example.com/x%4", "https://user@example.com/",
        "https://u:p@example.com", "https://shop.example.com/",
        "https://example.com/?q=%20@%20"}) {
    SCOPED_TRACE(url);
    std::string out = "untouched";
    EXPECT_EQ(RedactUrlEmails(url, &out), 0);
    EXPECT_EQ(out, "untouched");
  }
}

TEST(NormalizeIpAddressTest, AcceptsTheLongestIpv6Text) {
  std::string out;
  ASSERT_TRUE(
      NormalizeIpAddress("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", &out)
          .kept());
  EXPECT_EQ(out, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST(DropReasonTest, IsKeptOnlyWithoutACode) {
  DropReason kept;
  EXPECT_TRUE(kept.kept());
  DropReason dropped{kDroppedInvalid, "x"};
  EXPECT_FALSE(dropped.kept());
}

}  // namespace
}  // namespace conversions::mapping
