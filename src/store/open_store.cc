// OpenStore and OpenChangeNotifier: the one place that maps a URI scheme to
// a backend.
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "chatstore/change_notifier.h"
#include "chatstore/store.h"
#include "store/memory/memory_store.h"
#include "store/postgres/postgres_change_notifier.h"
#include "store/postgres/postgres_store.h"
#include "store/redis/redis_change_notifier.h"
#include "store/redis/redis_store.h"
#include "store/sqlite/sqlite_store.h"

namespace chatstore {

Result<WriteBatch> Store::ApplySync(
    std::shared_ptr<const Mutation> mutation,
    const std::function<void(const WriteBatch&)>& on_commit) {
  // A promise would allocate shared state anyway; a mutex/condvar pair on
  // the stack is the smallest thing that waits for another thread.
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<WriteBatch>> out;
  Apply(std::move(mutation), [&](Result<WriteBatch> r) {
    if (r.ok() && on_commit) on_commit(*r);
    std::lock_guard lock(mu);
    out.emplace(std::move(r));
    cv.notify_one();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return out.has_value(); });
  return std::move(*out);
}

std::string_view ToString(SweepRule rule) {
  switch (rule) {
    case SweepRule::kExpired:
      return "expired";
    case SweepRule::kInactive:
      return "inactive";
    case SweepRule::kNeverUsed:
      return "never_used";
  }
  return "unknown";
}

bool SweepSelects(const SweepRequest& request, const Session& session) {
  switch (request.rule) {
    case SweepRule::kExpired:
      return session.expires_at.has_value() &&
             *session.expires_at <= request.cutoff;
    case SweepRule::kInactive:
      return !session.expires_at.has_value() &&
             session.updated_at < request.cutoff;
    case SweepRule::kNeverUsed:
      return session.message_count == 0 && session.created_at < request.cutoff;
  }
  return false;
}

std::string DataDirectoryOf(std::string_view store_uri) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (!store_uri.starts_with(kSqlite)) return "./data";
  std::string_view path = store_uri.substr(kSqlite.size());
  path = path.substr(0, path.find('?'));
  const std::filesystem::path parent =
      std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

Result<std::shared_ptr<Store>> OpenStore(std::string_view uri,
                                         const StoreOptions& options) {
  constexpr std::string_view kMemory = "memory://";
  constexpr std::string_view kSqlite = "sqlite://";
  constexpr std::string_view kRedis = "redis://";
  if (uri.starts_with(kMemory)) {
    return OpenMemoryStore(uri.substr(kMemory.size()), options);
  }
  if (uri.starts_with(kSqlite)) {
    return OpenSqliteStore(uri.substr(kSqlite.size()), options);
  }
#ifdef CHATSTORE_WITH_REDIS
  if (uri.starts_with(kRedis)) {
    return OpenRedisStore(uri.substr(kRedis.size()), options);
  }
#endif
#ifdef CHATSTORE_WITH_POSTGRES
  if (uri.starts_with("postgresql://") || uri.starts_with("postgres://")) {
    return OpenPostgresStore(uri, options);
  }
#endif
  return Status::InvalidArgument(
      "unknown store URI scheme in '" + std::string(uri) +
      "' (expected memory://, sqlite://, redis:// or postgresql://)");
}

Result<std::unique_ptr<ChangeNotifier>> OpenChangeNotifier(
    std::string_view store_uri) {
  constexpr std::string_view kMemory = "memory://";
  constexpr std::string_view kSqlite = "sqlite://";
  constexpr std::string_view kRedis = "redis://";
  if (store_uri.starts_with(kMemory)) {
    return std::unique_ptr<ChangeNotifier>();  // private to this process
  }
  if (store_uri.starts_with(kSqlite)) {
    return OpenSqliteChangeNotifier(store_uri.substr(kSqlite.size()));
  }
#ifdef CHATSTORE_WITH_REDIS
  if (store_uri.starts_with(kRedis)) {
    return OpenRedisChangeNotifier(store_uri.substr(kRedis.size()));
  }
#endif
#ifdef CHATSTORE_WITH_POSTGRES
  if (store_uri.starts_with("postgresql://") ||
      store_uri.starts_with("postgres://")) {
    return OpenPostgresChangeNotifier(store_uri);
  }
#endif
  return Status::InvalidArgument("unknown store URI scheme in '" +
                                 std::string(store_uri) + "'");
}

}  // namespace chatstore
