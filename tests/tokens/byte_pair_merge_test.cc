#include "tokens/byte_pair_merge.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tokens/encoding_tables.h"
#include "tokens/pretokenizer.h"
#include "tokens/rank_table.h"

namespace chatstore::tokens_internal {
namespace {

TEST(RankTableTest, EveryTokenRoundTrips) {
  for (const EncodingTables* tables : {&kCl100kBaseTables, &kO200kBaseTables}) {
    const RankTable ranks(*tables);
    ASSERT_GT(ranks.token_count(), 100000u);
    for (Rank rank = 0; rank < ranks.token_count(); ++rank) {
      ASSERT_EQ(ranks.Find(ranks.TokenBytes(rank)), rank) << tables->name;
    }
    for (int b = 0; b < 256; ++b) {
      EXPECT_NE(ranks.ByteRank(static_cast<unsigned char>(b)), kNoRank);
    }
    for (int pair = 0; pair < 65536; ++pair) {
      const unsigned char bytes[2] = {static_cast<unsigned char>(pair >> 8),
                                      static_cast<unsigned char>(pair & 255)};
      ASSERT_EQ(ranks.PairRank(bytes), ranks.Find(bytes, 2)) << pair;
    }
    EXPECT_EQ(ranks.Find("this is surely not one token"), kNoRank);
  }
}

// The scan (short pieces) and the heap (long pieces) must split every piece
// the same way; compare them on pieces both can take.
TEST(BytePairMergeTest, ScanAndHeapMergesAgree) {
  const RankTable ranks(kCl100kBaseTables);
  const RankTable o200k_ranks(kO200kBaseTables);
  const std::string alphabet[] = {"a",  "b",        "e",
                                  "r",  " ",        "  ",
                                  "!",  "=",        "\n",
                                  "1",  "\xC3\xA9", "\xE6\x97\xA5",
                                  "th", "ing",      "\xF0\x9F\x98\x80"};
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string piece;
    const std::size_t units = 1 + rng() % 60;
    for (std::size_t u = 0; u < units && piece.size() < kLongPieceBytes - 4;
         ++u) {
      piece += alphabet[rng() % std::size(alphabet)];
    }
    EXPECT_EQ(MergeByScanForTest(ranks, piece),
              MergeByHeapForTest(ranks, piece))
        << piece;
    EXPECT_EQ(MergeByScanForTest(o200k_ranks, piece),
              MergeByHeapForTest(o200k_ranks, piece))
        << piece;
  }
}

TEST(BytePairMergeTest, CountMatchesEncodeAcrossTheLengthThreshold) {
  const RankTable ranks(kCl100kBaseTables);
  for (std::size_t n = 1; n < 3 * kLongPieceBytes; n += 7) {
    for (std::string_view unit : {"a", "ab", "!?", "\xC3\xA9"}) {
      std::string piece;
      while (piece.size() < n) piece += unit;
      std::vector<Rank> tokens;
      EncodePiece(ranks, piece, &tokens);
      EXPECT_EQ(CountPieceTokens(ranks, piece), tokens.size()) << piece;
      std::string joined;
      for (Rank t : tokens) joined += ranks.TokenBytes(t);
      EXPECT_EQ(joined, piece);
    }
  }
}

TEST(PretokenizerTest, SpellsWhitespaceAsTheWhiteSpaceProperty) {
  EXPECT_EQ(TranslateTiktokenPattern(R"(\s+(?!\S)|[^\s\p{L}])"),
            R"(\p{White_Space}+(?!\P{White_Space})|[^\p{White_Space}\p{L}])");
  // An escaped backslash followed by "s" is a literal, not \s.
  EXPECT_EQ(TranslateTiktokenPattern(R"(\\s\r\n)"), R"(\\s\r\n)");
}

TEST(PretokenizerTest, SplitsLikeTiktoken) {
  Result<std::unique_ptr<Pretokenizer>> pretokenizer =
      Pretokenizer::Create(kCl100kBaseTables.pattern);
  ASSERT_TRUE(pretokenizer.ok());
  const std::string text = "Hello world's  123456\n\n  x\xE1\xA0\x8Ey";
  std::vector<std::string> pieces;
  std::size_t offset = 0;
  std::string_view piece;
  while ((*pretokenizer)->NextPiece(text, &offset, &piece)) {
    pieces.emplace_back(piece);
  }
  // U+180E is not White_Space (PCRE2's own \s would say it is), so it leads
  // the next word the way punctuation does.
  EXPECT_EQ(pieces, (std::vector<std::string>{"Hello", " world", "'s", " ", " ",
                                              "123", "456", "\n\n", " ", " x",
                                              "\xE1\xA0\x8Ey"}));
  EXPECT_FALSE(Pretokenizer::Create("(unclosed").ok());
}

}  // namespace
}  // namespace chatstore::tokens_internal
