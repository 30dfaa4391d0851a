#include "store/reconnecting_notifier.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <utility>

namespace chatstore {

LogChange ParseChangePayload(std::string_view payload) {
  LogChange change;
  const std::size_t space = payload.find(' ');
  change.session_id = std::string(payload.substr(0, space));
  if (space != std::string_view::npos) {
    const std::string_view seq = payload.substr(space + 1);
    std::int64_t value = 0;
    const auto [end, ec] =
        std::from_chars(seq.data(), seq.data() + seq.size(), value);
    if (ec == std::errc() && end == seq.data() + seq.size() && value > 0) {
      change.last_seq = value;
    }
  }
  return change;
}

ReconnectingNotifier::~ReconnectingNotifier() {
  // The subclass stops the thread in its own destructor, while its
  // Connect/Listen overrides still exist; this is the safety net.
  Stop();
}

void ReconnectingNotifier::Start(Callback callback) {
  callback_ = std::move(callback);
  thread_ = std::thread([this] { Run(); });
}

void ReconnectingNotifier::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ReconnectingNotifier::PauseFor(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !stop_cv_.wait_for(lock, d, [this] { return stopping_; });
}

void ReconnectingNotifier::Run() {
  std::chrono::milliseconds backoff = kMinBackoff;
  while (PauseFor(std::chrono::milliseconds(0))) {
    if (!connected_.load()) {
      if (!Connect().ok()) {
        Disconnect();
        if (!PauseFor(backoff)) break;
        backoff = std::min(backoff * 2, kMaxBackoff);
        continue;
      }
      connected_.store(true);
      backoff = kMinBackoff;
      // Whatever happened while we were not listening is unknown.
      Report(LogChange{});
    }
    if (!Listen(kListenSlice).ok()) {
      Disconnect();
      connected_.store(false);
    }
  }
  Disconnect();
  connected_.store(false);
}

}  // namespace chatstore
