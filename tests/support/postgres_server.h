// A real PostgreSQL 15 server for tests: initdb in a temporary directory,
// started with pg_ctl on a free loopback port, stopped (and its files
// removed) afterwards. initdb and pg_ctl refuse to run as root, so they run
// as the `postgres` OS user (runuser); the data directory is chowned to it.
// initdb runs once per machine: its result is kept in
// $TMPDIR/chatstore-pg15-pristine-cluster (never started) and each server's
// data directory begins as a copy of it.
#ifndef CHATSTORE_TESTS_SUPPORT_POSTGRES_SERVER_H_
#define CHATSTORE_TESTS_SUPPORT_POSTGRES_SERVER_H_

#include <mutex>
#include <string>

#include "support/temp_dir.h"

namespace chatstore::testing {

// Starts a fresh cluster (trust authentication, UTF8, fsync off) with an
// empty database "chatstore". Throws std::runtime_error when it cannot be
// started (the message includes the server's log). Stop/Start/Restart are
// for one test thread; CreateDatabase/DropDatabase/Query are thread-safe.
class PostgresServer {
 public:
  PostgresServer();   // initdb + start + CREATE DATABASE chatstore
  ~PostgresServer();  // stops it and removes its files; never throws
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  // "postgresql://postgres@127.0.0.1:<port>/chatstore"
  std::string uri() const { return UriFor("chatstore"); }
  // The URI of database `db` on this server.
  std::string UriFor(const std::string& db) const;
  bool running() const { return running_; }

  // pg_ctl stop -m fast (open connections are terminated). No-op when
  // stopped.
  void Stop();
  // Starts it again on the same port (an outage test's "server is back").
  void Start();
  void Restart() {
    Stop();
    Start();
  }

  // Creates an empty database with a fresh name ("t<pid>_<n>") and returns
  // its URI: each test gets its own, so tests never see each other's rows
  // and store-wide numbers (Stats) are exact.
  std::string CreateDatabase();
  // Drops the database named by `name_or_uri` (WITH (FORCE): connections
  // still open are terminated). Best effort; never throws.
  void DropDatabase(const std::string& name_or_uri);

  // Runs `sql` in database `db` with psql and returns its output: rows one
  // per line, columns separated by '|' (psql -At). Throws
  // std::runtime_error with psql's error output when a statement fails.
  std::string Query(const std::string& db, const std::string& sql);

 private:
  // One `pg_ctl start` on port_: false when the server did not come up
  // (e.g. the port was taken meanwhile).
  bool TryStart();
  std::string ReadLog() const;

  TempDir dir_;
  std::string data_dir_;
  int port_ = 0;
  bool running_ = false;
  std::mutex mu_;  // guards next_db_ and the query file names
  int next_db_ = 0;
  int next_query_ = 0;
};

// One server per test process, started on first use and stopped at exit.
// Tests sharing it take their own database with CreateDatabase().
PostgresServer& SharedPostgresServer();

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_SUPPORT_POSTGRES_SERVER_H_
