// Every /v1 endpoint of API.md over real sockets: success and failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "server/server_test_fixture.h"

namespace chatstore::testing {
namespace {

namespace json = boost::json;

class ApiTest : public ServerTest {};

TEST_F(ApiTest, SessionLifecycle) {
  const std::string token = TokenFor("alice");
  HttpResult created = client().Post(
      "/v1/sessions", token,
      R"({"title":"Trip to Kyoto","metadata":{"a":1},"state":{"phase":"x"}})");
  ASSERT_EQ(created.status, 201) << created.body;
  json::object s = created.Json().as_object();
  const std::string id(s["id"].as_string());
  EXPECT_EQ(created.Header("location"), "/v1/sessions/" + id);
  EXPECT_EQ(s["user_id"], "alice");
  EXPECT_EQ(s["title"], "Trip to Kyoto");
  EXPECT_EQ(s["status"], "active");
  EXPECT_EQ(s["metadata"].as_object()["a"], 1);
  EXPECT_EQ(s["persistent"], true);
  EXPECT_TRUE(s["expires_at"].is_null());
  EXPECT_EQ(s["message_count"], 0);
  EXPECT_TRUE(s["created_at"].as_string().ends_with("Z"));
  EXPECT_EQ(s["created_at"].as_string().size(), 24u);  // ms precision
  EXPECT_FALSE(created.Header("x-request-id").empty());

  HttpResult got = client().Get("/v1/sessions/" + id, token);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.Json().as_object()["title"], "Trip to Kyoto");

  HttpResult patched = client().Patch(
      "/v1/sessions/" + id, token,
      R"({"title":"Kyoto","status":"running","metadata":{"b":2},"state":{"phase":null,"k":1}})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  json::object p = patched.Json().as_object();
  EXPECT_EQ(p["title"], "Kyoto");
  EXPECT_EQ(p["status"], "running");
  EXPECT_EQ(p["metadata"].as_object()["a"], 1);
  EXPECT_EQ(p["metadata"].as_object()["b"], 2);
  EXPECT_FALSE(p["state"].as_object().contains("phase"));
  EXPECT_EQ(p["state"].as_object()["k"], 1);

  HttpResult deleted = client().Delete("/v1/sessions/" + id, token);
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(deleted.body.empty());
  ExpectProblem(client().Get("/v1/sessions/" + id, token), 404);
  ExpectProblem(client().Delete("/v1/sessions/" + id, token), 404);
}

TEST_F(ApiTest, ListSessionsIsNewestFirstAndKeysetPaged) {
  const std::string token = TokenFor("lister");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(CreateSessionId(token));
  CreateSessionId(TokenFor("someone-else"));

  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    std::string target = "/v1/sessions?limit=2";
    if (!cursor.empty()) target += "&cursor=" + cursor;
    HttpResult r = client().Get(target, token);
    ASSERT_EQ(r.status, 200) << r.body;
    json::object o = r.Json().as_object();
    for (const auto& s : o["sessions"].as_array()) {
      seen.emplace_back(s.as_object().at("id").as_string());
    }
    if (o["next_cursor"].is_null()) break;
    cursor = std::string(o["next_cursor"].as_string());
  }
  // Newest updated_at first; sessions created in the same millisecond are
  // ordered by id, descending (UUIDv7s of one millisecond are random after
  // the timestamp, so creation order does not decide between them).
  std::vector<std::pair<std::string, std::string>> keyed;  // (updated_at, id)
  for (const std::string& id : ids) {
    HttpResult got = client().Get("/v1/sessions/" + id, token);
    ASSERT_EQ(got.status, 200) << got.body;
    keyed.emplace_back(
        std::string(got.Json().as_object().at("updated_at").as_string()), id);
  }
  std::sort(keyed.rbegin(), keyed.rend());
  std::vector<std::string> expected;
  for (const auto& [updated_at, id] : keyed) expected.push_back(id);
  EXPECT_EQ(seen, expected);

  HttpResult running = client().Get("/v1/sessions?status=running", token);
  ASSERT_EQ(running.status, 200);
  EXPECT_TRUE(running.Json().as_object()["sessions"].as_array().empty());
  ExpectProblem(client().Get("/v1/sessions?limit=abc", token), 400);
  ExpectProblem(client().Get("/v1/sessions?limit=100000", token), 422);
  ExpectProblem(client().Get("/v1/sessions?cursor=%21%21", token), 400);
  ExpectProblem(client().Get("/v1/sessions?status=sleeping", token), 400);
}

TEST_F(ApiTest, MessagesAndStreamingMessages) {
  const std::string token = TokenFor("writer");
  const std::string id = CreateSessionId(token);
  const std::string base = "/v1/sessions/" + id;

  HttpResult added = client().Post(
      base + "/messages", token, R"({"role":"user","content":"hello world"})");
  ASSERT_EQ(added.status, 201) << added.body;
  json::object m = added.Json().as_object();
  EXPECT_EQ(m["role"], "user");
  EXPECT_EQ(m["status"], "complete");
  EXPECT_EQ(m["session_id"], json::value(id));
  // The exact cl100k_base count: "hello world" is "hello", " world".
  EXPECT_EQ(m["tokens"], 2);

  HttpResult opened = client().Post(
      base + "/messages", token,
      R"({"role":"assistant","content":"","status":"streaming"})");
  ASSERT_EQ(opened.status, 201) << opened.body;
  json::object streaming = opened.Json().as_object();
  EXPECT_TRUE(streaming["tokens"].is_null());
  const std::string mid(streaming["id"].as_string());

  HttpResult d1 = client().Post(base + "/messages/" + mid + "/append", token,
                                R"({"delta":"Hel"})");
  ASSERT_EQ(d1.status, 200) << d1.body;
  EXPECT_EQ(d1.Json().as_object()["offset"], 0);
  HttpResult d2 = client().Post(base + "/messages/" + mid + "/append", token,
                                R"({"delta":"lo"})");
  ASSERT_EQ(d2.status, 200);
  EXPECT_EQ(d2.Json().as_object()["offset"], 3);
  EXPECT_GT(d2.Json().as_object()["seq"].as_int64(),
            d1.Json().as_object()["seq"].as_int64());

  HttpResult done =
      client().Post(base + "/messages/" + mid + "/complete", token, "");
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.Json().as_object()["content"], "Hello");
  EXPECT_EQ(done.Json().as_object()["status"], "complete");
  EXPECT_EQ(done.Json().as_object()["tokens"], 1);  // "Hello" is one token

  ExpectProblem(client().Post(base + "/messages/" + mid + "/append", token,
                              R"({"delta":"late"})"),
                409);
  ExpectProblem(
      client().Post(base + "/messages/" + mid + "/complete", token, "{}"), 409);
  ExpectProblem(
      client().Post(base + "/messages/" + std::string(36, 'x') + "/append",
                    token, R"({"delta":"x"})"),
      404);

  HttpResult list = client().Get(base + "/messages?limit=1", token);
  ASSERT_EQ(list.status, 200) << list.body;
  json::object page = list.Json().as_object();
  ASSERT_EQ(page["messages"].as_array().size(), 1u);
  ASSERT_TRUE(page["next_after_seq"].is_number());
  HttpResult rest =
      client().Get(base + "/messages?after_seq=" +
                       std::to_string(page["next_after_seq"].as_int64()),
                   token);
  ASSERT_EQ(rest.status, 200);
  ASSERT_EQ(rest.Json().as_object()["messages"].as_array().size(), 1u);
  EXPECT_EQ(
      rest.Json().as_object()["messages"].as_array()[0].as_object()["content"],
      "Hello");
  ExpectProblem(client().Get(base + "/messages?after_seq=-1", token), 400);
}

TEST_F(ApiTest, ContextWindowKeepsSystemFirstAndFitsTheBudget) {
  const std::string token = TokenFor("context");
  const std::string id = CreateSessionId(token);
  const std::string base = "/v1/sessions/" + id;
  std::vector<std::int64_t> tokens;
  std::vector<std::string> ids;
  const auto say = [&](const std::string& role, const std::string& content) {
    HttpResult r = client().Post(
        base + "/messages", token,
        R"({"role":")" + role + R"(","content":")" + content + R"("})");
    EXPECT_EQ(r.status, 201) << r.body;
    json::object m = r.Json().as_object();
    tokens.push_back(m["tokens"].as_int64());
    ids.emplace_back(m["id"].as_string());
  };
  say("system", "You are a helpful assistant.");
  say("user", "What is the capital of France?");
  say("assistant", "Paris.");
  say("user", "And of Italy?");
  say("assistant", "Rome.");

  // Default limit: everything, in order.
  HttpResult all = client().Get(base + "/context", token);
  ASSERT_EQ(all.status, 200) << all.body;
  json::object w = all.Json().as_object();
  EXPECT_EQ(w["token_limit"], 8192);
  EXPECT_EQ(w["truncated"], false);
  EXPECT_EQ(w["messages"].as_array().size(), 5u);
  std::int64_t sum = 0;
  for (std::int64_t t : tokens) sum += t;
  EXPECT_EQ(w["token_count"], sum);

  // Room for the system prompt and the last exchange exactly.
  const std::int64_t limit = tokens[0] + tokens[3] + tokens[4];
  HttpResult cut = client().Get(
      base + "/context?token_limit=" + std::to_string(limit), token);
  ASSERT_EQ(cut.status, 200) << cut.body;
  w = cut.Json().as_object();
  EXPECT_EQ(w["token_limit"], limit);
  EXPECT_EQ(w["token_count"], limit);
  EXPECT_EQ(w["truncated"], true);
  const json::array& messages = w["messages"].as_array();
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].at("id"), json::value(ids[0]));
  EXPECT_EQ(messages[0].at("role"), "system");
  EXPECT_EQ(messages[1].at("id"), json::value(ids[3]));
  EXPECT_EQ(messages[2].at("id"), json::value(ids[4]));

  HttpResult o200k = client().Get(
      base + "/context?token_limit=100&encoding=o200k_base", token);
  ASSERT_EQ(o200k.status, 200) << o200k.body;
  EXPECT_GT(o200k.Json().as_object()["token_count"].as_int64(), 0);

  ExpectProblem(client().Get(base + "/context?token_limit=abc", token), 400);
  ExpectProblem(client().Get(base + "/context?token_limit=-5", token), 400);
  ExpectProblem(client().Get(base + "/context?token_limit=0", token), 422);
  ExpectProblem(
      client().Get(base + "/context?token_limit=99999999999999999999", token),
      400);
  ExpectProblem(client().Get(base + "/context?token_limit=3000000", token),
                422);
  ExpectProblem(client().Get(base + "/context?encoding=gpt2", token), 422);
  ExpectProblem(client().Get(base + "/context", TokenFor("someone-else")), 404);
}

TEST_F(ApiTest, EventsAppendAndPagedRead) {
  const std::string token = TokenFor("evented");
  const std::string id = CreateSessionId(token);
  const std::string base = "/v1/sessions/" + id;

  HttpResult one = client().Post(
      base + "/events", token, R"({"type":"agent.progress","data":{"p":0.5}})");
  ASSERT_EQ(one.status, 201) << one.body;
  EXPECT_EQ(one.Json().as_object()["first_seq"], 2);
  EXPECT_EQ(one.Json().as_object()["last_seq"], 2);
  EXPECT_EQ(AppendEvents(token, id, 10), 12);

  std::vector<std::int64_t> seqs;
  std::int64_t after = 0;
  while (true) {
    HttpResult r = client().Get(
        base + "/events?limit=5&after_seq=" + std::to_string(after), token);
    ASSERT_EQ(r.status, 200) << r.body;
    json::object o = r.Json().as_object();
    for (const auto& e : o["events"].as_array()) {
      seqs.push_back(e.as_object().at("seq").as_int64());
    }
    if (o["next_after_seq"].is_null()) break;
    after = o["next_after_seq"].as_int64();
  }
  ASSERT_EQ(seqs.size(), 12u);
  for (std::size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);

  HttpResult first = client().Get(base + "/events?limit=2", token);
  json::object e1 =
      first.Json().as_object()["events"].as_array()[0].as_object();
  EXPECT_EQ(e1["type"], "session.created");
  EXPECT_TRUE(e1["data"].is_object());
  json::object e2 =
      first.Json().as_object()["events"].as_array()[1].as_object();
  EXPECT_EQ(e2["type"], "agent.progress");
  EXPECT_EQ(e2["data"].as_object()["p"], 0.5);
}

TEST_F(ApiTest, InvalidEventsAreRefusedAndNothingIsHalfWritten) {
  const std::string token = TokenFor("careful");
  const std::string id = CreateSessionId(token);
  const std::string base = "/v1/sessions/" + id;
  // One bad type in a batch: the whole batch is refused.
  ExpectProblem(
      client().Post(
          base + "/events", token,
          R"({"events":[{"type":"ok.one","data":1},{"type":"Bad Type","data":2}]})"),
      422);
  ExpectProblem(client().Post(base + "/events", token,
                              R"({"type":"message.created","data":{}})"),
                422);
  std::string big = "{\"events\":[";
  for (int i = 0; i < 1001; ++i) {
    big += std::string(i ? "," : "") + R"({"type":"t.x","data":0})";
  }
  big += "]}";
  ExpectProblem(client().Post(base + "/events", token, big), 422);
  ExpectProblem(client().Post(base + "/events", token, R"({"events":"x"})"),
                400);
  ExpectProblem(client().Post(base + "/events", token, R"({"data":{}})"), 400);

  HttpResult session = client().Get(base, token);
  EXPECT_EQ(session.Json().as_object()["last_seq"], 1);
  HttpResult events = client().Get(base + "/events", token);
  EXPECT_EQ(events.Json().as_object()["events"].as_array().size(), 1u);
}

TEST_F(ApiTest, MalformedRequestsGetTheRightProblem) {
  const std::string token = TokenFor("sloppy");
  const std::string id = CreateSessionId(token);
  const std::string base = "/v1/sessions/" + id;

  HttpResult bad_json = client().Post("/v1/sessions", token, "{\"title\":");
  ExpectProblem(bad_json, 400);
  ExpectProblem(client().Post("/v1/sessions", token, "[1,2]"), 400);
  HttpResult wrong_type =
      client().Post("/v1/sessions", token, R"({"title":5})");
  ExpectProblem(wrong_type, 400);
  EXPECT_NE(wrong_type.Json().as_object()["detail"].as_string().find("title"),
            std::string::npos);
  ExpectProblem(client().Post("/v1/sessions", token, R"({"metadata":[]})"),
                400);
  ExpectProblem(client().Post("/v1/sessions", token, R"({"persist":"yes"})"),
                400);

  HttpResult role = client().Post(base + "/messages", token,
                                  R"({"role":"wizard","content":"x"})");
  ExpectProblem(role, 422);
  EXPECT_NE(role.Json().as_object()["detail"].as_string().find("role"),
            std::string::npos);
  ExpectProblem(client().Post(base + "/messages", token, R"({"content":"x"})"),
                400);
  ExpectProblem(
      client().Post(base + "/messages", token,
                    R"({"role":"user","content":"x","status":"odd"})"),
      422);
  ExpectProblem(client().Patch(base, token, R"({"status":"sleeping"})"), 422);

  HttpResult text =
      client().Request("POST", "/v1/sessions", "title=x",
                       {{"Authorization", "Bearer " + token},
                        {"Content-Type", "application/x-www-form-urlencoded"}});
  ExpectProblem(text, 415);

  std::string deep(100, '[');
  deep += std::string(100, ']');
  ExpectProblem(client().Post("/v1/sessions", token,
                              "{\"metadata\":{\"x\":" + deep + "}}"),
                422);

  // Over the 1 MiB default body limit.
  std::string huge = "{\"title\":\"" + std::string(1100000, 'a') + "\"}";
  ExpectProblem(client().Post("/v1/sessions", token, huge), 413);

  // None of that created anything.
  HttpResult list = client().Get("/v1/sessions", token);
  EXPECT_EQ(list.Json().as_object()["sessions"].as_array().size(), 1u);
  HttpResult session = client().Get(base, token);
  EXPECT_EQ(session.Json().as_object()["last_seq"], 1);

  // The server is still fine after garbage on the wire.
  const std::string raw = client().RawExchange("NOT HTTP AT ALL\r\n\r\n");
  EXPECT_NE(raw.find("400"), std::string::npos) << raw;
  EXPECT_EQ(client().Get("/healthz", "").status, 200);
}

TEST_F(ApiTest, HeaderLimitAndExpectContinue) {
  const std::string token = TokenFor("curl-user");
  HttpResult huge_header =
      client().Request("GET", "/v1/sessions", "",
                       {{"Authorization", "Bearer " + token},
                        {"X-Padding", std::string(20000, 'p')}});
  ExpectProblem(huge_header, 431);

  // curl sends Expect: 100-continue for bodies over 1 KiB and waits for it.
  const std::string body =
      "{\"metadata\":{\"note\":\"" + std::string(2000, 't') + "\"}}";
  const std::string raw =
      "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      token +
      "\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
      "Connection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  const std::string answer = client().RawExchange(raw);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 100 Continue\r\n\r\n")) << answer;
  EXPECT_NE(answer.find("HTTP/1.1 201 Created"), std::string::npos) << answer;
}

TEST_F(ApiTest, UnknownRoutesAndMethods) {
  const std::string token = TokenFor("router");
  ExpectProblem(client().Get("/v1/nothing", token), 404);
  ExpectProblem(client().Get("/v1/sessions/x/context", token), 404);
  ExpectProblem(client().Get("/v1/cache/ns/key", token), 404);
  HttpResult r = client().Request("PUT", "/v1/sessions", "{}",
                                  {{"Authorization", "Bearer " + token}});
  ExpectProblem(r, 405);
  EXPECT_EQ(r.Header("allow"), "POST, GET");
}

TEST_F(ApiTest, ServesTheSessionBrowserOutsideV1) {
  HttpResult page = client().Request("GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.Header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("/app.js"), std::string::npos);
  EXPECT_NE(page.Header("content-security-policy").find("default-src 'self'"),
            std::string::npos);
  EXPECT_EQ(page.Header("x-content-type-options"), "nosniff");
  const std::string etag = page.Header("etag");
  ASSERT_FALSE(etag.empty());
  HttpResult again =
      client().Request("GET", "/index.html?x=1", "", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());

  HttpResult script = client().Request("GET", "/sse.js");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.Header("content-type"), "text/javascript; charset=utf-8");

  ExpectProblem(client().Request("GET", "/missing.js"), 404);
  HttpResult post = client().Request("POST", "/", "{}");
  ExpectProblem(post, 405);
  EXPECT_EQ(post.Header("allow"), "GET, HEAD");
  // The page never shadows the API: /v1 answers as before.
  ExpectProblem(client().Request("GET", "/v1/index.html"), 404);
}

TEST_F(ApiTest, AnotherUsersSessionAnswersLikeAMissingOne) {
  const std::string alice = TokenFor("alice");
  const std::string mallory = TokenFor("mallory");
  const std::string id = CreateSessionId(alice);
  const std::string base = "/v1/sessions/" + id;
  const std::string missing =
      "/v1/sessions/01930000-0000-7000-8000-000000000000";

  for (const std::string& target : {base, missing}) {
    ExpectProblem(client().Get(target, mallory), 404);
    ExpectProblem(client().Patch(target, mallory, R"({"title":"x"})"), 404);
    ExpectProblem(client().Post(target + "/messages", mallory,
                                R"({"role":"user","content":"x"})"),
                  404);
    ExpectProblem(client().Post(target + "/events", mallory,
                                R"({"type":"a.b","data":1})"),
                  404);
    ExpectProblem(client().Get(target + "/events", mallory), 404);
    ExpectProblem(client().Get(target + "/messages", mallory), 404);
    ExpectProblem(client().Get(target + "/stream", mallory), 404);
    ExpectProblem(client().Delete(target, mallory), 404);
  }
  ExpectProblem(client().Get("/v1/sessions/not-a-uuid", mallory), 404);
  // Alice's session is untouched.
  HttpResult got = client().Get(base, alice);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.Json().as_object()["last_seq"], 1);
}

TEST_F(ApiTest, PreferencesDecideWhereSessionsLive) {
  const std::string token = TokenFor("private-person");
  HttpResult prefs = client().Get("/v1/me/preferences", token);
  ASSERT_EQ(prefs.status, 200);
  EXPECT_EQ(prefs.Json().as_object()["persist_history"], true);
  EXPECT_EQ(CreateSession(token, R"({"persist":false})")["persistent"], false);

  HttpResult put =
      client().Put("/v1/me/preferences", token, R"({"persist_history":false})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.Json().as_object()["persist_history"], false);
  EXPECT_EQ(client()
                .Get("/v1/me/preferences", token)
                .Json()
                .as_object()["persist_history"],
            false);
  json::object s = CreateSession(token);
  EXPECT_EQ(s["persistent"], false);
  EXPECT_TRUE(s["expires_at"].is_string());
  ExpectProblem(
      client().Put("/v1/me/preferences", token, R"({"persist_history":"no"})"),
      400);
}

TEST_F(ApiTest, AnonymousTokensMakeEphemeralSessions) {
  HttpResult r = client().Request("POST", "/v1/auth/anonymous");
  ASSERT_EQ(r.status, 201) << r.body;
  json::object o = r.Json().as_object();
  EXPECT_TRUE(o["user_id"].as_string().starts_with("anon:"));
  EXPECT_EQ(o["anonymous"], true);
  EXPECT_TRUE(o["expires_at"].is_string());
  const std::string token(o["token"].as_string());
  json::object s = CreateSession(token, R"({"persist":true})");
  EXPECT_EQ(s["persistent"], false);
  EXPECT_EQ(s["user_id"], o["user_id"]);
  EXPECT_TRUE(s["expires_at"].is_string());
}

TEST_F(ApiTest, SearchFindsTheCallersMessages) {
  const std::string token = TokenFor("searcher");
  const std::string id = CreateSessionId(token);
  client().Post("/v1/sessions/" + id + "/messages", token,
                R"({"role":"user","content":"the quick brown fox"})");
  client().Post("/v1/sessions/" + id + "/messages", token,
                R"({"role":"user","content":"lazy dogs sleep"})");
  const std::string other = CreateSessionId(TokenFor("other"));
  client().Post("/v1/sessions/" + other + "/messages", TokenFor("other"),
                R"({"role":"user","content":"another fox"})");

  HttpResult r = client().Get("/v1/search?q=fox", token);
  ASSERT_EQ(r.status, 200) << r.body;
  json::array hits = r.Json().as_object()["hits"].as_array();
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].as_object()["session_id"], json::value(id));
  EXPECT_TRUE(hits[0].as_object().contains("snippet"));
  EXPECT_TRUE(r.Json().as_object()["next_cursor"].is_null());
  ExpectProblem(client().Get("/v1/search", token), 400);
}

TEST_F(ApiTest, ExportIsOneStreamedDocumentAndEraseRemovesEverything) {
  const std::string token = TokenFor("gdpr");
  for (int i = 0; i < 3; ++i) {
    const std::string id = CreateSessionId(token);
    client().Post("/v1/sessions/" + id + "/messages", token,
                  R"({"role":"user","content":"hi"})");
  }
  CreateSessionId(TokenFor("bystander"));

  HttpResult exported = client().Get("/v1/me/export", token);
  ASSERT_EQ(exported.status, 200) << exported.body;
  EXPECT_EQ(exported.Header("transfer-encoding"), "chunked");
  EXPECT_NE(exported.Header("content-disposition").find("attachment"),
            std::string::npos);
  json::object doc = exported.Json().as_object();
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["user_id"], "gdpr");
  EXPECT_TRUE(doc["preferences"].is_object());
  json::array sessions = doc["sessions"].as_array();
  ASSERT_EQ(sessions.size(), 3u);
  for (const auto& s : sessions) {
    EXPECT_EQ(s.as_object().at("messages").as_array().size(), 1u);
    EXPECT_EQ(s.as_object().at("events").as_array().size(), 2u);
    EXPECT_EQ(s.as_object().at("session").as_object().at("user_id"), "gdpr");
  }

  HttpResult erased = client().Delete("/v1/me", token);
  ASSERT_EQ(erased.status, 200) << erased.body;
  json::object counts = erased.Json().as_object();
  EXPECT_EQ(counts["sessions_deleted"], 3);
  EXPECT_EQ(counts["messages_deleted"], 3);
  EXPECT_EQ(counts["events_deleted"], 6);
  EXPECT_TRUE(client()
                  .Get("/v1/sessions", token)
                  .Json()
                  .as_object()["sessions"]
                  .as_array()
                  .empty());
  EXPECT_EQ(client()
                .Get("/v1/me/export", token)
                .Json()
                .as_object()["sessions"]
                .as_array()
                .size(),
            0u);
  EXPECT_EQ(client()
                .Get("/v1/sessions", TokenFor("bystander"))
                .Json()
                .as_object()["sessions"]
                .as_array()
                .size(),
            1u);
}

TEST_F(ApiTest, StateScopesUserKeysAreSharedTempKeysAreNotKept) {
  const std::string token = TokenFor("scoped");
  const std::string a = CreateSessionId(token);
  const std::string b = CreateSessionId(token);
  const std::string other = CreateSessionId(TokenFor("someone-else"));

  HttpResult patched = client().Patch(
      "/v1/sessions/" + a, token,
      R"({"state":{"step":2,"user:theme":"dark","temp:scratch":1}})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.Json().as_object()["state"],
            json::parse(R"({"step":2,"user:theme":"dark"})"));
  // The other session of the same user sees the user: key, in GET and in
  // the list; another user's session does not.
  HttpResult got = client().Get("/v1/sessions/" + b, token);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.Json().as_object()["state"],
            json::parse(R"({"user:theme":"dark"})"));
  const json::value listed = client().Get("/v1/sessions", token).Json();
  ASSERT_EQ(listed.at("sessions").as_array().size(), 2u);
  for (const auto& s : listed.at("sessions").as_array()) {
    EXPECT_EQ(s.as_object().at("state").as_object().at("user:theme"), "dark");
  }
  EXPECT_EQ(client()
                .Get("/v1/sessions/" + other, TokenFor("someone-else"))
                .Json()
                .as_object()["state"],
            json::object());
  // The log keeps the delta without its temp: key.
  json::array events = client()
                           .Get("/v1/sessions/" + a + "/events", token)
                           .Json()
                           .as_object()["events"]
                           .as_array();
  bool found = false;
  for (const auto& e : events) {
    if (e.as_object().at("type") != "state.delta") continue;
    found = true;
    EXPECT_EQ(e.as_object().at("data"),
              json::parse(R"({"delta":{"step":2,"user:theme":"dark"}})"));
  }
  EXPECT_TRUE(found);

  // The user's document has the session state's limit (256 KiB by
  // default): over it, the documented 422 problem, and nothing changes.
  const std::string chunk(150 * 1024, 'x');
  ASSERT_EQ(client()
                .Patch("/v1/sessions/" + a, token,
                       R"({"state":{"user:one":")" + chunk + R"("}})")
                .status,
            200);
  const std::int64_t last_seq = client()
                                    .Get("/v1/sessions/" + b, token)
                                    .Json()
                                    .as_object()["last_seq"]
                                    .to_number<std::int64_t>();
  HttpResult over =
      client().Patch("/v1/sessions/" + b, token,
                     R"({"state":{"user:two":")" + chunk + R"(","step":1}})");
  ExpectProblem(over, 422);
  EXPECT_NE(over.Json().as_object()["detail"].as_string().find("user:"),
            std::string::npos)
      << over.body;
  json::object after =
      client().Get("/v1/sessions/" + b, token).Json().as_object();
  EXPECT_EQ(after["last_seq"].to_number<std::int64_t>(), last_seq);
  EXPECT_FALSE(after["state"].as_object().contains("user:two"));
  EXPECT_FALSE(after["state"].as_object().contains("step"));

  // Export carries the user's document once, at the top level.
  json::object doc = client().Get("/v1/me/export", token).Json().as_object();
  ASSERT_TRUE(doc["user_state"].is_object()) << doc;
  EXPECT_EQ(doc["user_state"].as_object()["user:theme"], "dark");
  EXPECT_TRUE(doc["user_state"].as_object().contains("user:one"));
  // Erasing the user erases it.
  ASSERT_EQ(client().Delete("/v1/me", token).status, 200);
  const std::string fresh = CreateSessionId(token);
  EXPECT_EQ(
      client().Get("/v1/sessions/" + fresh, token).Json().as_object()["state"],
      json::object());
}

TEST_F(ApiTest, AdminEndpointsNeedTheAdminScope) {
  const std::string user = TokenFor("subject");
  CreateSessionId(user);
  TokenSpec admin_spec;
  admin_spec.sub = "root";
  admin_spec.scope = "read admin";
  const std::string admin = MintToken(admin_spec);

  ExpectProblem(client().Get("/v1/admin/stats", user), 403);
  ExpectProblem(client().Get("/v1/admin/users/subject/export", user), 403);
  ExpectProblem(client().Delete("/v1/admin/users/subject", user), 403);
  ExpectProblem(client().Get("/v1/admin/stats", ""), 401);

  HttpResult stats = client().Get("/v1/admin/stats", admin);
  ASSERT_EQ(stats.status, 200) << stats.body;
  json::array stores = stats.Json().as_object()["stores"].as_array();
  ASSERT_EQ(stores.size(), 2u);
  EXPECT_EQ(stores[0].as_object()["kind"], "sqlite");
  EXPECT_EQ(stores[0].as_object()["healthy"], true);

  HttpResult exported = client().Get("/v1/admin/users/subject/export", admin);
  ASSERT_EQ(exported.status, 200);
  EXPECT_EQ(exported.Json().as_object()["sessions"].as_array().size(), 1u);
  HttpResult erased = client().Delete("/v1/admin/users/subject", admin);
  ASSERT_EQ(erased.status, 200);
  EXPECT_EQ(erased.Json().as_object()["sessions_deleted"], 1);
}

TEST_F(ApiTest, HealthReadinessAndMetrics) {
  EXPECT_EQ(client().Get("/healthz", "").status, 200);
  EXPECT_EQ(client().Get("/readyz", "").status, 200);
  CreateSessionId(TokenFor("metered"));
  HttpResult metrics = client().Get("/metrics", "");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.Header("content-type").find("text/plain"),
            std::string::npos);
  for (const char* name :
       {"chatstore_http_requests_total{method=\"POST\",route=\"/v1/sessions\","
        "status=\"201\"} 1",
        "chatstore_http_request_duration_seconds_bucket",
        "chatstore_sse_open_streams 0", "chatstore_events_appended_total 1",
        "chatstore_store_group_commits_total",
        "chatstore_service_call_duration_seconds"}) {
    EXPECT_NE(metrics.body.find(name), std::string::npos) << name;
  }
}

TEST_F(ApiTest, IdempotencyKeyReplaysTheFirstAnswer) {
  const std::string token = TokenFor("retrier");
  const std::string id = CreateSessionId(token);
  const std::string target = "/v1/sessions/" + id + "/messages";
  const std::string body = R"({"role":"user","content":"once"})";
  HttpResult first =
      client().Post(target, token, body, {{"Idempotency-Key", "k-1"}});
  ASSERT_EQ(first.status, 201);
  HttpResult again =
      client().Post(target, token, body, {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(again.status, 201);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(again.Header("idempotent-replayed"), "true");
  ExpectProblem(
      client().Post(target, token, R"({"role":"user","content":"different"})",
                    {{"Idempotency-Key", "k-1"}}),
      409);
  // Another user's identical key is their own.
  const std::string other = TokenFor("other-retrier");
  const std::string other_id = CreateSessionId(other);
  EXPECT_EQ(client()
                .Post("/v1/sessions/" + other_id + "/messages", other, body,
                      {{"Idempotency-Key", "k-1"}})
                .status,
            201);

  HttpResult list = client().Get(target, token);
  EXPECT_EQ(list.Json().as_object()["messages"].as_array().size(), 1u);

  HttpResult created = client().Post("/v1/sessions", token, "{}",
                                     {{"Idempotency-Key", "create-1"}});
  HttpResult created_again = client().Post("/v1/sessions", token, "{}",
                                           {{"Idempotency-Key", "create-1"}});
  EXPECT_EQ(created.body, created_again.body);
  EXPECT_EQ(created_again.Header("location"), created.Header("location"));
  EXPECT_EQ(client()
                .Get("/v1/sessions", token)
                .Json()
                .as_object()["sessions"]
                .as_array()
                .size(),
            2u);
}

class RateLimitTest : public ServerTest {
 protected:
  std::vector<std::string> ServerArgs() override {
    return {"--rate-limit", "0.5", "--rate-limit-burst", "3"};
  }
};

TEST_F(RateLimitTest, TooManyRequestsGet429WithRetryAfter) {
  const std::string token = TokenFor("hasty");
  int limited = 0;
  HttpResult last;
  for (int i = 0; i < 6; ++i) {
    last = client().Get("/v1/sessions", token);
    if (last.status == 429) {
      ++limited;
      ExpectProblem(last, 429);
      EXPECT_GE(std::stoi(last.Header("retry-after")), 1);
    }
  }
  EXPECT_GE(limited, 2);
  // Someone else is not affected.
  EXPECT_EQ(client().Get("/v1/sessions", TokenFor("patient")).status, 200);
}

}  // namespace
}  // namespace chatstore::testing
