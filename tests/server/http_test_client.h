// Clients for tests over real sockets: one-shot HTTP requests, SSE streams
// read event by event with deadlines, and JWT minting for any claims.
#ifndef CHATSTORE_TESTS_SERVER_HTTP_TEST_CLIENT_H_
#define CHATSTORE_TESTS_SERVER_HTTP_TEST_CLIENT_H_

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace chatstore::testing {

struct HttpResult {
  int status = 0;  // 0: no answer (connection failed or timed out)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string Header(const std::string& lower_name) const;
  // The body parsed as JSON (null when it is not JSON).
  boost::json::value Json() const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  HttpClient(std::string host, std::uint16_t port)
      : host_(std::move(host)), port_(port) {}

  // One request on a new connection. JSON content type when a body is given
  // unless `headers` sets Content-Type.
  HttpResult Request(std::string_view method, const std::string& target,
                     const std::string& body = "", const Headers& headers = {},
                     std::chrono::seconds timeout = std::chrono::seconds(30));

  // Shorthands with `Authorization: Bearer <token>`.
  HttpResult Get(const std::string& target, const std::string& token);
  HttpResult Post(const std::string& target, const std::string& token,
                  const std::string& body, const Headers& headers = {});
  HttpResult Patch(const std::string& target, const std::string& token,
                   const std::string& body);
  HttpResult Put(const std::string& target, const std::string& token,
                 const std::string& body);
  HttpResult Delete(const std::string& target, const std::string& token);

  // Sends `raw` bytes as they are and returns what the server answered
  // (for malformed requests).
  std::string RawExchange(const std::string& raw, std::chrono::seconds timeout =
                                                      std::chrono::seconds(10));

 private:
  std::string host_;
  std::uint16_t port_;
};

struct SseEvent {
  std::string id;
  std::string event;  // "message" when the stream named none
  std::string data;
};

// One SSE connection, read incrementally. Not thread-safe.
class SseStream {
 public:
  struct Options {
    std::string last_event_id;  // sent as Last-Event-ID when not empty
    // Small receive buffers make a client that stops reading fall behind
    // quickly (slow-subscriber tests).
    int receive_buffer_bytes = 0;
  };
  SseStream(const std::string& host, std::uint16_t port,
            const std::string& target, const std::string& token,
            Options options);
  SseStream(const std::string& host, std::uint16_t port,
            const std::string& target, const std::string& token)
      : SseStream(host, port, target, token, Options{}) {}

  // The response status line and headers (read on construction).
  int status() const { return status_; }
  const std::map<std::string, std::string>& headers() const { return headers_; }

  // The next event; nullopt at end of stream or at the deadline
  // (ended() tells which).
  std::optional<SseEvent> Next(
      std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // The stream is over: the server closed it, or a deadline passed (which
  // closes the connection too; timed_out() tells).
  bool ended() const { return ended_; }
  bool timed_out() const { return timed_out_; }
  // Comment lines (": keepalive") seen so far.
  int comments() const { return comments_; }
  // The retry: value, -1 before it arrived.
  int retry_ms() const { return retry_ms_; }
  // Reads until a comment line arrives or the deadline passes.
  bool WaitForComment(std::chrono::milliseconds timeout);

  void Close();

 private:
  // Reads more bytes into buffer_; false at end or deadline.
  bool Fill(std::chrono::steady_clock::time_point deadline);
  // Takes one complete line from buffer_ if present.
  std::optional<std::string> TakeLine();

  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  std::string buffer_;
  int status_ = 0;
  std::map<std::string, std::string> headers_;
  bool ended_ = false;
  bool timed_out_ = false;
  int comments_ = 0;
  int retry_ms_ = -1;
};

struct TokenSpec {
  std::string sub = "user-1";
  std::optional<long> exp_in_seconds = 3600;  // nullopt: no exp claim
  std::optional<long> nbf_in_seconds;
  std::string scope;
  bool anon = false;
  std::string iss;
  std::string aud;
  std::string alg = "HS256";  // "none", "HS384", "HS512", ...
  std::string secret;         // empty: the test server's secret
};
std::string MintToken(const TokenSpec& spec);
inline std::string TokenFor(const std::string& user) {
  TokenSpec spec;
  spec.sub = user;
  return MintToken(spec);
}

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_SERVER_HTTP_TEST_CLIENT_H_
