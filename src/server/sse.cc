#include "server/sse.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/wire_format.h"
#include "server/resource_json.h"

namespace chatstore::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace {

constexpr std::string_view kDeletedType = "session.deleted";
constexpr std::string_view kKeepalive = ": keepalive\n\n";

// The whole session with its messages, for a client whose position is no
// longer in the log. Blocking (runs on the worker pool).
Result<std::string> BuildSnapshotFrame(SessionService& service,
                                       const SseStart& start,
                                       const Session& session, int page) {
  std::string data = "{\"session\":";
  data += wire::SessionJson(session);
  data += ",\"messages\":[";
  std::int64_t after = 0;
  bool first = true;
  while (true) {
    CHATSTORE_ASSIGN_OR_RETURN(
        MessagePage messages,
        service.ReadMessages(start.user_id, start.session_id, after, page));
    for (const Message& m : messages.messages) {
      // Later messages arrive live after the snapshot.
      if (m.seq > session.last_seq) continue;
      if (!first) data += ',';
      first = false;
      data += wire::MessageJson(m);
    }
    if (!messages.next_after_seq || messages.messages.empty()) break;
    after = *messages.next_after_seq;
  }
  data += "]}";
  return FormatSseEvent(session.last_seq, "snapshot", data);
}

}  // namespace

std::string FormatSseEvent(std::int64_t seq, std::string_view type,
                           std::string_view data) {
  std::string out;
  out.reserve(data.size() + type.size() + 40);
  out += "id: ";
  out += std::to_string(seq);
  out += "\nevent: ";
  out += type;
  out += '\n';
  // SSE ends a line at CRLF, LF or a lone CR: each starts a new data field.
  while (true) {
    const std::size_t end = data.find_first_of("\r\n");
    out += "data: ";
    out += data.substr(0, end);
    out += '\n';
    if (end == std::string_view::npos) break;
    const bool crlf =
        data[end] == '\r' && end + 1 < data.size() && data[end + 1] == '\n';
    data.remove_prefix(end + (crlf ? 2 : 1));
  }
  out += '\n';
  return out;
}

SseFrame MakeSseFrame(const Event& event) {
  return SseFrame{event.seq, event.type == kDeletedType,
                  std::make_shared<const std::string>(
                      FormatSseEvent(event.seq, event.type, event.data))};
}

asio::awaitable<bool> SseStreamer::WriteText(beast::tcp_stream& stream,
                                             std::string_view text) {
  stream.expires_after(options_.write_timeout);
  auto [ec, n] =
      co_await asio::async_write(stream, asio::buffer(text.data(), text.size()),
                                 asio::as_tuple(asio::use_awaitable));
  co_return !ec;
}

asio::awaitable<SseStreamer::WriteResult> SseStreamer::WriteFrames(
    beast::tcp_stream& stream, const std::vector<SseFrame>& frames,
    std::int64_t& last_sent) {
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(frames.size());
  bool ends = false;
  std::int64_t newest = last_sent;
  bool gap = false;
  for (const SseFrame& frame : frames) {
    // Replay and live overlap around the join; seq decides, once.
    if (frame.seq <= newest) continue;
    if (frame.seq != newest + 1) {
      // Commits this stream has not seen live (they raced the join, or
      // another process made them): the log has them.
      gap = true;
      break;
    }
    buffers.push_back(asio::buffer(*frame.text));
    newest = frame.seq;
    if (frame.ends_stream) {
      ends = true;
      break;
    }
  }
  const WriteResult done = ends  ? WriteResult::kEnded
                           : gap ? WriteResult::kGap
                                 : WriteResult::kContinue;
  if (buffers.empty()) co_return done;
  stream.expires_after(options_.write_timeout);
  auto [ec, n] = co_await asio::async_write(
      stream, buffers, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return WriteResult::kFailed;
  last_sent = newest;
  co_return done;
}

asio::awaitable<SseStreamer::WriteResult> SseStreamer::CatchUp(
    beast::tcp_stream& stream, const SseStart& start, std::int64_t& last_sent) {
  while (true) {
    Result<EventPage> page = co_await pool_.Offload([&, after = last_sent] {
      return service_.ReadEvents(start.user_id, start.session_id, after,
                                 options_.replay_page);
    });
    if (page.status().IsNotFound()) {
      // Deleted, here or by another process (which ended its own streams
      // with this event): end this one the same way.
      const std::vector<SseFrame> deleted = {
          MakeSseFrame(wire::SessionDeletedEvent(
              start.session_id, last_sent + 1, SystemClock()->Now()))};
      co_return co_await WriteFrames(stream, deleted, last_sent);
    }
    if (page.status().IsUnavailable()) co_return WriteResult::kUnavailable;
    if (!page.ok()) co_return WriteResult::kFailed;
    std::vector<SseFrame> frames;
    frames.reserve(page->events.size());
    for (const Event& event : page->events) {
      frames.push_back(MakeSseFrame(event));
    }
    const WriteResult result = co_await WriteFrames(stream, frames, last_sent);
    // The log is gapless, so a gap inside a page cannot happen.
    if (result != WriteResult::kContinue) co_return result;
    if (!page->next_after_seq || page->events.empty()) {
      co_return WriteResult::kContinue;
    }
  }
}

asio::awaitable<void> SseStreamer::Run(beast::tcp_stream& stream,
                                       const SseStart& start,
                                       HttpResponse head) {
  auto executor = co_await asio::this_coro::executor;
  auto subscriber = std::make_shared<Subscriber>(executor, start.user_id,
                                                 options_.max_queued_events,
                                                 options_.max_queued_bytes);
  // Join live first: from here on every commit reaches the queue, so the
  // history read below cannot miss one.
  hub_.Subscribe(start.session_id, subscriber);
  subscriber->AttachStream(&stream);
  metrics_.StreamOpened();
  struct Leave {
    SseStreamer* self;
    const SseStart& start;
    std::shared_ptr<Subscriber> subscriber;
    ~Leave() {
      // Counted here, not where the loop notices: a subscriber that stops
      // reading is usually cut in the middle of a blocked write.
      if (subscriber->overflowed()) self->metrics_.SubscriberDropped();
      subscriber->AttachStream(nullptr);
      self->hub_.Unsubscribe(start.session_id, subscriber);
      self->metrics_.StreamClosed();
    }
  } leave{this, start, subscriber};

  struct Position {
    Result<Session> session = Status::Internal("unset");
    Result<EventPage> first_page = Status::Internal("unset");
  };
  Position position = co_await pool_.Offload([&] {
    Position p;
    p.session = service_.GetSession(start.user_id, start.session_id);
    if (p.session.ok()) {
      p.first_page = service_.ReadEvents(start.user_id, start.session_id,
                                         start.after_seq, 1);
    }
    return p;
  });

  stream.expires_after(options_.write_timeout);
  http::response_serializer<http::string_body> serializer(head);
  auto [head_ec, head_n] = co_await http::async_write_header(
      stream, serializer, asio::as_tuple(asio::use_awaitable));
  if (head_ec) co_return;
  const std::string retry =
      "retry: " + std::to_string(options_.retry.count()) + "\n\n";
  if (!co_await WriteText(stream, retry)) co_return;
  if (!position.session.ok() || !position.first_page.ok()) co_return;

  const Session& session = *position.session;
  const std::vector<Event>& first = position.first_page->events;
  std::int64_t last_sent = start.after_seq;
  // The client's position is not in the log: either older than what is
  // retained, or newer than the log itself (an id from another life of the
  // session). Either way it gets the whole current state.
  const bool position_lost =
      start.after_seq > session.last_seq ||
      (first.empty() ? session.last_seq > start.after_seq
                     : first.front().seq > start.after_seq + 1);
  if (position_lost) {
    Result<std::string> snapshot = co_await pool_.Offload([&] {
      return BuildSnapshotFrame(service_, start, session, options_.replay_page);
    });
    if (!snapshot.ok() || !co_await WriteText(stream, *snapshot)) co_return;
    last_sent = session.last_seq;
  } else if (co_await CatchUp(stream, start, last_sent) !=
             WriteResult::kContinue) {
    co_return;
  }

  using Clock = std::chrono::steady_clock;
  subscriber->NoteSent(last_sent);
  auto last_write = Clock::now();
  // The log may hold events this stream has not sent: a gap in the live
  // frames, or another process's write. Read it when next allowed to.
  bool behind = false;
  // Another process's write was noticed: decide after notice_grace.
  bool noticed = false;
  Clock::time_point catch_up_at = last_write;
  while (true) {
    Subscriber::Pending pending = subscriber->TakePending();
    if (pending.overflowed || pending.closed) co_return;
    if (pending.behind && !behind && !noticed) {
      catch_up_at = std::max(catch_up_at, Clock::now() + options_.notice_grace);
    }
    noticed = noticed || pending.behind;
    const std::int64_t sent_before = last_sent;
    if (!pending.frames.empty()) {
      const WriteResult result =
          co_await WriteFrames(stream, pending.frames, last_sent);
      if (result == WriteResult::kGap) {
        behind = true;  // the frames after the gap come back from the log
      } else if (result != WriteResult::kContinue) {
        co_return;
      }
    }
    if (noticed && Clock::now() >= catch_up_at) {
      // A notice of what has since arrived live needs no read of the log.
      behind = behind || !subscriber->HoldsNoticedSeqs();
      noticed = false;
    }
    if (behind && Clock::now() >= catch_up_at) {
      const WriteResult result = co_await CatchUp(stream, start, last_sent);
      if (result == WriteResult::kUnavailable) {
        // Keep the stream (and its keepalives) through a store outage.
        catch_up_at = Clock::now() + options_.catch_up_retry;
      } else if (result != WriteResult::kContinue) {
        co_return;
      } else {
        behind = false;
      }
    }
    if (last_sent != sent_before) {
      subscriber->NoteSent(last_sent);
      last_write = Clock::now();
      continue;
    }
    const auto keepalive_due = last_write + options_.keepalive;
    if (Clock::now() >= keepalive_due) {
      if (!co_await WriteText(stream, kKeepalive)) co_return;
      last_write = Clock::now();
      continue;
    }
    co_await subscriber->WaitUntil(behind || noticed
                                       ? std::min(keepalive_due, catch_up_at)
                                       : keepalive_due);
  }
}

}  // namespace chatstore::server
