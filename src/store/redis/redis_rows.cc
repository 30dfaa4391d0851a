#include "store/redis/redis_rows.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <utility>

namespace chatstore::redis {
namespace {

constexpr std::string_view kMessageFormat = "m1";

std::string_view Str(const redisReply* r) {
  return r->str ? std::string_view(r->str, r->len) : std::string_view();
}

// Length-prefixed fields ("<len>:<bytes>"): binary-safe, and no parser is
// needed for the content that makes up most of a row.
void PutField(std::string& out, std::string_view value) {
  out += std::to_string(value.size());
  out += ':';
  out.append(value);
}

class FieldReader {
 public:
  explicit FieldReader(std::string_view in) : in_(in) {}
  std::optional<std::string_view> Next() {
    const auto colon = in_.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const auto len = ParseInt64(in_.substr(0, colon));
    if (!len || *len < 0 ||
        static_cast<std::size_t>(*len) > in_.size() - colon - 1) {
      return std::nullopt;
    }
    std::string_view field = in_.substr(colon + 1, *len);
    in_.remove_prefix(colon + 1 + *len);
    return field;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

Status Bad(std::string_view what, std::string_view id) {
  return Status::Corruption("redis: unreadable " + std::string(what) + " " +
                            std::string(id));
}

}  // namespace

std::optional<std::int64_t> ParseInt64(std::string_view s) {
  std::int64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string> SessionFieldsDiff(const Session* before,
                                           const Session& after) {
  std::vector<std::string> out;
  auto put = [&](std::string_view name, std::string value,
                 std::optional<std::string> old) {
    if (old && *old == value) return;
    out.emplace_back(name);
    out.push_back(std::move(value));
  };
  auto ms = [](const std::optional<Timestamp>& t) {
    return t ? std::to_string(ToMillis(*t)) : std::string();
  };
  const Session* b = before;
  using O = std::optional<std::string>;
  put("id", after.id, b ? O(b->id) : O());
  put("user_id", after.user_id, b ? O(b->user_id) : O());
  put("title", after.title, b ? O(b->title) : O());
  put("status", std::string(ToString(after.status)),
      b ? O(std::string(ToString(b->status))) : O());
  put("metadata", after.metadata, b ? O(b->metadata) : O());
  put("state", after.state, b ? O(b->state) : O());
  put("persistent", after.persistent ? "1" : "0",
      b ? O(b->persistent ? "1" : "0") : O());
  put("message_count", std::to_string(after.message_count),
      b ? O(std::to_string(b->message_count)) : O());
  put("last_seq", std::to_string(after.last_seq),
      b ? O(std::to_string(b->last_seq)) : O());
  put("created_at", ms(after.created_at), b ? O(ms(b->created_at)) : O());
  put("updated_at", ms(after.updated_at), b ? O(ms(b->updated_at)) : O());
  // "" means no expiry (a persistent session).
  put("expires_at", ms(after.expires_at), b ? O(ms(b->expires_at)) : O());
  return out;
}

Result<std::optional<StoredSession>> DecodeSession(const redisReply* hgetall) {
  if (hgetall == nullptr || hgetall->type != REDIS_REPLY_ARRAY) {
    return Status::Corruption("redis: session hash reply is not an array");
  }
  if (hgetall->elements == 0) return std::optional<StoredSession>();
  StoredSession s;
  Session& r = s.row;
  unsigned seen = 0;
  bool ok = true;
  auto num = [&](std::string_view v) {
    auto n = ParseInt64(v);
    if (!n) ok = false;
    return n.value_or(0);
  };
  for (std::size_t i = 0; i + 1 < hgetall->elements; i += 2) {
    const std::string_view name = Str(hgetall->element[i]);
    const std::string_view v = Str(hgetall->element[i + 1]);
    if (name == "id") {
      r.id = v, seen |= 1;
    } else if (name == "user_id") {
      r.user_id = v, seen |= 2;
    } else if (name == "title") {
      r.title = v;
    } else if (name == "status") {
      auto st = ParseSessionStatus(v);
      if (!st) ok = false;
      r.status = st.value_or(SessionStatus::kActive);
    } else if (name == "metadata") {
      r.metadata = v;
    } else if (name == "state") {
      r.state = v;
    } else if (name == "persistent") {
      r.persistent = v == "1";
    } else if (name == "message_count") {
      r.message_count = num(v);
    } else if (name == "last_seq") {
      r.last_seq = num(v), seen |= 4;
    } else if (name == "created_at") {
      r.created_at = FromMillis(num(v));
    } else if (name == "updated_at") {
      r.updated_at = FromMillis(num(v)), seen |= 8;
    } else if (name == "expires_at") {
      if (!v.empty()) r.expires_at = FromMillis(num(v));
    } else if (name == "gen") {
      s.gen = v, seen |= 16;
    }
  }
  if (!ok || seen != 31) return Bad("session", r.id);
  return std::optional<StoredSession>(std::move(s));
}

std::string EncodeMessage(const Message& m) {
  std::string out;
  out.reserve(m.content.size() + m.metadata.size() + m.id.size() + 96);
  out.append(kMessageFormat);
  out += ';';
  PutField(out, m.id);
  PutField(out, std::to_string(m.seq));
  PutField(out, ToString(m.role));
  PutField(out, ToString(m.status));
  PutField(out, m.tokens ? std::to_string(*m.tokens) : std::string());
  PutField(out, std::to_string(ToMillis(m.created_at)));
  PutField(out, std::to_string(ToMillis(m.updated_at)));
  PutField(out, m.metadata);
  PutField(out, m.content);
  return out;
}

Result<Message> DecodeMessage(std::string_view encoded,
                              std::string_view session_id) {
  if (!encoded.starts_with(kMessageFormat) ||
      encoded.size() <= kMessageFormat.size() ||
      encoded[kMessageFormat.size()] != ';') {
    return Bad("message in session", session_id);
  }
  FieldReader in(encoded.substr(kMessageFormat.size() + 1));
  std::optional<std::string_view> f[9];
  for (auto& field : f) field = in.Next();
  for (const auto& field : f) {
    if (!field) return Bad("message in session", session_id);
  }
  Message m;
  m.id = *f[0];
  m.session_id = session_id;
  const auto seq = ParseInt64(*f[1]);
  const auto role = ParseRole(*f[2]);
  const auto status = ParseMessageStatus(*f[3]);
  const auto created = ParseInt64(*f[5]);
  const auto updated = ParseInt64(*f[6]);
  if (!seq || !role || !status || !created || !updated || !in.done()) {
    return Bad("message", m.id);
  }
  if (!f[4]->empty()) {
    m.tokens = ParseInt64(*f[4]);
    if (!m.tokens) return Bad("message", m.id);
  }
  m.seq = *seq;
  m.role = *role;
  m.status = *status;
  m.created_at = FromMillis(*created);
  m.updated_at = FromMillis(*updated);
  m.metadata = *f[7];
  m.content = *f[8];
  return m;
}

std::string EncodeEvent(const Event& e) {
  std::string out;
  out.reserve(e.type.size() + e.data.size() + 40);
  out += std::to_string(e.seq);
  out += '|';
  out += std::to_string(ToMillis(e.created_at));
  out += '|';
  out += e.type;
  out += '|';
  out += e.data;
  return out;
}

Result<Event> DecodeEvent(std::string_view member,
                          std::string_view session_id) {
  std::string_view parts[3];
  std::string_view rest = member;
  for (auto& part : parts) {
    const auto bar = rest.find('|');
    if (bar == std::string_view::npos) return Bad("event in", session_id);
    part = rest.substr(0, bar);
    rest.remove_prefix(bar + 1);
  }
  const auto seq = ParseInt64(parts[0]);
  const auto ms = ParseInt64(parts[1]);
  if (!seq || !ms) return Bad("event in", session_id);
  Event e;
  e.session_id = session_id;
  e.seq = *seq;
  e.created_at = FromMillis(*ms);
  e.type = parts[2];
  e.data = rest;
  return e;
}

}  // namespace chatstore::redis
