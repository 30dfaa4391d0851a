#include "server/http_server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <string>
#include <utility>

#include "chatstore/ids.h"
#include "server/export_stream.h"
#include "server/problem.h"

namespace chatstore::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

// A client-supplied X-Request-Id is kept when it is short and plain, so a
// request can be followed across services; otherwise the server makes one.
std::string RequestIdFor(const HttpRequest& request) {
  const std::string_view given = request["X-Request-Id"];
  if (!given.empty() && given.size() <= 128) {
    bool plain = true;
    for (const char c : given) {
      plain = plain && (std::isalnum(static_cast<unsigned char>(c)) ||
                        c == '-' || c == '_' || c == '.');
    }
    if (plain) return std::string(given);
  }
  return NewId(SystemClock()->Now());
}

// Answers for requests that could not be read, before they reach the Api.
HttpResponse UnreadableRequestAnswer(const beast::error_code& ec) {
  Problem problem{
      http::status::bad_request, "malformed HTTP request: " + ec.message(), {}};
  if (ec == http::error::body_limit) {
    problem = {
        http::status::payload_too_large, "request body exceeds the limit", {}};
  } else if (ec == http::error::header_limit) {
    problem = {http::status::request_header_fields_too_large,
               "request headers exceed the limit",
               {}};
  }
  return RenderProblem(problem, NewId(SystemClock()->Now()), 11, false);
}

// The peer went away or was told to: nothing to answer.
bool IsQuietEnd(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == beast::error::timeout || ec == asio::error::operation_aborted ||
         ec == asio::error::connection_reset ||
         ec == http::error::partial_message;
}

// Closing a socket with unread input makes the kernel send RST, which can
// destroy the error answer before the client reads it. So, like nginx's
// lingering close, stop sending and discard input for a short while.
asio::awaitable<void> LingeringClose(beast::tcp_stream& stream) {
  constexpr std::size_t kMaxDiscard = 16 << 20;
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(std::chrono::seconds(2));
  std::array<char, 16384> scratch;
  std::size_t discarded = 0;
  while (discarded < kMaxDiscard) {
    auto [ec, n] = co_await stream.async_read_some(
        asio::buffer(scratch), asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    discarded += n;
  }
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, Api& api, SseStreamer& sse,
                       SessionService& service, WorkerPool& pool, Hub& hub,
                       Metrics& metrics, HttpServerOptions options)
    : io_(io),
      api_(api),
      sse_(sse),
      service_(service),
      pool_(pool),
      hub_(hub),
      metrics_(metrics),
      options_(options),
      acceptor_(asio::make_strand(io)) {}

Result<tcp::endpoint> HttpServer::Listen(const std::string& host,
                                         std::uint16_t port) {
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) {
      return Status::InvalidArgument("cannot resolve listen host '" + host +
                                     "'");
    }
    address = results.begin()->endpoint().address();
  }
  const tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + host + ":" +
                               std::to_string(port) + ": " + ec.message());
  }
  return acceptor_.local_endpoint();
}

void HttpServer::Start() {
  asio::co_spawn(acceptor_.get_executor(), AcceptLoop(), asio::detached);
}

asio::awaitable<void> HttpServer::AcceptLoop() {
  while (!shutting_down_) {
    auto [ec, socket] = co_await acceptor_.async_accept(
        asio::make_strand(io_), asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      // Out of file descriptors and the like: back off briefly, keep going.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(io_, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    std::size_t open;
    {
      std::lock_guard lock(registry_->mu);
      open = registry_->connections.size();
    }
    if (open >= options_.max_connections) {
      beast::error_code ignored;
      socket.close(ignored);
      continue;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, Serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpServer::Serve(tcp::socket socket) {
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const auto remote = socket.remote_endpoint(ignored);
  beast::tcp_stream stream(std::move(socket));
  auto connection = std::make_shared<Connection>();
  connection->executor = stream.get_executor();
  connection->stream = &stream;
  {
    std::lock_guard lock(registry_->mu);
    registry_->connections.insert(connection);
  }
  struct Unregister {
    std::shared_ptr<ConnectionRegistry> registry;
    std::shared_ptr<Connection> connection;
    ~Unregister() {
      connection->stream = nullptr;
      std::lock_guard lock(registry->mu);
      registry->connections.erase(connection);
    }
  } unregister{registry_, connection};

  RequestContext context;
  context.remote_address = remote.address().to_string();
  beast::flat_buffer buffer;
  while (!shutting_down_) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    parser.body_limit(options_.max_body_bytes);
    connection->idle = true;
    stream.expires_after(options_.request_timeout);
    auto [header_ec, header_n] = co_await http::async_read_header(
        stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    connection->idle = false;
    beast::error_code ec = header_ec;
    if (!ec && parser.content_length() &&
        *parser.content_length() > options_.max_body_bytes) {
      ec = http::error::body_limit;  // refuse before the body is sent
    }
    if (!ec &&
        beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      // curl waits a second for this before sending a body over 1 KiB.
      static constexpr std::string_view kContinue =
          "HTTP/1.1 100 Continue\r\n\r\n";
      auto [continue_ec, continue_n] = co_await asio::async_write(
          stream, asio::buffer(kContinue.data(), kContinue.size()),
          asio::as_tuple(asio::use_awaitable));
      ec = continue_ec;
    }
    if (!ec && !parser.is_done()) {
      auto [body_ec, body_n] = co_await http::async_read(
          stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
      ec = body_ec;
    }
    if (ec) {
      if (!IsQuietEnd(ec)) {
        HttpResponse answer = UnreadableRequestAnswer(ec);
        stream.expires_after(options_.write_timeout);
        co_await http::async_write(stream, answer,
                                   asio::as_tuple(asio::use_awaitable));
        spdlog::info("- - {} 0.000ms rid={} unreadable request: {}",
                     answer.result_int(), answer["X-Request-Id"], ec.message());
        co_await LingeringClose(stream);
      }
      break;
    }

    const auto started = std::chrono::steady_clock::now();
    HttpRequest request = parser.release();
    context.request_id = RequestIdFor(request);
    // The Api blocks on the store: run it on the worker pool.
    stream.expires_never();
    Reply reply = co_await pool_.Offload([this, &request, &context] {
      try {
        return api_.Handle(request, context);
      } catch (const std::exception& e) {
        // A bug, not the client's fault: log it, answer 500, keep serving.
        spdlog::error("rid={} unhandled exception: {}", context.request_id,
                      e.what());
        Reply failed;
        failed.response =
            RenderProblem(ProblemFromStatus(Status::Internal(e.what())),
                          context.request_id, request.version(), false);
        return failed;
      }
    });
    if (shutting_down_) reply.response.keep_alive(false);
    const unsigned status = reply.response.result_int();
    const double elapsed = std::chrono::duration<double>(
                               std::chrono::steady_clock::now() - started)
                               .count();
    metrics_.ObserveRequest(request.method_string(), reply.route, status,
                            elapsed);
    spdlog::info("{} {} {} {:.3f}ms rid={} user={}",
                 std::string(request.method_string()), reply.route, status,
                 elapsed * 1000, context.request_id,
                 reply.user_id.empty() ? "-" : reply.user_id);

    if (auto* sse = std::get_if<SseStart>(&reply.stream)) {
      co_await sse_.Run(stream, *sse, std::move(reply.response));
      break;
    }
    bool keep_alive = reply.response.keep_alive();
    if (auto* export_start = std::get_if<ExportStart>(&reply.stream)) {
      const bool complete = co_await StreamUserExport(
          stream, service_, pool_, *export_start, std::move(reply.response));
      if (!complete) break;
    } else {
      stream.expires_after(options_.write_timeout);
      auto [write_ec, write_n] = co_await http::async_write(
          stream, reply.response, asio::as_tuple(asio::use_awaitable));
      if (write_ec) break;
    }
    if (!keep_alive) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.close();
}

void HttpServer::CloseIdleConnections() {
  std::lock_guard lock(registry_->mu);
  for (const auto& connection : registry_->connections) {
    asio::post(connection->executor, [connection] {
      if (connection->idle && connection->stream != nullptr) {
        connection->stream->cancel();
      }
    });
  }
}

void HttpServer::Shutdown() {
  if (shutting_down_.exchange(true)) return;
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  hub_.CloseAll();
  asio::co_spawn(io_, DrainThenStop(), asio::detached);
}

asio::awaitable<void> HttpServer::DrainThenStop() {
  const auto deadline =
      std::chrono::steady_clock::now() + options_.shutdown_grace;
  asio::steady_timer tick(io_);
  while (std::chrono::steady_clock::now() < deadline) {
    // Connections that finish a request while draining become idle (or
    // leave at once since shutting_down_ is set); repeat the sweep.
    CloseIdleConnections();
    {
      std::lock_guard lock(registry_->mu);
      if (registry_->connections.empty()) break;
    }
    tick.expires_after(std::chrono::milliseconds(20));
    co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  io_.stop();
}

}  // namespace chatstore::server
