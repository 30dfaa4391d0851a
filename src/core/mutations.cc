#include "core/mutations.h"

#include <array>
#include <string>
#include <utility>

#include "core/json_util.h"
#include "core/state_scopes.h"
#include "core/wire_format.h"
#include "tokens/token_counter.h"

namespace chatstore::core {
namespace {

constexpr std::array<std::string_view, 8> kBuiltInTypes = {
    kSessionCreated, kSessionUpdated,   kSessionDeleted, kMessageCreated,
    kMessageDelta,   kMessageCompleted, kStateDelta,     kSnapshot};

const std::string kNoMessage;

// The steps every write to an existing session shares: the session must
// exist and belong to the writer; updated_at moves to now, an ephemeral
// session's expiry slides forward, and each event takes the next seq.
class SessionWrite : public Mutation {
 public:
  SessionWrite(WriteContext ctx, std::string session_id,
               std::string message_id = {})
      : ctx_(std::move(ctx)),
        session_id_(std::move(session_id)),
        message_id_(std::move(message_id)) {}

  const std::string& session_id() const override { return session_id_; }
  const std::string& message_id() const override { return message_id_; }

  Result<WriteBatch> Prepare(const Session* session, const Message* message,
                             Timestamp now) const final {
    // Another user's session answers exactly like a missing one.
    if (session == nullptr || session->user_id != ctx_.user_id) {
      return Status::NotFound("session " + session_id_ + " not found");
    }
    WriteBatch batch;
    batch.session = *session;
    batch.session.updated_at = now;
    if (batch.session.expires_at) {
      batch.session.expires_at = now + ctx_.ephemeral_ttl;
    }
    CHATSTORE_RETURN_IF_ERROR(Build(batch, message, now));
    return batch;
  }

 protected:
  // Adds this write's view changes and events to `batch`.
  virtual Status Build(WriteBatch& batch, const Message* message,
                       Timestamp now) const = 0;

  // The seq the next Emit() will take.
  static std::int64_t NextSeq(const WriteBatch& batch) {
    return batch.session.last_seq + 1;
  }

  static void Emit(WriteBatch& batch, std::string_view type, std::string data,
                   Timestamp now) {
    Event e;
    e.session_id = batch.session.id;
    e.seq = ++batch.session.last_seq;
    e.type = std::string(type);
    e.data = std::move(data);
    e.created_at = now;
    batch.events.push_back(std::move(e));
  }

  Status RequireMessage(const Message* message) const {
    if (message == nullptr) {
      return Status::NotFound("message " + message_id_ + " not found");
    }
    return Status::Ok();
  }

  const WriteContext ctx_;

 private:
  const std::string session_id_;
  const std::string message_id_;
};

class CreateSessionMutation final : public Mutation {
 public:
  CreateSessionMutation(const WriteContext& ctx, Session row,
                        std::optional<std::string> user_state_patch)
      : ttl_(ctx.ephemeral_ttl),
        max_state_bytes_(ctx.max_state_bytes),
        max_metadata_bytes_(ctx.max_metadata_bytes),
        row_(std::move(row)),
        user_state_patch_(std::move(user_state_patch)) {}
  const std::string& session_id() const override { return row_.id; }
  const std::string& message_id() const override { return kNoMessage; }

  Result<WriteBatch> Prepare(const Session* session, const Message*,
                             Timestamp now) const override {
    if (session != nullptr) {
      return Status::AlreadyExists("session " + row_.id + " already exists");
    }
    // The same bounds a patch keeps (UpdateSession): a session never starts
    // with more state or metadata than a patch could leave it with.
    if (row_.state.size() > max_state_bytes_) {
      return Status::Unprocessable("state: longer than " +
                                   std::to_string(max_state_bytes_) + " bytes");
    }
    if (row_.metadata.size() > max_metadata_bytes_) {
      return Status::Unprocessable("metadata: longer than " +
                                   std::to_string(max_metadata_bytes_) +
                                   " bytes");
    }
    WriteBatch batch;
    batch.creates_session = true;
    batch.session = row_;
    batch.session.created_at = now;
    batch.session.updated_at = now;
    batch.session.message_count = 0;
    batch.session.last_seq = 1;  // session.created is the first event
    batch.session.expires_at.reset();
    if (!row_.persistent) batch.session.expires_at = now + ttl_;
    Event e;
    e.session_id = row_.id;
    e.seq = 1;
    e.type = std::string(kSessionCreated);
    e.data = wire::SessionJson(batch.session);
    e.created_at = now;
    batch.events.push_back(std::move(e));
    if (user_state_patch_) {
      batch.user_state_patch = user_state_patch_;
      batch.user_state_max_bytes = max_state_bytes_;
    }
    return batch;
  }

 private:
  const std::chrono::seconds ttl_;
  const std::size_t max_state_bytes_;
  const std::size_t max_metadata_bytes_;
  const Session row_;
  const std::optional<std::string> user_state_patch_;
};

class UpdateSessionMutation final : public SessionWrite {
 public:
  UpdateSessionMutation(WriteContext ctx, std::string session_id,
                        ParsedPatch patch)
      : SessionWrite(std::move(ctx), std::move(session_id)),
        patch_(std::move(patch)) {}

 private:
  Status Build(WriteBatch& batch, const Message*,
               Timestamp now) const override {
    Session& s = batch.session;
    if (patch_.title) s.title = *patch_.title;
    if (patch_.status) s.status = *patch_.status;
    if (patch_.metadata) {
      CHATSTORE_ASSIGN_OR_RETURN(
          s.metadata,
          json::MergeStateText(s.metadata, *patch_.metadata, "metadata",
                               ctx_.max_metadata_bytes));
    }
    if (patch_.state) {
      // Each scope goes its own way (docs/context-and-state.md): session
      // keys into the row, `user:` keys into the user's document in the
      // store's atomic write, `temp:` keys into the live event only.
      const ScopedState parts = SplitStateScopes(*patch_.state);
      CHATSTORE_ASSIGN_OR_RETURN(
          s.state, json::MergeStateText(s.state, parts.session, "state",
                                        ctx_.max_state_bytes));
      if (!parts.user.empty()) {
        batch.user_state_patch = json::Serialize(parts.user);
        batch.user_state_max_bytes = ctx_.max_state_bytes;
      }
      if (!parts.temp.empty()) {
        boost::json::object live;
        live["delta"] = *patch_.state;
        batch.live_data.push_back({NextSeq(batch), json::Serialize(live)});
      }
      boost::json::object data;
      data["delta"] = parts.stored;
      Emit(batch, kStateDelta, json::Serialize(data), now);
    }
    // session.updated comes last so that the session it carries shows the
    // final last_seq: its own seq.
    const std::int64_t seq = NextSeq(batch);
    s.last_seq = seq;
    std::string data = wire::SessionJson(s);
    s.last_seq = seq - 1;
    Emit(batch, kSessionUpdated, std::move(data), now);
    return Status::Ok();
  }

  const ParsedPatch patch_;
};

class AddMessageMutation final : public SessionWrite {
 public:
  AddMessageMutation(WriteContext ctx, std::string session_id, Message draft)
      : SessionWrite(std::move(ctx), std::move(session_id)),
        draft_(std::move(draft)) {}

 private:
  Status Build(WriteBatch& batch, const Message*,
               Timestamp now) const override {
    MessageWrite w;
    w.created = true;
    w.row = draft_;
    w.row.session_id = batch.session.id;
    w.row.seq = NextSeq(batch);
    w.row.created_at = now;
    w.row.updated_at = now;
    batch.session.message_count += 1;
    Emit(batch, kMessageCreated, wire::MessageJson(w.row), now);
    batch.messages.push_back(std::move(w));
    return Status::Ok();
  }

  const Message draft_;
};

class AppendDeltaMutation final : public SessionWrite {
 public:
  AppendDeltaMutation(WriteContext ctx, std::string session_id,
                      std::string message_id, std::string delta)
      : SessionWrite(std::move(ctx), std::move(session_id),
                     std::move(message_id)),
        delta_(std::move(delta)) {}

 private:
  Status Build(WriteBatch& batch, const Message* message,
               Timestamp now) const override {
    CHATSTORE_RETURN_IF_ERROR(RequireMessage(message));
    if (message->status != MessageStatus::kStreaming) {
      return Status::Conflict("message " + message->id +
                              " is complete; it cannot be appended to");
    }
    if (message->content.size() + delta_.size() > ctx_.max_content_bytes) {
      return Status::Unprocessable("delta: message content would exceed " +
                                   std::to_string(ctx_.max_content_bytes) +
                                   " bytes");
    }
    MessageWrite w;
    w.row = *message;
    const auto offset = static_cast<std::int64_t>(w.row.content.size());
    w.row.content += delta_;
    w.row.updated_at = now;
    boost::json::object data;
    data["message_id"] = message->id;
    data["delta"] = delta_;
    data["offset"] = offset;
    Emit(batch, kMessageDelta, json::Serialize(data), now);
    batch.messages.push_back(std::move(w));
    return Status::Ok();
  }

  const std::string delta_;
};

class CompleteMessageMutation final : public SessionWrite {
 public:
  CompleteMessageMutation(WriteContext ctx, std::string session_id,
                          std::string message_id,
                          std::optional<std::string> content,
                          std::optional<TokenCount> precount)
      : SessionWrite(std::move(ctx), std::move(session_id),
                     std::move(message_id)),
        content_(std::move(content)),
        precount_(precount) {}

 private:
  Status Build(WriteBatch& batch, const Message* message,
               Timestamp now) const override {
    CHATSTORE_RETURN_IF_ERROR(RequireMessage(message));
    if (message->status != MessageStatus::kStreaming) {
      return Status::Conflict("message " + message->id +
                              " is already complete");
    }
    MessageWrite w;
    w.row = *message;
    if (content_) w.row.content = *content_;
    w.row.status = MessageStatus::kComplete;
    w.row.tokens = precount_ && precount_->content_bytes == w.row.content.size()
                       ? precount_->tokens
                       : CountTokens(w.row.content);
    w.row.updated_at = now;
    Emit(batch, kMessageCompleted, wire::MessageJson(w.row), now);
    batch.messages.push_back(std::move(w));
    return Status::Ok();
  }

  const std::optional<std::string> content_;
  const std::optional<TokenCount> precount_;
};

class AppendEventsMutation final : public SessionWrite {
 public:
  AppendEventsMutation(WriteContext ctx, std::string session_id,
                       std::vector<Event> events)
      : SessionWrite(std::move(ctx), std::move(session_id)),
        events_(std::move(events)) {}

 private:
  Status Build(WriteBatch& batch, const Message*,
               Timestamp now) const override {
    for (const Event& e : events_) Emit(batch, e.type, e.data, now);
    return Status::Ok();
  }

  const std::vector<Event> events_;
};

}  // namespace

std::int64_t CountTokens(std::string_view content) {
  return static_cast<std::int64_t>(
      TokenCounter::Get(Encoding::kCl100kBase).Count(content));
}

bool IsValidAppEventType(std::string_view type) {
  if (type.empty() || type.size() > 64) return false;
  if (type[0] < 'a' || type[0] > 'z') return false;
  for (char c : type) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  for (std::string_view built_in : kBuiltInTypes) {
    if (type == built_in) return false;
  }
  return true;
}

std::shared_ptr<const Mutation> CreateSession(
    const WriteContext& ctx, Session row,
    std::optional<std::string> user_state_patch) {
  return std::make_shared<CreateSessionMutation>(ctx, std::move(row),
                                                 std::move(user_state_patch));
}

std::shared_ptr<const Mutation> UpdateSession(WriteContext ctx,
                                              std::string session_id,
                                              ParsedPatch patch) {
  return std::make_shared<UpdateSessionMutation>(
      std::move(ctx), std::move(session_id), std::move(patch));
}

std::shared_ptr<const Mutation> AddMessage(WriteContext ctx,
                                           std::string session_id,
                                           Message draft) {
  return std::make_shared<AddMessageMutation>(
      std::move(ctx), std::move(session_id), std::move(draft));
}

std::shared_ptr<const Mutation> AppendDelta(WriteContext ctx,
                                            std::string session_id,
                                            std::string message_id,
                                            std::string delta) {
  return std::make_shared<AppendDeltaMutation>(
      std::move(ctx), std::move(session_id), std::move(message_id),
      std::move(delta));
}

std::shared_ptr<const Mutation> CompleteMessage(
    WriteContext ctx, std::string session_id, std::string message_id,
    std::optional<std::string> content, std::optional<TokenCount> precount) {
  return std::make_shared<CompleteMessageMutation>(
      std::move(ctx), std::move(session_id), std::move(message_id),
      std::move(content), precount);
}

std::shared_ptr<const Mutation> AppendEvents(WriteContext ctx,
                                             std::string session_id,
                                             std::vector<Event> events) {
  return std::make_shared<AppendEventsMutation>(
      std::move(ctx), std::move(session_id), std::move(events));
}

}  // namespace chatstore::core
