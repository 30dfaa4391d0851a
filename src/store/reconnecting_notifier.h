// The thread every network-facing ChangeNotifier runs: connect, report
// "anything may have changed", listen until the connection breaks, then
// connect again after a growing pause. Backends supply the three steps.
#ifndef CHATSTORE_STORE_RECONNECTING_NOTIFIER_H_
#define CHATSTORE_STORE_RECONNECTING_NOTIFIER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string_view>
#include <thread>

#include "chatstore/change_notifier.h"

namespace chatstore {

// Reads the payload that Redis's scripts publish and PostgreSQL's
// transactions NOTIFY: "<session id> <last seq>", or "<session id>" alone
// (a deletion; last_seq 0). A malformed seq also reads as 0 ("unknown"),
// which costs a re-read, never a missed change.
LogChange ParseChangePayload(std::string_view payload);

class ReconnectingNotifier : public ChangeNotifier {
 public:
  ~ReconnectingNotifier() override;  // REQUIRES: the subclass called Stop()

  void Start(Callback callback) final;
  void Stop() final;
  bool connected() const final { return connected_.load(); }

  // The pause after a failed connection doubles from kMinBackoff up to
  // kMaxBackoff: a restarted server is noticed within about a second.
  static constexpr std::chrono::milliseconds kMinBackoff{50};
  static constexpr std::chrono::milliseconds kMaxBackoff{1000};
  // How long one Listen() call may wait for news, i.e. how quickly Stop()
  // is noticed.
  static constexpr std::chrono::milliseconds kListenSlice{200};

 protected:
  // Opens the connection and subscribes. An error is retried after a pause.
  virtual Status Connect() = 0;
  // Waits up to `slice` for changes and reports each with Report(). An
  // error means the connection is lost: Disconnect() follows.
  virtual Status Listen(std::chrono::milliseconds slice) = 0;
  // Drops the connection (no-op when there is none).
  virtual void Disconnect() = 0;

  // Hands a change to the callback (listening thread only).
  void Report(const LogChange& change) { callback_(change); }
  // Sleeps up to `d`; false when Stop() was called meanwhile.
  bool PauseFor(std::chrono::milliseconds d);

 private:
  void Run();

  Callback callback_;
  std::thread thread_;
  std::atomic<bool> connected_{false};
  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by mu_
};

}  // namespace chatstore

#endif  // CHATSTORE_STORE_RECONNECTING_NOTIFIER_H_
