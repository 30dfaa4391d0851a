// The store backends the conformance suite runs against: every test runs on
// each, and none is ever skipped. A backend is a BackendInstance that makes a
// fresh, empty store (a temporary file, a flushed server, a new database) and
// one line in AllBackends().
#ifndef CHATSTORE_TESTS_CONFORMANCE_BACKENDS_H_
#define CHATSTORE_TESTS_CONFORMANCE_BACKENDS_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <ostream>
#include <source_location>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/encryption.h"
#include "chatstore/status.h"
#include "chatstore/store.h"
#include "store/encrypted/encryption_keys.h"
#include "support/postgres_server.h"
#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace chatstore::conformance {

// One store for one test. The destructor removes whatever the instance
// created (temporary directories, keys or databases on a server).
class BackendInstance {
 public:
  virtual ~BackendInstance() = default;
  // The URI to give OpenStore().
  virtual const std::string& uri() const = 0;
};

struct BackendParam {
  // Test-name suffix: letters and digits only (GoogleTest's rule).
  std::string name;
  std::function<std::unique_ptr<BackendInstance>()> create;
  // Wrapped in the encryption-at-rest decorator (EncryptStore()), which
  // refuses Search: suites that take such instances say what they expect.
  bool encrypted = false;
};

// GoogleTest prints a failing test's parameter with this.
inline void PrintTo(const BackendParam& p, std::ostream* os) { *os << p.name; }

class FixedUri final : public BackendInstance {
 public:
  explicit FixedUri(std::string uri) : uri_(std::move(uri)) {}
  const std::string& uri() const override { return uri_; }

 private:
  std::string uri_;
};

// A fresh database file in a new temporary directory, removed afterwards.
class TempSqliteFile final : public BackendInstance {
 public:
  TempSqliteFile() : uri_("sqlite://" + dir_.File("test.db")) {}
  const std::string& uri() const override { return uri_; }

 private:
  testing::TempDir dir_;
  std::string uri_;
};

// The process's shared redis-server (started on first use, stopped at exit),
// emptied for each test so store-wide numbers are exact.
class FlushedRedis final : public BackendInstance {
 public:
  FlushedRedis() {
    ::chatstore::testing::RedisServer& server =
        ::chatstore::testing::SharedRedisServer();
    server.FlushAll();
    uri_ = server.uri();
  }
  const std::string& uri() const override { return uri_; }

 private:
  std::string uri_;
};

// A fresh database on the process's shared PostgreSQL server (started on
// first use, stopped at exit), dropped afterwards.
class TempPostgresDatabase final : public BackendInstance {
 public:
  TempPostgresDatabase()
      : uri_(::chatstore::testing::SharedPostgresServer().CreateDatabase()) {}
  ~TempPostgresDatabase() override {
    ::chatstore::testing::SharedPostgresServer().DropDatabase(uri_);
  }
  const std::string& uri() const override { return uri_; }

 private:
  std::string uri_;
};

inline std::vector<BackendParam> AllBackends() {
  return {
      {"Memory", [] { return std::make_unique<FixedUri>("memory://"); }},
      {"Sqlite", [] { return std::make_unique<TempSqliteFile>(); }},
      {"Redis", [] { return std::make_unique<FlushedRedis>(); }},
      {"Postgres", [] { return std::make_unique<TempPostgresDatabase>(); }},
  };
}

// Encryption at rest over the local backends: the conformance suite runs
// against them too (docs/encryption.md).
inline std::vector<BackendParam> EncryptedBackends() {
  return {
      {"EncryptedMemory",
       [] { return std::make_unique<FixedUri>("memory://"); }, true},
      {"EncryptedSqlite", [] { return std::make_unique<TempSqliteFile>(); },
       true},
  };
}

// The backends several processes can share (all but memory://): for the
// change notifier and multi-instance tests.
inline std::vector<BackendParam> SharedBackends() {
  std::vector<BackendParam> shared;
  for (BackendParam& p : AllBackends()) {
    if (p.name != "Memory") shared.push_back(std::move(p));
  }
  return shared;
}

// Unwraps a Result. Helpers return values, so they cannot ASSERT; a failure
// is recorded where the caller stands and the test is ended by an exception,
// which GoogleTest reports. Not for use on other threads.
template <typename T>
T Must(Result<T> r,
       std::source_location loc = std::source_location::current()) {
  if (!r.ok()) {
    ADD_FAILURE_AT(loc.file_name(), static_cast<int>(loc.line()))
        << r.status().ToString();
    throw std::runtime_error(r.status().ToString());
  }
  return std::move(r).value();
}

// Opens `instance`'s store on `clock`, inside the encryption-at-rest
// decorator (with fixed test keys) when `param` says so.
inline Result<std::shared_ptr<Store>> OpenBackendStore(
    const BackendParam& param, const BackendInstance& instance,
    std::shared_ptr<Clock> clock) {
  StoreOptions options;
  options.clock = std::move(clock);
  Result<std::shared_ptr<Store>> store = OpenStore(instance.uri(), options);
  if (!store.ok() || !param.encrypted) return store;
  CHATSTORE_ASSIGN_OR_RETURN(
      std::shared_ptr<const EncryptionKeys> keys,
      EncryptionKeys::Parse("k 000102030405060708090a0b0c0d0e0f"
                            "101112131415161718191a1b1c1d1e1f",
                            "test keys"));
  return EncryptStore(*store, keys);
}

// GoogleTest's name for a test instantiated with `info.param`.
inline std::string BackendName(
    const ::testing::TestParamInfo<BackendParam>& info) {
  return info.param.name;
}

}  // namespace chatstore::conformance

#endif  // CHATSTORE_TESTS_CONFORMANCE_BACKENDS_H_
