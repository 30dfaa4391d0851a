#include "core/wire_format.h"

#include <string>

#include "core/json_util.h"
#include "core/mutations.h"

namespace chatstore::wire {
namespace {

boost::json::value ParseStored(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value v = json::ParseExact(text, ec);
  // Stored JSON passed validation when written; an unreadable value means
  // the row was damaged outside chatstore. Show it as null, never crash.
  if (ec) return nullptr;
  return v;
}

}  // namespace

boost::json::object SessionValue(const Session& s) {
  boost::json::object o;
  o["id"] = s.id;
  o["user_id"] = s.user_id;
  o["title"] = s.title;
  o["status"] = ToString(s.status);
  o["metadata"] = ParseStored(s.metadata);
  o["state"] = ParseStored(s.state);
  o["persistent"] = s.persistent;
  o["message_count"] = s.message_count;
  o["last_seq"] = s.last_seq;
  o["created_at"] = FormatTimestamp(s.created_at);
  o["updated_at"] = FormatTimestamp(s.updated_at);
  if (s.expires_at) {
    o["expires_at"] = FormatTimestamp(*s.expires_at);
  } else {
    o["expires_at"] = nullptr;
  }
  return o;
}

boost::json::object MessageValue(const Message& m) {
  boost::json::object o;
  o["id"] = m.id;
  o["session_id"] = m.session_id;
  o["seq"] = m.seq;
  o["role"] = ToString(m.role);
  o["content"] = m.content;
  o["status"] = ToString(m.status);
  o["metadata"] = ParseStored(m.metadata);
  if (m.tokens) {
    o["tokens"] = *m.tokens;
  } else {
    o["tokens"] = nullptr;
  }
  o["created_at"] = FormatTimestamp(m.created_at);
  o["updated_at"] = FormatTimestamp(m.updated_at);
  return o;
}

std::string SessionJson(const Session& s) {
  return boost::json::serialize(SessionValue(s));
}

std::string MessageJson(const Message& m) {
  return boost::json::serialize(MessageValue(m));
}

Event SessionDeletedEvent(std::string_view session_id, std::int64_t seq,
                          Timestamp at) {
  Event deleted;
  deleted.session_id = std::string(session_id);
  deleted.seq = seq;
  deleted.type = std::string(core::kSessionDeleted);
  deleted.data = "{\"id\":";
  AppendQuoted(deleted.data, session_id);
  deleted.data += '}';
  deleted.created_at = at;
  return deleted;
}

void AppendQuoted(std::string& out, std::string_view s) {
  out += boost::json::serialize(boost::json::string(s));
}

std::string EventJson(const Event& e) {
  std::string out;
  out.reserve(e.data.size() + 128);
  out += "{\"session_id\":";
  AppendQuoted(out, e.session_id);
  out += ",\"seq\":";
  out += std::to_string(e.seq);
  out += ",\"type\":";
  AppendQuoted(out, e.type);
  out += ",\"data\":";
  out += e.data.empty() ? "null" : e.data;
  out += ",\"created_at\":\"";
  out += FormatTimestamp(e.created_at);
  out += "\"}";
  return out;
}

std::string PreferencesJson(const Preferences& prefs) {
  return prefs.persist_history ? "{\"persist_history\":true}"
                               : "{\"persist_history\":false}";
}

}  // namespace chatstore::wire
