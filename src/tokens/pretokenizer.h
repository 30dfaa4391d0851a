// Pre-tokenisation: splitting text into the pieces that BPE then merges,
// with an encoding's own regular expression (its tiktoken pat_str) run by
// PCRE2's JIT in UTF + UCP mode.
#ifndef CHATSTORE_TOKENS_PRETOKENIZER_H_
#define CHATSTORE_TOKENS_PRETOKENIZER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "chatstore/status.h"

struct pcre2_real_code_8;  // from <pcre2.h>, kept out of this header

namespace chatstore::tokens_internal {

// tiktoken's patterns are written for Rust's regex crate; PCRE2 reads them
// the same way except for \s: Rust's \s is Unicode White_Space, PCRE2's UCP
// \s also matches U+180E MONGOLIAN VOWEL SEPARATOR (which left White_Space in
// Unicode 6.3). Returns `pattern` with \s and \S spelled as the White_Space
// property so both engines split text identically.
std::string TranslateTiktokenPattern(std::string_view pattern);

class Pretokenizer {
 public:
  // Compiles a tiktoken pat_str (translated as above) and JIT-compiles it
  // when the platform allows JIT; otherwise matching uses the interpreter.
  // Returns InvalidArgument when PCRE2 rejects the pattern.
  static Result<std::unique_ptr<Pretokenizer>> Create(
      std::string_view tiktoken_pattern);

  Pretokenizer(const Pretokenizer&) = delete;
  Pretokenizer& operator=(const Pretokenizer&) = delete;
  ~Pretokenizer();

  // Finds the first piece in `text` at or after *offset, stores it in *piece
  // and moves *offset past it; returns false when no piece is left. Like
  // tiktoken's find_iter, text between matches (there is none with the
  // shipped patterns) is skipped.
  // REQUIRES: `text` is well-formed UTF-8 and *offset is on a character
  // boundary. Thread-safe: each thread matches with its own match data.
  bool NextPiece(std::string_view text, std::size_t* offset,
                 std::string_view* piece) const;

 private:
  Pretokenizer(pcre2_real_code_8* code, bool jit_compiled)
      : code_(code), jit_compiled_(jit_compiled) {}

  pcre2_real_code_8* code_;  // owned
  bool jit_compiled_;
};

}  // namespace chatstore::tokens_internal

#endif  // CHATSTORE_TOKENS_PRETOKENIZER_H_
