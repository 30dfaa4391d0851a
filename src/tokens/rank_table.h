// Lookup of a byte string's merge rank in the hash table that rank_compiler
// builds at compile time. The hash function and slot format are shared by the
// compiler (which fills the table) and the runtime (which probes it), so they
// live here, in one place.
#ifndef CHATSTORE_TOKENS_RANK_TABLE_H_
#define CHATSTORE_TOKENS_RANK_TABLE_H_

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "tokens/encoding_tables.h"

namespace chatstore::tokens_internal {

using Rank = std::uint32_t;
// "Not a token". Also the largest value, so it loses every min-rank contest,
// as Rank::MAX does in tiktoken.
inline constexpr Rank kNoRank = UINT32_MAX;

// Slot format: (tag << 32) | rank, where tag holds the hash's high bits and
// the token length, so a probe rejects almost every non-matching slot without
// touching the token bytes. An empty slot is all ones (no rank is UINT32_MAX).
inline constexpr std::uint64_t kEmptySlot = ~std::uint64_t{0};

// Reads n <= 8 bytes as a little-endian integer, whatever the host's byte
// order, so the table the build host wrote matches the target's probes.
inline std::uint64_t LoadLittleEndian(const unsigned char* p, std::size_t n) {
  std::uint64_t word = 0;
  std::memcpy(&word, p, n);
  if constexpr (std::endian::native == std::endian::big) {
    // memcpy filled the high-order bytes; swapping puts p[0] lowest.
    word = __builtin_bswap64(word);
  }
  return word;
}

// A fast 64-bit hash of a short byte string (tokens are short: most pieces
// are under 16 bytes). Word-at-a-time multiply-xorshift with murmur3's
// finaliser, which spreads the bits well enough for linear probing.
inline std::uint64_t HashTokenBytes(const unsigned char* p, std::size_t n) {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;
  std::uint64_t h = (n + 1) * 0xBF58476D1CE4E5B9ull;
  while (n >= 8) {
    h = (h ^ LoadLittleEndian(p, 8)) * kMul;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  if (n > 0) h = (h ^ LoadLittleEndian(p, n)) * kMul;
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h;
}

inline std::uint32_t SlotTag(std::uint64_t hash, std::size_t length) {
  const auto length_bits =
      static_cast<std::uint32_t>(length < 255 ? length : 255);
  return (static_cast<std::uint32_t>(hash >> 32) & 0xFFFFFF00u) | length_bits;
}

inline std::uint64_t MakeSlot(std::uint32_t tag, Rank rank) {
  return (std::uint64_t{tag} << 32) | rank;
}

// A read-only view of one encoding's compiled tables. Cheap to copy; all
// methods are thread-safe (nothing is ever written).
class RankTable {
 public:
  explicit RankTable(const EncodingTables& tables)
      : slots_(tables.blob + tables.slots_offset),
        offsets_(tables.blob + tables.offsets_offset),
        pair_ranks_(tables.blob + tables.pair_ranks_offset),
        token_bytes_(tables.blob + tables.token_bytes_offset),
        slot_mask_(tables.slot_count - 1),
        token_count_(tables.token_count) {
    for (int b = 0; b < 256; ++b) {
      const auto byte = static_cast<unsigned char>(b);
      byte_ranks_[b] = Find(&byte, 1);
    }
  }

  // The rank of the token whose bytes are [p, p+n), or kNoRank.
  Rank Find(const unsigned char* p, std::size_t n) const {
    const std::uint64_t hash = HashTokenBytes(p, n);
    const std::uint32_t tag = SlotTag(hash, n);
    for (std::uint64_t i = hash & slot_mask_;; i = (i + 1) & slot_mask_) {
      const std::uint64_t slot = LoadU64(slots_ + 8 * i);
      if (slot == kEmptySlot) return kNoRank;
      if (static_cast<std::uint32_t>(slot >> 32) == tag) {
        const auto rank = static_cast<Rank>(slot);
        const std::string_view token = TokenBytes(rank);
        if (token.size() == n && BytesEqual(token.data(), p, n)) return rank;
      }
    }
  }
  Rank Find(std::string_view bytes) const {
    return Find(reinterpret_cast<const unsigned char*>(bytes.data()),
                bytes.size());
  }

  // Rank of the two bytes at p, from the direct table.
  Rank PairRank(const unsigned char* p) const {
    return LoadU32(pair_ranks_ + 4 * ((std::size_t{p[0]} << 8) | p[1]));
  }

  // Rank of a single byte; every byte is a token in byte-level BPE (the
  // compiler checks it).
  Rank ByteRank(unsigned char byte) const { return byte_ranks_[byte]; }

  // REQUIRES: rank < token_count().
  std::string_view TokenBytes(Rank rank) const {
    const std::uint32_t begin = LoadU32(offsets_ + 4 * std::size_t{rank});
    const std::uint32_t end = LoadU32(offsets_ + 4 * (std::size_t{rank} + 1));
    return {reinterpret_cast<const char*>(token_bytes_) + begin, end - begin};
  }

  std::uint32_t token_count() const { return token_count_; }

 private:
  static std::uint64_t LoadU64(const unsigned char* p) {
    return LoadLittleEndian(p, 8);
  }
  static std::uint32_t LoadU32(const unsigned char* p) {
    return static_cast<std::uint32_t>(LoadLittleEndian(p, 4));
  }
  // Tokens are short, and the tag already matched the length and 24 hash
  // bits, so an inline loop beats a call to memcmp.
  static bool BytesEqual(const char* token, const unsigned char* p,
                         std::size_t n) {
    if (n > 16) return std::memcmp(token, p, n) == 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (static_cast<unsigned char>(token[i]) != p[i]) return false;
    }
    return true;
  }

  const unsigned char* slots_;
  const unsigned char* offsets_;
  const unsigned char* pair_ranks_;
  const unsigned char* token_bytes_;
  std::uint64_t slot_mask_;
  std::uint32_t token_count_;
  std::array<Rank, 256> byte_ranks_;
};

}  // namespace chatstore::tokens_internal

#endif  // CHATSTORE_TOKENS_RANK_TABLE_H_
