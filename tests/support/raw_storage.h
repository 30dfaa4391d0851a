// Everything a backend holds, as bytes to search: for tests that check what
// reached storage (encryption at rest, `temp:` state that is never stored).
#ifndef CHATSTORE_TESTS_SUPPORT_RAW_STORAGE_H_
#define CHATSTORE_TESTS_SUPPORT_RAW_STORAGE_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "chatstore/store.h"
#include "store/sqlite/sqlite_store.h"
#include "support/postgres_server.h"
#include "support/redis_inspector.h"
#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace chatstore::testing {

// `backend` is a conformance backend name ("Sqlite", "Redis", "Postgres",
// with or without an "Encrypted" prefix), `uri` the store's URI and `store`
// the undecorated store (SQLite checkpoints through it). SQLite: every file
// of the database's directory before and after the WAL is folded into the
// main file. Redis: every key with its values (the shared server). Postgres:
// every row of every table as text. Empty for memory:// (nothing to read
// beneath the store).
inline std::string RawStorage(std::string backend, const std::string& uri,
                              Store& store) {
  if (backend.starts_with("Encrypted")) backend.erase(0, 9);
  if (backend == "Sqlite") {
    const std::string path = uri.substr(std::string("sqlite://").size());
    const std::string dir = std::filesystem::path(path).parent_path().string();
    std::string bytes = AllBytesUnder(dir);
    EXPECT_TRUE(CheckpointSqliteStore(store).ok());
    return bytes + AllBytesUnder(dir);
  }
  if (backend == "Redis") {
    return RedisInspector(SharedRedisServer().port()).DumpAll();
  }
  if (backend == "Postgres") {
    return SharedPostgresServer().Query(
        uri.substr(uri.rfind('/') + 1),
        "SELECT s::text FROM sessions s; SELECT m::text FROM messages m; "
        "SELECT e::text FROM events e; SELECT p::text FROM preferences p; "
        "SELECT u::text FROM user_state u;");
  }
  return "";
}

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_SUPPORT_RAW_STORAGE_H_
