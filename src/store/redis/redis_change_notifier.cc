#include "store/redis/redis_change_notifier.h"

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "store/reconnecting_notifier.h"
#include "store/redis/redis_connection.h"
#include "store/redis/redis_keys.h"

namespace chatstore {
namespace {

using Clock = std::chrono::steady_clock;

// A quiet subscription is probed with PING this often; a probe unanswered
// for as long again means the server vanished without closing the socket.
constexpr std::chrono::seconds kProbeAfter{5};

std::string_view ElementText(const redisReply* array, std::size_t i) {
  if (array->type != REDIS_REPLY_ARRAY || i >= array->elements) return {};
  const redisReply* e = array->element[i];
  if (e->type != REDIS_REPLY_STRING && e->type != REDIS_REPLY_STATUS) {
    return {};
  }
  return std::string_view(e->str, e->len);
}

class RedisChangeNotifier final : public ReconnectingNotifier {
 public:
  explicit RedisChangeNotifier(const redis::Endpoint& endpoint)
      : endpoint_(endpoint) {}
  ~RedisChangeNotifier() override { Stop(); }

 protected:
  Status Connect() override {
    conn_ = std::make_unique<redis::Connection>(endpoint_);
    CHATSTORE_ASSIGN_OR_RETURN(
        redis::Reply reply,
        conn_->Run({"SUBSCRIBE", std::string(redis::keys::kChangesChannel)}));
    CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(reply.get(), "SUBSCRIBE"));
    if (ElementText(reply.get(), 0) != "subscribe") {
      return Status::Internal("redis: SUBSCRIBE answered an unknown shape");
    }
    last_heard_ = Clock::now();
    probe_sent_ = false;
    return Status::Ok();
  }

  Status Listen(std::chrono::milliseconds slice) override {
    CHATSTORE_ASSIGN_OR_RETURN(redis::Reply reply, conn_->ReadPushed(slice));
    const Clock::time_point now = Clock::now();
    if (!reply) {
      if (now - last_heard_ < kProbeAfter) return Status::Ok();
      if (!probe_sent_) {
        probe_sent_ = true;
        return conn_->Send({"PING"});
      }
      if (now - last_heard_ < 2 * kProbeAfter) return Status::Ok();
      return Status::Unavailable("redis: the change subscription went silent");
    }
    last_heard_ = now;
    probe_sent_ = false;
    // ["message", channel, payload]; PING's answer is ["pong", ""].
    if (ElementText(reply.get(), 0) == "message") {
      Report(ParseChangePayload(ElementText(reply.get(), 2)));
    }
    return Status::Ok();
  }

  void Disconnect() override { conn_.reset(); }

 private:
  const redis::Endpoint endpoint_;
  // Listening thread only.
  std::unique_ptr<redis::Connection> conn_;
  Clock::time_point last_heard_;
  bool probe_sent_ = false;
};

}  // namespace

Result<std::unique_ptr<ChangeNotifier>> OpenRedisChangeNotifier(
    std::string_view rest) {
  CHATSTORE_ASSIGN_OR_RETURN(redis::Endpoint endpoint,
                             redis::ParseEndpoint(rest));
  return std::unique_ptr<ChangeNotifier>(
      std::make_unique<RedisChangeNotifier>(endpoint));
}

}  // namespace chatstore
