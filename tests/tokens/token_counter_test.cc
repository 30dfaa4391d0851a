// Token counts and ids must equal the tiktoken npm package's. The reference
// test writes the corpus to a file, runs tests/tokens/tiktoken_reference.mjs
// under node on it (every run: nothing is cached), and compares both
// encodings' token ids case by case. A missing node or package fails the
// test; it never skips.
#include "tokens/token_counter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace chatstore {
namespace {

struct CorpusCase {
  std::string name;
  std::string bytes;  // UTF-8, or deliberately not
};

std::string Repeat(std::string_view unit, int times) {
  std::string out;
  out.reserve(unit.size() * times);
  for (int i = 0; i < times; ++i) out += unit;
  return out;
}

// Deterministic pseudo-random text over an alphabet chosen to exercise every
// branch of both patterns: letters of several cases and scripts, digits,
// punctuation, apostrophes, every kind of whitespace, emoji and invalid bytes.
std::string RandomText(std::mt19937& rng, std::size_t max_units) {
  static const std::vector<std::string> kUnits = {
      "a",        "b",      "e",        "s",
      "t",        "Z",      "Q",        "I",
      "L",        "'",      "'",        "'s",
      "'LL",      "'re",    "0",        "1",
      "9",        "42",     " ",        " ",
      " ",        "  ",     "\t",       "\n",
      "\r\n",     "\r",     "\n\n",     ".",
      ",",        "!",      "?",        "/",
      "-",        "_",      "(",        ")",
      "{",        "}",      "\"",       "<|",
      "|>",       "é",      "ß",        "Ω",
      "ж",        "日",     "本",       "한",
      "ع",        "न",      "्",         "\u0301",
      "\u00A0",   "\u3000", "\u2028",   "\u180E",
      "\u200B",   "😀",      "👍🏽", "‍",
      "\xff",     "\x80",   "\xe2\x82", "\xed\xa0\x80",
      "\xf0\x9f", "ǅ",      "ʰ",        "Ⅻ",
      "½",        "٣"};
  const std::size_t length = rng() % (max_units + 1);
  std::string out;
  for (std::size_t i = 0; i < length; ++i) out += kUnits[rng() % kUnits.size()];
  return out;
}

std::vector<CorpusCase> BuildCorpus() {
  std::vector<CorpusCase> corpus = {
      {"empty", ""},
      {"english",
       "The quick brown fox jumps over the lazy dog. It wasn't the first "
       "time: the dog had seen foxes before, and—frankly—it didn't care.\n\n"
       "Chat stores keep every message durably; a dropped connection never "
       "loses an event. Dr. Smith's 3rd report (v2.1) cost $1,234.56!"},
      {"cpp_code",
       "#include <vector>\n\nnamespace chatstore {\n\n// Returns the sum.\n"
       "template <typename T>\nT Sum(const std::vector<T>& values) {\n"
       "  T total{};\n  for (const T& v : values) total += v;\n"
       "  return total;  // NOLINT\n}\n\n}  // namespace chatstore\n"},
      {"python_code",
       "def count_tokens(messages, limit=8192):\n    total = 0\n"
       "    for m in messages:\n        if m['role'] == 'system':\n"
       "            continue\n\n        total += len(m[\"content\"])\n"
       "\tif total > limit:\n\t\treturn None\n    return total\n"},
      {"markdown_json",
       "# Title\n\n- item 1\n- item **bold** and _it_\n\n```json\n"
       "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}\n```\n"
       "https://example.com/path?q=1&r=2#frag user@example.com"},
      {"emoji",
       "👍 👍🏽 👍🏿 "
       "👨‍👩‍👧‍👦 "
       "🏳️‍🌈 "
       "🤷🏽‍♀️ "
       "🇯🇵🇫🇷 "
       "❤️ ✨🎉🚀 "
       "😀😃😄 🧑🏻‍💻"},
      {"cjk",
       "日本語のテキストです。中文文本，简体与繁體。한국어 텍스트입니다."},
      {"arabic_hindi", "مرحبا بالعالم، كيف حالك؟ नमस्ते दुनिया, आप कैसे हैं? ١٢٣ ४५६"},
      {"other_scripts",
       "Привет, мир! Γειά σου κόσμε. שלום עולם. สวัสดีชาวโลก Ǆemal ǅemal "
       "e\u0301te\u0301 ﬁne Ⅻ ½ ²³"},
      {"whitespace_runs",
       "a  b   c\t\td\n\n\ne \r\n f\r\r\n  \n  g \t \n\t\nh   \n"},
      {"trailing_spaces", "end of line   \nnext line\t\t\nlast   "},
      {"only_spaces", "     "},
      {"only_newlines", "\n\n\n\r\n\r\n"},
      {"unicode_spaces",
       "a\u00A0b\u2000c\u3000d\u2028e\u2029f\u0085g\u180Eh\u200Bi\u202Fj "
       "\u180E \u180E\u180E"},
      {"bom_and_zero_width", "\xEF\xBB\xBFstart \uFEFFmid\u200D\u2060x"},
      {"numbers",
       "1234567890123456789 3.14159 -42 1e10 0x1F 1,000,000 ٣٤٥ 12th 007"},
      {"contractions",
       "I'LL I'll they're THEY'RE We'Ve don't DON'T it's IT'S I'M you'd "
       "YOU'D she'S 's 'T x'll ſ's 'ſ HELLO'S world'S Ol'Man"},
      {"special_token_text",
       "<|endoftext|> <|fim_prefix|>a<|fim_middle|>b<|fim_suffix|> "
       "<|endofprompt|><|im_start|>"},
      {"long_a", Repeat("a", 10000)},
      {"long_spaces", Repeat(" ", 5000)},
      {"long_spaces_then_word", Repeat(" ", 5000) + "word"},
      {"long_bang", Repeat("!", 3000)},
      {"long_newlines", Repeat("\n", 2000)},
      {"long_ab", Repeat("ab", 4000)},
      {"long_digits", Repeat("1234567890", 1000)},
      {"long_accented", Repeat("é", 1000)},
      {"long_cjk", Repeat("日", 600)},
      {"long_emoji", Repeat("😀", 500)},
      {"long_mixed_word", Repeat("Supercalifragilistic", 200)},
      {"invalid_lone_ff", "\xff"},
      {"invalid_continuation",
       "abc\x80"
       "def"},
      {"invalid_truncated_2", "\xc3"},
      {"invalid_truncated_3", "x\xe2\x82y"},
      {"invalid_surrogate", "\xed\xa0\x80\xed\xbf\xbf"},
      {"invalid_truncated_emoji", "\xf0\x9f\x98 ok"},
      {"invalid_overlong", "\xc0\xaf\xe0\x80\xaf\xf0\x80\x80\xaf"},
      {"invalid_past_max", "\xf4\x90\x80\x80"},
      {"invalid_five_byte", "\xf8\x88\x80\x80\x80"},
      {"invalid_mixed",
       "h\xc3\xa9llo\xe9 w\xc3\xb6rld\xff\xfe  \x80\x80\x80 end\xe2\x82"},
      {"nul_bytes", std::string("a\0b\0\0c", 6)},
  };
  std::mt19937 rng(20261122);
  for (int i = 0; i < 300; ++i) {
    corpus.push_back({"random_" + std::to_string(i), RandomText(rng, 60)});
  }
  return corpus;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// Token ids per (case index, encoding name), as tiktoken gave them.
using Reference = std::map<std::pair<int, std::string>, std::vector<uint32_t>>;

// Runs the node reference on `corpus`. Fails the current test (and returns
// an empty map) if node, the package or the script is unusable.
Reference RunTiktoken(const std::vector<CorpusCase>& corpus) {
  // Per-process names: release and sanitizer runs may share a temp dir.
  const std::string prefix =
      ::testing::TempDir() + "/chatstore_tokens_" + std::to_string(getpid());
  const std::string cases_path = prefix + "_corpus.txt";
  const std::string output_path = prefix + "_reference.txt";
  {
    std::ofstream cases(cases_path, std::ios::trunc);
    for (const CorpusCase& c : corpus)
      cases << c.name << '\t' << Hex(c.bytes) << '\n';
  }
  const std::string command = std::string("'") + CHATSTORE_NODE_EXECUTABLE +
                              "' '" + CHATSTORE_TIKTOKEN_REFERENCE_SCRIPT +
                              "' '" + CHATSTORE_TIKTOKEN_DIR + "' '" +
                              cases_path + "' > '" + output_path + "'";
  const int status = std::system(command.c_str());
  if (status != 0) {
    ADD_FAILURE() << "the tiktoken reference failed (status " << status
                  << "): " << command
                  << "\nIt needs node and the tiktoken package: run "
                     "scripts/fetch-token-ranks.sh";
    return {};
  }
  Reference reference;
  std::ifstream output(output_path);
  std::string line;
  while (std::getline(output, line)) {
    std::istringstream fields(line);
    int index;
    std::string encoding;
    std::size_t count;
    fields >> index >> encoding >> count;
    std::vector<uint32_t>& ids = reference[{index, encoding}];
    uint32_t id;
    while (fields >> id) ids.push_back(id);
    EXPECT_EQ(ids.size(), count) << line;
  }
  std::remove(cases_path.c_str());
  std::remove(output_path.c_str());
  return reference;
}

TEST(TokenCounterReferenceTest, CountsAndIdsEqualTiktokenNpmPackage) {
  const std::vector<CorpusCase> corpus = BuildCorpus();
  const Reference reference = RunTiktoken(corpus);
  ASSERT_EQ(reference.size(), 2 * corpus.size())
      << "the reference did not answer for every case";
  std::size_t total_tokens = 0;
  for (Encoding encoding : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
    const TokenCounter& counter = TokenCounter::Get(encoding);
    const std::string name(EncodingName(encoding));
    for (int i = 0; i < static_cast<int>(corpus.size()); ++i) {
      SCOPED_TRACE(name + " / " + corpus[i].name);
      const std::vector<uint32_t>& expected = reference.at({i, name});
      EXPECT_EQ(counter.Count(corpus[i].bytes), expected.size());
      EXPECT_EQ(counter.Encode(corpus[i].bytes), expected);
      total_tokens += expected.size();
    }
  }
  EXPECT_GT(total_tokens, 20000u);  // the corpus really was compared
}

TEST(TokenCounterTest, ParsesEncodingNames) {
  Result<Encoding> cl100k = ParseEncoding("cl100k_base");
  ASSERT_TRUE(cl100k.ok());
  EXPECT_EQ(*cl100k, Encoding::kCl100kBase);
  Result<Encoding> o200k = ParseEncoding("o200k_base");
  ASSERT_TRUE(o200k.ok());
  EXPECT_EQ(*o200k, Encoding::kO200kBase);
  for (std::string_view bad : {"", "CL100K_BASE", "p50k_base", "cl100k"}) {
    Result<Encoding> parsed = ParseEncoding(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), Status::Code::kInvalidArgument);
  }
  EXPECT_EQ(EncodingName(Encoding::kCl100kBase), "cl100k_base");
  EXPECT_EQ(EncodingName(Encoding::kO200kBase), "o200k_base");
}

TEST(TokenCounterTest, GetReturnsOneCounterPerEncoding) {
  const TokenCounter& a = TokenCounter::Get(Encoding::kCl100kBase);
  const TokenCounter& b = TokenCounter::Get(Encoding::kCl100kBase);
  const TokenCounter& c = TokenCounter::Get(Encoding::kO200kBase);
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  EXPECT_EQ(a.encoding(), Encoding::kCl100kBase);
  EXPECT_EQ(c.encoding(), Encoding::kO200kBase);
}

TEST(TokenCounterTest, KnownCountsWithoutNode) {
  // Pinned values from tiktoken, so a broken reference run cannot hide a
  // regression behind a comparison with nothing.
  const TokenCounter& cl100k = TokenCounter::Get(Encoding::kCl100kBase);
  EXPECT_EQ(cl100k.Count(""), 0u);
  EXPECT_EQ(cl100k.Encode("hello world"), (std::vector<uint32_t>{15339, 1917}));
  EXPECT_EQ(cl100k.Count("<|endoftext|>"), 7u);
  const TokenCounter& o200k = TokenCounter::Get(Encoding::kO200kBase);
  EXPECT_EQ(o200k.Encode("hello world"), (std::vector<uint32_t>{24912, 2375}));
}

TEST(TokenCounterTest, LongRunsCountAndMatchEncode) {
  // 64 KiB of one character is a single piece: tiktoken's quadratic merge
  // takes seconds on it, the heap merge milliseconds. Count and Encode take
  // different code paths at the end.
  for (Encoding encoding : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
    const TokenCounter& counter = TokenCounter::Get(encoding);
    for (const std::string& text :
         {Repeat("a", 1 << 16), Repeat(" ", 1 << 16), Repeat("!", 1 << 16),
          Repeat("ab1 ", 1 << 14)}) {
      const std::size_t count = counter.Count(text);
      EXPECT_GT(count, 0u);
      EXPECT_LT(count, text.size());
      EXPECT_EQ(counter.Encode(text).size(), count);
    }
  }
}

TEST(TokenCounterTest, ConcurrentCountsEqualSequentialOnes) {
  const std::vector<CorpusCase> corpus = BuildCorpus();
  std::vector<std::size_t> expected[2];
  for (int e = 0; e < 2; ++e) {
    const TokenCounter& counter = TokenCounter::Get(
        e == 0 ? Encoding::kCl100kBase : Encoding::kO200kBase);
    for (const CorpusCase& c : corpus)
      expected[e].push_back(counter.Count(c.bytes));
  }
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (int e = 0; e < 2; ++e) {
          const TokenCounter& counter = TokenCounter::Get(
              (e + t) % 2 == 0 ? Encoding::kCl100kBase : Encoding::kO200kBase);
          const int slot = (e + t) % 2;
          for (std::size_t i = 0; i < corpus.size(); ++i) {
            if (counter.Count(corpus[i].bytes) != expected[slot][i]) {
              ++mismatches[t];
            }
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace chatstore
