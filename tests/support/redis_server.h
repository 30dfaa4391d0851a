// A real redis-server for tests: started on a free loopback port with its
// data in a temporary directory, stopped (and its files removed) afterwards.
#ifndef CHATSTORE_TESTS_SUPPORT_REDIS_SERVER_H_
#define CHATSTORE_TESTS_SUPPORT_REDIS_SERVER_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace chatstore::testing {

// Starts `redis-server --daemonize yes` (no persistence) on 127.0.0.1 and
// waits until it answers PING. Throws std::runtime_error when it cannot be
// started. Not thread-safe: one test thread drives it.
class RedisServer {
 public:
  struct Options {
    // Append-only file fsynced on every write, kept across Stop()/Start():
    // an outage test's restarted server still holds every acknowledged
    // write. Off: nothing survives a restart.
    bool durable = false;
  };
  RedisServer() : RedisServer(Options{}) {}
  explicit RedisServer(Options options);  // starts it
  ~RedisServer();                         // stops it; never throws
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  // "redis://127.0.0.1:<port>/0"
  std::string uri() const;
  bool running() const { return pid_ > 0; }

  // SHUTDOWN NOSAVE, then waits until the process is gone (SIGKILL after a
  // deadline). No-op when stopped.
  void Stop();
  // Starts it again on the same port (an outage test's "server is back").
  // Throws std::runtime_error when it cannot be started.
  void Start();
  void Restart() {
    Stop();
    Start();
  }

  // Removes every key of every database (tests that need an empty server).
  void FlushAll();

  // Sends one command and returns the first line of the reply ("+OK",
  // ":3", "$5", ...) — enough for test assertions; Throws on I/O errors.
  std::string Command(const std::vector<std::string>& args);

 private:
  // One attempt on port_: false when the server did not come up (e.g. the
  // port was taken meanwhile).
  bool TryStart(std::chrono::steady_clock::duration deadline);

  const Options options_;
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

// One server per test process, started on first use and stopped at exit.
// Tests sharing it use fresh ids (or FlushAll() between tests).
RedisServer& SharedRedisServer();

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_SUPPORT_REDIS_SERVER_H_
