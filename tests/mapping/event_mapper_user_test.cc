// The user object of MapEvent (spec section 5a): hashing, pre-hashed
// digests, list rules, raw fields, and the warnings for dropped values.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "mapping/event_mapper.h"
#include "tests/mapping/mapper_test_util.h"
#include "tests/mapping/test_util.h"

namespace conversions::mapping {
namespace {

using ::conversions::testing::Issue;
using ::conversions::testing::kNowMs;
using ::conversions::testing::MapToJson;
using ::conversions::testing::ParseJson;
using ::conversions::testing::ValidEvent;
using ::google::protobuf::RepeatedPtrField;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Spec 5a vectors.
constexpr char kUserEmailHash[] =
    "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514";
constexpr char kUserEmailHashUpper[] =
    "B4C9A289323B21A01C3E940F150EB9B8C542587F1ABFD8F0E1CC1FFC5E475514";
constexpr char kAbCoHash[] =  // a@b.co
    "80305c9bb1bb2480e03894350e0a8a366dcbdeb302e69e0817aa0743abd77054";

MappedEvent MapWithUser(const std::string& user_text) {
  v1::Event event = ValidEvent();
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      user_text, event.mutable_user()));
  MappedEvent mapped = MapEvent(event, kNowMs);
  EXPECT_THAT(mapped.violations, IsEmpty());
  return mapped;
}

nlohmann::json UserJson(const MappedEvent& mapped) {
  nlohmann::json wire = ParseJson(mapped.wire_json);
  return wire.contains("user") ? wire["user"] : nlohmann::json();
}

// --- the five hashed lists, each with its clear and pre-hashed input ---

struct HashedListCase {
  const char* name;      // "emails"
  const char* wire_key;  // "emails_sha256"
  RepeatedPtrField<std::string>* (v1::UserData::*clear)();
  RepeatedPtrField<std::string>* (v1::UserData::*hashed)();
  const char* valid;       // a clear value...
  const char* valid_hash;  // ...and its hash, from sha256sum
  const char* invalid;     // a clear value that is dropped
  const char* invalid_code;
};

const HashedListCase kHashedLists[] = {
    HashedListCase{"emails", "emails_sha256", &v1::UserData::mutable_emails,
                   &v1::UserData::mutable_emails_sha256, "user@example.com",
                   kUserEmailHash, "userexample.com", "DROPPED_INVALID"},
    HashedListCase{
        "phone_numbers", "phone_numbers_sha256",
        &v1::UserData::mutable_phone_numbers,
        &v1::UserData::mutable_phone_numbers_sha256, "+1 (415) 555-2671",
        "758fbf68945f21c416814c539ab578876c8d98fb69e6da692def92cd52417fe0",
        "+1 555", "DROPPED_INVALID"},
    HashedListCase{
        "external_ids", "external_ids_sha256",
        &v1::UserData::mutable_external_ids,
        &v1::UserData::mutable_external_ids_sha256, "customer_123",
        "18f69bcd2f9cc9c38195e722b2a5590429840ea5090971d2256e026926e55fa1",
        " \t ", "DROPPED_EMPTY"},
    HashedListCase{
        "first_names", "first_names_sha256", &v1::UserData::mutable_first_names,
        &v1::UserData::mutable_first_names_sha256, "Ada",
        "fdee430d40bd57deeac186cd9790033d0f06f909a8806e7ce6e717ab7c7d5029",
        "'-.", "DROPPED_EMPTY"},
    HashedListCase{
        "last_names", "last_names_sha256", &v1::UserData::mutable_last_names,
        &v1::UserData::mutable_last_names_sha256, "Lovelace",
        "fb1e7ec987523d2cb9e022cec1d6ae7c99dc46edfae4fe51254025fe4bea571f",
        "Love\xFFlace", "DROPPED_INVALID"}};

// Runs a test body once per hashed list; list() is the list at hand.
class HashedListTest : public ::testing::Test {
 protected:
  template <typename Body>
  void ForEachList(Body body) {
    for (const HashedListCase& list : kHashedLists) {
      SCOPED_TRACE(list.name);
      current_ = &list;
      body();
    }
  }
  const HashedListCase& list() const { return *current_; }

  v1::Event EventWith(const std::vector<std::string>& clear,
                      const std::vector<std::string>& hashed) {
    v1::Event event = ValidEvent();
    v1::UserData* user = event.mutable_user();
    for (const auto& v : clear) (user->*list().clear)()->Add(std::string(v));
    for (const auto& v : hashed) (user->*list().hashed)()->Add(std::string(v));
    return event;
  }
  std::string ClearField(int i) const {
    return std::string("user.") + list().name + "[" + std::to_string(i) + "]";
  }
  std::string HashedField(int i) const {
    return std::string("user.") + list().wire_key + "[" + std::to_string(i) +
           "]";
  }
  static std::string Digest(char c) { return std::string(64, c); }

 private:
  const HashedListCase* current_ = nullptr;
};

TEST_F(HashedListTest, HashesAClearValue) {
  ForEachList([&] {
    MappedEvent mapped = MapEvent(EventWith({list().valid}, {}), kNowMs);
    ASSERT_TRUE(mapped.ok());
    EXPECT_THAT(mapped.warnings, IsEmpty());
    EXPECT_EQ(UserJson(mapped)[list().wire_key],
              nlohmann::json::array({list().valid_hash}));
  });
}

TEST_F(HashedListTest, NeverSendsTheClearValue) {
  ForEachList([&] {
    MappedEvent mapped = MapEvent(EventWith({list().valid}, {}), kNowMs);
    EXPECT_THAT(mapped.wire_json, Not(HasSubstr(list().valid)));
    EXPECT_FALSE(UserJson(mapped).contains(list().name));
  });
}

TEST_F(HashedListTest, DropsAnInvalidClearValueWithAWarning) {
  ForEachList([&] {
    MappedEvent mapped = MapEvent(EventWith({list().invalid}, {}), kNowMs);
    ASSERT_TRUE(mapped.ok());
    EXPECT_THAT(mapped.warnings,
                ElementsAre(Issue(ClearField(0), list().invalid_code)));
    EXPECT_FALSE(ParseJson(mapped.wire_json).contains("user"));
  });
}

TEST_F(HashedListTest, LowerCasesAPreHashedDigest) {
  ForEachList([&] {
    MappedEvent mapped = MapEvent(EventWith({}, {kUserEmailHashUpper}), kNowMs);
    ASSERT_TRUE(mapped.ok());
    EXPECT_THAT(mapped.warnings, IsEmpty());
    EXPECT_EQ(UserJson(mapped)[list().wire_key],
              nlohmann::json::array({kUserEmailHash}));
  });
}

// A clear value that already is a digest is not hashed a second time.
TEST_F(HashedListTest, TakesADigestInTheClearListAsPreHashed) {
  ForEachList([&] {
    MappedEvent mapped = MapEvent(
        EventWith({std::string(" ") + kUserEmailHashUpper}, {}), kNowMs);
    ASSERT_TRUE(mapped.ok());
    EXPECT_THAT(mapped.warnings, IsEmpty());
    EXPECT_EQ(UserJson(mapped)[list().wire_key],
              nlohmann::json::array({kUserEmailHash}));
  });
}

TEST_F(HashedListTest, DropsAPreHashedValueThatIsNotHex) {
  ForEachList([&] {
    std::string not_hex = Digest('a');
    not_hex[63] = 'g';
    MappedEvent mapped = MapEvent(
        EventWith({}, {not_hex, Digest('b').substr(1), "plain@x.com"}), kNowMs);
    ASSERT_TRUE(mapped.ok());
    EXPECT_THAT(mapped.warnings,
                ElementsAre(Issue(HashedField(0), "DROPPED_INVALID"),
                            Issue(HashedField(1), "DROPPED_INVALID"),
                            Issue(HashedField(2), "DROPPED_INVALID")));
    EXPECT_FALSE(ParseJson(mapped.wire_json).contains("user"));
  });
}

TEST_F(HashedListTest, DropsABlankPreHashedValue) {
  ForEachList([&] {
    MappedEvent mapped = MapEvent(EventWith({}, {" "}), kNowMs);
    ASSERT_THAT(mapped.warnings,
                ElementsAre(Issue(HashedField(0), "DROPPED_EMPTY")));
    EXPECT_EQ(mapped.warnings[0].description, "value is empty");
  });
}

// A caller that hashes a missing value sends the SHA-256 of "": it stands
// for no value and is dropped, in either list and in either case (spec 5c:
// do not send an empty hash); the valid value after it is kept.
TEST_F(HashedListTest, DropsTheDigestOfAnEmptyString) {
  constexpr char kEmptyDigest[] =
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  ForEachList([&] {
    MappedEvent mapped =
        MapEvent(EventWith({absl::AsciiStrToUpper(kEmptyDigest)},
                           {kEmptyDigest, kUserEmailHash}),
                 kNowMs);
    ASSERT_TRUE(mapped.ok());
    EXPECT_THAT(mapped.warnings,
                ElementsAre(Issue(ClearField(0), "DROPPED_EMPTY"),
                            Issue(HashedField(0), "DROPPED_EMPTY")));
    EXPECT_EQ(mapped.warnings[0].description,
              "value is the SHA-256 of an empty string");
    EXPECT_EQ(UserJson(mapped)[list().wire_key],
              nlohmann::json::array({kUserEmailHash}));
  });
}

TEST_F(HashedListTest, KeepsTheFirstThreeValidUniqueDigestsInOrder) {
  ForEachList([&] {
    MappedEvent mapped =
        MapEvent(EventWith({}, {Digest('3'), Digest('z'), Digest('1'),
                                Digest('3'), Digest('2'), Digest('4')}),
                 kNowMs);
    ASSERT_TRUE(mapped.ok());
    EXPECT_EQ(UserJson(mapped)[list().wire_key],
              nlohmann::json::array({Digest('3'), Digest('1'), Digest('2')}));
    EXPECT_THAT(mapped.warnings,
                ElementsAre(Issue(HashedField(1), "DROPPED_INVALID"),
                            Issue(HashedField(3), "DROPPED_DUPLICATE"),
                            Issue(HashedField(5), "DROPPED_OVER_LIMIT")));
  });
}

TEST_F(HashedListTest, PutsClearValuesBeforePreHashedOnes) {
  ForEachList([&] {
    MappedEvent mapped = MapEvent(
        EventWith({list().valid}, {Digest('1'), Digest('2'), Digest('3')}),
        kNowMs);
    EXPECT_EQ(
        UserJson(mapped)[list().wire_key],
        nlohmann::json::array({list().valid_hash, Digest('1'), Digest('2')}));
    EXPECT_THAT(mapped.warnings,
                ElementsAre(Issue(HashedField(2), "DROPPED_OVER_LIMIT")));
  });
}

TEST_F(HashedListTest, DropsAPreHashedTwinOfAClearValue) {
  ForEachList([&] {
    std::string twin = list().valid_hash;
    for (char& c : twin) c = static_cast<char>(std::toupper(c));
    MappedEvent mapped = MapEvent(EventWith({list().valid}, {twin}), kNowMs);
    EXPECT_EQ(UserJson(mapped)[list().wire_key],
              nlohmann::json::array({list().valid_hash}));
    EXPECT_THAT(mapped.warnings,
                ElementsAre(Issue(HashedField(0), "DROPPED_DUPLICATE")));
  });
}

// Values past the 1,000th are not read, with one warning, and the event is
// accepted: the limit bounds the work of a list, far beyond any real one.
TEST_F(HashedListTest, ReadsOnlyTheFirstThousandClearInputs) {
  ForEachList([&] {
    // 1,000 invalid values, then a valid one that is not read.
    std::vector<std::string> clear(1000, "");
    clear.push_back(list().valid);
    MappedEvent mapped = MapEvent(EventWith(clear, {}), kNowMs);
    EXPECT_TRUE(mapped.ok());
    EXPECT_THAT(mapped.violations, ::testing::IsEmpty());
    EXPECT_THAT(mapped.warnings,
                ::testing::Contains(Issue(std::string("user.") + list().name,
                                          "DROPPED_OVER_LIMIT")));
    EXPECT_FALSE(UserJson(mapped).contains(list().wire_key));
    // With valid values first, the first 3 are sent as always.
    std::vector<std::string> valid(1500, list().valid);
    mapped = MapEvent(EventWith(valid, {}), kNowMs);
    EXPECT_TRUE(mapped.ok());
    EXPECT_EQ(UserJson(mapped)[list().wire_key],
              nlohmann::json::array({list().valid_hash}));
  });
}

// The API takes the first 3 valid values (spec 5a), so a valid one past
// many invalid ones is still sent.
TEST_F(HashedListTest, FindsAValidValuePastAHundredInvalidOnes) {
  ForEachList([&] {
    std::vector<std::string> clear(101, "");
    clear.push_back(list().valid);
    MappedEvent mapped = MapEvent(EventWith(clear, {}), kNowMs);
    EXPECT_TRUE(mapped.ok());
    EXPECT_EQ(UserJson(mapped)[list().wire_key],
              nlohmann::json::array({list().valid_hash}));
    EXPECT_THAT(mapped.warnings,
                ::testing::Not(::testing::Contains(::testing::Field(
                    &FieldIssue::reason, "DROPPED_OVER_LIMIT"))));
  });
}

TEST_F(HashedListTest, ReadsOnlyTheFirstThousandPreHashedInputs) {
  ForEachList([&] {
    std::vector<std::string> hashed(1001, Digest('a'));
    MappedEvent mapped = MapEvent(EventWith({}, hashed), kNowMs);
    EXPECT_TRUE(mapped.ok());
    EXPECT_THAT(mapped.warnings, ::testing::Contains(Issue(
                                     std::string("user.") + list().wire_key,
                                     "DROPPED_OVER_LIMIT")));
    EXPECT_EQ(UserJson(mapped)[list().wire_key],
              nlohmann::json::array({Digest('a')}));
  });
}

TEST_F(HashedListTest, AcceptsOneThousandInputs) {
  ForEachList([&] {
    std::vector<std::string> clear(1000, list().valid);
    MappedEvent mapped = MapEvent(EventWith(clear, {}), kNowMs);
    EXPECT_TRUE(mapped.ok());
    EXPECT_EQ(mapped.warnings.size(), 999u);  // all duplicates
  });
}

// --- the list rules on clear emails ---

TEST(UserEmailsTest, DropsAValueThatEqualsAnEarlierOneAfterNormalization) {
  MappedEvent mapped = MapWithUser(R"pb(emails: " A@b.co" emails: "a@b.co")pb");
  EXPECT_EQ(UserJson(mapped)["emails_sha256"],
            nlohmann::json::array({kAbCoHash}));
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.emails[1]", "DROPPED_DUPLICATE")));
}

TEST(UserEmailsTest, KeepsTheFirstThreeInCallerOrder) {
  MappedEvent mapped = MapWithUser(R"pb(
    emails: "u1@example.com"
    emails: "u2@example.com"
    emails: "u3@example.com"
    emails: "u4@example.com"
    emails: "u5@example.com"
  )pb");
  EXPECT_EQ(
      UserJson(mapped)["emails_sha256"],
      nlohmann::json::array(
          {"6228d577ed8b4c57b0388fbef9d63caed2ca3c1cca39bc8db1253cf22f80beae",
           "b8ecf29b766a88258fb2ffddc465928bc4cc82bd93c31b597d0e055c790e50ab",
           "d3dea7a7ef6f508f8f1a59df4f2fd7bbcfdabbdb7cdb807676c359c24ab9e5e"
           "6"}));
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.emails[3]", "DROPPED_OVER_LIMIT"),
                          Issue("user.emails[4]", "DROPPED_OVER_LIMIT")));
}

// Invalid values do not use up one of the three places.
TEST(UserEmailsTest, SkipsInvalidValuesBeforeCountingThree) {
  MappedEvent mapped = MapWithUser(R"pb(
    emails: "nope"
    emails: "u1@example.com"
    emails: ""
    emails: "u2@example.com"
    emails: "u3@example.com"
  )pb");
  EXPECT_EQ(UserJson(mapped)["emails_sha256"].size(), 3u);
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.emails[0]", "DROPPED_INVALID"),
                          Issue("user.emails[2]", "DROPPED_EMPTY")));
}

// A digest other than SHA-256 in a clear list is dropped as the clear
// value it cannot be, and the warning says why it did not pass through.
TEST(UserEmailsTest, SaysThatOnlySha256DigestsPassThrough) {
  MappedEvent mapped = MapWithUser(R"pb(
    emails: "5d41402abc4b2a76b9719d911017c592"
    emails: "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
    emails: "nope"
  )pb");
  EXPECT_FALSE(UserJson(mapped).contains("emails_sha256"));
  ASSERT_THAT(mapped.warnings,
              ElementsAre(Issue("user.emails[0]", "DROPPED_INVALID"),
                          Issue("user.emails[1]", "DROPPED_INVALID"),
                          Issue("user.emails[2]", "DROPPED_INVALID")));
  EXPECT_EQ(mapped.warnings[0].description,
            "value is 32 hex characters (an MD5 digest's length): only a "
            "SHA-256 digest (64 hex characters) passes through as already "
            "hashed, and as a clear value: email has no @");
  EXPECT_THAT(mapped.warnings[1].description,
              HasSubstr("40 hex characters (a SHA-1 digest's length)"));
  EXPECT_EQ(mapped.warnings[2].description, "email has no @");
}

// --- raw lists: countries, postal codes, cities, regions ---

TEST(UserCountriesTest, SendsAlpha3AsAlpha2) {
  MappedEvent mapped = MapWithUser(R"pb(countries: "USA")pb");
  EXPECT_EQ(UserJson(mapped)["countries"], nlohmann::json::array({"US"}));
  EXPECT_THAT(mapped.warnings, IsEmpty());
}

TEST(UserCountriesTest, DropsAnInvalidCountry) {
  MappedEvent mapped =
      MapWithUser(R"pb(countries: "Narnia" countries: "de")pb");
  EXPECT_EQ(UserJson(mapped)["countries"], nlohmann::json::array({"DE"}));
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.countries[0]", "DROPPED_INVALID")));
}

TEST(UserCountriesTest, DropsTheSameCountryGivenTwice) {
  MappedEvent mapped = MapWithUser(R"pb(countries: "usa" countries: "US")pb");
  EXPECT_EQ(UserJson(mapped)["countries"], nlohmann::json::array({"US"}));
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.countries[1]", "DROPPED_DUPLICATE")));
}

TEST(UserPostalCodesTest, DropsAPostalCodeWithBadCharacters) {
  MappedEvent mapped = MapWithUser(R"pb(postal_codes: "94107#"
                                        postal_codes: " 94107 ")pb");
  EXPECT_EQ(UserJson(mapped)["postal_codes"], nlohmann::json::array({"94107"}));
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.postal_codes[0]", "DROPPED_INVALID")));
}

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(UserCitiesTest, TruncatesACityTo128CodePoints) {
  v1::Event event = ValidEvent();
  event.mutable_user()->add_cities(Repeat("\xC3\xA9", 130));  // é x 130
  MappedEvent mapped = MapEvent(event, kNowMs);
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ(UserJson(mapped)["cities"],
            nlohmann::json::array({Repeat("\xC3\xA9", 128)}));
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.cities[0]", "TRUNCATED")));
}

TEST(UserCitiesTest, KeepsACityOf128CodePoints) {
  v1::Event event = ValidEvent();
  event.mutable_user()->add_cities(std::string(128, 'c'));
  MappedEvent mapped = MapEvent(event, kNowMs);
  EXPECT_EQ(UserJson(mapped)["cities"],
            nlohmann::json::array({std::string(128, 'c')}));
  EXPECT_THAT(mapped.warnings, IsEmpty());
}

TEST(UserCitiesTest, SendsTheCityTrimmedWithItsCase) {
  MappedEvent mapped = MapWithUser(R"pb(cities: "  San Francisco ")pb");
  EXPECT_EQ(UserJson(mapped)["cities"],
            nlohmann::json::array({"San Francisco"}));
}

TEST(UserCitiesTest, KeepsTheFirstThreeCities) {
  MappedEvent mapped =
      MapWithUser(R"pb(cities: "A" cities: "B" cities: "C" cities: "D")pb");
  EXPECT_EQ(UserJson(mapped)["cities"], nlohmann::json::array({"A", "B", "C"}));
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.cities[3]", "DROPPED_OVER_LIMIT")));
}

// The API lower-cases regions and cities (spec 5a), so values that differ
// only in case are one value to it: the first is sent, and a fourth
// distinct one still finds a place among the first 3.
TEST(UserCitiesTest, CitiesThatDifferOnlyInCaseAreOneCity) {
  MappedEvent mapped = MapWithUser(
      R"pb(cities: "San Francisco"
           cities: "SAN FRANCISCO"
           cities: "san francisco"
           cities: "Oakland"
           cities: "\xC3\x89vry"
           cities: "\xC3\xA9VRY")pb");
  EXPECT_EQ(UserJson(mapped)["cities"],
            nlohmann::json::array({"San Francisco", "Oakland", "\xC3\x89vry"}));
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.cities[1]", "DROPPED_DUPLICATE"),
                          Issue("user.cities[2]", "DROPPED_DUPLICATE"),
                          Issue("user.cities[5]", "DROPPED_DUPLICATE")));
}

TEST(UserRegionsTest, RegionsThatDifferOnlyInCaseAreOneRegion) {
  MappedEvent mapped = MapWithUser(
      R"pb(regions: "CA" regions: "ca" regions: "Ca" regions: "NY")pb");
  EXPECT_EQ(UserJson(mapped)["regions"], nlohmann::json::array({"CA", "NY"}));
}

// Postal codes and countries keep comparing exactly: the spec does not
// say the API lower-cases them (countries are upper-cased anyway).
TEST(UserRawListsTest, PostalCodesCompareWithTheirCase) {
  MappedEvent mapped = MapWithUser(R"pb(postal_codes: "SW1A 1AA"
                                        postal_codes: "sw1a 1aa")pb");
  EXPECT_EQ(UserJson(mapped)["postal_codes"],
            nlohmann::json::array({"SW1A 1AA", "sw1a 1aa"}));
}

TEST(UserRegionsTest, TruncatesARegionTo128CodePoints) {
  v1::Event event = ValidEvent();
  event.mutable_user()->add_regions(std::string(200, 'r'));
  MappedEvent mapped = MapEvent(event, kNowMs);
  EXPECT_EQ(UserJson(mapped)["regions"],
            nlohmann::json::array({std::string(128, 'r')}));
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.regions[0]", "TRUNCATED")));
}

TEST(UserRawListsTest, ReadsOnlyTheFirstThousandInputs) {
  v1::Event event = ValidEvent();
  for (int i = 0; i < 1000; ++i) event.mutable_user()->add_postal_codes("#");
  event.mutable_user()->add_postal_codes("94107");  // the 1,001st: not read
  MappedEvent mapped = MapEvent(event, kNowMs);
  EXPECT_TRUE(mapped.ok());
  EXPECT_THAT(mapped.warnings, ::testing::Contains(Issue(
                                   "user.postal_codes", "DROPPED_OVER_LIMIT")));
  EXPECT_FALSE(UserJson(mapped).contains("postal_codes"));
}

// --- raw scalars: IP, advertising id, obref, user agent ---

TEST(UserIpAddressTest, CanonicalisesIpv6) {
  MappedEvent mapped = MapWithUser(R"pb(ip_address: "2001:DB8:0:0:0:0:0:1")pb");
  EXPECT_EQ(UserJson(mapped)["ip_address"], "2001:db8::1");
}

TEST(UserIpAddressTest, DropsAnInvalidAddress) {
  MappedEvent mapped = MapWithUser(R"pb(ip_address: "203.0.113.256")pb");
  EXPECT_FALSE(ParseJson(mapped.wire_json).contains("user"));
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.ip_address", "DROPPED_INVALID")));
}

TEST(UserAdvertisingIdTest, DropsTheAllZeroId) {
  MappedEvent mapped = MapWithUser(
      R"pb(android_advertising_id: "00000000-0000-0000-0000-000000000000")pb");
  EXPECT_FALSE(ParseJson(mapped.wire_json).contains("user"));
  EXPECT_THAT(mapped.warnings, ElementsAre(Issue("user.android_advertising_id",
                                                 "DROPPED_INVALID")));
}

TEST(UserAdvertisingIdTest, SendsAValidIdLowerCased) {
  MappedEvent mapped = MapWithUser(
      R"pb(android_advertising_id: "38400000-8CF0-11BD-B23E-10B96E40000D")pb");
  EXPECT_EQ(UserJson(mapped)["android_advertising_id"],
            "38400000-8cf0-11bd-b23e-10b96e40000d");
}

TEST(UserObrefTest, SendsObrefUnchanged) {
  MappedEvent mapped = MapWithUser(R"pb(obref: " ob.1.AbC== ")pb");
  EXPECT_EQ(UserJson(mapped)["obref"], " ob.1.AbC== ");
}

TEST(UserObrefTest, DropsAnObrefThatIsAnEmailAddress) {
  MappedEvent mapped = MapWithUser(R"pb(obref: "Jane.Doe@example.com")pb");
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.obref", "DROPPED_INVALID")));
  EXPECT_THAT(mapped.warnings[0].description, Not(HasSubstr("Jane")));
  EXPECT_FALSE(ParseJson(mapped.wire_json).contains("user"));
}

TEST(UserObrefTest, DropsABlankObref) {
  MappedEvent mapped = MapWithUser(R"pb(obref: " \t")pb");
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.obref", "DROPPED_EMPTY")));
  EXPECT_FALSE(ParseJson(mapped.wire_json).contains("user"));
}

TEST(UserObrefTest, DropsAnObrefOver1024Bytes) {
  v1::Event event = ValidEvent();
  event.mutable_user()->set_obref(std::string(1025, 'o'));
  EXPECT_THAT(MapEvent(event, kNowMs).warnings,
              ElementsAre(Issue("user.obref", "DROPPED_INVALID")));
}

TEST(UserObrefTest, DropsAnObrefThatIsNotUtf8) {
  v1::Event event = ValidEvent();
  event.mutable_user()->set_obref("ob\xFF");
  EXPECT_THAT(MapEvent(event, kNowMs).warnings,
              ElementsAre(Issue("user.obref", "DROPPED_INVALID")));
}

TEST(UserUserAgentTest, SendsTheUserAgentRaw) {
  MappedEvent mapped =
      MapWithUser(R"pb(user_agent: "Mozilla/5.0 (X11; Linux) \"quoted\"")pb");
  EXPECT_EQ(UserJson(mapped)["user_agent"],
            "Mozilla/5.0 (X11; Linux) \"quoted\"");
}

TEST(UserUserAgentTest, KeepsAUserAgentOf2048Bytes) {
  v1::Event event = ValidEvent();
  event.mutable_user()->set_user_agent(std::string(2048, 'u'));
  MappedEvent mapped = MapEvent(event, kNowMs);
  EXPECT_THAT(mapped.warnings, IsEmpty());
  EXPECT_EQ(UserJson(mapped)["user_agent"], std::string(2048, 'u'));
}

TEST(UserUserAgentTest, DropsAUserAgentOver2048Bytes) {
  v1::Event event = ValidEvent();
  event.mutable_user()->set_user_agent(std::string(2049, 'u'));
  EXPECT_THAT(MapEvent(event, kNowMs).warnings,
              ElementsAre(Issue("user.user_agent", "DROPPED_INVALID")));
}

// Sent in clear, so an email address put there by mistake is dropped; a
// crawler's user agent that names a contact address is a user agent.
TEST(UserUserAgentTest, DropsAUserAgentThatIsAnEmailAddress) {
  MappedEvent mapped =
      MapWithUser(R"pb(user_agent: " Jane.Doe@example.com ")pb");
  EXPECT_FALSE(UserJson(mapped).contains("user_agent"));
  EXPECT_THAT(mapped.warnings,
              ElementsAre(Issue("user.user_agent", "DROPPED_INVALID")));
  EXPECT_THAT(mapped.warnings[0].description, Not(HasSubstr("Jane")));

  mapped = MapWithUser(
      R"pb(user_agent: "ExampleBot/1.0 (+mailto:crawler@example.com)")pb");
  EXPECT_EQ(UserJson(mapped)["user_agent"],
            "ExampleBot/1.0 (+mailto:crawler@example.com)");
  EXPECT_THAT(mapped.warnings, IsEmpty());
}

// --- the user object as a whole ---

TEST(UserObjectTest, OmitsAnEmptyUser) {
  v1::Event event = ValidEvent();
  event.mutable_user();
  EXPECT_FALSE(MapToJson(event).contains("user"));
}

TEST(UserObjectTest, OmitsAUserWhoseValuesWereAllDropped) {
  MappedEvent mapped = MapWithUser(
      R"pb(
        emails: "x" phone_numbers: "1" countries: "ZZ" ip_address: "x"
      )pb");
  EXPECT_FALSE(ParseJson(mapped.wire_json).contains("user"));
  EXPECT_EQ(mapped.warnings.size(), 4u);
}

TEST(UserObjectTest, WritesEveryFieldInAFixedOrder) {
  const std::string d1(64, '1'), d2(64, '2'), d3(64, '3'), d4(64, '4'),
      d5(64, '5');
  v1::Event event = ValidEvent();
  v1::UserData* u = event.mutable_user();
  // Set in reverse order: the output order must not depend on it.
  u->set_user_agent("UA");
  u->set_ip_address("192.0.2.1");
  u->set_obref("OB");
  u->set_android_advertising_id("38400000-8cf0-11bd-b23e-10b96e40000d");
  u->add_countries("FR");
  u->add_cities("Paris");
  u->add_postal_codes("75001");
  u->add_regions("IDF");
  u->add_last_names_sha256(d5);
  u->add_first_names_sha256(d4);
  u->add_external_ids_sha256(d3);
  u->add_phone_numbers_sha256(d2);
  u->add_emails_sha256(d1);
  MappedEvent mapped = MapEvent(event, kNowMs);
  ASSERT_TRUE(mapped.ok());
  EXPECT_THAT(
      mapped.wire_json,
      HasSubstr(
          R"("user":{"emails_sha256":[")" + d1 +
          R"("],"phone_numbers_sha256":[")" + d2 +
          R"("],"external_ids_sha256":[")" + d3 +
          R"("],"first_names_sha256":[")" + d4 +
          R"("],"last_names_sha256":[")" + d5 +
          R"("],"regions":["IDF"],"postal_codes":["75001"],)"
          R"("cities":["Paris"],"countries":["FR"],)"
          R"("android_advertising_id":"38400000-8cf0-11bd-b23e-10b96e40000d",)"
          R"("obref":"OB","ip_address":"192.0.2.1","user_agent":"UA"},)"));
}

// Warnings go back to clients and into logs: they name the field, never the
// value. Each input here is distinctive so that any leak shows.
TEST(UserWarningsTest, NeverQuoteTheDroppedValue) {
  const std::vector<std::string> secrets = {
      "secret.person.no.at.sign",
      "+1 (999) 12",
      "Zebulon'''",
      "'''",
      "SECRET#POSTAL",
      "Narnia",
      "999.888.777.666",
      "00000000-0000-0000-0000-000000000000",
      "Atlantis\x01",
      "zz-not-a-digest-zz",
  };
  v1::Event event = ValidEvent();
  v1::UserData* u = event.mutable_user();
  u->add_emails(secrets[0]);
  u->add_phone_numbers(secrets[1]);
  u->add_first_names(secrets[3]);
  u->add_postal_codes(secrets[4]);
  u->add_countries(secrets[5]);
  u->set_ip_address(secrets[6]);
  u->set_android_advertising_id(secrets[7]);
  u->add_cities(secrets[8]);
  u->add_emails_sha256(secrets[9]);
  u->add_external_ids("cust-42");
  u->add_external_ids(" cust-42 ");  // duplicate
  MappedEvent mapped = MapEvent(event, kNowMs);
  ASSERT_TRUE(mapped.ok());
  ASSERT_EQ(mapped.warnings.size(), 10u);
  for (const FieldIssue& w : mapped.warnings) {
    for (const std::string& secret :
         {secrets[0], secrets[1], std::string("Zebulon"), secrets[4],
          secrets[5], secrets[6], secrets[8], std::string("Atlantis"),
          secrets[9], std::string("cust-42")}) {
      EXPECT_THAT(w.field, Not(HasSubstr(secret)));
      EXPECT_THAT(w.description, Not(HasSubstr(secret)));
    }
  }
}

TEST(UserWarningsTest, NeverSendClearIdentifiers) {
  MappedEvent mapped = MapWithUser(R"pb(
    emails: "Hidden.Person@example.com"
    phone_numbers: "+1 (415) 555-0199"
    external_ids: "cust-hidden-77"
    first_names: "Hiddenfirst"
    last_names: "Hiddenlast"
  )pb");
  ASSERT_TRUE(mapped.ok());
  for (const char* clear : {"hidden.person", "Hidden.Person", "4155550199",
                            "555-0199", "cust-hidden-77", "hiddenfirst",
                            "Hiddenfirst", "hiddenlast", "Hiddenlast"}) {
    EXPECT_THAT(mapped.wire_json, Not(HasSubstr(clear)));
  }
  EXPECT_EQ(UserJson(mapped).size(), 5u);
}

TEST(UserWarningsTest, NameTheFieldAndIndex) {
  MappedEvent mapped = MapWithUser(R"pb(
    phone_numbers: "+1 (415) 555-2671"
    phone_numbers: "123"
  )pb");
  ASSERT_THAT(mapped.warnings,
              ElementsAre(Issue("user.phone_numbers[1]", "DROPPED_INVALID")));
  EXPECT_FALSE(mapped.warnings[0].description.empty());
}

TEST(EventMapperUserTest, PassesThroughADigestPaddedWithNonAsciiWhiteSpace) {
  // U+00A0 (NBSP) around a digest in a clear list: still a digest, not an
  // external id to hash again.
  MappedEvent mapped = MapWithUser(std::string("external_ids: \"\u00a0") +
                                   kUserEmailHashUpper + "\u00a0\"");
  EXPECT_EQ(UserJson(mapped)["external_ids_sha256"][0], kUserEmailHash);
}

}  // namespace
}  // namespace conversions::mapping
