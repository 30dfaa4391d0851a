// Turns request bodies and query strings into the service's request types.
// Malformed input is InvalidArgument (400) naming the field; well-formed but
// not allowed (unknown role, too many events) is Unprocessable (422).
#ifndef CHATSTORE_SERVER_REQUEST_DECODING_H_
#define CHATSTORE_SERVER_REQUEST_DECODING_H_

#include <boost/json/object.hpp>
#include <boost/url/params_view.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chatstore/service.h"
#include "chatstore/status.h"
#include "chatstore/types.h"

namespace chatstore::server {

// Parses a JSON object body no deeper than `limits.max_json_depth`. An empty
// body is an empty object (every field of every body is optional or named
// as missing by the decoders below).
Result<boost::json::object> ParseJsonObject(std::string_view body,
                                            const Limits& limits);

struct CreateSessionBody {
  CreateSessionRequest request;  // `persistent` is left for the policy
  std::optional<bool> persist;   // what the client asked for
};
Result<CreateSessionBody> DecodeCreateSession(const boost::json::object& body);
Result<SessionPatch> DecodeSessionPatch(const boost::json::object& body);
Result<NewMessage> DecodeNewMessage(const boost::json::object& body);
// {"delta": "text"}
Result<std::string> DecodeDelta(const boost::json::object& body);
// {content?}
Result<std::optional<std::string>> DecodeCompletion(
    const boost::json::object& body);
// {"type", "data"} or {"events": [...]}, at most limits.max_events_per_batch.
Result<std::vector<AppEvent>> DecodeAppEvents(const boost::json::object& body,
                                              const Limits& limits);
Result<Preferences> DecodePreferences(const boost::json::object& body);

// Query parameters.
// `limit`: absent means 0 (the service's default page); otherwise
// 1..limits.max_page.
Result<int> QueryLimit(boost::urls::params_view params, const Limits& limits);
// A non-negative integer parameter such as `after_seq`; absent means 0.
Result<std::int64_t> QuerySeq(boost::urls::params_view params,
                              std::string_view name);
std::optional<std::string> QueryString(boost::urls::params_view params,
                                       std::string_view name);
// Parses a non-negative decimal integer (Last-Event-ID, after_seq).
std::optional<std::int64_t> ParseSeq(std::string_view text);

// Opaque keyset cursors: base64url of "<updated_at ms>:<id>".
std::string EncodeSessionCursor(const SessionCursor& cursor);
Result<SessionCursor> DecodeSessionCursor(std::string_view text);
std::string EncodeSearchCursor(const SearchCursor& cursor);
Result<SearchCursor> DecodeSearchCursor(std::string_view text);

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_REQUEST_DECODING_H_
