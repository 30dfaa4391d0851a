// rank_compiler: a build-time tool that turns one tiktoken encoding file
// (node_modules/tiktoken/encoders/<name>.json from the npm package) into a C++
// source file defining that encoding's EncodingTables: the merge ranks as a
// finished open-addressing hash table inside one read-only blob, plus the
// pre-tokenisation pattern. Doing the work here means the runtime never
// parses, decodes or hashes the vocabulary: it probes the table in place.
//
// Usage: rank_compiler ENCODING_JSON NAME SYMBOL OUTPUT_CC
//   e.g. rank_compiler .../cl100k_base.json cl100k_base kCl100kBaseTables
//        cl100k_base_tables.cc
//
// The JSON holds "pat_str", "special_tokens" and "bpe_ranks"; the last is a
// space-separated list where "! N" sets the rank of the next token to N and
// every other item is a token's bytes in base64, ranked one after another.
// Special tokens are deliberately left out: chatstore counts text the way
// tiktoken's encode_ordinary does, treating "<|endoftext|>" as plain text.
#include <bit>
#include <boost/json.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokens/rank_table.h"

namespace {

using chatstore::tokens_internal::HashTokenBytes;
using chatstore::tokens_internal::kEmptySlot;
using chatstore::tokens_internal::MakeSlot;
using chatstore::tokens_internal::SlotTag;

[[noreturn]] void Fail(const std::string& message) {
  std::cerr << "rank_compiler: " << message << "\n";
  std::exit(1);
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  std::uint32_t bits = 0;
  int bit_count = 0;
  for (char c : text) {
    const int v = value_of(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<char>((bits >> bit_count) & 0xFF));
    }
  }
  return out;
}

// Tokens indexed by rank, checked to be dense, distinct and byte-complete.
std::vector<std::string> ParseRanks(std::string_view bpe_ranks) {
  std::vector<std::string> tokens;
  std::unordered_map<std::string, std::size_t> seen;
  std::size_t next_rank = 0;
  bool expect_rank_number = false;
  std::size_t pos = 0;
  while (pos < bpe_ranks.size()) {
    const std::size_t end = bpe_ranks.find_first_of(" \n", pos);
    const std::string_view item = bpe_ranks.substr(
        pos,
        end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? bpe_ranks.size() : end + 1;
    if (item.empty()) continue;
    if (expect_rank_number) {
      next_rank = std::stoull(std::string(item));
      expect_rank_number = false;
      continue;
    }
    if (item == "!") {
      expect_rank_number = true;
      continue;
    }
    std::optional<std::string> token = DecodeBase64(item);
    if (!token || token->empty()) {
      Fail("bad base64 token '" + std::string(item) + "'");
    }
    if (next_rank != tokens.size()) {
      // Both shipped encodings are dense; a gap would need a rank column.
      Fail("ranks are not dense at rank " + std::to_string(next_rank));
    }
    if (!seen.emplace(*token, next_rank).second) {
      Fail("token of rank " + std::to_string(next_rank) + " repeats");
    }
    tokens.push_back(std::move(*token));
    ++next_rank;
  }
  for (int b = 0; b < 256; ++b) {
    if (!seen.contains(std::string(1, static_cast<char>(b)))) {
      Fail("byte " + std::to_string(b) + " is not a token; not byte-level BPE");
    }
  }
  return tokens;
}

void AppendLittleEndian(std::string* blob, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    blob->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  }
}

void PadTo8(std::string* blob) {
  while (blob->size() % 8 != 0) blob->push_back('\0');
}

// Writes `bytes` as adjacent C++ string literals. Printable ASCII stays as
// is; everything else becomes a three-digit octal escape, which can never
// swallow a following digit the way a hex escape would.
void WriteStringLiteral(std::ostream& out, std::string_view bytes) {
  constexpr std::size_t kLineWidth = 100;
  std::string line = "\"";
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7F && c != '\\' && c != '"' && c != '?') {
      line.push_back(static_cast<char>(c));
    } else {
      char escape[5];
      std::snprintf(escape, sizeof(escape), "\\%03o", c);
      line += escape;
    }
    if (line.size() >= kLineWidth) {
      out << line << "\"\n";
      line = "\"";
    }
  }
  out << line << "\"";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    Fail("usage: rank_compiler ENCODING_JSON NAME SYMBOL OUTPUT_CC");
  }
  const std::string json_path = argv[1];
  const std::string name = argv[2];
  const std::string symbol = argv[3];
  const std::filesystem::path output_path = argv[4];

  std::ifstream in(json_path, std::ios::binary);
  if (!in) {
    Fail("cannot read " + json_path + "; run scripts/fetch-token-ranks.sh");
  }
  std::stringstream contents;
  contents << in.rdbuf();
  boost::system::error_code ec;
  const boost::json::value root = boost::json::parse(contents.str(), ec);
  if (ec || !root.is_object()) {
    Fail(json_path + " is not a JSON object: " + ec.message());
  }
  const boost::json::object& object = root.as_object();
  const auto* pat_str = object.if_contains("pat_str");
  const auto* bpe_ranks = object.if_contains("bpe_ranks");
  if (pat_str == nullptr || !pat_str->is_string() || bpe_ranks == nullptr ||
      !bpe_ranks->is_string()) {
    Fail(json_path + " lacks the string fields pat_str and bpe_ranks");
  }

  const std::vector<std::string> tokens =
      ParseRanks(std::string_view(bpe_ranks->as_string()));
  const auto token_count = static_cast<std::uint32_t>(tokens.size());

  // Load factor below 1/2 keeps linear probing short for misses, which are
  // common: most adjacent pairs inside a piece are not tokens.
  const std::uint64_t slot_count =
      std::bit_ceil(2 * std::uint64_t{token_count});
  std::vector<std::uint64_t> slots(slot_count, kEmptySlot);
  for (std::uint32_t rank = 0; rank < token_count; ++rank) {
    const auto* bytes =
        reinterpret_cast<const unsigned char*>(tokens[rank].data());
    const std::uint64_t hash = HashTokenBytes(bytes, tokens[rank].size());
    std::uint64_t i = hash & (slot_count - 1);
    while (slots[i] != kEmptySlot) i = (i + 1) & (slot_count - 1);
    slots[i] = MakeSlot(SlotTag(hash, tokens[rank].size()), rank);
  }

  std::string blob;
  const std::uint64_t slots_offset = blob.size();
  for (std::uint64_t slot : slots) AppendLittleEndian(&blob, slot, 8);
  const std::uint64_t offsets_offset = blob.size();
  std::uint64_t token_offset = 0;
  for (const std::string& token : tokens) {
    AppendLittleEndian(&blob, token_offset, 4);
    token_offset += token.size();
  }
  AppendLittleEndian(&blob, token_offset, 4);
  if (token_offset > UINT32_MAX) Fail("token bytes exceed 4 GiB");
  PadTo8(&blob);
  const std::uint64_t pair_ranks_offset = blob.size();
  {
    std::vector<std::uint32_t> pair_ranks(65536, UINT32_MAX);
    for (std::uint32_t rank = 0; rank < token_count; ++rank) {
      if (tokens[rank].size() == 2) {
        const auto* b =
            reinterpret_cast<const unsigned char*>(tokens[rank].data());
        pair_ranks[(std::size_t{b[0]} << 8) | b[1]] = rank;
      }
    }
    for (std::uint32_t rank : pair_ranks) AppendLittleEndian(&blob, rank, 4);
  }
  const std::uint64_t token_bytes_offset = blob.size();
  for (const std::string& token : tokens) blob += token;

  // Write beside the target and rename, so an interrupted build never leaves
  // a truncated source that looks up to date.
  std::filesystem::path temp_path = output_path;
  temp_path += ".tmp";
  {
    std::ofstream out(temp_path, std::ios::binary | std::ios::trunc);
    if (!out) Fail("cannot write " + temp_path.string());
    out << "// Generated by rank_compiler from " << json_path
        << ".\n// Do not edit; do not commit.\n"
        << "#include \"tokens/encoding_tables.h\"\n\n"
        << "namespace chatstore::tokens_internal {\nnamespace {\n\n"
        << "// " << token_count << " tokens, " << slot_count << " hash slots, "
        << blob.size() << " bytes.\n"
        << "alignas(8) const unsigned char kBlob[] =\n";
    WriteStringLiteral(out, blob);
    out << ";\n\nconstexpr char kPattern[] =\n";
    WriteStringLiteral(out, std::string_view(pat_str->as_string()));
    out << ";\n\n}  // namespace\n\n"
        << "extern const EncodingTables " << symbol << ";\n"
        << "const EncodingTables " << symbol << " = {\n"
        << "    .name = \"" << name << "\",\n"
        << "    .pattern = kPattern,\n"
        << "    .token_count = " << token_count << "u,\n"
        << "    .slot_count = " << slot_count << "u,\n"
        << "    .blob = kBlob,\n"
        << "    .slots_offset = " << slots_offset << "u,\n"
        << "    .offsets_offset = " << offsets_offset << "u,\n"
        << "    .pair_ranks_offset = " << pair_ranks_offset << "u,\n"
        << "    .token_bytes_offset = " << token_bytes_offset << "u,\n"
        << "};\n\n}  // namespace chatstore::tokens_internal\n";
    if (!out.flush()) Fail("cannot write " + temp_path.string());
  }
  std::error_code rename_error;
  std::filesystem::rename(temp_path, output_path, rename_error);
  if (rename_error) Fail("cannot rename to " + output_path.string());
  return 0;
}
