// A GoogleTest fixture that runs one chatstored per test, and shorthands for
// the calls most tests make.
#ifndef CHATSTORE_TESTS_SERVER_SERVER_TEST_FIXTURE_H_
#define CHATSTORE_TESTS_SERVER_SERVER_TEST_FIXTURE_H_

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "server/http_test_client.h"
#include "server/server_process.h"

namespace chatstore::testing {

class ServerTest : public ::testing::Test {
 protected:
  // Extra flags for the server of this test.
  virtual std::vector<std::string> ServerArgs() { return {}; }

  void SetUp() override { StartServer(); }

  void StartServer(std::vector<std::string> extra = {}) {
    ServerOptions options;
    options.data_dir = dir_.path();
    options.args = ServerArgs();
    options.args.insert(options.args.end(), extra.begin(), extra.end());
    server_.reset();
    server_ = std::make_unique<ServerProcess>(std::move(options));
    ASSERT_TRUE(server_->ok());
    client_ = std::make_unique<HttpClient>(server_->host(), server_->port());
  }

  HttpClient& client() { return *client_; }
  ServerProcess& server() { return *server_; }

  // POST /v1/sessions; the new session (asserts 201).
  boost::json::object CreateSession(const std::string& token,
                                    const std::string& body = "{}") {
    HttpResult r = client_->Post("/v1/sessions", token, body);
    EXPECT_EQ(r.status, 201) << r.body;
    boost::json::value v = r.Json();
    return v.is_object() ? v.get_object() : boost::json::object();
  }
  std::string CreateSessionId(const std::string& token) {
    boost::json::object s = CreateSession(token);
    return s.contains("id") ? std::string(s["id"].as_string()) : "";
  }
  // POST .../events with `n` app events; returns the last seq.
  std::int64_t AppendEvents(const std::string& token, const std::string& id,
                            int n, const std::string& data = "{}") {
    std::string body = "{\"events\":[";
    for (int i = 0; i < n; ++i) {
      if (i > 0) body += ',';
      body += "{\"type\":\"app.tick\",\"data\":" + data + "}";
    }
    body += "]}";
    HttpResult r = client_->Post("/v1/sessions/" + id + "/events", token, body);
    EXPECT_EQ(r.status, 201) << r.body;
    boost::json::value v = r.Json();
    return v.is_object() ? v.at("last_seq").to_number<std::int64_t>() : -1;
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<HttpClient> client_;
};

// Asserts `r` is an application/problem+json answer with `status`.
inline void ExpectProblem(const HttpResult& r, int status) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.Header("content-type"), "application/problem+json") << r.body;
  boost::json::value v = r.Json();
  ASSERT_TRUE(v.is_object()) << r.body;
  const boost::json::object& o = v.get_object();
  EXPECT_EQ(o.at("status").to_number<int>(), status);
  EXPECT_TRUE(o.at("type").as_string().starts_with("urn:chatstore:problem:"));
  EXPECT_FALSE(o.at("title").as_string().empty());
  EXPECT_TRUE(o.contains("detail"));
  EXPECT_EQ(o.at("request_id").as_string(), r.Header("x-request-id"));
}

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_SERVER_SERVER_TEST_FIXTURE_H_
