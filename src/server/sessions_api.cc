// Handlers of the session, message, event, stream and search routes.
#include <boost/json.hpp>
#include <string>

#include "core/wire_format.h"
#include "server/api.h"
#include "server/request_decoding.h"
#include "server/resource_json.h"

namespace chatstore::server {
namespace json = boost::json;

Reply Api::CreateSession(Call& call) {
  json::object body;
  if (auto failed = ReadJsonBody(call, &body)) return std::move(*failed);
  Result<CreateSessionBody> decoded = DecodeCreateSession(body);
  if (!decoded.ok()) return Fail(call, decoded.status());

  bool persist_history = true;
  if (options_.policy == SessionPolicy::kAuth && !call.principal.anonymous) {
    Result<Preferences> prefs = service_.GetPreferences(call.principal.user_id);
    if (!prefs.ok()) return Fail(call, prefs.status());
    persist_history = prefs->persist_history;
  }
  decoded->request.persistent =
      DecidePersistent(options_.policy, call.principal.anonymous,
                       persist_history, decoded->persist);
  Result<Session> session =
      service_.CreateSession(call.principal.user_id, decoded->request);
  if (!session.ok()) return Fail(call, session.status());
  Reply reply = Json(call, http::status::created, wire::SessionJson(*session));
  reply.response.set(http::field::location, "/v1/sessions/" + session->id);
  return reply;
}

Reply Api::ListSessions(Call& call) {
  const Limits& limits = service_.options().limits;
  Result<int> limit = QueryLimit(call.query, limits);
  if (!limit.ok()) return Fail(call, limit.status());
  std::optional<SessionCursor> cursor;
  if (auto text = QueryString(call.query, "cursor"); text && !text->empty()) {
    Result<SessionCursor> decoded = DecodeSessionCursor(*text);
    if (!decoded.ok()) return Fail(call, decoded.status());
    cursor = std::move(*decoded);
  }
  std::optional<SessionStatus> status;
  if (auto text = QueryString(call.query, "status"); text && !text->empty()) {
    status = ParseSessionStatus(*text);
    if (!status) {
      return Fail(call, Status::InvalidArgument(
                            "parameter 'status' must be one of active, "
                            "running, completed, error, archived"));
    }
  }
  Result<SessionPage> page =
      service_.ListSessions(call.principal.user_id, status, cursor, *limit);
  if (!page.ok()) return Fail(call, page.status());
  std::string out = "{\"sessions\":[";
  for (std::size_t i = 0; i < page->sessions.size(); ++i) {
    if (i > 0) out += ',';
    out += wire::SessionJson(page->sessions[i]);
  }
  out += "],\"next_cursor\":";
  if (page->next) {
    wire::AppendQuoted(out, EncodeSessionCursor(*page->next));
  } else {
    out += "null";
  }
  out += '}';
  return Json(call, http::status::ok, std::move(out));
}

Reply Api::GetSession(Call& call) {
  Result<Session> session =
      service_.GetSession(call.principal.user_id, call.route.params[0]);
  if (!session.ok()) return Fail(call, session.status());
  return Json(call, http::status::ok, wire::SessionJson(*session));
}

Reply Api::PatchSession(Call& call) {
  json::object body;
  if (auto failed = ReadJsonBody(call, &body)) return std::move(*failed);
  Result<SessionPatch> patch = DecodeSessionPatch(body);
  if (!patch.ok()) return Fail(call, patch.status());
  Result<Session> session = service_.UpdateSession(
      call.principal.user_id, call.route.params[0], *patch);
  if (!session.ok()) return Fail(call, session.status());
  return Json(call, http::status::ok, wire::SessionJson(*session));
}

Reply Api::DeleteSession(Call& call) {
  Result<std::int64_t> deleted =
      service_.DeleteSession(call.principal.user_id, call.route.params[0]);
  if (!deleted.ok()) return Fail(call, deleted.status());
  return Json(call, http::status::no_content, "");
}

Reply Api::AddMessage(Call& call) {
  json::object body;
  if (auto failed = ReadJsonBody(call, &body)) return std::move(*failed);
  Result<NewMessage> message = DecodeNewMessage(body);
  if (!message.ok()) return Fail(call, message.status());
  Result<Message> added = service_.AddMessage(call.principal.user_id,
                                              call.route.params[0], *message);
  if (!added.ok()) return Fail(call, added.status());
  return Json(call, http::status::created, wire::MessageJson(*added));
}

Reply Api::ListMessages(Call& call) {
  Result<int> limit = QueryLimit(call.query, service_.options().limits);
  if (!limit.ok()) return Fail(call, limit.status());
  Result<std::int64_t> after = QuerySeq(call.query, "after_seq");
  if (!after.ok()) return Fail(call, after.status());
  Result<MessagePage> page = service_.ReadMessages(
      call.principal.user_id, call.route.params[0], *after, *limit);
  if (!page.ok()) return Fail(call, page.status());
  std::string out = "{\"messages\":[";
  for (std::size_t i = 0; i < page->messages.size(); ++i) {
    if (i > 0) out += ',';
    out += wire::MessageJson(page->messages[i]);
  }
  out += "],\"next_after_seq\":";
  AppendOptionalInt(out, page->next_after_seq);
  out += '}';
  return Json(call, http::status::ok, std::move(out));
}

Reply Api::GetContext(Call& call) {
  ContextRequest request;
  if (std::optional<std::string> text =
          QueryString(call.query, "token_limit")) {
    const std::optional<std::int64_t> limit = ParseSeq(*text);
    if (!limit) {
      return Fail(call, Status::InvalidArgument(
                            "parameter 'token_limit' must be a positive "
                            "integer"));
    }
    request.token_limit = *limit;  // the service checks the range
  }
  if (std::optional<std::string> encoding =
          QueryString(call.query, "encoding")) {
    request.encoding = std::move(*encoding);
  }
  Result<ContextWindow> window = service_.GetContext(
      call.principal.user_id, call.route.params[0], request);
  if (!window.ok()) return Fail(call, window.status());
  std::string out = "{\"messages\":[";
  for (std::size_t i = 0; i < window->messages.size(); ++i) {
    if (i > 0) out += ',';
    out += wire::MessageJson(window->messages[i]);
  }
  out += "],\"token_count\":" + std::to_string(window->token_count) +
         ",\"token_limit\":" + std::to_string(window->token_limit) +
         ",\"truncated\":" + (window->truncated ? "true" : "false") + '}';
  return Json(call, http::status::ok, std::move(out));
}

Reply Api::AppendDelta(Call& call) {
  json::object body;
  if (auto failed = ReadJsonBody(call, &body)) return std::move(*failed);
  Result<std::string> delta = DecodeDelta(body);
  if (!delta.ok()) return Fail(call, delta.status());
  Result<DeltaResult> appended =
      service_.AppendDelta(call.principal.user_id, call.route.params[0],
                           call.route.params[1], *delta);
  if (!appended.ok()) return Fail(call, appended.status());
  return Json(call, http::status::ok,
              "{\"seq\":" + std::to_string(appended->seq) +
                  ",\"offset\":" + std::to_string(appended->offset) + "}");
}

Reply Api::CompleteMessage(Call& call) {
  json::object body;
  if (auto failed = ReadJsonBody(call, &body)) return std::move(*failed);
  Result<std::optional<std::string>> content = DecodeCompletion(body);
  if (!content.ok()) return Fail(call, content.status());
  Result<Message> message =
      service_.CompleteMessage(call.principal.user_id, call.route.params[0],
                               call.route.params[1], *content);
  if (!message.ok()) return Fail(call, message.status());
  return Json(call, http::status::ok, wire::MessageJson(*message));
}

Reply Api::AppendEvents(Call& call) {
  json::object body;
  if (auto failed = ReadJsonBody(call, &body)) return std::move(*failed);
  Result<std::vector<AppEvent>> events =
      DecodeAppEvents(body, service_.options().limits);
  if (!events.ok()) return Fail(call, events.status());
  Result<SeqRange> range = service_.AppendEvents(call.principal.user_id,
                                                 call.route.params[0], *events);
  if (!range.ok()) return Fail(call, range.status());
  return Json(call, http::status::created,
              "{\"first_seq\":" + std::to_string(range->first_seq) +
                  ",\"last_seq\":" + std::to_string(range->last_seq) + "}");
}

Reply Api::ListEvents(Call& call) {
  Result<int> limit = QueryLimit(call.query, service_.options().limits);
  if (!limit.ok()) return Fail(call, limit.status());
  Result<std::int64_t> after = QuerySeq(call.query, "after_seq");
  if (!after.ok()) return Fail(call, after.status());
  Result<EventPage> page = service_.ReadEvents(
      call.principal.user_id, call.route.params[0], *after, *limit);
  if (!page.ok()) return Fail(call, page.status());
  std::string out = "{\"events\":[";
  for (std::size_t i = 0; i < page->events.size(); ++i) {
    if (i > 0) out += ',';
    out += wire::EventJson(page->events[i]);
  }
  out += "],\"next_after_seq\":";
  AppendOptionalInt(out, page->next_after_seq);
  out += '}';
  return Json(call, http::status::ok, std::move(out));
}

Reply Api::OpenStream(Call& call) {
  // Last-Event-ID (set by EventSource on reconnect) wins over after_seq.
  std::int64_t after_seq = 0;
  const std::string_view last_event_id = call.request["Last-Event-ID"];
  if (!last_event_id.empty()) {
    std::optional<std::int64_t> parsed = ParseSeq(last_event_id);
    if (!parsed) {
      return Fail(call, Status::InvalidArgument(
                            "header 'Last-Event-ID' must be an event seq"));
    }
    after_seq = *parsed;
  } else {
    Result<std::int64_t> after = QuerySeq(call.query, "after_seq");
    if (!after.ok()) return Fail(call, after.status());
    after_seq = *after;
  }
  Result<Session> session =
      service_.GetSession(call.principal.user_id, call.route.params[0]);
  if (!session.ok()) return Fail(call, session.status());

  Reply reply;
  HttpResponse& head = reply.response;
  head.result(http::status::ok);
  head.version(call.request.version());
  head.set(http::field::content_type, "text/event-stream");
  head.set(http::field::cache_control, "no-cache");
  head.set("X-Accel-Buffering", "no");
  head.set("X-Request-Id", call.context.request_id);
  // The body runs until the stream ends; the connection ends with it.
  head.keep_alive(false);
  reply.stream = SseStart{call.principal.user_id, session->id, after_seq};
  return reply;
}

Reply Api::Search(Call& call) {
  const Limits& limits = service_.options().limits;
  const std::optional<std::string> query = QueryString(call.query, "q");
  if (!query || query->empty()) {
    return Fail(call, Status::InvalidArgument("parameter 'q' is required"));
  }
  Result<int> limit = QueryLimit(call.query, limits);
  if (!limit.ok()) return Fail(call, limit.status());
  std::optional<SearchCursor> cursor;
  if (auto text = QueryString(call.query, "cursor"); text && !text->empty()) {
    Result<SearchCursor> decoded = DecodeSearchCursor(*text);
    if (!decoded.ok()) return Fail(call, decoded.status());
    cursor = std::move(*decoded);
  }
  Result<SearchPage> page =
      service_.Search(call.principal.user_id, *query, cursor, *limit);
  if (!page.ok()) return Fail(call, page.status());
  std::string out = "{\"hits\":[";
  for (std::size_t i = 0; i < page->hits.size(); ++i) {
    if (i > 0) out += ',';
    AppendSearchHitJson(out, page->hits[i]);
  }
  out += "],\"next_cursor\":";
  if (page->next) {
    wire::AppendQuoted(out, EncodeSearchCursor(*page->next));
  } else {
    out += "null";
  }
  out += '}';
  return Json(call, http::status::ok, std::move(out));
}

}  // namespace chatstore::server
