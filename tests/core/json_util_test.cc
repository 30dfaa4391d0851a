#include "core/json_util.h"

#include <gtest/gtest.h>

#include <charconv>
#include <string>

namespace chatstore::json {
namespace {

boost::json::value V(std::string_view s) { return boost::json::parse(s); }

// RFC 7396 appendix A, every row.
TEST(MergePatchTest, Rfc7396Examples) {
  struct Case {
    const char* target;
    const char* patch;
    const char* result;
  };
  const Case cases[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})",
       R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
      {R"({"a":"b"})", R"(["c"])", R"(["c"])"},
      {R"({"a":"foo"})", "null", "null"},
      {R"({"a":"foo"})", R"("bar")", R"("bar")"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const Case& c : cases) {
    boost::json::value target = V(c.target);
    MergePatch(target, V(c.patch));
    EXPECT_EQ(target, V(c.result)) << c.target << " + " << c.patch;
  }
}

TEST(ParseTest, RejectsMalformedJsonNamingTheField) {
  auto r = Parse("{\"a\":", 8, "metadata");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("metadata"), std::string::npos);
}

TEST(ParseTest, RejectsTooDeep) {
  std::string deep(40, '[');
  deep += std::string(40, ']');
  auto r = Parse(deep, 32, "data");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnprocessable);
  EXPECT_TRUE(Parse(std::string(32, '[') + std::string(32, ']'), 32, "d").ok());
  // Far beyond the limit must fail the same way, without deep recursion.
  std::string very_deep(100000, '[');
  EXPECT_FALSE(Parse(very_deep, 32, "d").ok());
}

TEST(ParseTest, RejectsInvalidUtf8) {
  EXPECT_FALSE(Parse("\"\xff\"", 8, "x").ok());
  EXPECT_FALSE(ParseObject("[1]", 8, "x").ok());
  EXPECT_TRUE(ParseObject("{\"k\":\"\xc3\xa9\"}", 8, "x").ok());
}

// Doubles are rounded correctly, so what chatstore stores survives any
// number of write/read cycles unchanged. The first input is the one the
// merge_patch fuzzer found: Boost.JSON 1.81 reads it 1 ulp off, which made
// it serialize as 3E68 and read back as a different double.
TEST(ParseTest, NumbersAreRoundedCorrectlyAndRoundTrip) {
  const std::string inputs[] = {
      "2" + std::string(68, '9'),
      "0.1",
      "2.2250738585072011e-308",
      "4.9406564584124654e-324",
      "1.7976931348623157e308",
      "9007199254740993.0",
      "123456789012345678901234567890e-10",
      "-0.30000000000000004",
  };
  for (const std::string& text : inputs) {
    auto parsed = Parse(text, 4, "n");
    ASSERT_TRUE(parsed.ok()) << text;
    ASSERT_TRUE(parsed->is_double()) << text;
    double expected = 0;
    std::from_chars(text.data(), text.data() + text.size(), expected);
    EXPECT_EQ(parsed->as_double(), expected) << text;
    const std::string once = Serialize(*parsed);
    auto again = Parse(once, 4, "n");
    ASSERT_TRUE(again.ok()) << once;
    EXPECT_EQ(again->as_double(), expected) << text << " -> " << once;
    EXPECT_EQ(Serialize(*again), once) << text;
  }
  // Inside documents too, and integers stay integers.
  auto doc =
      Parse(R"({"a":[1e-7,0.1,{"b":2.5e+3}],"i":-42,"u":18446744073709551615})",
            8, "doc");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->at("a").at(1).as_double(), 0.1);
  EXPECT_EQ(doc->at("a").at(2).at("b").as_double(), 2500.0);
  EXPECT_EQ(doc->at("i").as_int64(), -42);
  EXPECT_EQ(doc->at("u").as_uint64(), 18446744073709551615ull);
  // The parser's other answers are unchanged: trailing data, truncation.
  EXPECT_FALSE(Parse("1.5 2", 4, "n").ok());
  EXPECT_FALSE(Parse("1.5e", 4, "n").ok());
  EXPECT_TRUE(Parse(" 1.5 ", 4, "n").ok());
}

TEST(Utf8Test, ValidatesStrictly) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(
      IsValidUtf8("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));              // stray continuation
}

TEST(SerializeTest, IsOneLine) {
  const std::string s = Serialize(V("{\"a\": \"x\\ny\",\n \"b\": [1, 2]}"));
  EXPECT_EQ(s.find('\n'), std::string::npos);
  EXPECT_EQ(s, R"({"a":"x\ny","b":[1,2]})");
}

}  // namespace
}  // namespace chatstore::json
