#include "lantoa/encoding.h"

#include <gtest/gtest.h>

namespace lantoa {
namespace {

TEST(Hex, RoundTrip) {
  std::string bytes("\x00\x01\xab\xff", 4);
  EXPECT_EQ(to_hex(bytes), "0001abff");
  EXPECT_EQ(from_hex("0001abff"), bytes);
  EXPECT_EQ(from_hex("0001ABFF"), bytes);
}

TEST(Hex, RejectsBadText) {
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
  EXPECT_FALSE(from_hex("ab cd"));
}

TEST(Base64Url, RoundTripWithoutPadding) {
  std::string key(32, '\xfb');
  std::string text = to_base64url(key);
  EXPECT_EQ(text.size(), 43u);
  EXPECT_EQ(text.find_first_of("+/="), std::string::npos);
  EXPECT_EQ(from_base64url(text), key);
  EXPECT_EQ(to_base64url("hi"), "aGk");
}

TEST(Base64Url, RejectsStandardAlphabetAndGarbage) {
  EXPECT_FALSE(from_base64url("+/+/"));
  EXPECT_FALSE(from_base64url("aGk="));
  EXPECT_FALSE(from_base64url("not base64!"));
}

TEST(Z85, EncodesRfc32Example) {
  // ZeroMQ RFC 32's test vector: 8 bytes -> "HelloWorld". Keys are 32 bytes,
  // so check the length and alphabet on a key, and the vector's prefix.
  std::string key("\x86\x4F\xD2\x6F\xB5\x59\xF7\x5B", 8);
  key.append(24, '\0');
  std::string z = to_z85(key);
  EXPECT_EQ(z.size(), 40u);
  EXPECT_EQ(z.substr(0, 10), "HelloWorld");
  EXPECT_EQ(to_z85("short"), "");
}

TEST(Utf8, AcceptsVietnameseInBothNormalForms) {
  EXPECT_TRUE(is_valid_utf8("Thủ tướng Chính phủ"));               // NFC
  EXPECT_TRUE(is_valid_utf8("Thu\xcc\x89 tu\xcc\x9bo\xcc\x9b\xcc\x81ng"));  // NFD
  EXPECT_TRUE(is_valid_utf8("国务院 \xf0\x9f\x93\xb0"));
  EXPECT_TRUE(is_valid_utf8(""));
}

TEST(Utf8, RejectsMalformedSequences) {
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc3"));              // truncated
  EXPECT_FALSE(is_valid_utf8("abc\xe1\xbb"));       // truncated at end
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\x80"));              // lone continuation
}

TEST(Utf8, CountsCodePoints) {
  EXPECT_EQ(utf8_length("Thủ tướng"), 9u);
  EXPECT_EQ(utf8_length("abc"), 3u);
}

}  // namespace
}  // namespace lantoa

TEST(Time, ParsesRfc3339WithOffsetsAndRejectsJunk) {
  const int64_t utc = 1795856400000;  // 2026-11-28T09:00:00Z
  EXPECT_EQ(lantoa::format_time_ms(utc), "2026-11-28T09:00:00Z");
  EXPECT_EQ(lantoa::parse_time_ms("2026-11-28T09:00:00Z"), utc);
  EXPECT_EQ(lantoa::parse_time_ms("2026-11-28T16:00:00+07:00"), utc);
  EXPECT_EQ(lantoa::parse_time_ms("2026-11-28T04:00:00-0500"), utc);
  EXPECT_EQ(lantoa::parse_time_ms("2026-11-28T09:00:00.250Z"), utc + 250);
  EXPECT_EQ(lantoa::parse_time_ms("2026-11-28"), utc - 9 * 3600 * 1000);
  EXPECT_FALSE(lantoa::parse_time_ms("2026-11-28T09:00:00+25:00"));
  EXPECT_FALSE(lantoa::parse_time_ms("28/11/2026"));
  EXPECT_FALSE(lantoa::parse_time_ms("2026-11-28T09:00:00Z trailing"));
}
