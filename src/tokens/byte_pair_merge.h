// Byte-pair merging of one pre-tokenised piece into tokens, with the same
// rule as tiktoken: start from single bytes, and repeatedly merge the
// adjacent pair whose concatenation has the lowest rank (the leftmost such
// pair on a tie) until no adjacent pair is a token.
#ifndef CHATSTORE_TOKENS_BYTE_PAIR_MERGE_H_
#define CHATSTORE_TOKENS_BYTE_PAIR_MERGE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokens/rank_table.h"

namespace chatstore::tokens_internal {

// Pieces up to this many bytes merge by rescanning a small array for the
// lowest rank (tiktoken's method: fastest for the short pieces of ordinary
// text); longer ones use a heap over a linked list, O(n log n), so that a
// run of 100,000 identical characters stays fast.
inline constexpr std::size_t kLongPieceBytes = 128;

// The number of tokens `piece` encodes to. Thread-safe.
std::size_t CountPieceTokens(const RankTable& ranks, std::string_view piece);

// Appends the ranks (token ids) of `piece`'s tokens to *tokens. Thread-safe.
void EncodePiece(const RankTable& ranks, std::string_view piece,
                 std::vector<Rank>* tokens);

// The two strategies, exposed so tests can check they agree: each returns
// the start offsets of the final tokens followed by piece.size().
// REQUIRES: !piece.empty(); MergeByScan also needs piece.size() <=
// kLongPieceBytes.
std::vector<std::uint32_t> MergeByScanForTest(const RankTable& ranks,
                                              std::string_view piece);
std::vector<std::uint32_t> MergeByHeapForTest(const RankTable& ranks,
                                              std::string_view piece);

}  // namespace chatstore::tokens_internal

#endif  // CHATSTORE_TOKENS_BYTE_PAIR_MERGE_H_
