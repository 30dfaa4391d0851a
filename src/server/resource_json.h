// JSON of the few shapes the core's wire format (core/wire_format.h, which
// renders sessions, messages and events for both events and responses) does
// not cover: search hits and nullable numbers.
#ifndef CHATSTORE_SERVER_RESOURCE_JSON_H_
#define CHATSTORE_SERVER_RESOURCE_JSON_H_

#include <cstdint>
#include <optional>
#include <string>

#include "chatstore/types.h"

namespace chatstore::server {

// {"session_id", "message_id", "seq", "snippet", "created_at"}
void AppendSearchHitJson(std::string& out, const SearchHit& hit);
// `n` or `null`.
void AppendOptionalInt(std::string& out, const std::optional<std::int64_t>& n);

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_RESOURCE_JSON_H_
