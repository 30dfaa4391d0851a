#include "tokens/utf8_replacement.h"

#include <gtest/gtest.h>

#include <string>

namespace chatstore::tokens_internal {
namespace {

constexpr char kFffd[] = "\xEF\xBF\xBD";

std::string Replaced(std::string_view text) {
  const std::string out = ReplaceInvalidUtf8(text);
  // Whatever goes in, what comes out is valid, and stable.
  EXPECT_TRUE(IsValidUtf8(out));
  EXPECT_EQ(ReplaceInvalidUtf8(out), out);
  return out;
}

TEST(Utf8ReplacementTest, ValidTextIsUnchanged) {
  for (std::string_view text :
       {"", "plain ascii", "h\xC3\xA9llo", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
        "\xF4\x8F\xBF\xBF",
        "\xEF\xBB\xBF"
        "bom",
        "\xED\x9F\xBF"}) {
    EXPECT_TRUE(IsValidUtf8(text)) << text;
    EXPECT_EQ(ReplaceInvalidUtf8(text), text);
  }
  EXPECT_TRUE(IsValidUtf8(std::string_view("a\0b", 3)));
}

// Expectations follow the WHATWG decoder (and Unicode's U+FFFD best
// practice, table 3-8 of the Unicode Standard): one U+FFFD per maximal
// subpart, and the byte that ended a subpart is decoded afresh.
TEST(Utf8ReplacementTest, EachMaximalSubpartBecomesOneReplacement) {
  const std::string r = kFffd;
  EXPECT_EQ(Replaced("\xFF"), r);
  EXPECT_EQ(Replaced("a\x80"
                     "b"),
            "a" + r + "b");
  EXPECT_EQ(Replaced("\x80\x80"), r + r);
  EXPECT_EQ(Replaced("\xC3"), r);      // truncated at end
  EXPECT_EQ(Replaced("\xE2\x82"), r);  // one subpart
  EXPECT_EQ(Replaced("\xE2\x82"
                     "a"),
            r + "a");
  EXPECT_EQ(Replaced("\xF0\x9F\x98"), r);
  EXPECT_EQ(Replaced("\xC0\xAF"), r + r);                  // C0 never leads
  EXPECT_EQ(Replaced("\xE0\x80\xAF"), r + r + r);          // overlong: E0 80
  EXPECT_EQ(Replaced("\xED\xA0\x80"), r + r + r);          // surrogate: ED A0
  EXPECT_EQ(Replaced("\xF4\x90\x80\x80"), r + r + r + r);  // > U+10FFFF
  EXPECT_EQ(Replaced("\xF8\x88\x80\x80\x80"), r + r + r + r + r);
  EXPECT_EQ(Replaced("\xE2\x82\xE2\x82\xAC"), r + "\xE2\x82\xAC");
  // The example of the Unicode Standard, section 3.9 (U+FFFD substitution).
  EXPECT_EQ(Replaced("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a" + r + r + r + "b" + r + "c" + r + r + "d");
}

}  // namespace
}  // namespace chatstore::tokens_internal
