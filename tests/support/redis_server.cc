#include "support/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

namespace chatstore::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

// A blocking loopback connection with a receive timeout; closed on scope
// exit. The launcher speaks RESP itself so that tests/support needs no
// client library.
class Socket {
 public:
  explicit Socket(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    timeval tv{2, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

  bool Send(const std::vector<std::string>& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string& a : args) {
      out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    }
    std::size_t sent = 0;
    while (sent < out.size()) {
      const ssize_t n =
          send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  // Reads until `\r\n`; nullopt-like empty string with ok=false on EOF.
  bool ReadLine(std::string& line) {
    line.clear();
    char c;
    while (true) {
      const ssize_t n = recv(fd_, &c, 1, 0);
      if (n <= 0) return false;
      if (c == '\n' && !line.empty() && line.back() == '\r') {
        line.pop_back();
        return true;
      }
      line += c;
    }
  }

  // Reads a bulk string body of `len` bytes plus CRLF.
  bool ReadBulk(long len, std::string& body) {
    body.resize(static_cast<std::size_t>(len) + 2);
    std::size_t got = 0;
    while (got < body.size()) {
      const ssize_t n = recv(fd_, body.data() + got, body.size() - got, 0);
      if (n <= 0) return false;
      got += static_cast<std::size_t>(n);
    }
    body.resize(static_cast<std::size_t>(len));
    return true;
  }

 private:
  int fd_ = -1;
};

// True while `pid` names a live process. A daemonized server is not our
// child: once it exits it may linger as a zombie of a parent that does not
// reap (PID 1 in a container), which counts as gone.
bool Alive(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content;
  if (!std::getline(stat, content)) return false;
  const auto paren = content.rfind(')');
  return paren == std::string::npos || paren + 2 >= content.size() ||
         content[paren + 2] != 'Z';
}

pid_t ReadPid(const std::string& path) {
  std::ifstream in(path);
  long pid = 0;
  if (in >> pid) return static_cast<pid_t>(pid);
  return 0;
}

// "process_id:<n>" from INFO server, or 0: proves the server on the port is
// the one we started, not another test's.
pid_t ServerPid(int port) {
  Socket s(port);
  if (!s.ok() || !s.Send({"INFO", "server"})) return 0;
  std::string header, body;
  if (!s.ReadLine(header) || header.empty() || header[0] != '$') return 0;
  if (!s.ReadBulk(std::stol(header.substr(1)), body)) return 0;
  const auto at = body.find("process_id:");
  if (at == std::string::npos) return 0;
  return static_cast<pid_t>(std::stol(body.substr(at + 11)));
}

}  // namespace

RedisServer::RedisServer(Options options) : options_(options) {
  // A free port can be taken between PickFreePort() and the server's bind:
  // try a few.
  for (int attempt = 0; attempt < 10; ++attempt) {
    port_ = PickFreePort();
    if (TryStart(seconds(20))) return;
  }
  throw std::runtime_error(
      "could not start redis-server (log: " + dir_.File("redis.log") + ")");
}

RedisServer::~RedisServer() {
  try {
    Stop();
  } catch (...) {
    if (pid_ > 0) kill(pid_, SIGKILL);
  }
}

std::string RedisServer::uri() const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/0";
}

bool RedisServer::TryStart(steady_clock::duration deadline) {
  const std::string pidfile = dir_.File("redis.pid");
  unlink(pidfile.c_str());
  const std::string port = std::to_string(port_);
  std::vector<std::string> args = {"redis-server",
                                   "--bind",
                                   "127.0.0.1",
                                   "--port",
                                   port,
                                   "--save",
                                   "",
                                   "--appendonly",
                                   options_.durable ? "yes" : "no",
                                   "--daemonize",
                                   "yes",
                                   "--pidfile",
                                   pidfile,
                                   "--dir",
                                   dir_.path(),
                                   "--logfile",
                                   dir_.File("redis.log")};
  if (options_.durable) {
    args.insert(args.end(), {"--appendfsync", "always"});
  }
  const pid_t child = fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    std::vector<char*> argv;
    for (const std::string& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp("redis-server", argv.data());
    _exit(127);
  }
  // With --daemonize yes the launched process forks the server and exits.
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return false;

  const auto until = steady_clock::now() + deadline;
  while (steady_clock::now() < until) {
    const pid_t pid = ReadPid(pidfile);
    if (pid > 0) {
      if (!Alive(pid)) return false;  // e.g. the port was taken
      if (ServerPid(port_) == pid) {
        pid_ = pid;
        return true;
      }
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  if (const pid_t pid = ReadPid(pidfile); pid > 0) kill(pid, SIGKILL);
  return false;
}

void RedisServer::Start() {
  if (pid_ > 0) return;
  // The port was ours a moment ago; a stranger may still grab it, which a
  // test cannot recover from, so keep trying for a while before failing.
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (TryStart(seconds(20))) return;
    std::this_thread::sleep_for(milliseconds(100));
  }
  throw std::runtime_error("could not restart redis-server on port " +
                           std::to_string(port_));
}

void RedisServer::Stop() {
  if (pid_ <= 0) return;
  {
    Socket s(port_);
    // The server closes the connection instead of answering.
    if (s.ok() && s.Send({"SHUTDOWN", "NOSAVE"})) {
      std::string ignored;
      s.ReadLine(ignored);
    }
  }
  const auto until = steady_clock::now() + seconds(10);
  while (Alive(pid_) && steady_clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  if (Alive(pid_)) {
    kill(pid_, SIGKILL);
    while (Alive(pid_)) std::this_thread::sleep_for(milliseconds(10));
  }
  pid_ = 0;
}

std::string RedisServer::Command(const std::vector<std::string>& args) {
  Socket s(port_);
  std::string line;
  if (!s.ok() || !s.Send(args) || !s.ReadLine(line)) {
    throw std::runtime_error("redis-server on port " + std::to_string(port_) +
                             " did not answer " + args.front());
  }
  return line;
}

void RedisServer::FlushAll() {
  const std::string reply = Command({"FLUSHALL"});
  if (reply != "+OK") throw std::runtime_error("FLUSHALL: " + reply);
}

RedisServer& SharedRedisServer() {
  // Destroyed (so stopped) by the static destructors at exit.
  static RedisServer server;
  return server;
}

}  // namespace chatstore::testing
