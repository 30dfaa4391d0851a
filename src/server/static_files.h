// The session browser's files (web/), compiled into chatstored by
// embed_web_files.cmake and served at "/" with strict security headers.
#ifndef CHATSTORE_SERVER_STATIC_FILES_H_
#define CHATSTORE_SERVER_STATIC_FILES_H_

#include <span>
#include <string_view>

#include "server/http_types.h"

namespace chatstore::server {

// One file of web/, as embedded at build time.
struct EmbeddedFile {
  std::string_view path;          // "/index.html", "/app.js", ...
  std::string_view content_type;  // "text/javascript; charset=utf-8", ...
  std::string_view etag;          // strong: "\"<hash of the bytes>\""
  std::string_view body;
};

// Every embedded file, sorted by path (defined in the generated web_files.cc).
std::span<const EmbeddedFile> EmbeddedWebFiles();

// The file served at `path` (the request target's path, without its query):
// "/" is "/index.html"; nullptr when no file has that path.
const EmbeddedFile* FindWebFile(std::string_view path);

// The answer to a GET or HEAD of `file`: 200 with the bytes (HEAD: the same
// headers without the body), or 304 when If-None-Match names its ETag.
// Every answer carries the ETag, Cache-Control: no-cache (revalidate, cheap
// thanks to the ETag), a Content-Security-Policy allowing only this origin's
// scripts, styles and connections, and X-Content-Type-Options: nosniff.
// REQUIRES: request.method() is GET or HEAD.
HttpResponse ServeWebFile(const EmbeddedFile& file, const HttpRequest& request);

// The Content-Security-Policy every web file is served with.
inline constexpr std::string_view kWebContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_STATIC_FILES_H_
