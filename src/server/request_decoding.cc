#include "server/request_decoding.h"

#include <sodium.h>

#include <boost/json.hpp>
#include <charconv>
#include <string>
#include <utility>

#include "core/json_util.h"

namespace chatstore::server {
namespace json = boost::json;
namespace {

Status WrongType(std::string_view field, std::string_view expected) {
  return Status::InvalidArgument("field '" + std::string(field) + "' must be " +
                                 std::string(expected));
}

// The string at `key`, nullopt when absent; an error when not a string.
Result<std::optional<std::string>> OptionalString(const json::object& body,
                                                  std::string_view key) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return WrongType(key, "a string");
  return std::optional<std::string>(std::string(v->get_string()));
}

// The object at `key` serialized, nullopt when absent.
Result<std::optional<std::string>> OptionalObject(const json::object& body,
                                                  std::string_view key) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_object()) return WrongType(key, "a JSON object");
  return std::optional<std::string>(json::serialize(*v));
}

Result<std::optional<bool>> OptionalBool(const json::object& body,
                                         std::string_view key) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_bool()) return WrongType(key, "true or false");
  return std::optional<bool>(v->get_bool());
}

Result<AppEvent> DecodeAppEvent(const json::value& v, std::string_view where) {
  if (!v.is_object()) return WrongType(where, "a JSON object");
  const json::object& event = v.get_object();
  CHATSTORE_ASSIGN_OR_RETURN(auto type, OptionalString(event, "type"));
  if (!type) {
    return Status::InvalidArgument("field '" + std::string(where) +
                                   ".type' is required");
  }
  AppEvent out;
  out.type = std::move(*type);
  const json::value* data = event.if_contains("data");
  out.data = data == nullptr ? "null" : json::serialize(*data);
  return out;
}

std::string EncodeCursor(std::int64_t millis, std::string_view id) {
  const std::string plain = std::to_string(millis) + ":" + std::string(id);
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(plain.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(plain.data()),
                    plain.size(), kVariant);
  out.resize(out.find('\0'));
  return out;
}

Result<std::pair<std::int64_t, std::string>> DecodeCursor(
    std::string_view text) {
  const Status bad = Status::InvalidArgument("parameter 'cursor' is malformed");
  if (text.empty() || text.size() > 256) return bad;
  std::string plain(text.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(plain.data()),
                        plain.size(), text.data(), text.size(), nullptr, &len,
                        nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return bad;
  }
  plain.resize(len);
  const std::size_t colon = plain.find(':');
  if (colon == std::string::npos) return bad;
  const std::optional<std::int64_t> millis =
      ParseSeq(std::string_view(plain).substr(0, colon));
  if (!millis) return bad;
  return std::make_pair(*millis, plain.substr(colon + 1));
}

}  // namespace

Result<json::object> ParseJsonObject(std::string_view body,
                                     const Limits& limits) {
  if (body.empty()) return json::object();
  // The core's parser: the same depth and UTF-8 rules as stored JSON.
  CHATSTORE_ASSIGN_OR_RETURN(
      json::value value,
      ::chatstore::json::Parse(body, limits.max_json_depth, "body"));
  if (!value.is_object()) {
    return Status::InvalidArgument("request body must be a JSON object");
  }
  return std::move(value.get_object());
}

Result<CreateSessionBody> DecodeCreateSession(const json::object& body) {
  CreateSessionBody out;
  CHATSTORE_ASSIGN_OR_RETURN(auto title, OptionalString(body, "title"));
  CHATSTORE_ASSIGN_OR_RETURN(auto metadata, OptionalObject(body, "metadata"));
  CHATSTORE_ASSIGN_OR_RETURN(auto state, OptionalObject(body, "state"));
  CHATSTORE_ASSIGN_OR_RETURN(out.persist, OptionalBool(body, "persist"));
  if (title) out.request.title = std::move(*title);
  if (metadata) out.request.metadata = std::move(*metadata);
  if (state) out.request.state = std::move(*state);
  return out;
}

Result<SessionPatch> DecodeSessionPatch(const json::object& body) {
  SessionPatch patch;
  CHATSTORE_ASSIGN_OR_RETURN(patch.title, OptionalString(body, "title"));
  CHATSTORE_ASSIGN_OR_RETURN(patch.metadata, OptionalObject(body, "metadata"));
  CHATSTORE_ASSIGN_OR_RETURN(patch.state, OptionalObject(body, "state"));
  CHATSTORE_ASSIGN_OR_RETURN(auto status, OptionalString(body, "status"));
  if (status) {
    patch.status = ParseSessionStatus(*status);
    if (!patch.status) {
      return Status::Unprocessable(
          "field 'status' must be one of active, running, completed, error, "
          "archived");
    }
  }
  return patch;
}

Result<NewMessage> DecodeNewMessage(const json::object& body) {
  NewMessage message;
  CHATSTORE_ASSIGN_OR_RETURN(auto role, OptionalString(body, "role"));
  if (!role) return Status::InvalidArgument("field 'role' is required");
  const std::optional<Role> parsed_role = ParseRole(*role);
  if (!parsed_role) {
    return Status::Unprocessable(
        "field 'role' must be one of system, user, assistant, tool");
  }
  message.role = *parsed_role;
  CHATSTORE_ASSIGN_OR_RETURN(auto content, OptionalString(body, "content"));
  if (!content) return Status::InvalidArgument("field 'content' is required");
  message.content = std::move(*content);
  CHATSTORE_ASSIGN_OR_RETURN(auto metadata, OptionalObject(body, "metadata"));
  if (metadata) message.metadata = std::move(*metadata);
  CHATSTORE_ASSIGN_OR_RETURN(auto status, OptionalString(body, "status"));
  if (status) {
    const std::optional<MessageStatus> parsed = ParseMessageStatus(*status);
    if (!parsed) {
      return Status::Unprocessable(
          "field 'status' must be 'streaming' or 'complete'");
    }
    message.status = *parsed;
  }
  return message;
}

Result<std::string> DecodeDelta(const json::object& body) {
  CHATSTORE_ASSIGN_OR_RETURN(auto delta, OptionalString(body, "delta"));
  if (!delta) return Status::InvalidArgument("field 'delta' is required");
  return std::move(*delta);
}

Result<std::optional<std::string>> DecodeCompletion(const json::object& body) {
  return OptionalString(body, "content");
}

Result<std::vector<AppEvent>> DecodeAppEvents(const json::object& body,
                                              const Limits& limits) {
  std::vector<AppEvent> events;
  const json::value* list = body.if_contains("events");
  if (list == nullptr) {
    CHATSTORE_ASSIGN_OR_RETURN(AppEvent event, DecodeAppEvent(body, "body"));
    events.push_back(std::move(event));
    return events;
  }
  if (!list->is_array()) return WrongType("events", "an array");
  const json::array& array = list->get_array();
  if (array.empty()) {
    return Status::InvalidArgument("field 'events' must not be empty");
  }
  if (array.size() > limits.max_events_per_batch) {
    return Status::Unprocessable("field 'events' holds more than " +
                                 std::to_string(limits.max_events_per_batch) +
                                 " events");
  }
  events.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    CHATSTORE_ASSIGN_OR_RETURN(
        AppEvent event,
        DecodeAppEvent(array[i], "events[" + std::to_string(i) + "]"));
    events.push_back(std::move(event));
  }
  return events;
}

Result<Preferences> DecodePreferences(const json::object& body) {
  CHATSTORE_ASSIGN_OR_RETURN(auto persist,
                             OptionalBool(body, "persist_history"));
  if (!persist) {
    return Status::InvalidArgument("field 'persist_history' is required");
  }
  return Preferences{*persist};
}

std::optional<std::int64_t> ParseSeq(std::string_view text) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < 0) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> QueryString(boost::urls::params_view params,
                                       std::string_view name) {
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return std::string((*it).value);
}

Result<int> QueryLimit(boost::urls::params_view params, const Limits& limits) {
  const std::optional<std::string> text = QueryString(params, "limit");
  if (!text) return 0;
  const std::optional<std::int64_t> limit = ParseSeq(*text);
  if (!limit) {
    return Status::InvalidArgument(
        "parameter 'limit' must be a positive integer");
  }
  if (*limit < 1 || *limit > limits.max_page) {
    return Status::Unprocessable("parameter 'limit' must be between 1 and " +
                                 std::to_string(limits.max_page));
  }
  return static_cast<int>(*limit);
}

Result<std::int64_t> QuerySeq(boost::urls::params_view params,
                              std::string_view name) {
  const std::optional<std::string> text = QueryString(params, name);
  if (!text) return std::int64_t{0};
  const std::optional<std::int64_t> seq = ParseSeq(*text);
  if (!seq) {
    return Status::InvalidArgument("parameter '" + std::string(name) +
                                   "' must be a non-negative integer");
  }
  return *seq;
}

std::string EncodeSessionCursor(const SessionCursor& cursor) {
  return EncodeCursor(ToMillis(cursor.updated_at), cursor.id);
}

Result<SessionCursor> DecodeSessionCursor(std::string_view text) {
  CHATSTORE_ASSIGN_OR_RETURN(auto parts, DecodeCursor(text));
  return SessionCursor{FromMillis(parts.first), std::move(parts.second)};
}

std::string EncodeSearchCursor(const SearchCursor& cursor) {
  return EncodeCursor(ToMillis(cursor.created_at), cursor.message_id);
}

Result<SearchCursor> DecodeSearchCursor(std::string_view text) {
  CHATSTORE_ASSIGN_OR_RETURN(auto parts, DecodeCursor(text));
  return SearchCursor{FromMillis(parts.first), std::move(parts.second)};
}

}  // namespace chatstore::server
