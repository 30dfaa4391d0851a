#include "store/sqlite/rows.h"

#include <optional>
#include <string>
#include <string_view>

namespace chatstore::sqlite {
namespace {

Status UnknownName(std::string_view what, std::string_view name) {
  return Status::Corruption("sqlite: unknown " + std::string(what) + " '" +
                            std::string(name) + "' in a stored row");
}

}  // namespace

Status ReadSessionRow(const Statement& stmt, int first, Session* out) {
  const int c = first;
  const auto status = ParseSessionStatus(stmt.Text(c + 3));
  if (!status) return UnknownName("session status", stmt.Text(c + 3));
  // assign() reuses the strings' capacity when `out` is recycled.
  out->id.assign(stmt.Text(c));
  out->user_id.assign(stmt.Text(c + 1));
  out->title.assign(stmt.Text(c + 2));
  out->status = *status;
  out->metadata.assign(stmt.Text(c + 4));
  out->state.assign(stmt.Text(c + 5));
  out->persistent = stmt.Int(c + 6) != 0;
  out->message_count = stmt.Int(c + 7);
  out->last_seq = stmt.Int(c + 8);
  out->created_at = FromMillis(stmt.Int(c + 9));
  out->updated_at = FromMillis(stmt.Int(c + 10));
  if (stmt.IsNull(c + 11)) {
    out->expires_at.reset();
  } else {
    out->expires_at = FromMillis(stmt.Int(c + 11));
  }
  return Status::Ok();
}

Status ReadMessageRow(const Statement& stmt, int first, Message* out) {
  const int c = first;
  const auto role = ParseRole(stmt.Text(c + 3));
  if (!role) return UnknownName("message role", stmt.Text(c + 3));
  const auto status = ParseMessageStatus(stmt.Text(c + 5));
  if (!status) return UnknownName("message status", stmt.Text(c + 5));
  out->id.assign(stmt.Text(c));
  out->session_id.assign(stmt.Text(c + 1));
  out->seq = stmt.Int(c + 2);
  out->role = *role;
  out->content.assign(stmt.Text(c + 4));
  out->status = *status;
  out->metadata.assign(stmt.Text(c + 6));
  out->tokens = stmt.OptionalInt(c + 7);
  out->created_at = FromMillis(stmt.Int(c + 8));
  out->updated_at = FromMillis(stmt.Int(c + 9));
  return Status::Ok();
}

void BindSessionRow(Statement& stmt, int first, const Session& s) {
  const int p = first;
  stmt.Bind(p, s.id);
  stmt.Bind(p + 1, s.user_id);
  stmt.Bind(p + 2, s.title);
  stmt.Bind(p + 3, ToString(s.status));
  stmt.Bind(p + 4, s.metadata);
  stmt.Bind(p + 5, s.state);
  stmt.Bind(p + 6, std::int64_t{s.persistent ? 1 : 0});
  stmt.Bind(p + 7, s.message_count);
  stmt.Bind(p + 8, s.last_seq);
  stmt.Bind(p + 9, ToMillis(s.created_at));
  stmt.Bind(p + 10, ToMillis(s.updated_at));
  if (s.expires_at) {
    stmt.Bind(p + 11, ToMillis(*s.expires_at));
  } else {
    stmt.BindNull(p + 11);
  }
}

void BindMessageRow(Statement& stmt, int first, const Message& m) {
  const int p = first;
  stmt.Bind(p, m.id);
  stmt.Bind(p + 1, m.session_id);
  stmt.Bind(p + 2, m.seq);
  stmt.Bind(p + 3, ToString(m.role));
  stmt.Bind(p + 4, m.content);
  stmt.Bind(p + 5, ToString(m.status));
  stmt.Bind(p + 6, m.metadata);
  stmt.Bind(p + 7, m.tokens);
  stmt.Bind(p + 8, ToMillis(m.created_at));
  stmt.Bind(p + 9, ToMillis(m.updated_at));
}

}  // namespace chatstore::sqlite
