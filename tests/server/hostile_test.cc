// Hostile clients against the real chatstored over real sockets: slowloris,
// clients that never read their SSE stream, thousands of connections opened
// and dropped, oversized and deeply nested JSON, invalid UTF-8, attempts to
// inject SSE fields through event data, and path traversal. Each is answered
// as API.md says (or cut off), the server's memory stays bounded (VmRSS and
// VmHWM from /proc), and well-behaved clients keep being served meanwhile.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "server/server_test_fixture.h"
#include "support/process_stats.h"

namespace chatstore::testing {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr std::int64_t kMiB = 1 << 20;

// A plain blocking TCP connection to the server, for clients that do what
// no HTTP library would.
class RawConnection {
 public:
  RawConnection(std::uint16_t port, int receive_buffer_bytes = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer_bytes > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes,
                   sizeof receive_buffer_bytes);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address),
                           sizeof address) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }

  // False when the peer closed the connection.
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads what is there within `timeout`; appends to received(). Returns
  // false once the peer closed (or reset) the connection.
  bool Read(milliseconds timeout) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return true;
    char buf[16384];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    received_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  // Reads until the peer closes; false if it did not within `deadline`.
  bool ReadUntilClosed(seconds deadline) {
    const auto until = steady_clock::now() + deadline;
    while (steady_clock::now() < until) {
      if (!Read(milliseconds(200))) return true;
    }
    return false;
  }
  // Reads until `text` was received; false at the deadline or close.
  bool ReadUntil(std::string_view text, seconds deadline) {
    const auto until = steady_clock::now() + deadline;
    while (received_.find(text) == std::string::npos) {
      if (steady_clock::now() >= until || !Read(milliseconds(200))) {
        return received_.find(text) != std::string::npos;
      }
    }
    return true;
  }
  const std::string& received() const { return received_; }

  // Closes with RST instead of FIN (SO_LINGER 0): a client that vanishes.
  void Abort() {
    linger hard{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string received_;
};

// The status code of a raw HTTP answer (0 when there is none).
int StatusOf(const std::string& answer) {
  if (!answer.starts_with("HTTP/1.1 ") || answer.size() < 12) return 0;
  return std::atoi(answer.substr(9, 3).c_str());
}

class HostileTest : public ServerTest {
 protected:
  // --notify stays at its default (auto: the SQLite data_version follower
  // runs). It can see this process's own commits before the Hub delivers
  // them; were every stream to read the log for such a notice, the 50
  // never-reading streams below would each hold a page of it and the peak
  // memory would double (SseOptions::notice_grace).
  std::vector<std::string> ServerArgs() override {
    return {"--rate-limit",     "0",       "--request-timeout-seconds", "2",
            "--max-body-bytes", "4194304", "--sse-queue-events",        "256"};
  }

  pid_t pid() { return server().pid(); }

  // A well-behaved client's request, timed: the probe that shows others
  // are unaffected.
  milliseconds TimedHealthz() {
    const auto started = steady_clock::now();
    HttpResult r = client().Request("GET", "/healthz");
    EXPECT_EQ(r.status, 200);
    return std::chrono::duration_cast<milliseconds>(steady_clock::now() -
                                                    started);
  }

  // Waits until the server holds at most `n` file descriptors.
  bool WaitForDescriptorsAtMost(int n, seconds deadline) {
    const auto until = steady_clock::now() + deadline;
    while (OpenFileDescriptors(pid()) > n) {
      if (steady_clock::now() >= until) return false;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return true;
  }

  std::int64_t MetricValue(const std::string& name) {
    const std::string text = client().Get("/metrics", "").body;
    const std::size_t at = text.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stoll(text.substr(at + name.size() + 2));
  }
};

TEST_F(HostileTest, SlowlorisIsCutOffWhileOthersAreServed) {
  const int baseline_fds = OpenFileDescriptors(pid());
  const std::int64_t rss_before = ResidentBytes(pid());
  // Half trickle their headers, half send headers at once and then trickle
  // a body: both must be bounded by the request timeout (2 s), not reset by
  // each byte.
  constexpr int kClients = 200;
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < kClients; ++i) {
    slow.push_back(std::make_unique<RawConnection>(server().port()));
    ASSERT_TRUE(slow.back()->connected());
    if (i % 2 == 0) {
      ASSERT_TRUE(slow.back()->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
    } else {
      ASSERT_TRUE(slow.back()->Send(
          "POST /v1/auth/anonymous HTTP/1.1\r\nHost: x\r\n"
          "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"));
    }
  }
  const auto started = steady_clock::now();
  std::vector<bool> closed(kClients, false);
  int still_open = kClients;
  int probes = 0;
  // One byte per connection every 100 ms (the attack's pace), until the
  // server has closed every one of them.
  while (still_open > 0 && steady_clock::now() - started < seconds(20)) {
    for (int i = 0; i < kClients; ++i) {
      if (closed[i]) continue;
      if (!slow[i]->Send(i % 2 == 0 ? "X" : "{") ||
          !slow[i]->Read(milliseconds(0))) {
        closed[i] = true;
        --still_open;
      }
    }
    EXPECT_LT(TimedHealthz(), milliseconds(2000 * kSanitizerSlowdown));
    ++probes;
    std::this_thread::sleep_for(milliseconds(100));
  }
  const auto elapsed = steady_clock::now() - started;
  EXPECT_EQ(still_open, 0) << "slowloris connections survived 20 s";
  EXPECT_LT(elapsed, seconds(10));
  EXPECT_GE(elapsed, milliseconds(1500)) << "cut before the timeout";
  EXPECT_GT(probes, 5);
  for (const auto& c : slow) {
    // Cut without an answer: they never finished a request.
    EXPECT_EQ(StatusOf(c->received()), 0) << c->received();
  }
  slow.clear();
  EXPECT_TRUE(WaitForDescriptorsAtMost(baseline_fds + 2, seconds(10)))
      << OpenFileDescriptors(pid()) << " fds, baseline " << baseline_fds;
  if (!kUnderSanitizer) {
    EXPECT_LT(ResidentBytes(pid()) - rss_before, 16 * kMiB);
  }
}

TEST_F(HostileTest, ThousandsOfConnectionsOpenedAndDropped) {
  const int baseline_fds = OpenFileDescriptors(pid());
  const std::int64_t rss_before = ResidentBytes(pid());
  const std::string token = TokenFor("churn");
  const std::string request =
      "GET /v1/sessions HTTP/1.1\r\nHost: x\r\n"
      "Authorization: Bearer " +
      token + "\r\n\r\n";
  constexpr int kThreads = 4;
  constexpr int kPerThread = 1000;
  std::atomic<int> failed_connects{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        RawConnection c(server().port());
        if (!c.connected()) {
          ++failed_connects;
          continue;
        }
        switch ((t + i) % 4) {
          case 0:  // connect, close
            break;
          case 1:  // half a request line, then RST
            c.Send("GET /v1/sess");
            c.Abort();
            break;
          case 2:  // a whole request, gone before the answer
            c.Send(request);
            c.Abort();
            break;
          default:  // an SSE request, gone at once
            c.Send("GET /v1/sessions/x/stream HTTP/1.1\r\nHost: x\r\n\r\n");
            break;
        }
      }
    });
  }
  // Others are served during the churn.
  for (int i = 0; i < 10; ++i)
    EXPECT_LT(TimedHealthz(), milliseconds(2000 * kSanitizerSlowdown));
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed_connects, 0);
  EXPECT_EQ(TimedHealthz() < milliseconds(2000 * kSanitizerSlowdown), true);
  EXPECT_TRUE(WaitForDescriptorsAtMost(baseline_fds + 2, seconds(15)))
      << OpenFileDescriptors(pid()) << " fds, baseline " << baseline_fds;
  if (!kUnderSanitizer) {
    EXPECT_LT(ResidentBytes(pid()) - rss_before, 16 * kMiB);
  }
  EXPECT_EQ(MetricValue("chatstore_sse_open_streams"), 0);
}

TEST_F(HostileTest, ClientsThatNeverReadAreCutWithBoundedMemory) {
  const std::string token = TokenFor("hoarder");
  const std::string id = CreateSessionId(token);
  // A well-behaved reader follows the whole session meanwhile.
  auto reader =
      std::make_unique<SseStream>(server().host(), server().port(),
                                  "/v1/sessions/" + id + "/stream", token);
  ASSERT_EQ(reader->status(), 200);
  constexpr int kHoarders = 50;
  std::vector<std::unique_ptr<RawConnection>> hoarders;
  for (int i = 0; i < kHoarders; ++i) {
    hoarders.push_back(std::make_unique<RawConnection>(server().port(), 4096));
    ASSERT_TRUE(hoarders.back()->Send("GET /v1/sessions/" + id +
                                      "/stream HTTP/1.1\r\nHost: x\r\n"
                                      "Authorization: Bearer " +
                                      token + "\r\n\r\n"));
    ASSERT_TRUE(hoarders.back()->ReadUntil("id: 1\n", seconds(15)));
  }
  ASSERT_TRUE(reader->Next());  // session.created
  const std::int64_t rss_before = ResidentBytes(pid());

  // 40 MB of events: far beyond what the hoarders' socket buffers and
  // queues (256 events) hold. The writer waits for the reader after each
  // batch, so the reader is never the one that falls behind.
  constexpr int kBatches = 100;
  constexpr int kBatchEvents = 200;
  std::atomic<std::int64_t> reader_seen{1};
  std::atomic<std::int64_t> last{1};
  std::thread writer([&] {
    HttpClient c(server().host(), server().port());
    const std::string data = "\"" + std::string(2000, 'h') + "\"";
    std::string body = "{\"events\":[";
    for (int i = 0; i < kBatchEvents; ++i) {
      body += std::string(i ? "," : "") +
              "{\"type\":\"app.x\",\"data\":" + data + "}";
    }
    body += "]}";
    for (int batch = 0; batch < kBatches; ++batch) {
      HttpResult r = c.Post("/v1/sessions/" + id + "/events", token, body);
      ASSERT_EQ(r.status, 201) << r.body;
      last = r.Json().as_object()["last_seq"].to_number<std::int64_t>();
      const auto until = steady_clock::now() + seconds(30);
      while (reader_seen < last && steady_clock::now() < until) {
        std::this_thread::sleep_for(milliseconds(1));
      }
    }
  });
  constexpr std::int64_t kLast = 1 + kBatches * kBatchEvents;
  std::int64_t expected = 2;
  while (std::optional<SseEvent> e = reader->Next(seconds(30))) {
    ASSERT_EQ(std::stoll(e->id), expected) << "the reader lost or repeated";
    reader_seen = expected;
    if (expected == kLast) break;
    ++expected;
  }
  writer.join();
  EXPECT_EQ(expected, kLast);
  EXPECT_EQ(last.load(), kLast);
  const std::int64_t peak = PeakResidentBytes(pid());
  // Every hoarder was cut off (their queue overflowed).
  for (auto& h : hoarders) {
    EXPECT_TRUE(h->ReadUntilClosed(seconds(30)));
  }
  EXPECT_EQ(MetricValue("chatstore_sse_subscribers_dropped_total"), kHoarders);
  EXPECT_EQ(MetricValue("chatstore_sse_open_streams"), 1);
  // 40 MB flowed through; unbounded queues would have kept it all.
  if (!kUnderSanitizer) {
    EXPECT_LT(peak - rss_before, 24 * kMiB)
        << "peak " << peak / kMiB << " MiB, before " << rss_before / kMiB;
  }
  std::printf("never-reading clients: RSS before %lld MiB, peak %lld MiB\n",
              static_cast<long long>(rss_before / kMiB),
              static_cast<long long>(peak / kMiB));
}

TEST_F(HostileTest, OversizedBodiesAre413) {
  const std::string token = TokenFor("big");
  // Announced too large: refused before the body is sent.
  RawConnection announced(server().port());
  ASSERT_TRUE(announced.Send(
      "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      token +
      "\r\nContent-Type: application/json\r\n"
      "Content-Length: 1073741824\r\n\r\n{"));
  EXPECT_TRUE(announced.ReadUntilClosed(seconds(15)));
  EXPECT_EQ(StatusOf(announced.received()), 413) << announced.received();
  EXPECT_NE(announced.received().find("application/problem+json"),
            std::string::npos);

  // Chunked, so no length up front: cut when the limit is crossed.
  RawConnection chunked(server().port());
  ASSERT_TRUE(chunked.Send(
      "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      token +
      "\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk(64 * 1024, ' ');
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
  for (int i = 0; i < 100 && chunked.Send(size_line + chunk + "\r\n"); ++i) {
  }
  EXPECT_TRUE(chunked.ReadUntilClosed(seconds(15)));
  EXPECT_EQ(StatusOf(chunked.received()), 413) << chunked.received();

  // Headers over the limit.
  RawConnection headers(server().port());
  ASSERT_TRUE(headers.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                           std::string(64 * 1024, 'a') + "\r\n\r\n"));
  EXPECT_TRUE(headers.ReadUntilClosed(seconds(15)));
  EXPECT_EQ(StatusOf(headers.received()), 431) << headers.received();

  // A message over the content limit inside an acceptable body: 413 or 422
  // (API.md: limit exceeded), never stored.
  const std::string id = CreateSessionId(token);
  HttpResult huge = client().Post(
      "/v1/sessions/" + id + "/messages", token,
      R"({"role":"user","content":")" + std::string(3 * kMiB, 'c') + R"("})");
  EXPECT_TRUE(huge.status == 413 || huge.status == 422) << huge.status;
  ExpectProblem(huge, huge.status);
  EXPECT_EQ(client()
                .Get("/v1/sessions/" + id, token)
                .Json()
                .as_object()["message_count"],
            0);
}

TEST_F(HostileTest, DeeplyNestedJsonIsRefused) {
  const std::string token = TokenFor("nest");
  const std::string id = CreateSessionId(token);
  for (const std::size_t depth : {33u, 1000u, 500000u}) {
    // Well-formed but past the depth limit (32): 422, a limit exceeded.
    const std::string nested =
        std::string(depth, '[') + std::string(depth, ']');
    ExpectProblem(client().Post("/v1/sessions", token,
                                R"({"metadata":{"x":)" + nested + "}}"),
                  422);
    ExpectProblem(client().Post("/v1/sessions/" + id + "/events", token,
                                R"({"type":"a.b","data":)" + nested + "}"),
                  422);
    // Unclosed too: the parser gives up at the depth limit, before the end
    // could tell it is malformed (400 would be as right).
    HttpResult unclosed = client().Post("/v1/sessions/" + id + "/events", token,
                                        std::string(depth, '{'));
    EXPECT_TRUE(unclosed.status == 400 || unclosed.status == 422);
    ExpectProblem(unclosed, unclosed.status);
  }
  // Within the limit it is stored as sent.
  const std::string ok = std::string(30, '[') + std::string(30, ']');
  EXPECT_EQ(client()
                .Post("/v1/sessions/" + id + "/events", token,
                      R"({"type":"a.b","data":)" + ok + "}")
                .status,
            201);
  EXPECT_EQ(TimedHealthz() < milliseconds(2000 * kSanitizerSlowdown), true);
}

TEST_F(HostileTest, InvalidUtf8Is400) {
  const std::string token = TokenFor("bytes");
  const std::string id = CreateSessionId(token);
  const std::vector<std::string> bad_strings = {
      "\xff",            // never valid
      "\xc0\xaf",        // overlong '/'
      "\xed\xa0\x80",    // a surrogate, UTF-8 encoded
      "abc\xe2\x82",     // truncated sequence
      "\\ud800",         // a lone surrogate escape
      "\\udc00\\ud800",  // surrogates in the wrong order
  };
  for (const std::string& bad : bad_strings) {
    ExpectProblem(client().Post("/v1/sessions/" + id + "/messages", token,
                                R"({"role":"user","content":")" + bad + "\"}"),
                  400);
    ExpectProblem(
        client().Post("/v1/sessions", token, R"({"title":")" + bad + "\"}"),
        400);
    ExpectProblem(
        client().Post("/v1/sessions/" + id + "/events", token,
                      R"({"type":"a.b","data":{")" + bad + R"(":1}})"),
        400);
  }
  EXPECT_EQ(
      client().Get("/v1/sessions/" + id, token).Json().as_object()["last_seq"],
      1);
  // Percent-encoded invalid UTF-8 in the path and the query.
  ExpectProblem(client().Get("/v1/sessions/%FF%FE", token), 404);
  HttpResult search = client().Get("/v1/search?q=%FF%C0%AF", token);
  EXPECT_TRUE(search.status == 200 || search.status == 400) << search.body;
  if (search.status == 400) ExpectProblem(search, 400);
  // Raw bytes in a header value: the token is simply not valid.
  RawConnection raw(server().port());
  ASSERT_TRUE(
      raw.Send("GET /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
               "\xff\xfe\xc0\r\n\r\n"));
  EXPECT_TRUE(raw.ReadUntil("\r\n\r\n", seconds(15)));
  EXPECT_EQ(StatusOf(raw.received()), 401) << raw.received();
}

TEST_F(HostileTest, EventDataCannotBreakSseFraming) {
  const std::string token = TokenFor("injector");
  const std::string id = CreateSessionId(token);
  RawConnection stream(server().port());
  ASSERT_TRUE(stream.Send("GET /v1/sessions/" + id +
                          "/stream HTTP/1.1\r\nHost: x\r\n"
                          "Authorization: Bearer " +
                          token + "\r\n\r\n"));
  // Strings that would start new SSE fields or events if written raw.
  const std::string injection =
      R"(a\r\n\r\nevent: evil\ndata: pwned\rid: 999\n\nretry: 1\u2028\u0000\u0085)";
  const std::string base = "/v1/sessions/" + id;
  ASSERT_EQ(client()
                .Post(base + "/events", token,
                      R"({"type":"app.x","data":{"s":")" + injection +
                          R"(","k\r\nevent: evil":")" + injection + R"("}})")
                .status,
            201);
  HttpResult message = client().Post(
      base + "/messages", token,
      R"({"role":"assistant","status":"streaming","content":")" + injection +
          R"(","metadata":{"m":")" + injection + R"("}})");
  ASSERT_EQ(message.status, 201);
  const std::string mid(message.Json().as_object()["id"].as_string());
  ASSERT_EQ(client()
                .Post(base + "/messages/" + mid + "/append", token,
                      R"({"delta":")" + injection + R"("})")
                .status,
            200);
  ASSERT_EQ(client()
                .Post(base + "/messages/" + mid + "/complete", token, "{}")
                .status,
            200);
  ASSERT_EQ(client()
                .Patch(base, token,
                       R"({"title":")" + injection + R"(","state":{"x":")" +
                           injection + R"("}})")
                .status,
            200);
  // Events 1..7: created, app.x, message.created, delta, completed,
  // state.delta, session.updated (in some order after 5).
  ASSERT_TRUE(stream.ReadUntil("id: 7\n", seconds(15)));
  ASSERT_TRUE(stream.ReadUntil("\n\n", seconds(1)));
  const std::string& text = stream.received();
  const std::size_t body_at = text.find("\r\n\r\n");
  ASSERT_NE(body_at, std::string::npos);
  const std::string body = text.substr(body_at + 4);
  EXPECT_EQ(body.find('\r'), std::string::npos) << "raw CR in the stream";
  EXPECT_EQ(body.find('\0'), std::string::npos) << "raw NUL in the stream";

  // Every frame: exactly id, event, one data line of JSON, in this order.
  std::size_t at = body.find("\n\n") + 2;  // past "retry: ..."
  int frames = 0;
  while (at < body.size()) {
    const std::size_t end = body.find("\n\n", at);
    if (end == std::string::npos) break;  // an incomplete last frame
    const std::string frame = body.substr(at, end - at);
    at = end + 2;
    ++frames;
    std::vector<std::string> lines;
    for (std::size_t from = 0; from <= frame.size();) {
      const std::size_t nl = frame.find('\n', from);
      lines.push_back(frame.substr(
          from, nl == std::string::npos ? std::string::npos : nl - from));
      if (nl == std::string::npos) break;
      from = nl + 1;
    }
    ASSERT_EQ(lines.size(), 3u) << frame;
    EXPECT_EQ(lines[0], "id: " + std::to_string(frames)) << frame;
    EXPECT_TRUE(lines[1].starts_with("event: ")) << frame;
    EXPECT_NE(lines[1], "event: evil");
    ASSERT_TRUE(lines[2].starts_with("data: ")) << frame;
    boost::system::error_code ec;
    json::value data = json::parse(lines[2].substr(6), ec);
    EXPECT_FALSE(ec) << lines[2];
    // What was sent comes back intact inside the JSON.
    if (lines[1] == "event: app.x") {
      EXPECT_EQ(data.as_object()["s"].as_string(),
                json::parse("\"" + injection + "\"").as_string());
    }
  }
  EXPECT_EQ(frames, 7);
}

TEST_F(HostileTest, PathTraversalFindsNothing) {
  const std::string token = TokenFor("walker");
  const std::vector<std::string> targets = {
      "/../../../../etc/passwd",
      "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/..%2f..%2f..%2fetc%2fpasswd",
      "/index.html/../../../etc/passwd",
      "/static/..%5c..%5cetc%5cpasswd",
      "/v1/sessions/..%2f..%2f..%2fetc%2fpasswd",
      "/v1/sessions/../../../etc/passwd/messages",
      "/v1/cache/ns/..%2f..%2f..%2fetc%2fpasswd",
      "/v1/cache/../../etc/passwd",
      "/v1/admin/users/..%2f..%2fetc/export",
      "//etc/passwd",
      "/%00/etc/passwd",
  };
  for (const std::string& target : targets) {
    HttpResult r = client().Get(target, token);
    EXPECT_TRUE(r.status == 400 || r.status == 403 || r.status == 404 ||
                r.status == 405)
        << target << " -> " << r.status;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
    ExpectProblem(r, r.status);
  }
  // The raw form, which HTTP client libraries would normalise.
  RawConnection raw(server().port());
  ASSERT_TRUE(raw.Send("GET ../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(raw.ReadUntil("\r\n\r\n", seconds(15)));
  EXPECT_EQ(raw.received().find("root:"), std::string::npos);
  EXPECT_GE(StatusOf(raw.received()), 400) << raw.received();
}

TEST_F(HostileTest, HeaderInjectionCannotReachTheAnswer) {
  // A request id with a CR/LF or odd characters is not echoed; the server
  // makes its own.
  HttpResult odd = client().Request("GET", "/healthz", "",
                                    {{"X-Request-Id", "abc<script>\"evil\""}});
  EXPECT_EQ(odd.status, 200);
  EXPECT_NE(odd.Header("x-request-id"), "abc<script>\"evil\"");
  EXPECT_FALSE(odd.Header("x-request-id").empty());
  RawConnection raw(server().port());
  ASSERT_TRUE(raw.Send(
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\rSet-Cookie: x=1"
      "\r\n\r\n"));
  EXPECT_TRUE(raw.ReadUntilClosed(seconds(15)));
  EXPECT_EQ(StatusOf(raw.received()), 400) << raw.received();
  EXPECT_EQ(raw.received().find("Set-Cookie"), std::string::npos);
}

}  // namespace
}  // namespace chatstore::testing
