// The HTTP message types every part of the server agrees on, and what a
// request handler hands back to the connection that serves it.
#ifndef CHATSTORE_SERVER_HTTP_TYPES_H_
#define CHATSTORE_SERVER_HTTP_TYPES_H_

#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>
#include <variant>

#include "chatstore/types.h"

namespace chatstore::server {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;

// Facts about a request that are not in the message itself.
struct RequestContext {
  std::string request_id;
  std::string remote_address;
};

// The request asked for an SSE stream of a session the caller owns. The
// connection runs the stream (sse.h) after the handler returns.
struct SseStart {
  std::string user_id;
  std::string session_id;
  std::int64_t after_seq = 0;
};

// The request asked for a user's export, streamed in chunks (export_stream.h).
struct ExportStart {
  std::string user_id;
};

// What a handler decided. `response` is the whole answer, or for a stream
// the status and headers to send before the stream's body.
struct Reply {
  HttpResponse response;
  std::variant<std::monostate, SseStart, ExportStart> stream;
  std::string route = "unmatched";  // route template, for metrics and logs
  std::string user_id;              // the caller, for logs ("" when none)
};

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_HTTP_TYPES_H_
