#include "tokens/token_counter.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "tokens/byte_pair_merge.h"
#include "tokens/encoding_tables.h"
#include "tokens/pretokenizer.h"
#include "tokens/rank_table.h"
#include "tokens/utf8_replacement.h"

namespace chatstore {

using tokens_internal::CountPieceTokens;
using tokens_internal::EncodePiece;
using tokens_internal::EncodingTables;
using tokens_internal::IsValidUtf8;
using tokens_internal::Pretokenizer;
using tokens_internal::RankTable;
using tokens_internal::ReplaceInvalidUtf8;

namespace {

const EncodingTables& TablesFor(Encoding encoding) {
  switch (encoding) {
    case Encoding::kCl100kBase:
      return tokens_internal::kCl100kBaseTables;
    case Encoding::kO200kBase:
      return tokens_internal::kO200kBaseTables;
  }
  std::abort();  // not a valid enumerator
}

}  // namespace

Result<Encoding> ParseEncoding(std::string_view name) {
  if (name == "cl100k_base") return Encoding::kCl100kBase;
  if (name == "o200k_base") return Encoding::kO200kBase;
  return Status::InvalidArgument("encoding: unknown '" + std::string(name) +
                                 "' (expected cl100k_base or o200k_base)");
}

std::string_view EncodingName(Encoding encoding) {
  return TablesFor(encoding).name;
}

const TokenCounter& TokenCounter::Get(Encoding encoding) {
  // Function-local statics are initialised once, thread-safely; the counters
  // are never destroyed, so threads still counting at exit stay safe.
  switch (encoding) {
    case Encoding::kCl100kBase: {
      static const TokenCounter* const counter = Create(encoding);
      return *counter;
    }
    case Encoding::kO200kBase: {
      static const TokenCounter* const counter = Create(encoding);
      return *counter;
    }
  }
  std::abort();  // not a valid enumerator
}

const TokenCounter* TokenCounter::Create(Encoding encoding) {
  const EncodingTables& tables = TablesFor(encoding);
  Result<std::unique_ptr<Pretokenizer>> pretokenizer =
      Pretokenizer::Create(tables.pattern);
  if (!pretokenizer.ok()) {
    // The pattern was compiled into the program from the pinned tiktoken
    // package and is covered by the tests, so this is a build defect, not a
    // condition a caller could handle.
    std::fprintf(stderr, "chatstore: %s: %s\n", tables.name,
                 pretokenizer.status().message().c_str());
    std::abort();
  }
  return new TokenCounter(encoding, std::make_unique<RankTable>(tables),
                          std::move(pretokenizer).value());
}

TokenCounter::TokenCounter(Encoding encoding, std::unique_ptr<RankTable> ranks,
                           std::unique_ptr<Pretokenizer> pretokenizer)
    : encoding_(encoding),
      ranks_(std::move(ranks)),
      pretokenizer_(std::move(pretokenizer)) {}

TokenCounter::~TokenCounter() = default;

std::size_t TokenCounter::Count(std::string_view text) const {
  if (IsValidUtf8(text)) return CountValidUtf8(text);
  return CountValidUtf8(ReplaceInvalidUtf8(text));
}

std::vector<std::uint32_t> TokenCounter::Encode(std::string_view text) const {
  std::vector<std::uint32_t> tokens;
  if (IsValidUtf8(text)) {
    EncodeValidUtf8(text, &tokens);
  } else {
    EncodeValidUtf8(ReplaceInvalidUtf8(text), &tokens);
  }
  return tokens;
}

std::size_t TokenCounter::CountValidUtf8(std::string_view text) const {
  std::size_t count = 0;
  std::size_t offset = 0;
  std::string_view piece;
  while (pretokenizer_->NextPiece(text, &offset, &piece)) {
    count += CountPieceTokens(*ranks_, piece);
  }
  return count;
}

void TokenCounter::EncodeValidUtf8(std::string_view text,
                                   std::vector<std::uint32_t>* tokens) const {
  std::size_t offset = 0;
  std::string_view piece;
  while (pretokenizer_->NextPiece(text, &offset, &piece)) {
    EncodePiece(*ranks_, piece, tokens);
  }
}

}  // namespace chatstore
