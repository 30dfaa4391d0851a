// The compiled form of one tiktoken encoding: its merge ranks as a ready-made
// hash table plus its pre-tokenisation pattern. rank_compiler writes one
// definition per encoding at build time from the tiktoken npm package's
// encoders/<name>.json; nothing here is written by hand.
#ifndef CHATSTORE_TOKENS_ENCODING_TABLES_H_
#define CHATSTORE_TOKENS_ENCODING_TABLES_H_

#include <cstdint>

namespace chatstore::tokens_internal {

// Everything lives in one read-only blob inside the executable, so "loading"
// an encoding costs nothing: the pages are mapped lazily with the program.
// Blob layout (all integers little-endian, each array 8-byte aligned):
//   slots:   uint64[slot_count]    open-addressing table, see rank_table.h
//   offsets: uint32[token_count+1] token r spans token_bytes[offsets[r],
//                                  offsets[r+1])
//   pair_ranks: uint32[65536]      rank of each two-byte string (b0 << 8 | b1)
//                                  or UINT32_MAX: BPE's first round looks up
//                                  every adjacent byte pair, so it gets a
//                                  direct index instead of a hash probe
//   token_bytes: every token's bytes, concatenated in rank order
struct EncodingTables {
  const char* name;           // "cl100k_base"
  const char* pattern;        // pat_str exactly as shipped (Rust regex syntax)
  std::uint32_t token_count;  // ranks are dense: 0 .. token_count-1
  std::uint32_t slot_count;   // a power of two
  const unsigned char* blob;
  std::uint64_t slots_offset;
  std::uint64_t offsets_offset;
  std::uint64_t pair_ranks_offset;
  std::uint64_t token_bytes_offset;
};

extern const EncodingTables kCl100kBaseTables;
extern const EncodingTables kO200kBaseTables;

}  // namespace chatstore::tokens_internal

#endif  // CHATSTORE_TOKENS_ENCODING_TABLES_H_
