#include "server/hub.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <limits>
#include <utility>

#include "server/sse.h"

namespace chatstore::server {

Subscriber::Subscriber(boost::asio::any_io_executor executor,
                       std::string user_id, std::size_t max_frames,
                       std::size_t max_bytes)
    : executor_(executor),
      user_id_(std::move(user_id)),
      timer_(executor),
      max_frames_(max_frames),
      max_bytes_(max_bytes) {}

void Subscriber::Deliver(const std::vector<SseFrame>& frames) {
  std::unique_lock lock(mu_);
  if (overflowed_ || closed_) return;
  for (const SseFrame& frame : frames) {
    queue_.push_back(frame);
    queued_bytes_ += frame.text->size();
    known_seq_ = std::max(known_seq_, frame.seq);
  }
  if (queue_.size() > max_frames_ || queued_bytes_ > max_bytes_) {
    // Drop what is queued: this subscriber will catch up from the store.
    overflowed_ = true;
    queue_.clear();
    queued_bytes_ = 0;
  }
  ScheduleWake(lock);
}

void Subscriber::Close() {
  std::unique_lock lock(mu_);
  closed_ = true;
  ScheduleWake(lock);
}

void Subscriber::NoteLogGrew(std::int64_t last_seq) {
  std::unique_lock lock(mu_);
  if (overflowed_ || closed_) return;
  if (last_seq > 0 && last_seq <= known_seq_) return;
  noticed_seq_ = std::max(
      noticed_seq_,
      last_seq > 0 ? last_seq : std::numeric_limits<std::int64_t>::max());
  behind_ = true;
  ScheduleWake(lock);
}

void Subscriber::NoteSent(std::int64_t seq) {
  std::lock_guard lock(mu_);
  known_seq_ = std::max(known_seq_, seq);
}

void Subscriber::ScheduleWake(std::unique_lock<std::mutex>& lock) {
  if (wake_scheduled_) return;
  wake_scheduled_ = true;
  lock.unlock();
  // The posted handler keeps the subscriber alive even if its stream ended.
  boost::asio::post(executor_,
                    [self = shared_from_this()] { self->WakeOnExecutor(); });
}

void Subscriber::WakeOnExecutor() {
  bool stop;
  {
    std::lock_guard lock(mu_);
    wake_scheduled_ = false;
    stop = overflowed_ || closed_;
  }
  timer_.cancel();
  if (stop && stream_ != nullptr) stream_->cancel();
}

Subscriber::Pending Subscriber::TakePending() {
  std::lock_guard lock(mu_);
  Pending pending;
  pending.frames.swap(queue_);
  queued_bytes_ = 0;
  pending.overflowed = overflowed_;
  pending.closed = closed_;
  pending.behind = std::exchange(behind_, false);
  return pending;
}

bool Subscriber::HoldsNoticedSeqs() {
  std::lock_guard lock(mu_);
  if (known_seq_ >= noticed_seq_) return true;
  noticed_seq_ = 0;  // the caller reads the log, which covers them all
  return false;
}

bool Subscriber::overflowed() {
  std::lock_guard lock(mu_);
  return overflowed_;
}

boost::asio::awaitable<void> Subscriber::WaitUntil(
    std::chrono::steady_clock::time_point deadline) {
  {
    // A wake-up posted before this check runs only after the wait below
    // starts (both run on this executor), so none is lost in between.
    std::lock_guard lock(mu_);
    if (!queue_.empty() || overflowed_ || closed_ || behind_) co_return;
  }
  timer_.expires_at(deadline);
  boost::system::error_code ec;
  co_await timer_.async_wait(
      boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

void Hub::OnCommit(const Session& session, const std::vector<Event>& events) {
  metrics_.EventsAppended(static_cast<std::int64_t>(events.size()));
  std::vector<std::shared_ptr<Subscriber>> targets;
  {
    std::lock_guard lock(mu_);
    auto it = subscribers_.find(session.id);
    if (it == subscribers_.end()) return;
    targets = it->second;
  }
  std::vector<SseFrame> frames;
  frames.reserve(events.size());
  for (const Event& event : events) {
    frames.push_back(MakeSseFrame(event));
  }
  for (const auto& subscriber : targets) subscriber->Deliver(frames);
}

void Hub::NoteLogGrew(const std::string& session_id, std::int64_t last_seq) {
  std::lock_guard lock(mu_);
  auto it = subscribers_.find(session_id);
  if (it == subscribers_.end()) return;
  for (const auto& subscriber : it->second) subscriber->NoteLogGrew(last_seq);
}

std::vector<std::string> Hub::FollowedSessions() {
  std::lock_guard lock(mu_);
  std::vector<std::string> ids;
  ids.reserve(subscribers_.size());
  for (const auto& [id, list] : subscribers_) ids.push_back(id);
  return ids;
}

void Hub::Subscribe(const std::string& session_id,
                    std::shared_ptr<Subscriber> subscriber) {
  std::lock_guard lock(mu_);
  if (closed_) subscriber->Close();
  subscribers_[session_id].push_back(std::move(subscriber));
}

void Hub::Unsubscribe(const std::string& session_id,
                      const std::shared_ptr<Subscriber>& subscriber) {
  std::lock_guard lock(mu_);
  auto it = subscribers_.find(session_id);
  if (it == subscribers_.end()) return;
  std::erase(it->second, subscriber);
  if (it->second.empty()) subscribers_.erase(it);
}

void Hub::CloseUser(const std::string& user_id) {
  std::lock_guard lock(mu_);
  for (auto& [id, list] : subscribers_) {
    for (auto& subscriber : list) {
      if (subscriber->user_id() == user_id) subscriber->Close();
    }
  }
}

void Hub::CloseAll() {
  std::lock_guard lock(mu_);
  closed_ = true;
  for (auto& [id, list] : subscribers_) {
    for (auto& subscriber : list) subscriber->Close();
  }
}

}  // namespace chatstore::server
