// Unit tests of chatstore_server's pure pieces (no sockets).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <chrono>

#include "server/auth.h"
#include "server/config.h"
#include "server/idempotency.h"
#include "server/problem.h"
#include "server/rate_limiter.h"
#include "server/request_decoding.h"
#include "server/router.h"
#include "server/sse.h"
#include "server/static_files.h"

namespace chatstore::server {
namespace {

TEST(RouterTest, MatchesTemplatesAndCapturesParameters) {
  RouteMatch m =
      MatchRoute(http::verb::post, "/v1/sessions/abc/messages/def/append");
  ASSERT_EQ(m.outcome, RouteMatch::Outcome::kMatched);
  EXPECT_EQ(m.id, RouteId::kAppendDelta);
  EXPECT_EQ(m.route_template, "/v1/sessions/{id}/messages/{mid}/append");
  EXPECT_EQ(m.params, (std::vector<std::string>{"abc", "def"}));
  EXPECT_EQ(MatchRoute(http::verb::get, "/v1/admin/stats").access,
            Access::kAdmin);
  EXPECT_EQ(MatchRoute(http::verb::get, "/v1/sessions/").outcome,
            RouteMatch::Outcome::kNotFound);
  RouteMatch context = MatchRoute(http::verb::get, "/v1/sessions/a/context");
  ASSERT_EQ(context.outcome, RouteMatch::Outcome::kMatched);
  EXPECT_EQ(context.id, RouteId::kGetContext);
  EXPECT_EQ(context.params, (std::vector<std::string>{"a"}));
  RouteMatch post_context =
      MatchRoute(http::verb::post, "/v1/sessions/a/context");
  EXPECT_EQ(post_context.outcome, RouteMatch::Outcome::kMethodNotAllowed);
  EXPECT_EQ(post_context.allow, "GET");
  EXPECT_EQ(MatchRoute(http::verb::get, "/v1/sessions/a/nothing").outcome,
            RouteMatch::Outcome::kNotFound);
  RouteMatch wrong = MatchRoute(http::verb::put, "/v1/sessions/x");
  EXPECT_EQ(wrong.outcome, RouteMatch::Outcome::kMethodNotAllowed);
  EXPECT_EQ(wrong.allow, "GET, PATCH, DELETE");
  EXPECT_EQ(MatchRoute(http::verb::get, "/v1/admin/users/a%3Ab/export").params,
            (std::vector<std::string>{"a:b"}));
}

TEST(ProblemTest, EveryStatusCodeHasOneHttpStatus) {
  EXPECT_EQ(HttpStatusFor(Status::Code::kNotFound), http::status::not_found);
  EXPECT_EQ(HttpStatusFor(Status::Code::kInvalidArgument),
            http::status::bad_request);
  EXPECT_EQ(HttpStatusFor(Status::Code::kUnprocessable),
            http::status::unprocessable_entity);
  EXPECT_EQ(HttpStatusFor(Status::Code::kConflict), http::status::conflict);
  EXPECT_EQ(HttpStatusFor(Status::Code::kUnavailable),
            http::status::service_unavailable);
  EXPECT_EQ(HttpStatusFor(Status::Code::kCorruption),
            http::status::internal_server_error);
  HttpResponse r =
      RenderProblem(ProblemFromStatus(Status::Internal("sqlite: /secret/path")),
                    "rid", 11, true);
  EXPECT_EQ(r[http::field::content_type], "application/problem+json");
  EXPECT_EQ(r.body().find("/secret/path"), std::string::npos);
  EXPECT_NE(r.body().find("\"request_id\":\"rid\""), std::string::npos);
}

TEST(RequestDecodingTest, BodiesAndQueries) {
  Limits limits;
  EXPECT_TRUE(ParseJsonObject("", limits).ok());
  EXPECT_EQ(ParseJsonObject("{", limits).status().code(),
            Status::Code::kInvalidArgument);
  auto body = ParseJsonObject(R"({"role":"tool","content":"x"})", limits);
  ASSERT_TRUE(body.ok());
  auto message = DecodeNewMessage(*body);
  ASSERT_TRUE(message.ok());
  EXPECT_EQ(message->role, Role::kTool);
  auto events = DecodeAppEvents(
      *ParseJsonObject(R"({"type":"a.b","data":{"x":[1,2]}})", limits), limits);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].data, R"({"x":[1,2]})");

  auto url = boost::urls::parse_origin_form("/x?limit=5&after_seq=7");
  EXPECT_EQ(*QueryLimit(url->params(), limits), 5);
  EXPECT_EQ(*QuerySeq(url->params(), "after_seq"), 7);
  EXPECT_FALSE(ParseSeq("-1"));
  EXPECT_FALSE(ParseSeq("1x"));
  EXPECT_EQ(ParseSeq("42"), 42);

  SessionCursor cursor{FromMillis(1234), "abc"};
  auto round_trip = DecodeSessionCursor(EncodeSessionCursor(cursor));
  ASSERT_TRUE(round_trip.ok());
  EXPECT_EQ(round_trip->id, "abc");
  EXPECT_EQ(ToMillis(round_trip->updated_at), 1234);
  EXPECT_FALSE(DecodeSessionCursor("!!").ok());
}

TEST(PolicyTest, FollowsTheTableOfApiMd) {
  using P = SessionPolicy;
  EXPECT_TRUE(DecidePersistent(P::kAuth, false, true, std::nullopt));
  EXPECT_FALSE(DecidePersistent(P::kAuth, false, true, false));
  EXPECT_FALSE(DecidePersistent(P::kAuth, false, false, std::nullopt));
  EXPECT_FALSE(DecidePersistent(P::kAuth, true, true, true));
  EXPECT_TRUE(DecidePersistent(P::kPersistAll, true, false, false));
  EXPECT_FALSE(DecidePersistent(P::kEphemeralAll, false, true, true));
}

TEST(RateLimiterTest, RefillsAndTellsWhenToRetry) {
  RateLimiter limiter(1.0, 2.0);
  const auto t0 = RateLimiter::Clock::now();
  EXPECT_EQ(limiter.Acquire("u", t0), 0);
  EXPECT_EQ(limiter.Acquire("u", t0), 0);
  EXPECT_EQ(limiter.Acquire("u", t0), 1);
  EXPECT_EQ(limiter.Acquire("v", t0), 0);
  EXPECT_EQ(limiter.Acquire("u", t0 + std::chrono::seconds(1)), 0);
  RateLimiter off(0, 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(off.Acquire("u", t0), 0);
}

TEST(IdempotencyTableTest, ReplaysMismatchesAndExpires) {
  IdempotencyTable table(2, std::chrono::seconds(10));
  const auto t0 = IdempotencyTable::Clock::now();
  using O = IdempotencyTable::Outcome;
  EXPECT_EQ(table.Begin("u", "k", "f1", t0).outcome, O::kFirst);
  EXPECT_EQ(table.Begin("u", "k", "f1", t0).outcome, O::kInProgress);
  table.Finish("u", "k", StoredAnswer{201, "body", {}});
  auto replay = table.Begin("u", "k", "f1", t0);
  EXPECT_EQ(replay.outcome, O::kReplay);
  EXPECT_EQ(replay.answer->body, "body");
  EXPECT_EQ(table.Begin("u", "k", "f2", t0).outcome, O::kMismatch);
  EXPECT_EQ(table.Begin("other", "k", "f2", t0).outcome, O::kFirst);
  EXPECT_EQ(table.Begin("u", "k", "f1", t0 + std::chrono::seconds(11)).outcome,
            O::kFirst);
  // Bounded: a third key evicts the oldest.
  table.Begin("a", "1", "f", t0 + std::chrono::seconds(12));
  table.Begin("a", "2", "f", t0 + std::chrono::seconds(12));
  EXPECT_LE(table.size(), 2u);
}

TEST(TokenAuthorityTest, SignsWhatItVerifies) {
  TokenAuthority authority(TokenOptions{"0123456789abcdef0123456789abcdef",
                                        "iss", "aud", std::chrono::seconds(0)});
  const Timestamp now = FromMillis(1'800'000'000'000);
  auto token = authority.Sign(
      TokenClaims{"anon:1", now + std::chrono::hours(1), true, "admin"}, now);
  ASSERT_TRUE(token.ok());
  auto principal = authority.Verify(*token, now);
  ASSERT_TRUE(principal.ok()) << principal.status().ToString();
  EXPECT_EQ(principal->user_id, "anon:1");
  EXPECT_TRUE(principal->anonymous);
  EXPECT_TRUE(principal->admin);
  EXPECT_FALSE(authority.Verify(*token, now + std::chrono::hours(2)).ok());
  TokenAuthority other(TokenOptions{"another-secret-another-secret-xx", "iss",
                                    "aud", std::chrono::seconds(0)});
  EXPECT_FALSE(other.Verify(*token, now).ok());
}

TEST(TokenAuthorityTest, ExtractsBearerFromHeaderOrQuery) {
  EXPECT_EQ(ExtractBearerToken("Bearer abc", "/x"), "abc");
  EXPECT_EQ(ExtractBearerToken("", "/x?access_token=q%2Eq"), "q.q");
  EXPECT_EQ(ExtractBearerToken("Basic zzz", "/x"), "");
}

TEST(SseFormatTest, OneEventPerFrame) {
  EXPECT_EQ(FormatSseEvent(7, "a.b", R"({"x":1})"),
            "id: 7\nevent: a.b\ndata: {\"x\":1}\n\n");
  EXPECT_EQ(FormatSseEvent(1, "t", "a\nb"),
            "id: 1\nevent: t\ndata: a\ndata: b\n\n");
  // A lone CR ends an SSE line too: it must not reach the wire raw.
  EXPECT_EQ(FormatSseEvent(2, "t", "a\rb\r\nc\n\rd\r"),
            "id: 2\nevent: t\ndata: a\ndata: b\ndata: c\ndata: \ndata: "
            "d\ndata: \n\n");
}

TEST(ProblemTest, DetailIsValidUtf8WhateverTheClientSent) {
  const HttpResponse r =
      RenderProblem({http::status::not_found, "session \xff\xfe not found", {}},
                    "rid", 11, false);
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(r.body(), ec);
  ASSERT_FALSE(ec) << r.body();
  EXPECT_EQ(v.at("detail").as_string(),
            "session \xef\xbf\xbd\xef\xbf\xbd not found");
}

HttpRequest WebRequest(http::verb method, std::string_view target) {
  HttpRequest request{method, target, 11};
  request.keep_alive(true);
  return request;
}

void ExpectWebHeaders(const HttpResponse& r, const EmbeddedFile& file) {
  EXPECT_EQ(r[http::field::etag], file.etag);
  EXPECT_EQ(r[http::field::cache_control], "no-cache");
  EXPECT_EQ(r["Content-Security-Policy"], kWebContentSecurityPolicy);
  EXPECT_EQ(r["X-Content-Type-Options"], "nosniff");
}

TEST(StaticFilesTest, FindsTheEmbeddedPage) {
  const EmbeddedFile* index = FindWebFile("/");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index, FindWebFile("/index.html"));
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->body.find("<script type=\"module\" src=\"/app.js\">"),
            std::string_view::npos);
  // No inline script: the CSP would block it.
  EXPECT_EQ(index->body.find("<script>"), std::string_view::npos);
  for (std::string_view path :
       {"/app.js", "/sse.js", "/api.js", "/transcript.js", "/style.css"}) {
    const EmbeddedFile* file = FindWebFile(path);
    ASSERT_NE(file, nullptr) << path;
    EXPECT_FALSE(file->body.empty()) << path;
    // A strong ETag: quoted, no W/ prefix, differs between files.
    EXPECT_TRUE(file->etag.starts_with('"') && file->etag.ends_with('"'));
    EXPECT_NE(file->etag, index->etag);
  }
  EXPECT_EQ(FindWebFile("/app.js")->content_type,
            "text/javascript; charset=utf-8");
  EXPECT_EQ(FindWebFile("/style.css")->content_type, "text/css; charset=utf-8");
  EXPECT_EQ(FindWebFile("/nope.js"), nullptr);
  EXPECT_EQ(FindWebFile("/app.js/"), nullptr);
  EXPECT_EQ(FindWebFile(""), nullptr);
  EXPECT_EQ(FindWebFile("/v1/sessions"), nullptr);
  EXPECT_EQ(FindWebFile("/../app.js"), nullptr);
}

TEST(StaticFilesTest, GetHeadAndConditionalRequests) {
  const EmbeddedFile& file = *FindWebFile("/app.js");
  HttpResponse get = ServeWebFile(file, WebRequest(http::verb::get, "/app.js"));
  EXPECT_EQ(get.result(), http::status::ok);
  EXPECT_EQ(get.body(), file.body);
  EXPECT_EQ(get[http::field::content_type], file.content_type);
  EXPECT_EQ(get[http::field::content_length], std::to_string(file.body.size()));
  ExpectWebHeaders(get, file);

  HttpResponse head =
      ServeWebFile(file, WebRequest(http::verb::head, "/app.js"));
  EXPECT_EQ(head.result(), http::status::ok);
  EXPECT_TRUE(head.body().empty());
  EXPECT_EQ(head[http::field::content_length],
            std::to_string(file.body.size()));
  ExpectWebHeaders(head, file);

  for (const std::string& tag :
       {std::string(file.etag), "W/" + std::string(file.etag),
        "\"other\", " + std::string(file.etag), std::string("*")}) {
    HttpRequest conditional = WebRequest(http::verb::get, "/app.js");
    conditional.set(http::field::if_none_match, tag);
    HttpResponse r = ServeWebFile(file, conditional);
    EXPECT_EQ(r.result(), http::status::not_modified) << tag;
    EXPECT_TRUE(r.body().empty());
    ExpectWebHeaders(r, file);
  }
  HttpRequest stale = WebRequest(http::verb::get, "/app.js");
  stale.set(http::field::if_none_match, "\"0123\"");
  EXPECT_EQ(ServeWebFile(file, stale).result(), http::status::ok);
}

}  // namespace
}  // namespace chatstore::server
