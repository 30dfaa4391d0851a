// sse_load: holds many SSE streams on a running chatstored while appending
// timestamped events at a steady rate, and reports append-to-delivery
// latency, the server's resident memory per open stream, and whether every
// stream received every event of its session in order. bench/sse_load.sh
// starts a server and runs this at 1,000 and 10,000 streams.
//
//   sse_load --port P --token T --server-pid PID [--streams 1000]
//            [--sessions 10] [--rate 200] [--warmup 5] [--seconds 20]
//
// Output: one line of key=value figures; exit status 1 when a stream missed,
// repeated or reordered an event or was closed.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "support/process_stats.h"
#include "support/sse_fleet.h"

using namespace chatstore::testing;

int main(int argc, char** argv) {
  CLI::App app("SSE fan-out load on a running chatstored");
  std::string host = "127.0.0.1";
  int port = 0;
  std::string token;
  int server_pid = 0;
  int streams = 1000;
  int sessions = 10;
  double rate = 200;
  int warmup = 5;
  int seconds = 20;
  int threads = 1;
  app.add_option("--host", host, "server address");
  app.add_option("--port", port, "server port")->required();
  app.add_option("--token", token, "a bearer token")->required();
  app.add_option("--server-pid", server_pid,
                 "the server's pid, to read its RSS from /proc")
      ->required();
  app.add_option("--streams", streams, "SSE streams to hold");
  app.add_option("--sessions", sessions, "sessions the streams follow");
  app.add_option("--rate", rate, "events appended per second");
  app.add_option("--warmup", warmup, "seconds of load before measuring");
  app.add_option("--seconds", seconds, "seconds measured");
  app.add_option("--threads", threads, "client I/O threads");
  CLI11_PARSE(app, argc, argv);

  const std::uint64_t files = RaiseOpenFileLimit();
  if (files < static_cast<std::uint64_t>(streams) + 100) {
    std::fprintf(stderr, "RLIMIT_NOFILE is %llu: too low for %d streams\n",
                 static_cast<unsigned long long>(files), streams);
    return 2;
  }
  const auto server_port = static_cast<std::uint16_t>(port);
  const std::vector<std::string> ids =
      CreateSessions(host, server_port, token, sessions);
  if (static_cast<int>(ids.size()) != sessions) {
    std::fprintf(stderr, "could not create the sessions\n");
    return 2;
  }
  const std::int64_t base_rss = ResidentBytes(server_pid);

  FleetOptions options;
  options.host = host;
  options.port = server_port;
  options.token = token;
  options.sessions = ids;
  options.streams = streams;
  options.threads = threads;
  SseFleet fleet(options);
  const auto open_started = std::chrono::steady_clock::now();
  if (!fleet.Open(std::chrono::seconds(300))) {
    std::fprintf(stderr, "only %d of %d streams opened\n",
                 fleet.Stats().established, streams);
    return 1;
  }
  const double open_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                    open_started)
          .count();

  EventAppender appender(host, server_port, token, ids, rate);
  appender.Start();
  std::this_thread::sleep_for(std::chrono::seconds(warmup));
  const std::int64_t warm_rss = ResidentBytes(server_pid);
  fleet.latency().Reset();
  appender.latency().Reset();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  appender.Stop();
  const bool complete =
      fleet.WaitForAll(appender.last_seq(), std::chrono::seconds(120));
  const std::int64_t end_rss = ResidentBytes(server_pid);
  const FleetStats stats = fleet.Stats();

  std::printf(
      "streams=%d sessions=%d rate=%.0f seconds=%d open_s=%.1f "
      "appended=%llu append_failures=%llu delivered=%llu "
      "order_errors=%llu ended=%d complete=%s "
      "delivery_p50_us=%.0f delivery_p99_us=%.0f delivery_max_us=%.0f "
      "append_p50_us=%.0f append_p99_us=%.0f "
      "rss_base_kib=%lld rss_warm_kib=%lld rss_end_kib=%lld "
      "rss_per_stream_kib=%.1f rss_end_vs_warm=%+.1f%%\n",
      streams, sessions, rate, seconds, open_seconds,
      static_cast<unsigned long long>(appender.appended()),
      static_cast<unsigned long long>(appender.failures()),
      static_cast<unsigned long long>(stats.events),
      static_cast<unsigned long long>(stats.order_errors), stats.ended,
      complete ? "yes" : "no", fleet.latency().PercentileMicros(0.5),
      fleet.latency().PercentileMicros(0.99), fleet.latency().MaxMicros(),
      appender.latency().PercentileMicros(0.5),
      appender.latency().PercentileMicros(0.99),
      static_cast<long long>(base_rss / 1024),
      static_cast<long long>(warm_rss / 1024),
      static_cast<long long>(end_rss / 1024),
      static_cast<double>(warm_rss - base_rss) / 1024.0 / streams,
      100.0 * static_cast<double>(end_rss - warm_rss) /
          static_cast<double>(warm_rss));
  const bool ok = complete && stats.order_errors == 0 && stats.ended == 0 &&
                  appender.failures() == 0;
  return ok ? 0 : 1;
}
