#include "server/problem.h"

#include <boost/json.hpp>
#include <string>

#include "chatstore/encryption.h"
#include "tokens/utf8_replacement.h"

namespace chatstore::server {

http::status HttpStatusFor(Status::Code code) {
  switch (code) {
    case Status::Code::kNotFound:
      return http::status::not_found;
    case Status::Code::kAlreadyExists:
    case Status::Code::kConflict:
      return http::status::conflict;
    case Status::Code::kInvalidArgument:
      return http::status::bad_request;
    case Status::Code::kUnprocessable:
      return http::status::unprocessable_entity;
    case Status::Code::kUnavailable:
      return http::status::service_unavailable;
    case Status::Code::kResourceExhausted:
      return http::status::too_many_requests;
    case Status::Code::kOk:
    case Status::Code::kCorruption:
    case Status::Code::kInternal:
      break;
  }
  return http::status::internal_server_error;
}

Problem ProblemFromStatus(const Status& status) {
  Problem problem{HttpStatusFor(status.code()), status.message(), {}};
  if (problem.status == http::status::too_many_requests) {
    problem.headers.emplace_back(http::field::retry_after, "1");
  }
  if (problem.status == http::status::service_unavailable) {
    problem.headers.emplace_back(http::field::retry_after, "1");
  }
  if (problem.status == http::status::internal_server_error &&
      !IsDecryptionFailure(status)) {
    // Internal details (file paths, SQL) are for the log, not the client.
    problem.detail = "internal error";
  }
  return problem;
}

std::string_view ProblemSlug(http::status status) {
  switch (status) {
    case http::status::bad_request:
      return "bad-request";
    case http::status::unauthorized:
      return "unauthorized";
    case http::status::forbidden:
      return "forbidden";
    case http::status::not_found:
      return "not-found";
    case http::status::method_not_allowed:
      return "method-not-allowed";
    case http::status::conflict:
      return "conflict";
    case http::status::payload_too_large:
      return "payload-too-large";
    case http::status::unsupported_media_type:
      return "unsupported-media-type";
    case http::status::unprocessable_entity:
      return "unprocessable";
    case http::status::too_many_requests:
      return "rate-limited";
    case http::status::request_header_fields_too_large:
      return "headers-too-large";
    case http::status::service_unavailable:
      return "unavailable";
    default:
      return "internal";
  }
}

std::pair<std::string_view, std::string_view> ProblemTypeOf(
    const Problem& problem) {
  // Encryption at rest (docs/encryption.md): two problems an operator must
  // recognise at a glance, not a bare 422 or 500. The decryption failure's
  // detail names only the caller's own session: no path, key or data.
  const std::string_view detail = problem.detail;
  if (problem.status == http::status::unprocessable_entity &&
      detail == kSearchDisabledMessage) {
    return {"search-disabled", kSearchDisabledMessage};
  }
  if (problem.status == http::status::internal_server_error &&
      detail.starts_with(kCannotDecryptMessage)) {
    return {"cannot-decrypt", kCannotDecryptMessage};
  }
  return {ProblemSlug(problem.status), http::obsolete_reason(problem.status)};
}

HttpResponse RenderProblem(const Problem& problem, std::string_view request_id,
                           unsigned http_version, bool keep_alive) {
  boost::json::object body;
  const auto [slug, title] = ProblemTypeOf(problem);
  body["type"] = "urn:chatstore:problem:" + std::string(slug);
  body["title"] = std::string(title);
  body["status"] = static_cast<int>(problem.status);
  // Details quote client input (a session id from the path, a role): bytes
  // that are not UTF-8 would make the document invalid JSON.
  body["detail"] = tokens_internal::ReplaceInvalidUtf8(problem.detail);
  body["request_id"] = request_id;

  HttpResponse response{problem.status, http_version};
  response.set(http::field::content_type, "application/problem+json");
  response.set("X-Request-Id", request_id);
  for (const auto& [field, value] : problem.headers) {
    response.set(field, value);
  }
  response.body() = boost::json::serialize(body);
  response.keep_alive(keep_alive);
  response.prepare_payload();
  return response;
}

}  // namespace chatstore::server
