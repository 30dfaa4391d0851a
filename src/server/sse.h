// Server-Sent Events: the wire format of one event, and the coroutine that
// serves one stream (replay from the store, then live from the Hub).
#ifndef CHATSTORE_SERVER_SSE_H_
#define CHATSTORE_SERVER_SSE_H_

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chatstore/service.h"
#include "server/http_types.h"
#include "server/hub.h"
#include "server/metrics.h"
#include "server/worker_pool.h"

namespace chatstore::server {

// "id: <seq>\nevent: <type>\ndata: <data>\n\n". `data` is one line of JSON;
// should it ever hold a line break (LF, CR or CRLF), each line gets its own
// `data:` field, so no byte of `data` can end the event or start another
// field; the client reassembles the lines joined by LF. `type` must hold no
// line break (event types are validated before they are stored).
std::string FormatSseEvent(std::int64_t seq, std::string_view type,
                           std::string_view data);
SseFrame MakeSseFrame(const Event& event);

struct SseOptions {
  std::chrono::milliseconds retry{3000};
  std::chrono::seconds keepalive{15};
  // A write that cannot finish within this is a dead client.
  std::chrono::seconds write_timeout{60};
  // Bounds of a subscriber's live queue.
  std::size_t max_queued_events = 1024;
  std::size_t max_queued_bytes = 8 << 20;
  int replay_page = 500;
  // A stream that must read the log while the store is down keeps its
  // connection (keepalives go on) and tries again after this long.
  std::chrono::milliseconds catch_up_retry{1000};
  // How long a stream waits after another process's write was noticed
  // before it reads the log. The notifiers also report this process's own
  // commits, sometimes before the Hub delivers them (the SQLite poll, a
  // pub/sub echo); after the wait those are queued here and no read is
  // needed. Without it every stream of a busy session would read (and hold)
  // its own copy of a log page for a write it is about to receive anyway.
  std::chrono::milliseconds notice_grace{25};
};

// Serves SSE streams. Thread-safe; one Run() per stream.
class SseStreamer {
 public:
  SseStreamer(SessionService& service, Hub& hub, WorkerPool& pool,
              Metrics& metrics, SseOptions options)
      : service_(service),
        hub_(hub),
        pool_(pool),
        metrics_(metrics),
        options_(options) {}

  // Writes `head` (status and headers, no body) and then the stream, until
  // the session is deleted, the client goes away or falls behind, or the
  // server shuts down. REQUIRES: runs on `stream`'s executor (a strand).
  boost::asio::awaitable<void> Run(boost::beast::tcp_stream& stream,
                                   const SseStart& start, HttpResponse head);

 private:
  // Outcome of writing frames or catching up.
  enum class WriteResult {
    kContinue,     // all written
    kGap,          // stopped before a frame that does not follow the last
                   // one sent: the events in between are in the log
    kUnavailable,  // the store is down: nothing more was written
    kEnded,        // session.deleted was written
    kFailed,       // the client is gone
  };

  // Writes the frames that follow `last_sent`, in order, up to the first
  // gap; frames already sent are skipped.
  boost::asio::awaitable<WriteResult> WriteFrames(
      boost::beast::tcp_stream& stream, const std::vector<SseFrame>& frames,
      std::int64_t& last_sent);
  // Replays the log from the store after `last_sent` until caught up. A
  // session that is gone gets session.deleted (kEnded).
  boost::asio::awaitable<WriteResult> CatchUp(boost::beast::tcp_stream& stream,
                                              const SseStart& start,
                                              std::int64_t& last_sent);
  boost::asio::awaitable<bool> WriteText(boost::beast::tcp_stream& stream,
                                         std::string_view text);

  SessionService& service_;
  Hub& hub_;
  WorkerPool& pool_;
  Metrics& metrics_;
  const SseOptions options_;
};

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_SSE_H_
