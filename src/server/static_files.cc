#include "server/static_files.h"

#include <algorithm>

namespace chatstore::server {
namespace {

// RFC 9110 13.1.2: If-None-Match uses the weak comparison, so W/"x" matches
// "x"; "*" matches any current representation.
bool IfNoneMatchMatches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view candidate = header.substr(0, comma);
    while (!candidate.empty() &&
           (candidate.front() == ' ' || candidate.front() == '\t')) {
      candidate.remove_prefix(1);
    }
    while (!candidate.empty() &&
           (candidate.back() == ' ' || candidate.back() == '\t')) {
      candidate.remove_suffix(1);
    }
    if (candidate == "*") return true;
    if (candidate.starts_with("W/")) candidate.remove_prefix(2);
    if (candidate == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

const EmbeddedFile* FindWebFile(std::string_view path) {
  if (path == "/") path = "/index.html";
  const std::span<const EmbeddedFile> files = EmbeddedWebFiles();
  const auto it =
      std::lower_bound(files.begin(), files.end(), path,
                       [](const EmbeddedFile& file, std::string_view p) {
                         return file.path < p;
                       });
  if (it == files.end() || it->path != path) return nullptr;
  return &*it;
}

HttpResponse ServeWebFile(const EmbeddedFile& file,
                          const HttpRequest& request) {
  HttpResponse response;
  response.version(request.version());
  response.keep_alive(request.keep_alive());
  response.set(http::field::etag, file.etag);
  response.set(http::field::cache_control, "no-cache");
  response.set("Content-Security-Policy", kWebContentSecurityPolicy);
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Referrer-Policy", "no-referrer");
  const auto if_none_match = request.find(http::field::if_none_match);
  if (if_none_match != request.end() &&
      IfNoneMatchMatches(if_none_match->value(), file.etag)) {
    response.result(http::status::not_modified);
    return response;
  }
  response.result(http::status::ok);
  response.set(http::field::content_type, file.content_type);
  if (request.method() == http::verb::head) {
    // The length the GET would send, and no body.
    response.content_length(file.body.size());
  } else {
    response.body().assign(file.body);
    response.prepare_payload();
  }
  return response;
}

}  // namespace chatstore::server
