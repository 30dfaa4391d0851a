#include "tokens/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdlib>

namespace chatstore::tokens_internal {
namespace {

// Per-thread matching state, shared by every pattern: PCRE2 match data is
// not thread-safe, and a thread-local copy keeps locks off the hot path.
// The JIT stack grows on demand to 8 MiB so that even pathological inputs
// (megabytes of one character class) match instead of failing.
class ThreadMatchState {
 public:
  ThreadMatchState()
      : match_data_(pcre2_match_data_create(1, nullptr)),
        context_(pcre2_match_context_create(nullptr)),
        jit_stack_(
            pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr)) {
    // Out of memory here is as fatal as a failed operator new.
    if (match_data_ == nullptr || context_ == nullptr) std::abort();
    if (jit_stack_ != nullptr) {
      pcre2_jit_stack_assign(context_, nullptr, jit_stack_);
    }
  }
  ThreadMatchState(const ThreadMatchState&) = delete;
  ThreadMatchState& operator=(const ThreadMatchState&) = delete;
  ~ThreadMatchState() {
    pcre2_jit_stack_free(jit_stack_);
    pcre2_match_context_free(context_);
    pcre2_match_data_free(match_data_);
  }

  pcre2_match_data* match_data() const { return match_data_; }
  pcre2_match_context* context() const { return context_; }

 private:
  pcre2_match_data* match_data_;
  pcre2_match_context* context_;
  pcre2_jit_stack* jit_stack_;
};

ThreadMatchState& CurrentThreadMatchState() {
  thread_local ThreadMatchState state;
  return state;
}

// Length of the UTF-8 character starting with `lead`.
std::size_t Utf8CharLength(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

}  // namespace

std::string TranslateTiktokenPattern(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 32);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '\\' || i + 1 == pattern.size()) {
      out.push_back(pattern[i]);
      continue;
    }
    // An escape: copy it whole so that "\\s" (a backslash, then s) stays.
    const char escaped = pattern[++i];
    if (escaped == 's') {
      out += "\\p{White_Space}";
    } else if (escaped == 'S') {
      out += "\\P{White_Space}";
    } else {
      out.push_back('\\');
      out.push_back(escaped);
    }
  }
  return out;
}

Result<std::unique_ptr<Pretokenizer>> Pretokenizer::Create(
    std::string_view tiktoken_pattern) {
  const std::string pattern = TranslateTiktokenPattern(tiktoken_pattern);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(
      reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
      PCRE2_UTF | PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C, &error_code,
      &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    return Status::InvalidArgument("token pattern does not compile at offset " +
                                   std::to_string(error_offset) + ": " +
                                   reinterpret_cast<const char*>(message));
  }
  // JIT is several times faster than the interpreter; it can be refused
  // (e.g. where executable memory is forbidden), and then we interpret.
  const bool jit_compiled = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  return std::unique_ptr<Pretokenizer>(new Pretokenizer(code, jit_compiled));
}

Pretokenizer::~Pretokenizer() { pcre2_code_free(code_); }

bool Pretokenizer::NextPiece(std::string_view text, std::size_t* offset,
                             std::string_view* piece) const {
  const ThreadMatchState& state = CurrentThreadMatchState();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  while (*offset < text.size()) {
    int rc = jit_compiled_
                 ? pcre2_jit_match(code_, subject, text.size(), *offset, 0,
                                   state.match_data(), state.context())
                 : PCRE2_ERROR_JIT_BADOPTION;
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
      // No JIT, or its stack ran out: the interpreter keeps its backtracking
      // state on the heap. The text was validated once by the caller, so
      // PCRE2 need not re-check the whole remainder on every call.
      rc = pcre2_match(code_, subject, text.size(), *offset, PCRE2_NO_UTF_CHECK,
                       state.match_data(), state.context());
    }
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) {
      // Both engines gave up (a resource limit; never seen with the shipped
      // patterns, even on megabyte runs). Treat the rest as one piece: BPE
      // still produces valid tokens, and the count stays finite and close.
      *piece = text.substr(*offset);
      *offset = text.size();
      return true;
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.match_data());
    const std::size_t begin = ovector[0];
    const std::size_t end = ovector[1];
    if (end == begin) {
      // An empty match yields no bytes to encode; step over one character
      // so the scan always advances.
      *offset = begin + Utf8CharLength(static_cast<unsigned char>(
                            begin < text.size() ? text[begin] : 0));
      continue;
    }
    *piece = text.substr(begin, end - begin);
    *offset = end;
    return true;
  }
  return false;
}

}  // namespace chatstore::tokens_internal
