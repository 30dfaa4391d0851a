// SessionService::GetContext: the context window (docs/context-and-state.md).
//
// Two index-backed walks, each reading pages that grow geometrically to
// the service's max_page:
//   1. forward from the start over the session's leading system messages,
//      which are kept first while they fit;
//   2. backward from the newest message, keeping messages while they fit,
//      until one does not (the cut), the leading system run, or the start.
// Both stop as soon as the budget is spent, so the rows read depend on the
// window, never on how long the session is.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "chatstore/service.h"
#include "tokens/token_counter.h"

namespace chatstore {
namespace {

// Most windows are a few dozen messages: start small, grow geometrically.
constexpr int kFirstPage = 32;
// Most sessions open with zero to two system messages: the forward walk
// starts with a smaller page, since every row it reads past the system run
// is wasted (and lies far from the window in a long session).
constexpr int kFirstSystemPage = 4;

// A message's tokens in the requested encoding: the count stored when it
// completed (cl100k_base), or counted now.
class MessageTokens {
 public:
  explicit MessageTokens(Encoding encoding)
      : encoding_(encoding), counter_(TokenCounter::Get(encoding)) {}

  std::int64_t operator()(const Message& m) const {
    if (encoding_ == Encoding::kCl100kBase && m.tokens) return *m.tokens;
    return static_cast<std::int64_t>(counter_.Count(m.content));
  }

 private:
  Encoding encoding_;
  const TokenCounter& counter_;
};

bool IsReply(const Message& m) {
  return m.role == Role::kAssistant || m.role == Role::kTool;
}

}  // namespace

Result<ContextWindow> SessionService::GetContext(
    std::string_view user_id, std::string_view session_id,
    const ContextRequest& request) {
  const Limits& limits = options_.limits;
  if (request.token_limit < 1 ||
      request.token_limit > limits.max_context_tokens) {
    return Status::Unprocessable("token_limit must be between 1 and " +
                                 std::to_string(limits.max_context_tokens));
  }
  Result<Encoding> encoding = ParseEncoding(request.encoding);
  if (!encoding.ok()) {
    return Status::Unprocessable("encoding must be cl100k_base or o200k_base");
  }
  CHATSTORE_RETURN_IF_ERROR(LoadOwned(user_id, session_id).status());
  Store& store = StoreFor(session_id);
  const MessageTokens tokens_of(*encoding);
  const std::size_t max_messages = limits.max_context_messages;
  const int max_page = std::max(limits.max_page, kFirstPage);

  ContextWindow window;
  window.token_limit = request.token_limit;
  std::int64_t budget = request.token_limit;

  // 1. The leading system messages, oldest first, while they fit. `pinned_end`
  // is the seq of the last one looked at: the backward walk stops there.
  std::vector<Message> pinned;
  std::int64_t pinned_end = 0;
  for (int page = kFirstSystemPage;; page = std::min(page * 2, max_page)) {
    CHATSTORE_ASSIGN_OR_RETURN(
        std::vector<Message> rows,
        store.ReadMessages(session_id, pinned_end, page));
    bool run_over = rows.size() < static_cast<std::size_t>(page);
    for (Message& m : rows) {
      if (m.role != Role::kSystem) {
        run_over = true;
        break;
      }
      pinned_end = m.seq;
      if (m.status != MessageStatus::kComplete) continue;
      const std::int64_t t = tokens_of(m);
      if (t > budget || pinned.size() >= max_messages) {
        // Keep the prefix contiguous; what follows is left to the
        // backward walk, like any other message.
        window.truncated = true;
        run_over = true;
        break;
      }
      budget -= t;
      window.token_count += t;
      pinned.push_back(std::move(m));
    }
    if (run_over) break;
  }

  // 2. The newest messages, newest first, until one does not fit.
  std::vector<Message> tail;
  std::vector<std::int64_t> tail_tokens;
  bool cut = false;
  std::int64_t before = std::numeric_limits<std::int64_t>::max();
  for (int page = kFirstPage;; page = std::min(page * 2, max_page)) {
    CHATSTORE_ASSIGN_OR_RETURN(
        std::vector<Message> rows,
        store.ReadMessagesBefore(session_id, before, page));
    bool walk_over = rows.size() < static_cast<std::size_t>(page);
    for (Message& m : rows) {
      if (m.seq <= pinned_end) {
        walk_over = true;
        break;
      }
      before = m.seq;
      if (m.status != MessageStatus::kComplete) continue;
      const std::int64_t t = tokens_of(m);
      if (t > budget || pinned.size() + tail.size() >= max_messages) {
        cut = true;
        walk_over = true;
        break;
      }
      budget -= t;
      tail.push_back(std::move(m));
      tail_tokens.push_back(t);
    }
    if (walk_over) break;
  }
  if (cut) {
    window.truncated = true;
    // A reply whose request was cut off misleads the model: the window
    // starts on a user or system message.
    while (!tail.empty() && IsReply(tail.back())) {
      tail.pop_back();
      tail_tokens.pop_back();
    }
  }
  for (std::int64_t t : tail_tokens) window.token_count += t;

  window.messages = std::move(pinned);
  window.messages.insert(window.messages.end(),
                         std::make_move_iterator(tail.rbegin()),
                         std::make_move_iterator(tail.rend()));
  return window;
}

}  // namespace chatstore
