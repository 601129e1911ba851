#include "mapping/sha256.h"

#include <gtest/gtest.h>

#include <string>

namespace conversions::mapping {
namespace {

// FIPS 180-2 examples, checked with sha256sum.
TEST(Sha256HexTest, HashesTheEmptyString) {
  EXPECT_EQ(ToString(Sha256Hex("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256HexTest, HashesAbc) {
  EXPECT_EQ(ToString(Sha256Hex("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256HexTest, HashesATwoBlockMessage) {
  EXPECT_EQ(ToString(Sha256Hex(
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256HexTest, HashesAMillionBytes) {
  EXPECT_EQ(ToString(Sha256Hex(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256HexTest, HashesEmbeddedNulBytes) {
  // printf 'a\0b' | sha256sum
  EXPECT_EQ(ToString(Sha256Hex(std::string("a\0b", 3))),
            "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138");
}

TEST(Sha256Test, HexIsTheDigestInLowerCase) {
  Sha256Digest digest = Sha256("abc");
  EXPECT_EQ(digest[0], 0xba);
  EXPECT_EQ(digest[31], 0xad);
}

TEST(IsSha256HexTest, AcceptsSixtyFourHexCharactersOfEitherCase) {
  EXPECT_TRUE(IsSha256Hex(
      "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514"));
  EXPECT_TRUE(IsSha256Hex(
      "B4C9A289323B21A01C3E940F150EB9B8C542587F1ABFD8F0E1CC1FFC5E475514"));
  EXPECT_TRUE(IsSha256Hex(std::string(64, '0')));
}

TEST(IsSha256HexTest, RejectsWrongLengths) {
  EXPECT_FALSE(IsSha256Hex(""));
  EXPECT_FALSE(IsSha256Hex(std::string(63, 'a')));
  EXPECT_FALSE(IsSha256Hex(std::string(65, 'a')));
}

TEST(IsSha256HexTest, RejectsNonHexCharacters) {
  std::string value(64, 'a');
  value[10] = 'g';
  EXPECT_FALSE(IsSha256Hex(value));
  value[10] = ' ';
  EXPECT_FALSE(IsSha256Hex(value));
  value[10] = 'A';
  EXPECT_TRUE(IsSha256Hex(value));
}

TEST(LowerHexTest, LowerCasesAnUpperCaseDigest) {
  EXPECT_EQ(
      ToString(LowerHex(
          "B4C9A289323B21A01C3E940F150EB9B8C542587F1ABFD8F0E1CC1FFC5E475514")),
      "b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514");
}

}  // namespace
}  // namespace conversions::mapping
