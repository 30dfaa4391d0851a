// Connections to one Redis server: a small RAII layer over hiredis's sync
// API (commands, pipelines, MULTI/EXEC) and a fixed-size pool that lends each
// connection to one thread at a time. hiredis types stay in src/store/redis.
#ifndef CHATSTORE_STORE_REDIS_REDIS_CONNECTION_H_
#define CHATSTORE_STORE_REDIS_REDIS_CONNECTION_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chatstore/status.h"

struct redisContext;
struct redisReply;

namespace chatstore::redis {

struct ReplyDeleter {
  void operator()(redisReply* reply) const;
};
// An owned reply tree (hiredis frees the elements with their array).
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// One command as its arguments (binary-safe).
using Command = std::vector<std::string>;

struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  // Bounded so that an outage answers Unavailable quickly instead of
  // hanging a request: connecting, and each command's reply.
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{2000};
};

// Parses "host:port/db" (port defaults to 6379, db to 0). InvalidArgument
// when malformed.
Result<Endpoint> ParseEndpoint(std::string_view rest);

// Reads a reply: the error Status of an error reply, OK otherwise.
Status CheckReply(const redisReply* reply, std::string_view what);

// One connection, (re)established lazily. Not thread-safe: the pool lends it
// to one thread at a time. After any connection error it is closed, and the
// next call reconnects, so a restarted server is picked up by itself.
class Connection {
 public:
  explicit Connection(const Endpoint& endpoint) : endpoint_(endpoint) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends all commands in one write and reads their replies in order.
  // Error replies (e.g. NOSCRIPT) come back as replies for the caller to
  // judge; Unavailable when the connection fails (then nothing is known of
  // which commands ran).
  Result<std::vector<Reply>> Pipeline(const std::vector<Command>& commands);
  Result<Reply> Run(const Command& command);
  // The commands inside MULTI/EXEC: they run atomically, so the caller sees
  // one consistent snapshot (or one all-or-nothing write). Returns EXEC's
  // array reply, one element per command (elements may be error replies).
  Result<Reply> Transaction(const std::vector<Command>& commands);

  // For a connection in subscribe mode (after Run({"SUBSCRIBE", ...})),
  // where the server pushes replies unasked. Send() writes one command
  // without reading its reply; ReadPushed() waits up to `wait` for the next
  // reply and returns null when none came. Unavailable when the connection
  // failed (it is closed then). REQUIRES: connected (a Run() succeeded).
  Status Send(const Command& command);
  Result<Reply> ReadPushed(std::chrono::milliseconds wait);

 private:
  Status EnsureConnected();
  void Close();

  const Endpoint endpoint_;
  redisContext* ctx_ = nullptr;
};

// A fixed set of connections shared by the store's callers. Thread-safe.
class ConnectionPool {
 public:
  ConnectionPool(const Endpoint& endpoint, std::size_t size);

  // A connection held by the calling thread until the lease is destroyed.
  class Lease {
   public:
    Lease(ConnectionPool* pool, Connection* conn) : pool_(pool), conn_(conn) {}
    Lease(Lease&& other) noexcept
        : pool_(other.pool_), conn_(std::exchange(other.conn_, nullptr)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_) pool_->Release(conn_);
    }
    Connection* operator->() const { return conn_; }
    Connection& operator*() const { return *conn_; }

   private:
    ConnectionPool* pool_;
    Connection* conn_;
  };

  // Waits while every connection is lent out (each use is bounded by the
  // command timeout, so the wait is too).
  Lease Acquire();

  // Acquire() + one Connection call.
  Result<Reply> Run(const Command& command);
  Result<std::vector<Reply>> Pipeline(const std::vector<Command>& commands);
  Result<Reply> Transaction(const std::vector<Command>& commands);

 private:
  void Release(Connection* conn);

  std::vector<std::unique_ptr<Connection>> connections_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<Connection*> free_;  // guarded by mu_
};

}  // namespace chatstore::redis

#endif  // CHATSTORE_STORE_REDIS_REDIS_CONNECTION_H_
