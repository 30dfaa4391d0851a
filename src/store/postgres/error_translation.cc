#include "store/postgres/error_translation.h"

#include <exception>
#include <pqxx/pqxx>
#include <string>

namespace chatstore::postgres {
namespace {

std::string Message(std::string_view context, const char* what) {
  std::string m = "postgres: ";
  m.append(context);
  m += ": ";
  // libpq messages end in a newline and may span lines ("ERROR: ...\n
  // DETAIL: ..."); one line reads better in logs and problem+json.
  for (const char* p = what; *p != '\0'; ++p) m += (*p == '\n' ? ' ' : *p);
  while (!m.empty() && m.back() == ' ') m.pop_back();
  return m;
}

DbError FromSqlState(std::string_view context, const std::string& state,
                     const char* what) {
  const std::string m = Message(context, what);
  const std::string_view cls = std::string_view(state).substr(0, 2);
  if (cls == "08" || state == "57P01" || state == "57P02" || state == "57P03") {
    return {Status::Unavailable(m), Recovery::kReconnect};
  }
  if (state == "40001" || state == "40P01") {
    return {Status::Unavailable(m), Recovery::kRetry};
  }
  if (state == "57014" || state == "55P03" || cls == "53") {
    return {Status::Unavailable(m), Recovery::kGiveUp};
  }
  if (state == "23505") return {Status::AlreadyExists(m), Recovery::kGiveUp};
  if (cls == "22") return {Status::InvalidArgument(m), Recovery::kGiveUp};
  if (cls == "54") return {Status::Unprocessable(m), Recovery::kGiveUp};
  return {Status::Internal(m), Recovery::kGiveUp};
}

}  // namespace

DbError TranslateCurrentException(std::string_view context) {
  try {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    // The COMMIT was sent and the connection died before its answer: the
    // change may or may not be stored. Retrying could store it twice.
    return {Status::Unavailable(Message(context, e.what()) +
                                " (the commit's outcome is unknown)"),
            Recovery::kGiveUp};
  } catch (const pqxx::broken_connection& e) {
    return {Status::Unavailable(Message(context, e.what())),
            Recovery::kReconnect};
  } catch (const pqxx::sql_error& e) {
    return FromSqlState(context, e.sqlstate(), e.what());
  } catch (const std::exception& e) {
    return {Status::Internal(Message(context, e.what())), Recovery::kGiveUp};
  } catch (...) {
    return {Status::Internal(Message(context, "unknown exception")),
            Recovery::kGiveUp};
  }
}

}  // namespace chatstore::postgres
