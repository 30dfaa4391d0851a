// Runs the real chatstored binary for a test: free port, temporary data
// directory, test JWT secret; waits for its "listening on" line and cleans
// up (kill + wait + remove the directory) when destroyed.
#ifndef CHATSTORE_TESTS_SERVER_SERVER_PROCESS_H_
#define CHATSTORE_TESTS_SERVER_SERVER_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace chatstore::testing {

// The secret every test server is started with (CHATSTORE_JWT_SECRET).
inline constexpr char kTestSecret[] =
    "test-secret-0123456789abcdef0123456789abcdef";

struct ServerOptions {
  // Data directory for the SQLite store and the log (required).
  std::string data_dir;
  // The primary store; empty: a SQLite file in data_dir.
  std::string store_uri;
  std::vector<std::string> args;           // extra flags
  std::map<std::string, std::string> env;  // extra environment
  bool with_secret = true;                 // set CHATSTORE_JWT_SECRET
  bool expect_listening = true;
};

class ServerProcess {
 public:
  // Starts chatstored and, unless !expect_listening, waits (up to 30 s) for
  // its "listening on" line; fails the test (ADD_FAILURE) otherwise.
  explicit ServerProcess(ServerOptions options);
  ~ServerProcess();  // SIGKILL if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool ok() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  // The server's process id while it runs (-1 after it exited).
  pid_t pid() const { return pid_; }
  std::string host() const { return "127.0.0.1"; }
  std::string base_url() const;
  // Everything read from stdout so far.
  const std::string& stdout_text() const { return stdout_text_; }
  std::string log_path() const { return options_.data_dir + "/server.log"; }

  // Sends `sig` and waits for the exit; returns the exit code (128+signal
  // when killed), or nullopt if it did not exit before the deadline.
  std::optional<int> Stop(
      int sig, std::chrono::seconds deadline = std::chrono::seconds(30));
  // Waits for an exit without signalling (for servers that refuse to start).
  std::optional<int> WaitExit(std::chrono::seconds deadline);

 private:
  ServerOptions options_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string stdout_text_;
  std::optional<int> exit_code_;
};

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_SERVER_SERVER_PROCESS_H_
