#include "server/resource_json.h"

#include <string>

#include "core/wire_format.h"

namespace chatstore::server {

void AppendOptionalInt(std::string& out, const std::optional<std::int64_t>& n) {
  out += n ? std::to_string(*n) : "null";
}

void AppendSearchHitJson(std::string& out, const SearchHit& hit) {
  out += "{\"session_id\":";
  wire::AppendQuoted(out, hit.session_id);
  out += ",\"message_id\":";
  wire::AppendQuoted(out, hit.message_id);
  out += ",\"seq\":";
  out += std::to_string(hit.seq);
  out += ",\"snippet\":";
  wire::AppendQuoted(out, hit.snippet);
  out += ",\"created_at\":\"";
  out += FormatTimestamp(hit.created_at);
  out += "\"}";
}

}  // namespace chatstore::server
