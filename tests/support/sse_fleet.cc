#include "support/sse_fleet.h"

#include <sys/resource.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <deque>
#include <optional>

namespace chatstore::testing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

std::int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The integer after `key` in `text` (e.g. `"t":123`), -1 when absent.
std::int64_t IntegerAfter(std::string_view text, std::string_view key) {
  const std::size_t at = text.find(key);
  if (at == std::string_view::npos) return -1;
  return std::strtoll(text.data() + at + key.size(), nullptr, 10);
}

}  // namespace

std::uint64_t RaiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur;
}

// ---- LatencyHistogram --------------------------------------------------

LatencyHistogram::LatencyHistogram()
    : buckets_(new std::atomic<std::uint64_t>[kBuckets]) {
  Reset();
}

void LatencyHistogram::Record(std::chrono::nanoseconds latency) {
  const std::int64_t ns = std::max<std::int64_t>(latency.count(), 0);
  const std::int64_t bucket =
      std::min<std::int64_t>(ns / (kBucketMicros * 1000), kBuckets - 1);
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  std::uint64_t seen = max_ns_.load(std::memory_order_relaxed);
  while (static_cast<std::uint64_t>(ns) > seen &&
         !max_ns_.compare_exchange_weak(seen, ns)) {
  }
}

void LatencyHistogram::Reset() {
  for (int i = 0; i < kBuckets; ++i) buckets_[i] = 0;
  max_ns_ = 0;
}

std::uint64_t LatencyHistogram::count() const {
  std::uint64_t n = 0;
  for (int i = 0; i < kBuckets; ++i) n += buckets_[i];
  return n;
}

double LatencyHistogram::PercentileMicros(double q) const {
  const std::uint64_t total = count();
  if (total == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total));
  std::uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= std::max<std::uint64_t>(rank, 1)) {
      // The bucket's upper edge: a conservative figure.
      return static_cast<double>((i + 1) * kBucketMicros);
    }
  }
  return MaxMicros();
}

double LatencyHistogram::MaxMicros() const {
  return static_cast<double>(max_ns_.load()) / 1000.0;
}

// ---- SseFleet ----------------------------------------------------------

struct SseFleet::Impl {
  // One stream, as the coroutine that reads it reports it.
  struct Stream {
    std::string target;
    std::atomic<std::int64_t> last_seq{0};
    std::atomic<bool> established{false};
    std::atomic<bool> ended{false};
  };

  FleetOptions options;
  LatencyHistogram* latency;
  std::deque<asio::io_context> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards;
  std::vector<std::thread> threads;
  std::deque<Stream> streams;
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint64_t> order_errors{0};

  asio::awaitable<void> Follow(Stream& s) {
    tcp::socket socket(co_await asio::this_coro::executor);
    const tcp::endpoint endpoint(asio::ip::make_address(options.host),
                                 options.port);
    auto [connect_ec] = co_await socket.async_connect(
        endpoint, asio::as_tuple(asio::use_awaitable));
    const std::string request =
        "GET " + s.target + " HTTP/1.1\r\nHost: " + options.host +
        "\r\nAccept: text/event-stream\r\nAuthorization: Bearer " +
        options.token + "\r\n\r\n";
    if (!connect_ec) {
      auto [write_ec, n] = co_await asio::async_write(
          socket, asio::buffer(request), asio::as_tuple(asio::use_awaitable));
      connect_ec = write_ec;
    }
    if (connect_ec) {
      s.ended = true;
      co_return;
    }
    std::string buffer;
    bool in_body = false;
    std::int64_t last = 0;
    std::int64_t id = -1;
    std::int64_t sent_ns = -1;
    char chunk[4096];
    while (true) {
      auto [ec, n] = co_await socket.async_read_some(
          asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      buffer.append(chunk, n);
      if (!in_body) {
        const std::size_t end = buffer.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        if (!buffer.starts_with("HTTP/1.1 200")) break;
        buffer.erase(0, end + 4);
        in_body = true;
      }
      std::size_t from = 0;
      while (true) {
        const std::size_t nl = buffer.find('\n', from);
        if (nl == std::string::npos) break;
        const std::string_view line(buffer.data() + from, nl - from);
        from = nl + 1;
        if (line.empty()) {  // end of an event
          if (id < 0) continue;
          if (id != last + 1) order_errors.fetch_add(1);
          last = id;
          s.last_seq.store(id);
          events.fetch_add(1, std::memory_order_relaxed);
          s.established = true;
          if (sent_ns >= 0) {
            latency->Record(std::chrono::nanoseconds(SteadyNanos() - sent_ns));
          }
          id = sent_ns = -1;
        } else if (line.starts_with("id: ")) {
          id = IntegerAfter(line, "id: ");
        } else if (line.starts_with("data: ")) {
          sent_ns = IntegerAfter(line, "\"t\":");
        }
      }
      buffer.erase(0, from);
    }
    s.ended = true;
  }
};

SseFleet::SseFleet(FleetOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->latency = &latency_;
  const int threads = std::max(1, impl_->options.threads);
  for (int t = 0; t < threads; ++t) {
    impl_->contexts.emplace_back(1);
    impl_->guards.push_back(asio::make_work_guard(impl_->contexts.back()));
  }
  for (int t = 0; t < threads; ++t) {
    impl_->threads.emplace_back([this, t] { impl_->contexts[t].run(); });
  }
  for (int i = 0; i < impl_->options.streams; ++i) {
    Impl::Stream& s = impl_->streams.emplace_back();
    const std::vector<std::string>& sessions = impl_->options.sessions;
    s.target = "/v1/sessions/" + sessions[i % sessions.size()] + "/stream";
  }
}

SseFleet::~SseFleet() {
  for (asio::io_context& io : impl_->contexts) io.stop();
  for (std::thread& t : impl_->threads) t.join();
}

bool SseFleet::Open(std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  const int total = impl_->options.streams;
  const int batch = std::max(1, impl_->options.open_batch);
  for (int first = 0; first < total; first += batch) {
    const int end = std::min(total, first + batch);
    for (int i = first; i < end; ++i) {
      asio::io_context& io = impl_->contexts[i % impl_->contexts.size()];
      asio::co_spawn(io, impl_->Follow(impl_->streams[i]), asio::detached);
    }
    // Wait for this batch to settle before connecting the next.
    while (true) {
      int settled = 0;
      for (int i = first; i < end; ++i) {
        settled += impl_->streams[i].established || impl_->streams[i].ended;
      }
      if (settled == end - first) break;
      if (std::chrono::steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return Stats().established == total;
}

bool SseFleet::WaitForAll(const std::map<std::string, std::int64_t>& last_seq,
                          std::chrono::seconds deadline) const {
  const auto until = std::chrono::steady_clock::now() + deadline;
  const std::vector<std::string>& sessions = impl_->options.sessions;
  while (true) {
    bool all = true;
    for (std::size_t i = 0; i < impl_->streams.size() && all; ++i) {
      auto it = last_seq.find(sessions[i % sessions.size()]);
      if (it != last_seq.end() && impl_->streams[i].last_seq < it->second) {
        all = false;
      }
    }
    if (all) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

FleetStats SseFleet::Stats() const {
  FleetStats stats;
  for (const Impl::Stream& s : impl_->streams) {
    stats.established += s.established;
    stats.ended += s.ended;
  }
  stats.events = impl_->events;
  stats.order_errors = impl_->order_errors;
  return stats;
}

std::vector<std::int64_t> SseFleet::LastSeqs() const {
  std::vector<std::int64_t> out;
  for (const Impl::Stream& s : impl_->streams) out.push_back(s.last_seq);
  return out;
}

std::vector<std::string> CreateSessions(const std::string& host,
                                        std::uint16_t port,
                                        const std::string& token, int n) {
  std::vector<std::string> ids;
  asio::io_context io;
  tcp::socket socket(io);
  beast::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address(host), port), ec);
  beast::flat_buffer buffer;
  for (int i = 0; i < n && !ec; ++i) {
    http::request<http::string_body> request{http::verb::post, "/v1/sessions",
                                             11};
    request.set(http::field::host, host);
    request.set(http::field::authorization, "Bearer " + token);
    request.set(http::field::content_type, "application/json");
    request.body() = R"({"title":"load"})";
    request.keep_alive(true);
    request.prepare_payload();
    http::write(socket, request, ec);
    http::response<http::string_body> response;
    if (!ec) http::read(socket, buffer, response, ec);
    if (ec || response.result_int() != 201) break;
    // {"id":"<uuid>",...}: the id is the first field of a session.
    const std::string& body = response.body();
    const std::size_t at = body.find(R"("id":")");
    if (at == std::string::npos) break;
    const std::size_t from = at + 6;
    ids.push_back(body.substr(from, body.find('"', from) - from));
  }
  return ids;
}

// ---- EventAppender -------------------------------------------------------

EventAppender::EventAppender(std::string host, std::uint16_t port,
                             std::string token,
                             std::vector<std::string> sessions,
                             double events_per_second, int connections)
    : host_(std::move(host)),
      port_(port),
      token_(std::move(token)),
      sessions_(std::move(sessions)),
      events_per_second_(events_per_second),
      connections_(std::max(1, connections)) {}

EventAppender::~EventAppender() { Stop(); }

void EventAppender::Start() {
  for (int c = 0; c < connections_; ++c) {
    threads_.emplace_back([this, c] { Run(c); });
  }
}

void EventAppender::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

std::map<std::string, std::int64_t> EventAppender::last_seq() const {
  std::lock_guard lock(mu_);
  return last_seq_;
}

void EventAppender::Run(int connection) {
  asio::io_context io;
  std::optional<tcp::socket> socket;
  beast::flat_buffer buffer;
  const auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(connections_ / events_per_second_));
  // Connections take turns: offset each one's ticks by its share.
  auto next =
      std::chrono::steady_clock::now() + interval * connection / connections_;
  std::size_t turn = connection;
  while (!stop_) {
    // The steady pace of the load; when far behind, do not burst.
    const auto now = std::chrono::steady_clock::now();
    if (now - next > std::chrono::seconds(1)) next = now;
    std::this_thread::sleep_until(next);
    next += interval;

    beast::error_code ec;
    if (!socket) {
      socket.emplace(io);
      socket->connect(tcp::endpoint(asio::ip::make_address(host_), port_), ec);
      if (ec) {
        socket.reset();
        ++failures_;
        continue;
      }
      buffer.clear();
    }
    const std::string& session = sessions_[turn % sessions_.size()];
    turn += connections_;
    const std::int64_t sent = SteadyNanos();
    http::request<http::string_body> request{
        http::verb::post, "/v1/sessions/" + session + "/events", 11};
    request.set(http::field::host, host_);
    request.set(http::field::authorization, "Bearer " + token_);
    request.set(http::field::content_type, "application/json");
    request.body() =
        R"({"type":"load.tick","data":{"t":)" + std::to_string(sent) + "}}";
    request.keep_alive(true);
    request.prepare_payload();
    http::write(*socket, request, ec);
    http::response<http::string_body> response;
    if (!ec) http::read(*socket, buffer, response, ec);
    if (ec || response.result_int() != 201) {
      ++failures_;
      socket.reset();
      continue;
    }
    latency_.Record(std::chrono::nanoseconds(SteadyNanos() - sent));
    const std::int64_t seq = IntegerAfter(response.body(), "\"last_seq\":");
    {
      std::lock_guard lock(mu_);
      std::int64_t& last = last_seq_[session];
      last = std::max(last, seq);
    }
    ++appended_;
    if (!response.keep_alive()) socket.reset();
  }
}

}  // namespace chatstore::testing
