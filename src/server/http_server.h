// The network side of chatstored: accepts connections, reads requests within
// bounds, runs the Api on the worker pool, writes answers, hands streams to
// their coroutines, and shuts down gracefully.
#ifndef CHATSTORE_SERVER_HTTP_SERVER_H_
#define CHATSTORE_SERVER_HTTP_SERVER_H_

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

#include "chatstore/status.h"
#include "server/api.h"
#include "server/hub.h"
#include "server/metrics.h"
#include "server/sse.h"
#include "server/worker_pool.h"

namespace chatstore::server {

struct HttpServerOptions {
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 << 10;
  // To receive one request, and to idle between keep-alive requests.
  std::chrono::seconds request_timeout{30};
  std::chrono::seconds write_timeout{60};
  std::size_t max_connections = 20000;
  std::chrono::seconds shutdown_grace{10};
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, Api& api, SseStreamer& sse,
             SessionService& service, WorkerPool& pool, Hub& hub,
             Metrics& metrics, HttpServerOptions options);

  // Binds `host:port` (port 0: any free port) and returns the bound address.
  Result<boost::asio::ip::tcp::endpoint> Listen(const std::string& host,
                                                std::uint16_t port);
  // Starts accepting. REQUIRES: Listen() succeeded.
  void Start();
  // Thread-safe, idempotent. Stops accepting, ends SSE streams and idle
  // connections, lets in-flight requests finish within the grace period,
  // then stops the io_context.
  void Shutdown();

 private:
  // A live connection, as shutdown sees it. Fields are touched only on the
  // connection's executor.
  struct Connection {
    boost::asio::any_io_executor executor;
    boost::beast::tcp_stream* stream = nullptr;
    bool idle = true;  // waiting for the next request
  };

  boost::asio::awaitable<void> AcceptLoop();
  boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<void> DrainThenStop();
  // Posts "close if idle" to every connection.
  void CloseIdleConnections();

  boost::asio::io_context& io_;
  Api& api_;
  SseStreamer& sse_;
  SessionService& service_;
  WorkerPool& pool_;
  Hub& hub_;
  Metrics& metrics_;
  const HttpServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> shutting_down_{false};

  // Shared with the connection coroutines: their frames may be destroyed
  // after the server (when the io_context is torn down).
  struct ConnectionRegistry {
    std::mutex mu;
    std::unordered_set<std::shared_ptr<Connection>> connections;
  };
  std::shared_ptr<ConnectionRegistry> registry_ =
      std::make_shared<ConnectionRegistry>();
};

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_HTTP_SERVER_H_
