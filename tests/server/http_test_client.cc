#include "server/http_test_client.h"

#include <jwt.h>
#include <sodium.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cstdlib>
#include <ctime>

#include "server/server_process.h"

namespace chatstore::testing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(c));
  return s;
}

tcp::endpoint Endpoint(const std::string& host, std::uint16_t port) {
  return tcp::endpoint(asio::ip::make_address(host), port);
}

std::string Base64Url(std::string_view bytes) {
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(),
                    reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), kVariant);
  out.resize(out.find('\0'));
  return out;
}

}  // namespace

std::string HttpResult::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

boost::json::value HttpResult::Json() const {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  return ec ? boost::json::value() : v;
}

HttpResult HttpClient::Request(std::string_view method,
                               const std::string& target,
                               const std::string& body, const Headers& headers,
                               std::chrono::seconds timeout) {
  asio::io_context io;
  HttpResult result;
  http::request<http::string_body> request;
  request.method_string(method);
  request.target(target);
  request.version(11);
  request.set(http::field::host, host_);
  bool has_content_type = false;
  for (const auto& [name, value] : headers) {
    request.set(name, value);
    if (Lower(name) == "content-type") has_content_type = true;
  }
  if (!body.empty() && !has_content_type) {
    request.set(http::field::content_type, "application/json");
  }
  request.body() = body;
  request.keep_alive(false);
  request.prepare_payload();

  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        beast::tcp_stream stream(io);
        stream.expires_after(timeout);
        auto [connect_ec] = co_await stream.async_connect(
            Endpoint(host_, port_), asio::as_tuple(asio::use_awaitable));
        if (connect_ec) co_return;
        auto [write_ec, w] = co_await http::async_write(
            stream, request, asio::as_tuple(asio::use_awaitable));
        if (write_ec) co_return;
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(256 << 20);
        parser.header_limit(1 << 20);
        auto [read_ec, r] = co_await http::async_read(
            stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        if (read_ec) co_return;
        const auto& response = parser.get();
        result.status = response.result_int();
        for (const auto& field : response) {
          result.headers[Lower(std::string(field.name_string()))] =
              std::string(field.value());
        }
        result.body = response.body();
      },
      asio::detached);
  io.run();
  return result;
}

HttpResult HttpClient::Get(const std::string& target,
                           const std::string& token) {
  return Request("GET", target, "", {{"Authorization", "Bearer " + token}});
}

HttpResult HttpClient::Post(const std::string& target, const std::string& token,
                            const std::string& body, const Headers& headers) {
  Headers all = headers;
  all.emplace_back("Authorization", "Bearer " + token);
  return Request("POST", target, body, all);
}

HttpResult HttpClient::Patch(const std::string& target,
                             const std::string& token,
                             const std::string& body) {
  return Request("PATCH", target, body, {{"Authorization", "Bearer " + token}});
}

HttpResult HttpClient::Put(const std::string& target, const std::string& token,
                           const std::string& body) {
  return Request("PUT", target, body, {{"Authorization", "Bearer " + token}});
}

HttpResult HttpClient::Delete(const std::string& target,
                              const std::string& token) {
  return Request("DELETE", target, "", {{"Authorization", "Bearer " + token}});
}

std::string HttpClient::RawExchange(const std::string& raw,
                                    std::chrono::seconds timeout) {
  asio::io_context io;
  std::string answer;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        beast::tcp_stream stream(io);
        stream.expires_after(timeout);
        auto [connect_ec] = co_await stream.async_connect(
            Endpoint(host_, port_), asio::as_tuple(asio::use_awaitable));
        if (connect_ec) co_return;
        auto [write_ec, w] = co_await asio::async_write(
            stream, asio::buffer(raw), asio::as_tuple(asio::use_awaitable));
        if (write_ec) co_return;
        char buf[4096];
        while (true) {
          auto [ec, n] = co_await stream.async_read_some(
              asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
          answer.append(buf, n);
          if (ec) break;
        }
      },
      asio::detached);
  io.run();
  return answer;
}

SseStream::SseStream(const std::string& host, std::uint16_t port,
                     const std::string& target, const std::string& token,
                     Options options)
    : stream_(io_) {
  beast::error_code ec;
  tcp::socket& socket = stream_.socket();
  socket.open(tcp::v4(), ec);
  if (options.receive_buffer_bytes > 0) {
    socket.set_option(
        asio::socket_base::receive_buffer_size(options.receive_buffer_bytes),
        ec);
  }
  socket.connect(Endpoint(host, port), ec);
  if (ec) {
    ended_ = true;
    return;
  }
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: " + host +
                        "\r\nAccept: text/event-stream\r\n";
  if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
  if (!options.last_event_id.empty()) {
    request += "Last-Event-ID: " + options.last_event_id + "\r\n";
  }
  request += "\r\n";
  asio::write(socket, asio::buffer(request), ec);
  if (ec) {
    ended_ = true;
    return;
  }
  // Status line and headers.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::optional<std::string> line;
  while (!(line = TakeLine())) {
    if (!Fill(deadline)) return;
  }
  if (line->size() >= 12) status_ = std::atoi(line->substr(9, 3).c_str());
  while (true) {
    while (!(line = TakeLine())) {
      if (!Fill(deadline)) return;
    }
    if (line->empty()) break;
    const std::size_t colon = line->find(':');
    if (colon == std::string::npos) continue;
    std::string value = line->substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    headers_[Lower(line->substr(0, colon))] = value;
  }
  if (status_ != 200) {
    // Not a stream: the rest is a problem document.
    ended_ = true;
  }
}

bool SseStream::Fill(std::chrono::steady_clock::time_point deadline) {
  if (ended_) return false;
  const auto now = std::chrono::steady_clock::now();
  if (now >= deadline) {
    timed_out_ = true;
    return false;
  }
  bool got = false;
  stream_.expires_after(deadline - now);
  char buf[16384];
  stream_.async_read_some(asio::buffer(buf),
                          [&](beast::error_code ec, std::size_t n) {
                            buffer_.append(buf, n);
                            got = n > 0;
                            // tcp_stream closes the socket on timeout:
                            // the stream is over for us.
                            if (ec) ended_ = true;
                            if (ec == beast::error::timeout) timed_out_ = true;
                          });
  io_.restart();
  io_.run();
  return got;
}

std::optional<std::string> SseStream::TakeLine() {
  const std::size_t newline = buffer_.find('\n');
  if (newline == std::string::npos) return std::nullopt;
  std::string line = buffer_.substr(0, newline);
  buffer_.erase(0, newline + 1);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

std::optional<SseEvent> SseStream::Next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  SseEvent event;
  bool has_field = false;
  while (true) {
    std::optional<std::string> line = TakeLine();
    if (!line) {
      if (!Fill(deadline)) return std::nullopt;
      continue;
    }
    if (line->empty()) {
      if (has_field && !event.data.empty()) {
        if (event.event.empty()) event.event = "message";
        if (!event.data.empty() && event.data.back() == '\n') {
          event.data.pop_back();
        }
        return event;
      }
      event = SseEvent{};
      has_field = false;
      continue;
    }
    if (line->front() == ':') {
      ++comments_;
      continue;
    }
    const std::size_t colon = line->find(':');
    const std::string field = line->substr(0, colon);
    std::string value =
        colon == std::string::npos ? "" : line->substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.erase(0, 1);
    if (field == "id") {
      event.id = value;
    } else if (field == "event") {
      event.event = value;
    } else if (field == "data") {
      event.data += value + "\n";
    } else if (field == "retry") {
      retry_ms_ = std::atoi(value.c_str());
      continue;
    }
    has_field = true;
  }
}

bool SseStream::WaitForComment(std::chrono::milliseconds timeout) {
  const int before = comments_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (comments_ == before) {
    std::optional<std::string> line = TakeLine();
    if (!line) {
      if (!Fill(deadline)) return false;
      continue;
    }
    if (!line->empty() && line->front() == ':') ++comments_;
  }
  return true;
}

void SseStream::Close() {
  beast::error_code ec;
  stream_.socket().close(ec);
  ended_ = true;
}

std::string MintToken(const TokenSpec& spec) {
  const long now = static_cast<long>(std::time(nullptr));
  boost::json::object claims;
  claims["sub"] = spec.sub;
  claims["iat"] = now;
  if (spec.exp_in_seconds) claims["exp"] = now + *spec.exp_in_seconds;
  if (spec.nbf_in_seconds) claims["nbf"] = now + *spec.nbf_in_seconds;
  if (!spec.scope.empty()) claims["scope"] = spec.scope;
  if (spec.anon) claims["anon"] = true;
  if (!spec.iss.empty()) claims["iss"] = spec.iss;
  if (!spec.aud.empty()) claims["aud"] = spec.aud;
  const std::string payload = boost::json::serialize(claims);
  if (spec.alg == "none") {
    // libjwt will not make these; build one by hand.
    return Base64Url(R"({"alg":"none","typ":"JWT"})") + "." +
           Base64Url(payload) + ".";
  }
  const std::string secret = spec.secret.empty() ? kTestSecret : spec.secret;
  jwt_t* jwt = nullptr;
  jwt_new(&jwt);
  jwt_add_grants_json(jwt, payload.c_str());
  jwt_set_alg(jwt, jwt_str_alg(spec.alg.c_str()),
              reinterpret_cast<const unsigned char*>(secret.data()),
              static_cast<int>(secret.size()));
  char* encoded = jwt_encode_str(jwt);
  std::string token = encoded ? encoded : "";
  std::free(encoded);
  jwt_free(jwt);
  return token;
}

}  // namespace chatstore::testing
