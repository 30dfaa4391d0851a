#include "chatstore/service.h"

#include <algorithm>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "chatstore/ids.h"
#include "core/json_util.h"
#include "core/mutations.h"
#include "core/state_scopes.h"
#include "core/wire_format.h"

namespace chatstore {
namespace {

Status CheckText(std::string_view field, std::string_view text,
                 std::size_t max_bytes) {
  if (!json::IsValidUtf8(text)) {
    return Status::InvalidArgument(std::string(field) + ": not valid UTF-8");
  }
  if (text.size() > max_bytes) {
    return Status::Unprocessable(std::string(field) + ": longer than " +
                                 std::to_string(max_bytes) + " bytes");
  }
  return Status::Ok();
}

Result<boost::json::object> ParseJsonObject(std::string_view field,
                                            std::string_view text,
                                            const Limits& limits) {
  if (text.size() > limits.max_json_bytes) {
    return Status::Unprocessable(std::string(field) + ": longer than " +
                                 std::to_string(limits.max_json_bytes) +
                                 " bytes");
  }
  return json::ParseObject(text, limits.max_json_depth, field);
}

Status CheckSessionId(std::string_view session_id) {
  // A malformed id cannot name a session; answer like any missing one.
  if (!IsValidId(session_id)) {
    return Status::NotFound("session " + std::string(session_id) +
                            " not found");
  }
  return Status::Ok();
}

bool NewerFirst(const Session& a, const Session& b) {
  if (a.updated_at != b.updated_at) return a.updated_at > b.updated_at;
  return a.id > b.id;
}

bool NewerHitFirst(const SearchHit& a, const SearchHit& b) {
  if (a.created_at != b.created_at) return a.created_at > b.created_at;
  return a.message_id > b.message_id;
}

// Reads by seq ask the store for limit + 1 rows: the extra row, dropped
// here, tells whether another page follows. Returns the next after_seq.
template <typename Row>
std::optional<std::int64_t> TrimToPage(std::vector<Row>& rows, int limit) {
  if (rows.size() <= static_cast<std::size_t>(limit)) return std::nullopt;
  rows.resize(limit);
  return rows.back().seq;
}

void AddCounts(EraseCounts& total, const EraseCounts& more) {
  total.sessions += more.sessions;
  total.messages += more.messages;
  total.events += more.events;
}

}  // namespace

SessionService::SessionService(std::shared_ptr<Store> primary,
                               std::shared_ptr<Store> ephemeral,
                               ServiceOptions options)
    : primary_(std::move(primary)),
      ephemeral_(std::move(ephemeral)),
      options_(std::move(options)) {}

Store& SessionService::StoreFor(std::string_view session_id) {
  if (ephemeral_ && IsEphemeralSessionId(session_id)) return *ephemeral_;
  return *primary_;
}

int SessionService::PageSize(int limit) const {
  if (limit <= 0) return options_.limits.default_page;
  return std::min(limit, options_.limits.max_page);
}

std::vector<Store*> SessionService::DistinctStores() {
  std::vector<Store*> stores{primary_.get()};
  if (ephemeral_ && ephemeral_ != primary_) stores.push_back(ephemeral_.get());
  return stores;
}

core::WriteContext SessionService::Context(std::string_view user_id) const {
  core::WriteContext ctx;
  ctx.user_id = std::string(user_id);
  ctx.ephemeral_ttl = options_.ephemeral_ttl;
  ctx.max_content_bytes = options_.limits.max_content_bytes;
  ctx.max_state_bytes = options_.limits.max_state_bytes;
  ctx.max_metadata_bytes = options_.limits.max_json_bytes;
  return ctx;
}

Result<Session> SessionService::CreateSession(
    std::string_view user_id, const CreateSessionRequest& request) {
  const Limits& limits = options_.limits;
  CHATSTORE_RETURN_IF_ERROR(
      CheckText("title", request.title, limits.max_title_bytes));
  CHATSTORE_ASSIGN_OR_RETURN(
      boost::json::object metadata,
      ParseJsonObject("metadata", request.metadata, limits));
  CHATSTORE_ASSIGN_OR_RETURN(boost::json::object state,
                             ParseJsonObject("state", request.state, limits));
  // The scopes split as in a patch: `user:` keys join the user's document,
  // `temp:` keys are dropped (there is no state.delta to carry them).
  core::ScopedState parts = core::SplitStateScopes(state);
  std::optional<std::string> user_state_patch;
  if (!parts.user.empty()) user_state_patch = json::Serialize(parts.user);
  const bool persistent = request.persistent || !ephemeral_;
  Session row;
  row.id = NewSessionId(options_.clock->Now(), persistent);
  row.user_id = std::string(user_id);
  row.title = request.title;
  row.metadata = json::Serialize(metadata);
  row.state = json::Serialize(parts.session);
  row.persistent = persistent;
  CHATSTORE_ASSIGN_OR_RETURN(
      WriteBatch batch,
      Commit(core::CreateSession(Context(user_id), row,
                                 std::move(user_state_patch))));
  return WithUserState(std::move(batch.session));
}

Result<Session> SessionService::WithUserState(Session session) {
  CHATSTORE_ASSIGN_OR_RETURN(
      std::string user_state,
      StoreFor(session.id).GetUserState(session.user_id));
  session.state = core::MergedStateView(session.state, user_state);
  return session;
}

Result<Session> SessionService::LoadOwned(std::string_view user_id,
                                          std::string_view session_id) {
  CHATSTORE_RETURN_IF_ERROR(CheckSessionId(session_id));
  CHATSTORE_ASSIGN_OR_RETURN(Session s,
                             StoreFor(session_id).GetSession(session_id));
  if (s.user_id != user_id) {
    return Status::NotFound("session " + std::string(session_id) +
                            " not found");
  }
  return s;
}

Result<Session> SessionService::GetSession(std::string_view user_id,
                                           std::string_view session_id) {
  CHATSTORE_ASSIGN_OR_RETURN(Session s, LoadOwned(user_id, session_id));
  return WithUserState(std::move(s));
}

Result<SessionPage> SessionService::ListSessions(
    std::string_view user_id, std::optional<SessionStatus> status,
    const std::optional<SessionCursor>& after, int limit) {
  limit = PageSize(limit);
  // Each store pages by the same keyset, so the first `limit` of the merged
  // pages are exactly the first `limit` overall.
  SessionPage out;
  bool more = false;
  for (Store* store : DistinctStores()) {
    CHATSTORE_ASSIGN_OR_RETURN(
        SessionPage page, store->ListSessions(user_id, status, after, limit));
    more = more || page.next.has_value();
    if (page.sessions.empty()) continue;
    // One read of the user's document per store serves the whole page.
    CHATSTORE_ASSIGN_OR_RETURN(std::string user_state,
                               store->GetUserState(user_id));
    for (Session& s : page.sessions) {
      s.state = core::MergedStateView(s.state, user_state);
      out.sessions.push_back(std::move(s));
    }
  }
  std::sort(out.sessions.begin(), out.sessions.end(), NewerFirst);
  if (out.sessions.size() > static_cast<std::size_t>(limit)) {
    out.sessions.resize(limit);
    more = true;
  }
  if (more && !out.sessions.empty()) {
    out.next =
        SessionCursor{out.sessions.back().updated_at, out.sessions.back().id};
  }
  return out;
}

Result<Session> SessionService::UpdateSession(std::string_view user_id,
                                              std::string_view session_id,
                                              const SessionPatch& patch) {
  CHATSTORE_RETURN_IF_ERROR(CheckSessionId(session_id));
  const Limits& limits = options_.limits;
  core::ParsedPatch parsed;
  if (patch.title) {
    CHATSTORE_RETURN_IF_ERROR(
        CheckText("title", *patch.title, limits.max_title_bytes));
    parsed.title = *patch.title;
  }
  parsed.status = patch.status;
  if (patch.metadata) {
    CHATSTORE_ASSIGN_OR_RETURN(
        parsed.metadata, ParseJsonObject("metadata", *patch.metadata, limits));
  }
  if (patch.state) {
    CHATSTORE_ASSIGN_OR_RETURN(parsed.state,
                               ParseJsonObject("state", *patch.state, limits));
  }
  CHATSTORE_ASSIGN_OR_RETURN(
      WriteBatch batch,
      Commit(core::UpdateSession(Context(user_id), std::string(session_id),
                                 std::move(parsed))));
  return WithUserState(std::move(batch.session));
}

Result<std::int64_t> SessionService::DeleteSession(
    std::string_view user_id, std::string_view session_id) {
  CHATSTORE_ASSIGN_OR_RETURN(Session s, LoadOwned(user_id, session_id));
  CHATSTORE_ASSIGN_OR_RETURN(EraseCounts counts,
                             StoreFor(session_id).DeleteSession(session_id));
  (void)counts;
  // The log is gone with the session, so session.deleted is not stored: it
  // is handed to listeners only, as the stream's last event. Its seq follows
  // the last one this call saw; a write that raced in between may share it,
  // which is harmless because the stream ends here.
  const Event deleted =
      wire::SessionDeletedEvent(s.id, s.last_seq + 1, options_.clock->Now());
  s.last_seq = deleted.seq;
  Publish(s, {deleted});
  return deleted.seq;
}

Result<Message> SessionService::AddMessage(std::string_view user_id,
                                           std::string_view session_id,
                                           const NewMessage& message) {
  CHATSTORE_RETURN_IF_ERROR(CheckSessionId(session_id));
  const Limits& limits = options_.limits;
  CHATSTORE_RETURN_IF_ERROR(
      CheckText("content", message.content, limits.max_content_bytes));
  CHATSTORE_ASSIGN_OR_RETURN(
      boost::json::object metadata,
      ParseJsonObject("metadata", message.metadata, limits));
  Message draft;
  draft.id = NewId(options_.clock->Now());
  draft.role = message.role;
  draft.content = message.content;
  draft.status = message.status;
  draft.metadata = json::Serialize(metadata);
  if (draft.status == MessageStatus::kComplete) {
    draft.tokens = core::CountTokens(draft.content);
  }
  CHATSTORE_ASSIGN_OR_RETURN(
      WriteBatch batch,
      Commit(core::AddMessage(Context(user_id), std::string(session_id),
                              std::move(draft))));
  return std::move(batch.messages.front().row);
}

Result<DeltaResult> SessionService::AppendDelta(std::string_view user_id,
                                                std::string_view session_id,
                                                std::string_view message_id,
                                                std::string_view delta) {
  CHATSTORE_RETURN_IF_ERROR(CheckSessionId(session_id));
  CHATSTORE_RETURN_IF_ERROR(
      CheckText("delta", delta, options_.limits.max_content_bytes));
  CHATSTORE_ASSIGN_OR_RETURN(
      WriteBatch batch,
      Commit(core::AppendDelta(Context(user_id), std::string(session_id),
                               std::string(message_id), std::string(delta))));
  DeltaResult out;
  out.seq = batch.events.front().seq;
  out.offset = static_cast<std::int64_t>(
      batch.messages.front().row.content.size() - delta.size());
  return out;
}

Result<Message> SessionService::CompleteMessage(
    std::string_view user_id, std::string_view session_id,
    std::string_view message_id, const std::optional<std::string>& content) {
  CHATSTORE_RETURN_IF_ERROR(CheckSessionId(session_id));
  std::optional<core::TokenCount> precount;
  if (content) {
    CHATSTORE_RETURN_IF_ERROR(
        CheckText("content", *content, options_.limits.max_content_bytes));
    precount = core::TokenCount{content->size(), core::CountTokens(*content)};
  } else if (Result<Message> streamed =
                 StoreFor(session_id).GetMessage(session_id, message_id);
             streamed.ok()) {
    // Count the streamed text here, not inside the store's atomic section;
    // ownership and state are still checked there.
    precount = core::TokenCount{streamed->content.size(),
                                core::CountTokens(streamed->content)};
  }
  CHATSTORE_ASSIGN_OR_RETURN(WriteBatch batch,
                             Commit(core::CompleteMessage(
                                 Context(user_id), std::string(session_id),
                                 std::string(message_id), content, precount)));
  return std::move(batch.messages.front().row);
}

Result<SeqRange> SessionService::AppendEvents(
    std::string_view user_id, std::string_view session_id,
    const std::vector<AppEvent>& events) {
  CHATSTORE_RETURN_IF_ERROR(CheckSessionId(session_id));
  const Limits& limits = options_.limits;
  if (events.empty()) {
    return Status::Unprocessable("events: at least one event is required");
  }
  if (events.size() > limits.max_events_per_batch) {
    return Status::Unprocessable("events: at most " +
                                 std::to_string(limits.max_events_per_batch) +
                                 " per request");
  }
  std::vector<Event> prepared;
  prepared.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    const std::string field = "events[" + std::to_string(i) + "]";
    if (!core::IsValidAppEventType(events[i].type)) {
      return Status::Unprocessable(
          field +
          ".type: must match [a-z][a-z0-9_.-]{0,63} and not be a "
          "built-in event type");
    }
    if (events[i].data.size() > limits.max_json_bytes) {
      return Status::Unprocessable(field + ".data: longer than " +
                                   std::to_string(limits.max_json_bytes) +
                                   " bytes");
    }
    CHATSTORE_ASSIGN_OR_RETURN(
        boost::json::value data,
        json::Parse(events[i].data, limits.max_json_depth, field + ".data"));
    Event e;
    e.type = events[i].type;
    e.data = json::Serialize(data);  // compact: one SSE data line
    prepared.push_back(std::move(e));
  }
  CHATSTORE_ASSIGN_OR_RETURN(
      WriteBatch batch,
      Commit(core::AppendEvents(Context(user_id), std::string(session_id),
                                std::move(prepared))));
  return SeqRange{batch.events.front().seq, batch.events.back().seq};
}

Result<EventPage> SessionService::ReadEvents(std::string_view user_id,
                                             std::string_view session_id,
                                             std::int64_t after_seq,
                                             int limit) {
  CHATSTORE_RETURN_IF_ERROR(LoadOwned(user_id, session_id).status());
  limit = PageSize(limit);
  EventPage page;
  CHATSTORE_ASSIGN_OR_RETURN(
      page.events,
      StoreFor(session_id).ReadEvents(session_id, after_seq, limit + 1));
  page.next_after_seq = TrimToPage(page.events, limit);
  return page;
}

Result<MessagePage> SessionService::ReadMessages(std::string_view user_id,
                                                 std::string_view session_id,
                                                 std::int64_t after_seq,
                                                 int limit) {
  CHATSTORE_RETURN_IF_ERROR(LoadOwned(user_id, session_id).status());
  limit = PageSize(limit);
  MessagePage page;
  CHATSTORE_ASSIGN_OR_RETURN(
      page.messages,
      StoreFor(session_id).ReadMessages(session_id, after_seq, limit + 1));
  page.next_after_seq = TrimToPage(page.messages, limit);
  return page;
}

Result<SearchPage> SessionService::Search(
    std::string_view user_id, std::string_view query,
    const std::optional<SearchCursor>& after, int limit) {
  CHATSTORE_RETURN_IF_ERROR(
      CheckText("q", query, options_.limits.max_query_bytes));
  if (query.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status::InvalidArgument("q: a search needs at least one word");
  }
  limit = PageSize(limit);
  SearchPage out;
  bool more = false;
  for (Store* store : DistinctStores()) {
    CHATSTORE_ASSIGN_OR_RETURN(SearchPage page,
                               store->Search(user_id, query, after, limit));
    more = more || page.next.has_value();
    for (SearchHit& h : page.hits) out.hits.push_back(std::move(h));
  }
  std::sort(out.hits.begin(), out.hits.end(), NewerHitFirst);
  if (out.hits.size() > static_cast<std::size_t>(limit)) {
    out.hits.resize(limit);
    more = true;
  }
  if (more && !out.hits.empty()) {
    out.next =
        SearchCursor{out.hits.back().created_at, out.hits.back().message_id};
  }
  return out;
}

Result<Preferences> SessionService::GetPreferences(std::string_view user_id) {
  Result<Preferences> prefs = primary_->GetPreferences(user_id);
  if (!prefs.ok() && prefs.status().IsNotFound()) return Preferences{};
  return prefs;
}

Status SessionService::PutPreferences(std::string_view user_id,
                                      const Preferences& prefs) {
  return primary_->PutPreferences(user_id, prefs);
}

Result<std::string> SessionService::UserState(std::string_view user_id) {
  // Each store keeps the documents of the sessions it holds; the primary's
  // keys win where both have one.
  std::string merged = "{}";
  std::vector<Store*> stores = DistinctStores();
  for (auto it = stores.rbegin(); it != stores.rend(); ++it) {
    CHATSTORE_ASSIGN_OR_RETURN(std::string doc, (*it)->GetUserState(user_id));
    merged = core::MergedStateView(merged, doc);
  }
  return merged;
}

Result<EraseCounts> SessionService::EraseUser(std::string_view user_id) {
  EraseCounts total;
  for (Store* store : DistinctStores()) {
    CHATSTORE_ASSIGN_OR_RETURN(EraseCounts counts, store->DeleteUser(user_id));
    AddCounts(total, counts);
  }
  return total;
}

Result<WriteBatch> SessionService::Commit(
    std::shared_ptr<const Mutation> mutation) {
  // Publish from the store's completion callback: stores run it in seq
  // order per session, which keeps listeners' view ordered.
  Store& store = StoreFor(mutation->session_id());
  return store.ApplySync(std::move(mutation), [this](const WriteBatch& b) {
    if (b.live_data.empty()) {
      Publish(b.session, b.events);
      return;
    }
    // Listeners get the live form (state.delta with its `temp:` keys);
    // the store wrote, and every replay reads, the stored form.
    std::vector<Event> live = b.events;
    for (const WriteBatch::LiveData& d : b.live_data) {
      for (Event& e : live) {
        if (e.seq == d.seq) e.data = d.data;
      }
    }
    Publish(b.session, live);
  });
}

void SessionService::Publish(const Session& session,
                             const std::vector<Event>& events) {
  std::lock_guard lock(listeners_mu_);
  for (CommitListener* l : listeners_) l->OnCommit(session, events);
}

void SessionService::AddListener(CommitListener* listener) {
  std::lock_guard lock(listeners_mu_);
  listeners_.push_back(listener);
}

void SessionService::RemoveListener(CommitListener* listener) {
  std::lock_guard lock(listeners_mu_);
  std::erase(listeners_, listener);
}

}  // namespace chatstore
