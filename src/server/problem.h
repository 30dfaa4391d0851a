// The one mapping from errors to HTTP answers: every error the server sends
// is an RFC 9457 application/problem+json document built here.
#ifndef CHATSTORE_SERVER_PROBLEM_H_
#define CHATSTORE_SERVER_PROBLEM_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chatstore/status.h"
#include "server/http_types.h"

namespace chatstore::server {

// An error answer before it is rendered.
struct Problem {
  http::status status = http::status::internal_server_error;
  std::string detail;
  // Extra headers the status needs: Allow (405), Retry-After (429),
  // WWW-Authenticate (401).
  std::vector<std::pair<http::field, std::string>> headers;
};

// The HTTP status for a Status code (kOk is not an error: 500).
http::status HttpStatusFor(Status::Code code);

// A Status from the service as a Problem (429s carry Retry-After).
Problem ProblemFromStatus(const Status& status);

// "not-found", "unprocessable", ... : the end of the problem type URN.
std::string_view ProblemSlug(http::status status);

// The problem type's URN slug and title: ProblemSlug() and the reason
// phrase, except for the problems of encryption at rest (search disabled,
// cannot decrypt), which have their own.
std::pair<std::string_view, std::string_view> ProblemTypeOf(
    const Problem& problem);

// Renders `problem` as a complete response with X-Request-Id set.
HttpResponse RenderProblem(const Problem& problem, std::string_view request_id,
                           unsigned http_version, bool keep_alive);

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_PROBLEM_H_
