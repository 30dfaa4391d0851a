// chatstored: the HTTP + SSE server of chatstore. Wires configuration,
// stores, the service and the server together, and tears them down in the
// order that lets acknowledged writes reach disk.
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "chatstore/audit_log.h"
#include "chatstore/cache.h"
#include "chatstore/change_notifier.h"
#include "chatstore/encryption.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/change_follower.h"
#include "server/config.h"
#include "server/dev_mode.h"
#include "server/http_server.h"
#include "server/hub.h"
#include "server/idempotency.h"
#include "server/metrics.h"
#include "server/rate_limiter.h"
#include "server/sse.h"
#include "server/sweeper.h"
#include "server/worker_pool.h"

namespace {

namespace asio = boost::asio;
using namespace chatstore;
using namespace chatstore::server;

// Keeps the persistent cache tidy: removes expired entries every minute
// (reads already hide them; this frees their space) and, at start and every
// hour, value files a crashed process left without an entry.
asio::awaitable<void> MaintainCache(Cache& cache, WorkerPool& pool) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int minute = 0;; ++minute) {
    if (minute % 60 == 0) {
      Result<std::int64_t> collected = co_await pool.Offload(
          [&cache] { return cache.CollectGarbage(std::chrono::hours(1)); });
      if (collected.ok() && *collected > 0) {
        spdlog::info("cache: removed {} orphaned value files", *collected);
      } else if (!collected.ok()) {
        spdlog::warn("cache: {}", collected.status().ToString());
      }
    }
    timer.expires_after(std::chrono::minutes(1));
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    Result<std::int64_t> swept =
        co_await pool.Offload([&cache] { return cache.SweepExpired(100000); });
    if (swept.ok() && *swept > 0) {
      spdlog::info("cache: swept {} expired entries", *swept);
    }
  }
}

// Each connection and SSE stream is a descriptor, and the usual soft limit
// (1024) would cap the server far below --max-connections: raise it to the
// hard limit, as nginx and Go's runtime do.
void RaiseOpenFileLimit(std::size_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  // Some descriptors go to the store, the log and the acceptor.
  if (limit.rlim_cur < wanted + 64) {
    spdlog::warn(
        "open file limit {} is below --max-connections {}: raise the hard "
        "limit (ulimit -Hn, LimitNOFILE=) to hold that many streams",
        static_cast<unsigned long long>(limit.rlim_cur), wanted);
  }
}

int Run(ServerConfig config) {
  RaiseOpenFileLimit(config.max_connections);
  if (config.jwt_secret.empty()) {  // only in dev mode (config.cc)
    Result<std::string> secret =
        LoadOrCreateDevSecret(DataDirectoryOf(config.store_uri));
    if (!secret.ok()) {
      std::cerr << "chatstored: " << secret.status().ToString() << "\n";
      return 1;
    }
    config.jwt_secret = *secret;
  }
  if (config.jwt_secret.size() < 32) {
    spdlog::warn(
        "the JWT secret is shorter than 32 bytes; HS256 wants 256 "
        "bits of key");
  }

  std::shared_ptr<const EncryptionKeys> encryption_keys;
  if (!config.encryption_key_file.empty()) {
    Result<std::shared_ptr<const EncryptionKeys>> keys =
        LoadEncryptionKeyFile(config.encryption_key_file);
    if (!keys.ok()) {
      std::cerr << "chatstored: " << keys.status().message() << "\n";
      return 1;
    }
    encryption_keys = *keys;
  }
  // With keys both stores seal what they hold; without, an encrypted store
  // is refused rather than served as ciphertext.
  Result<std::shared_ptr<Store>> primary =
      OpenStoreAtRest(config.store_uri, encryption_keys);
  if (!primary.ok()) {
    std::cerr << "chatstored: cannot open store " << config.store_uri << ": "
              << primary.status().ToString() << "\n";
    return 1;
  }
  std::shared_ptr<Store> ephemeral;
  if (!config.ephemeral_store_uri.empty()) {
    Result<std::shared_ptr<Store>> opened =
        OpenStoreAtRest(config.ephemeral_store_uri, encryption_keys);
    if (!opened.ok()) {
      std::cerr << "chatstored: cannot open ephemeral store "
                << config.ephemeral_store_uri << ": "
                << opened.status().ToString() << "\n";
      return 1;
    }
    ephemeral = *opened;
  }

  const std::string cache_dir =
      config.cache_dir.empty() ? DataDirectoryOf(config.store_uri) + "/cache"
                               : config.cache_dir;
  CacheOptions cache_options;
  cache_options.max_bytes = config.cache_max_bytes;
  // No value can be larger than a request body.
  cache_options.max_value_bytes = config.max_body_bytes;
  Result<std::unique_ptr<Cache>> cache = OpenCache(cache_dir, cache_options);
  if (!cache.ok()) {
    std::cerr << "chatstored: cannot open the cache in " << cache_dir << ": "
              << cache.status().ToString() << "\n";
    return 1;
  }

  const std::string audit_path = config.audit_log.empty()
                                     ? DefaultAuditLogPath(config.store_uri)
                                     : config.audit_log;
  Result<std::unique_ptr<AuditLog>> audit_log = AuditLog::Open(audit_path);
  if (!audit_log.ok()) {
    std::cerr << "chatstored: " << audit_log.status().ToString() << "\n";
    return 1;
  }

  Metrics metrics;
  Hub hub(metrics);
  ServiceOptions service_options;
  service_options.ephemeral_ttl =
      std::chrono::seconds(config.anonymous_ttl_seconds);
  auto service =
      std::make_unique<SessionService>(*primary, ephemeral, service_options);
  service->AddListener(&hub);

  // Other instances' writes to the shared store reach this Hub through
  // the follower (change_follower.h).
  std::unique_ptr<ChangeFollower> follower;
  if (config.notify != NotifyMode::kOff) {
    Result<std::unique_ptr<ChangeNotifier>> notifier =
        OpenChangeNotifier(config.store_uri);
    if (!notifier.ok()) {
      std::cerr << "chatstored: " << notifier.status().ToString() << "\n";
      return 1;
    }
    if (*notifier) {
      follower =
          std::make_unique<ChangeFollower>(hub, *primary, std::move(*notifier));
      follower->Start();
    } else if (config.notify == NotifyMode::kOn) {
      std::cerr << "chatstored: --notify on, but " << config.store_uri
                << " is private to this process (nothing to follow)\n";
      return 1;
    }
  }

  TokenOptions token_options;
  token_options.secret = config.jwt_secret;
  token_options.issuer = config.jwt_issuer;
  token_options.audience = config.jwt_audience;
  const TokenAuthority tokens(token_options);
  RateLimiter user_limiter(config.rate_limit_per_second,
                           config.rate_limit_burst);
  RateLimiter address_limiter(config.rate_limit_per_second,
                              config.rate_limit_burst);
  IdempotencyTable idempotency;
  WorkerPool pool(config.worker_threads);
  ApiOptions api_options;
  api_options.policy = config.policy;
  api_options.anonymous_ttl =
      std::chrono::seconds(config.anonymous_ttl_seconds);
  api_options.audit_log = audit_log->get();
  Api api(*service, **cache, tokens, user_limiter, address_limiter, idempotency,
          hub, metrics, api_options);
  SseOptions sse_options;
  sse_options.retry = std::chrono::milliseconds(config.sse_retry_ms);
  sse_options.keepalive = std::chrono::seconds(config.keepalive_seconds);
  sse_options.max_queued_events = config.sse_queue_events;
  SseStreamer sse(*service, hub, pool, metrics, sse_options);

  auto io =
      std::make_unique<asio::io_context>(static_cast<int>(config.io_threads));
  HttpServerOptions server_options;
  server_options.max_body_bytes = config.max_body_bytes;
  server_options.request_timeout =
      std::chrono::seconds(config.request_timeout_seconds);
  server_options.max_connections = config.max_connections;
  server_options.shutdown_grace =
      std::chrono::seconds(config.shutdown_grace_seconds);
  auto server = std::make_unique<HttpServer>(*io, api, sse, *service, pool, hub,
                                             metrics, server_options);
  Result<asio::ip::tcp::endpoint> endpoint =
      server->Listen(config.listen_host, config.listen_port);
  if (!endpoint.ok()) {
    std::cerr << "chatstored: " << endpoint.status().message() << "\n";
    return 1;
  }

  auto signals = std::make_unique<asio::signal_set>(*io, SIGINT, SIGTERM);
  signals->async_wait([&server](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    server->Shutdown();
  });
  server->Start();
  SweeperOptions sweeper_options;
  sweeper_options.interval =
      std::chrono::seconds(config.sweep_interval_seconds);
  sweeper_options.policy.retention_days =
      static_cast<int>(config.retention_days);
  sweeper_options.policy.never_used_grace =
      std::chrono::seconds(config.never_used_grace_seconds);
  sweeper_options.limits.batch = static_cast<int>(config.sweep_batch);
  sweeper_options.limits.max_total = config.sweep_max_per_run;
  // A swept session's live streams end the way they do when another
  // process deletes it: told the log changed, they read it, find the
  // session gone and send session.deleted.
  Sweeper sweeper(*primary, ephemeral, metrics, sweeper_options,
                  [&hub](const std::string& id) { hub.NoteLogGrew(id, 0); });
  sweeper.Start();
  asio::co_spawn(*io, MaintainCache(**cache, pool), asio::detached);

  const std::string host = config.listen_host.find(':') != std::string::npos
                               ? "[" + config.listen_host + "]"
                               : config.listen_host;
  const std::string base_url =
      "http://" + host + ":" + std::to_string(endpoint->port());
  std::cout << "listening on " << base_url << std::endl;
  if (config.dev) {
    const Timestamp now = SystemClock()->Now();
    Result<std::string> token = tokens.Sign(
        TokenClaims{"dev-user", now + std::chrono::hours(24 * 30), false, ""},
        now);
    if (token.ok()) PrintDevBanner(std::cout, base_url, *token);
  }
  spdlog::info(
      "listening on {} (store {}, ephemeral {}, policy {}, cache {}, "
      "following other instances' writes: {}, encrypted at rest: {})",
      base_url, config.store_uri, config.ephemeral_store_uri,
      PolicyName(config.policy), cache_dir, follower ? "yes" : "no",
      encryption_keys ? "yes" : "no");

  std::vector<std::thread> threads;
  for (unsigned i = 1; i < config.io_threads; ++i) {
    threads.emplace_back([&io] { io->run(); });
  }
  io->run();
  for (std::thread& t : threads) t.join();
  // Before the stores close; a batch in progress finishes first.
  sweeper.Stop();

  // In-flight service calls finish (their writes commit) before anything
  // they use goes away; then the I/O objects, then the service and stores
  // (the SQLite store drains its writer when destroyed).
  pool.Join();
  // No more wake-ups for streams whose I/O objects are about to go.
  if (follower) follower->Stop();
  signals.reset();
  server.reset();
  io.reset();
  service->RemoveListener(&hub);
  service.reset();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  CommandLine command_line = ParseCommandLine(argc, argv);
  if (!command_line.config) return command_line.exit_code;
  auto logger = spdlog::stderr_logger_mt("chatstored");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(command_line.config->log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  return Run(std::move(*command_line.config));
}
