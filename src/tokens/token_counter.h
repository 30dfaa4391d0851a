// Exact token counts for chat messages: byte-pair encoding with OpenAI's
// cl100k_base (chatstore's default) and o200k_base vocabularies, giving the
// same tokens as the tiktoken package's encode_ordinary.
//
//   const TokenCounter& counter = TokenCounter::Get(Encoding::kCl100kBase);
//   std::size_t tokens = counter.Count(message_text);
//
// docs/tokens.md explains where the ranks come from and how counting works.
#ifndef CHATSTORE_TOKENS_TOKEN_COUNTER_H_
#define CHATSTORE_TOKENS_TOKEN_COUNTER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "chatstore/status.h"

namespace chatstore {

namespace tokens_internal {
class Pretokenizer;
class RankTable;
}  // namespace tokens_internal

enum class Encoding {
  kCl100kBase,  // GPT-4, GPT-3.5-turbo; the default
  kO200kBase,   // GPT-4o and later
};

// "cl100k_base" or "o200k_base" (tiktoken's names, case-sensitive);
// InvalidArgument for anything else.
Result<Encoding> ParseEncoding(std::string_view name);

// tiktoken's name of `encoding`, e.g. "cl100k_base".
std::string_view EncodingName(Encoding encoding);

class TokenCounter {
 public:
  // The counter for `encoding`, built on first use (about a millisecond:
  // the ranks are compiled into the program, only the pattern is compiled at
  // run time) and never destroyed. Thread-safe.
  static const TokenCounter& Get(Encoding encoding);

  TokenCounter(const TokenCounter&) = delete;
  TokenCounter& operator=(const TokenCounter&) = delete;
  ~TokenCounter();

  Encoding encoding() const { return encoding_; }

  // The number of tokens in `text`. Special-token text such as
  // "<|endoftext|>" counts as ordinary text. `text` is UTF-8; each ill-formed
  // sequence counts as U+FFFD would (the WHATWG TextDecoder replacement, see
  // utf8_replacement.h), so any bytes get the count tiktoken gives to
  // `new TextDecoder("utf-8", {ignoreBOM: true}).decode(bytes)`.
  // Thread-safe and lock-free; allocates only for invalid UTF-8.
  // REQUIRES: text.size() < 4 GiB (merge offsets are 32-bit).
  std::size_t Count(std::string_view text) const;

  // The token ids of `text`, with the same rules as Count (Count(text) ==
  // Encode(text).size()). Thread-safe.
  std::vector<std::uint32_t> Encode(std::string_view text) const;

 private:
  TokenCounter(Encoding encoding,
               std::unique_ptr<tokens_internal::RankTable> ranks,
               std::unique_ptr<tokens_internal::Pretokenizer> pretokenizer);
  static const TokenCounter* Create(Encoding encoding);

  std::size_t CountValidUtf8(std::string_view text) const;
  void EncodeValidUtf8(std::string_view text,
                       std::vector<std::uint32_t>* tokens) const;

  Encoding encoding_;
  std::unique_ptr<tokens_internal::RankTable> ranks_;
  std::unique_ptr<tokens_internal::Pretokenizer> pretokenizer_;
};

}  // namespace chatstore

#endif  // CHATSTORE_TOKENS_TOKEN_COUNTER_H_
