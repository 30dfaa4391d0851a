// Store::ImportSession: a whole session written as one batch through the
// backend's own Apply(), so every backend imports atomically with the code
// that already makes its writes atomic (and keeps its search index in step).
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "chatstore/store.h"

namespace chatstore {
namespace {

// Creates the session exactly as given; refuses when the id is taken.
class ImportMutation final : public Mutation {
 public:
  explicit ImportMutation(WriteBatch batch) : batch_(std::move(batch)) {}

  const std::string& session_id() const override { return batch_.session.id; }
  const std::string& message_id() const override { return no_message_; }

  Result<WriteBatch> Prepare(const Session* session, const Message* message,
                             Timestamp now) const override {
    if (session != nullptr) {
      return Status::AlreadyExists("session " + batch_.session.id +
                                   " already exists");
    }
    return batch_;  // a copy: optimistic backends may call Prepare again
  }

 private:
  const WriteBatch batch_;
  const std::string no_message_;
};

Status CheckImport(const Session& session, const std::vector<Message>& messages,
                   const std::vector<Event>& events) {
  const auto bad = [&](const std::string& what) {
    return Status::InvalidArgument("cannot import session " + session.id +
                                   ": " + what);
  };
  if (session.id.empty()) return bad("empty id");
  if (events.empty()) return bad("no events");
  if (static_cast<std::int64_t>(events.size()) != session.last_seq) {
    return bad(std::to_string(events.size()) + " events for last_seq " +
               std::to_string(session.last_seq));
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].session_id != session.id ||
        events[i].seq != static_cast<std::int64_t>(i) + 1) {
      return bad("event " + std::to_string(i + 1) +
                 " is out of order or of another session");
    }
  }
  if (static_cast<std::int64_t>(messages.size()) != session.message_count) {
    return bad(std::to_string(messages.size()) + " messages for " +
               std::to_string(session.message_count));
  }
  std::unordered_set<std::string_view> ids;
  for (const Message& m : messages) {
    if (m.session_id != session.id || m.seq < 1 || m.seq > session.last_seq) {
      return bad("message " + m.id + " does not belong to its log");
    }
    if (!ids.insert(m.id).second) return bad("message " + m.id + " twice");
  }
  return Status::Ok();
}

}  // namespace

Status Store::ImportSession(const Session& session,
                            std::vector<Message> messages,
                            std::vector<Event> events) {
  CHATSTORE_RETURN_IF_ERROR(CheckImport(session, messages, events));
  WriteBatch batch;
  batch.session = session;
  batch.creates_session = true;
  batch.messages.reserve(messages.size());
  for (Message& m : messages) {
    batch.messages.push_back(MessageWrite{std::move(m), /*created=*/true});
  }
  batch.events = std::move(events);
  return ApplySync(std::make_shared<ImportMutation>(std::move(batch))).status();
}

}  // namespace chatstore
