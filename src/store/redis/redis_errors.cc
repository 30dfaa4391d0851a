#include "store/redis/redis_errors.h"

#include <hiredis/hiredis.h>

#include <array>
#include <string>

namespace chatstore::redis {
namespace {

std::string_view ReplyText(const redisReply* reply) {
  return reply->str ? std::string_view(reply->str, reply->len)
                    : std::string_view();
}

}  // namespace

Status FromContextError(const redisContext* ctx, std::string_view what) {
  std::string message = "redis: " + std::string(what) + ": ";
  if (ctx == nullptr) return Status::Unavailable(message + "no connection");
  if (ctx->err == REDIS_ERR_OOM) {
    return Status::ResourceExhausted(message + "out of memory in hiredis");
  }
  if (ctx->err == REDIS_ERR_PROTOCOL) {
    // A reply we could not parse: the connection is dropped and the next
    // call reconnects, so it is retryable like an I/O error.
    return Status::Unavailable(message + "protocol error: " + ctx->errstr);
  }
  // REDIS_ERR_IO covers refused connections and timeouts (errno EAGAIN
  // after redisSetTimeout), REDIS_ERR_EOF a server that went away.
  return Status::Unavailable(
      message + (ctx->errstr[0] ? ctx->errstr : "connection lost"));
}

Status FromErrorReply(const redisReply* reply, std::string_view what) {
  const std::string_view text = ReplyText(reply);
  std::string message =
      "redis: " + std::string(what) + ": " + std::string(text);
  // Transient server states: a replica loading its dataset, a busy script,
  // a failover in progress, a cluster reconfiguring.
  constexpr std::array<std::string_view, 7> kTransient = {
      "LOADING",  "BUSY",        "MASTERDOWN", "READONLY",
      "TRYAGAIN", "CLUSTERDOWN", "NOSCRIPT"};
  for (std::string_view prefix : kTransient) {
    if (text.starts_with(prefix)) return Status::Unavailable(message);
  }
  if (text.starts_with("OOM")) return Status::ResourceExhausted(message);
  return Status::Internal(message);
}

bool IsNoScript(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
         ReplyText(reply).starts_with("NOSCRIPT");
}

}  // namespace chatstore::redis
