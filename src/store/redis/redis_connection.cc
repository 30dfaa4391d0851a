#include "store/redis/redis_connection.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/time.h>

#include <charconv>
#include <string>
#include <utility>

#include "store/redis/redis_errors.h"

namespace chatstore::redis {
namespace {

timeval ToTimeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

bool ParseInt(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

void AppendCommand(redisContext* ctx, const Command& command) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  argv.reserve(command.size());
  lens.reserve(command.size());
  for (const std::string& arg : command) {
    argv.push_back(arg.data());
    lens.push_back(arg.size());
  }
  redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(),
                         lens.data());
}

}  // namespace

void ReplyDeleter::operator()(redisReply* reply) const {
  freeReplyObject(reply);
}

Result<Endpoint> ParseEndpoint(std::string_view rest) {
  Endpoint e;
  std::string_view hostport = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && (!ParseInt(db, e.db) || e.db < 0)) {
      return Status::InvalidArgument("redis URI: bad database number '" +
                                     std::string(db) + "'");
    }
  }
  if (const auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    if (!ParseInt(hostport.substr(colon + 1), e.port) || e.port <= 0 ||
        e.port > 65535) {
      return Status::InvalidArgument("redis URI: bad port in '" +
                                     std::string(rest) + "'");
    }
    hostport = hostport.substr(0, colon);
  }
  if (!hostport.empty()) e.host = std::string(hostport);
  return e;
}

Status CheckReply(const redisReply* reply, std::string_view what) {
  if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
    return FromErrorReply(reply, what);
  }
  return Status::Ok();
}

Connection::~Connection() { Close(); }

void Connection::Close() {
  if (ctx_ != nullptr) {
    redisFree(ctx_);
    ctx_ = nullptr;
  }
}

Status Connection::EnsureConnected() {
  if (ctx_ != nullptr) return Status::Ok();
  redisContext* ctx =
      redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port,
                              ToTimeval(endpoint_.connect_timeout));
  if (ctx == nullptr || ctx->err) {
    Status s = FromContextError(ctx, "connect to " + endpoint_.host + ":" +
                                         std::to_string(endpoint_.port));
    if (ctx) redisFree(ctx);
    return s;
  }
  ctx_ = ctx;
  if (redisSetTimeout(ctx_, ToTimeval(endpoint_.command_timeout)) != REDIS_OK) {
    Status s = FromContextError(ctx_, "set timeout");
    Close();
    return s;
  }
  // Keepalive lets the kernel notice a peer that vanished without a FIN.
  redisEnableKeepAlive(ctx_);
  if (endpoint_.db != 0) {
    // SELECT on every new connection: the pool reconnects after errors.
    Reply reply(static_cast<redisReply*>(
        redisCommand(ctx_, "SELECT %d", endpoint_.db)));
    if (!reply) {
      Status s = FromContextError(ctx_, "SELECT");
      Close();
      return s;
    }
    if (Status s = CheckReply(reply.get(), "SELECT"); !s.ok()) {
      Close();
      return s;
    }
  }
  return Status::Ok();
}

Result<std::vector<Reply>> Connection::Pipeline(
    const std::vector<Command>& commands) {
  CHATSTORE_RETURN_IF_ERROR(EnsureConnected());
  for (const Command& c : commands) AppendCommand(ctx_, c);
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
      // The connection's state is unknown (a timeout may leave replies in
      // flight), so it is not reused.
      Status s = FromContextError(
          ctx_, commands[i].empty() ? std::string("command") : commands[i][0]);
      Close();
      return s;
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

Result<Reply> Connection::Run(const Command& command) {
  CHATSTORE_ASSIGN_OR_RETURN(std::vector<Reply> replies, Pipeline({command}));
  return std::move(replies.front());
}

Result<Reply> Connection::Transaction(const std::vector<Command>& commands) {
  std::vector<Command> wrapped;
  wrapped.reserve(commands.size() + 2);
  wrapped.push_back({"MULTI"});
  for (const Command& c : commands) wrapped.push_back(c);
  wrapped.push_back({"EXEC"});
  CHATSTORE_ASSIGN_OR_RETURN(std::vector<Reply> replies, Pipeline(wrapped));
  // A command refused while queueing (+QUEUED expected) aborts the EXEC.
  for (std::size_t i = 0; i + 1 < replies.size(); ++i) {
    CHATSTORE_RETURN_IF_ERROR(CheckReply(replies[i].get(), "MULTI"));
  }
  Reply exec = std::move(replies.back());
  CHATSTORE_RETURN_IF_ERROR(CheckReply(exec.get(), "EXEC"));
  if (exec->type != REDIS_REPLY_ARRAY || exec->elements != commands.size()) {
    return Status::Internal("redis: EXEC did not answer one reply per command");
  }
  return exec;
}

Status Connection::Send(const Command& command) {
  if (ctx_ == nullptr) return Status::Unavailable("redis: not connected");
  AppendCommand(ctx_, command);
  int done = 0;
  while (!done) {
    if (redisBufferWrite(ctx_, &done) != REDIS_OK) {
      Status s = FromContextError(ctx_, command.empty() ? "send" : command[0]);
      Close();
      return s;
    }
  }
  return Status::Ok();
}

Result<Reply> Connection::ReadPushed(std::chrono::milliseconds wait) {
  if (ctx_ == nullptr) return Status::Unavailable("redis: not connected");
  auto take = [this]() -> Result<Reply> {
    void* raw = nullptr;
    if (redisGetReplyFromReader(ctx_, &raw) != REDIS_OK) {
      Status s = FromContextError(ctx_, "read");
      Close();
      return s;
    }
    return Reply(static_cast<redisReply*>(raw));
  };
  // A reply may already sit in hiredis's buffer from an earlier read.
  CHATSTORE_ASSIGN_OR_RETURN(Reply buffered, take());
  if (buffered) return buffered;
  pollfd pfd{ctx_->fd, POLLIN, 0};
  const int ready = ::poll(&pfd, 1, static_cast<int>(wait.count()));
  if (ready <= 0) return Reply();  // nothing yet (or EINTR: try again later)
  // Readable: this read does not block. EOF and errors close the context.
  if (redisBufferRead(ctx_) != REDIS_OK) {
    Status s = FromContextError(ctx_, "read");
    Close();
    return s;
  }
  return take();
}

ConnectionPool::ConnectionPool(const Endpoint& endpoint, std::size_t size) {
  connections_.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    connections_.push_back(std::make_unique<Connection>(endpoint));
    free_.push_back(connections_.back().get());
  }
}

ConnectionPool::Lease ConnectionPool::Acquire() {
  std::unique_lock lock(mu_);
  available_.wait(lock, [this] { return !free_.empty(); });
  Connection* conn = free_.back();
  free_.pop_back();
  return Lease(this, conn);
}

void ConnectionPool::Release(Connection* conn) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(conn);
  }
  available_.notify_one();
}

Result<Reply> ConnectionPool::Run(const Command& command) {
  Lease conn = Acquire();
  return conn->Run(command);
}

Result<std::vector<Reply>> ConnectionPool::Pipeline(
    const std::vector<Command>& commands) {
  Lease conn = Acquire();
  return conn->Pipeline(commands);
}

Result<Reply> ConnectionPool::Transaction(
    const std::vector<Command>& commands) {
  Lease conn = Acquire();
  return conn->Transaction(commands);
}

}  // namespace chatstore::redis
