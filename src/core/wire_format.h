// The JSON shapes of API.md's resources. Event payloads (session.created,
// message.created, ...) and HTTP responses use the same functions, so a
// session looks the same in a stream as in a GET.
#ifndef CHATSTORE_CORE_WIRE_FORMAT_H_
#define CHATSTORE_CORE_WIRE_FORMAT_H_

#include <boost/json.hpp>
#include <string>

#include "chatstore/types.h"

namespace chatstore::wire {

// Session/Message as JSON values; metadata and state are parsed from their
// stored text (stored JSON was validated on the way in).
boost::json::object SessionValue(const Session& s);
boost::json::object MessageValue(const Message& m);

std::string SessionJson(const Session& s);
std::string MessageJson(const Message& m);
// {"session_id","seq","type","data":<raw stored JSON>,"created_at"}
std::string EventJson(const Event& e);
// The session.deleted event that ends a session's streams: not stored (the
// log is gone with the session), so built wherever a deletion is noticed.
// data: {"id": <session id>}.
Event SessionDeletedEvent(std::string_view session_id, std::int64_t seq,
                          Timestamp at);
// {"persist_history": bool}
std::string PreferencesJson(const Preferences& prefs);
// Appends `s` as a JSON string literal (quoted, escaped) to `out`.
void AppendQuoted(std::string& out, std::string_view s);

}  // namespace chatstore::wire

#endif  // CHATSTORE_CORE_WIRE_FORMAT_H_
