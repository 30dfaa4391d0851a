// Connects a ChangeNotifier to the Hub, so that SSE streams on this instance
// see what other chatstored instances (or processes) append to the store
// they share. The notifier only says "session S reached seq N" or "anything
// may have changed"; each stream then reads the log itself from the store
// (sse.cc), after the last event it sent, so a lost, duplicated or
// reordered notification costs at most a read, never an event.
#ifndef CHATSTORE_SERVER_CHANGE_FOLLOWER_H_
#define CHATSTORE_SERVER_CHANGE_FOLLOWER_H_

#include <memory>

#include "chatstore/change_notifier.h"
#include "chatstore/store.h"
#include "server/hub.h"

namespace chatstore::server {

class ChangeFollower {
 public:
  // `store` is the store `notifier` listens to (the primary store).
  ChangeFollower(Hub& hub, std::shared_ptr<Store> store,
                 std::unique_ptr<ChangeNotifier> notifier)
      : hub_(hub), store_(std::move(store)), notifier_(std::move(notifier)) {}
  ~ChangeFollower() { Stop(); }
  ChangeFollower(const ChangeFollower&) = delete;
  ChangeFollower& operator=(const ChangeFollower&) = delete;

  void Start();
  // Idempotent. After it returns the Hub is not touched again.
  void Stop() { notifier_->Stop(); }
  bool connected() const { return notifier_->connected(); }

 private:
  // On the notifier's thread.
  void OnChange(const LogChange& change);

  Hub& hub_;
  const std::shared_ptr<Store> store_;
  const std::unique_ptr<ChangeNotifier> notifier_;
};

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_CHANGE_FOLLOWER_H_
