// The Hub: live SSE subscribers per session, fed by the service's commits
// and, for other processes' commits, by the ChangeFollower.
// A subscriber registers before it reads history (sse.cc), so every event
// committed after that moment reaches its queue; the queue is bounded and a
// subscriber that falls behind is cut off (it resumes with Last-Event-ID).
#ifndef CHATSTORE_SERVER_HUB_H_
#define CHATSTORE_SERVER_HUB_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "chatstore/service.h"
#include "server/metrics.h"

namespace chatstore::server {

// One event of an SSE stream, formatted once and shared by every subscriber.
struct SseFrame {
  std::int64_t seq = 0;
  bool ends_stream = false;  // session.deleted
  std::shared_ptr<const std::string> text;
};

// The live side of one SSE stream. Deliver() and Close() may be called from
// any thread; everything else runs on the stream's executor (a strand).
class Subscriber : public std::enable_shared_from_this<Subscriber> {
 public:
  Subscriber(boost::asio::any_io_executor executor, std::string user_id,
             std::size_t max_frames, std::size_t max_bytes);

  const std::string& user_id() const { return user_id_; }

  // Queues frames. Past the bounds the subscriber is marked overflowed and
  // its stream is cancelled, even in the middle of a blocked write.
  void Deliver(const std::vector<SseFrame>& frames);
  // Asks the stream to end (server shutdown).
  void Close();
  // The session's log reached `last_seq` (0: it changed, by how much is
  // unknown) through a write this process did not make (change_follower.h).
  // Unless this subscriber already holds that seq, its stream reads the log
  // from the store after what it sent. Any thread.
  void NoteLogGrew(std::int64_t last_seq);
  // Executor only. The stream has sent everything up to `seq`.
  void NoteSent(std::int64_t seq);
  // Whether every seq NoteLogGrew reported has since been queued or sent
  // here: the notice was this process's own commit, seen by the follower
  // before the Hub delivered it, and the stream need not read the log.
  // When not, the notices are forgotten: the caller reads the log.
  bool HoldsNoticedSeqs();

  struct Pending {
    std::vector<SseFrame> frames;
    bool overflowed = false;
    bool closed = false;
    bool behind = false;  // NoteLogGrew: read the log from the store
  };
  // Executor only. Takes what is queued.
  Pending TakePending();
  // Whether the subscriber fell behind its bounds (and so was cut off).
  bool overflowed();
  // Executor only. Returns when something was queued (or the subscriber was
  // overflowed/closed) or at `deadline`, whichever is first.
  boost::asio::awaitable<void> WaitUntil(
      std::chrono::steady_clock::time_point deadline);
  // Executor only. The stream to cancel on overflow or close; null detaches.
  void AttachStream(boost::beast::tcp_stream* stream) { stream_ = stream; }

 private:
  // Posts a wake-up to the executor unless one is already on its way.
  void ScheduleWake(std::unique_lock<std::mutex>& lock);
  void WakeOnExecutor();

  boost::asio::any_io_executor executor_;
  const std::string user_id_;
  boost::asio::steady_timer timer_;
  boost::beast::tcp_stream* stream_ = nullptr;  // executor only
  const std::size_t max_frames_;
  const std::size_t max_bytes_;

  std::mutex mu_;
  std::vector<SseFrame> queue_;
  std::size_t queued_bytes_ = 0;
  bool overflowed_ = false;
  bool closed_ = false;
  bool behind_ = false;
  // The highest seq queued or sent: a change up to it needs no read.
  std::int64_t known_seq_ = 0;
  // The highest seq NoteLogGrew reported (INT64_MAX: unknown, e.g. a
  // deletion), compared with known_seq_ by HoldsNoticedSeqs().
  std::int64_t noticed_seq_ = 0;
  bool wake_scheduled_ = false;
};

class Hub final : public CommitListener {
 public:
  explicit Hub(Metrics& metrics) : metrics_(metrics) {}

  // Called by the service after each durable commit.
  void OnCommit(const Session& session,
                const std::vector<Event>& events) override;

  // Another process changed the session's log (see Subscriber::NoteLogGrew).
  void NoteLogGrew(const std::string& session_id, std::int64_t last_seq);
  // The sessions that have subscribers now.
  std::vector<std::string> FollowedSessions();

  void Subscribe(const std::string& session_id,
                 std::shared_ptr<Subscriber> subscriber);
  void Unsubscribe(const std::string& session_id,
                   const std::shared_ptr<Subscriber>& subscriber);
  // Closes every stream of `user_id` (their data was erased).
  void CloseUser(const std::string& user_id);
  // Closes every stream and refuses new ones (graceful shutdown).
  void CloseAll();

 private:
  Metrics& metrics_;
  std::mutex mu_;
  bool closed_ = false;
  std::unordered_map<std::string, std::vector<std::shared_ptr<Subscriber>>>
      subscribers_;
};

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_HUB_H_
