#include "tokens/byte_pair_merge.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace chatstore::tokens_internal {
namespace {

// One boundary of the scan merge: a token starts at `start`, and `rank` is
// the rank of it joined with the next token (kNoRank if not a token).
struct Part {
  std::uint32_t start;
  Rank rank;
};

// Merges piece[0, n) in parts[0, n] and returns the number of boundaries
// left; boundaries [0, result-1) start the tokens and parts[result-1] is n.
// REQUIRES: 2 <= n <= kLongPieceBytes; parts has room for n + 1 entries.
std::size_t MergeByScan(const RankTable& ranks, const unsigned char* piece,
                        std::size_t n, Part* parts) {
  for (std::size_t i = 0; i + 1 < n; ++i) {
    parts[i] = {static_cast<std::uint32_t>(i), ranks.PairRank(piece + i)};
  }
  parts[n - 1] = {static_cast<std::uint32_t>(n - 1), kNoRank};
  parts[n] = {static_cast<std::uint32_t>(n), kNoRank};
  std::size_t size = n + 1;
  // Rank of the token at boundary i joined with the one after it.
  auto pair_rank = [&](std::size_t i) -> Rank {
    if (i + 2 >= size) return kNoRank;
    return ranks.Find(piece + parts[i].start,
                      parts[i + 2].start - parts[i].start);
  };
  for (;;) {
    Rank min_rank = kNoRank;
    std::size_t min_index = 0;
    for (std::size_t i = 0; i + 1 < size; ++i) {
      if (parts[i].rank < min_rank) {  // strict: the leftmost wins a tie
        min_rank = parts[i].rank;
        min_index = i;
      }
    }
    if (min_rank == kNoRank) break;
    std::memmove(&parts[min_index + 1], &parts[min_index + 2],
                 (size - min_index - 2) * sizeof(Part));
    --size;
    parts[min_index].rank = pair_rank(min_index);
    if (min_index > 0) parts[min_index - 1].rank = pair_rank(min_index - 1);
  }
  return size;
}

// The heap merge for long pieces. Tokens form a linked list indexed by their
// start byte; a min-heap holds (pair rank, start) candidates, and a popped
// candidate is stale unless it still matches pair_rank_[start]. A node's
// pair only ever grows, and distinct byte strings have distinct ranks, so a
// stale entry can never look current. Popping by (rank, start) picks the
// same pair as the scan's leftmost lowest rank, so both give equal tokens.
class HeapMerger {
 public:
  // Fills *starts with the token starts followed by n. REQUIRES: n >= 1.
  void Merge(const RankTable& ranks, const unsigned char* piece, std::size_t n,
             std::vector<std::uint32_t>* starts) {
    const auto size = static_cast<std::uint32_t>(n);
    next_.resize(n);
    prev_.resize(n);
    pair_rank_.resize(n);
    heap_.clear();
    for (std::uint32_t i = 0; i < size; ++i) {
      next_[i] = i + 1;
      prev_[i] = i - 1;  // wraps to kNone for i == 0
      pair_rank_[i] = i + 1 < size ? ranks.PairRank(piece + i) : kNoRank;
      if (pair_rank_[i] != kNoRank) {
        heap_.push_back(MakeCandidate(pair_rank_[i], i));
      }
    }
    std::make_heap(heap_.begin(), heap_.end(), kLater);
    auto span_rank = [&](std::uint32_t from, std::uint32_t to) -> Rank {
      return ranks.Find(piece + from, to - from);
    };
    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), kLater);
      const Candidate top = heap_.back();
      heap_.pop_back();
      const auto i = static_cast<std::uint32_t>(top);
      if (pair_rank_[i] != static_cast<Rank>(top >> 32)) continue;  // stale
      const std::uint32_t absorbed = next_[i];
      const std::uint32_t after = next_[absorbed];
      next_[i] = after;
      if (after < size) prev_[after] = i;
      pair_rank_[absorbed] = kNoRank;  // dead; no entry can match it again
      pair_rank_[i] = after < size ? span_rank(i, next_[after]) : kNoRank;
      Push(i);
      if (prev_[i] != kNone) {
        const std::uint32_t before = prev_[i];
        pair_rank_[before] = span_rank(before, after);
        Push(before);
      }
    }
    starts->clear();
    for (std::uint32_t i = 0; i < size; i = next_[i]) starts->push_back(i);
    starts->push_back(size);
  }

 private:
  static constexpr std::uint32_t kNone = UINT32_MAX;
  // A candidate packed as (rank << 32 | start): one integer comparison
  // orders by the lowest rank, then the leftmost start, and std::greater
  // inlines where a comparison function would be called through a pointer.
  using Candidate = std::uint64_t;
  static Candidate MakeCandidate(Rank rank, std::uint32_t start) {
    return (std::uint64_t{rank} << 32) | start;
  }
  static constexpr std::greater<Candidate> kLater{};
  void Push(std::uint32_t i) {
    if (pair_rank_[i] == kNoRank) return;
    heap_.push_back(MakeCandidate(pair_rank_[i], i));
    std::push_heap(heap_.begin(), heap_.end(), kLater);
  }

  std::vector<std::uint32_t> next_;
  std::vector<std::uint32_t> prev_;
  std::vector<Rank> pair_rank_;
  std::vector<Candidate> heap_;
};

// Long pieces are rare; their buffers are kept per thread so a long message
// does not allocate for every run of repeated characters.
struct LongPieceScratch {
  HeapMerger merger;
  std::vector<std::uint32_t> starts;
};
LongPieceScratch& CurrentLongPieceScratch() {
  thread_local LongPieceScratch scratch;
  return scratch;
}

const unsigned char* Bytes(std::string_view piece) {
  return reinterpret_cast<const unsigned char*>(piece.data());
}

}  // namespace

std::size_t CountPieceTokens(const RankTable& ranks, std::string_view piece) {
  const std::size_t n = piece.size();
  if (n <= 1) return n;
  // Most pieces of ordinary text (whole words with their leading space) are
  // tokens themselves; tiktoken takes the same shortcut first.
  if (ranks.Find(Bytes(piece), n) != kNoRank) return 1;
  if (n <= kLongPieceBytes) {
    Part parts[kLongPieceBytes + 1];
    return MergeByScan(ranks, Bytes(piece), n, parts) - 1;
  }
  LongPieceScratch& scratch = CurrentLongPieceScratch();
  scratch.merger.Merge(ranks, Bytes(piece), n, &scratch.starts);
  return scratch.starts.size() - 1;
}

void EncodePiece(const RankTable& ranks, std::string_view piece,
                 std::vector<Rank>* tokens) {
  const std::size_t n = piece.size();
  if (n == 0) return;
  if (n == 1) {
    tokens->push_back(ranks.ByteRank(Bytes(piece)[0]));
    return;
  }
  if (const Rank whole = ranks.Find(Bytes(piece), n); whole != kNoRank) {
    tokens->push_back(whole);
    return;
  }
  if (n <= kLongPieceBytes) {
    Part parts[kLongPieceBytes + 1];
    const std::size_t size = MergeByScan(ranks, Bytes(piece), n, parts);
    for (std::size_t i = 0; i + 1 < size; ++i) {
      tokens->push_back(ranks.Find(Bytes(piece) + parts[i].start,
                                   parts[i + 1].start - parts[i].start));
    }
    return;
  }
  LongPieceScratch& scratch = CurrentLongPieceScratch();
  scratch.merger.Merge(ranks, Bytes(piece), n, &scratch.starts);
  for (std::size_t i = 0; i + 1 < scratch.starts.size(); ++i) {
    tokens->push_back(ranks.Find(Bytes(piece) + scratch.starts[i],
                                 scratch.starts[i + 1] - scratch.starts[i]));
  }
}

std::vector<std::uint32_t> MergeByScanForTest(const RankTable& ranks,
                                              std::string_view piece) {
  if (piece.size() == 1) return {0, 1};
  Part parts[kLongPieceBytes + 1];
  const std::size_t size =
      MergeByScan(ranks, Bytes(piece), piece.size(), parts);
  std::vector<std::uint32_t> starts;
  for (std::size_t i = 0; i < size; ++i) starts.push_back(parts[i].start);
  return starts;
}

std::vector<std::uint32_t> MergeByHeapForTest(const RankTable& ranks,
                                              std::string_view piece) {
  HeapMerger merger;
  std::vector<std::uint32_t> starts;
  merger.Merge(ranks, Bytes(piece), piece.size(), &starts);
  return starts;
}

}  // namespace chatstore::tokens_internal
