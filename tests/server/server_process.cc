#include "server/server_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#ifndef CHATSTORED_PATH
#error "CHATSTORED_PATH must name the chatstored binary"
#endif

namespace chatstore::testing {
namespace {

std::optional<int> DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return std::nullopt;
}

}  // namespace

ServerProcess::ServerProcess(ServerOptions options)
    : options_(std::move(options)) {
  std::vector<std::string> args = {
      CHATSTORED_PATH,
      "--listen",
      "127.0.0.1:0",
      "--store",
      options_.store_uri.empty()
          ? "sqlite://" + options_.data_dir + "/chatstore.db"
          : options_.store_uri,
      "--io-threads",
      "2",
      "--worker-threads",
      "8",
  };
  args.insert(args.end(), options_.args.begin(), options_.args.end());

  // The child's environment: ours without CHATSTORE_* (so the developer's
  // settings cannot leak in), plus the test's.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "CHATSTORE_", 10) != 0) env.emplace_back(*e);
  }
  if (options_.with_secret) {
    env.push_back(std::string("CHATSTORE_JWT_SECRET=") + kTestSecret);
  }
  for (const auto& [k, v] : options_.env) env.push_back(k + "=" + v);

  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe failed";
    return;
  }
  const std::string log = log_path();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log_fd >= 0) ::dup2(log_fd, STDERR_FILENO);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  stdout_fd_ = out_pipe[0];
  if (!options_.expect_listening) return;

  // Read stdout until the "listening on http://HOST:PORT" line.
  constexpr std::string_view kPrefix = "listening on http://127.0.0.1:";
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::size_t at = stdout_text_.find(kPrefix);
    if (at != std::string::npos) {
      const std::size_t end = stdout_text_.find('\n', at);
      if (end != std::string::npos) {
        port_ = static_cast<std::uint16_t>(std::stoi(stdout_text_.substr(
            at + kPrefix.size(), end - at - kPrefix.size())));
        return;
      }
    }
    pollfd pfd{stdout_fd_, POLLIN, 0};
    const int left =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                             deadline - std::chrono::steady_clock::now())
                             .count());
    if (::poll(&pfd, 1, std::max(left, 1)) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n <= 0) break;  // exited before listening
    stdout_text_.append(buf, static_cast<std::size_t>(n));
  }
  ADD_FAILURE() << "chatstored did not print its listening line; stdout: "
                << stdout_text_;
}

std::string ServerProcess::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::optional<int> ServerProcess::WaitExit(std::chrono::seconds deadline) {
  if (exit_code_) return exit_code_;
  if (pid_ <= 0) return std::nullopt;
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = DecodeWaitStatus(status);
      pid_ = -1;
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    // Polling waitpid is the portable way to wait with a deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::optional<int> ServerProcess::Stop(int sig, std::chrono::seconds deadline) {
  if (pid_ > 0) ::kill(pid_, sig);
  return WaitExit(deadline);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

}  // namespace chatstore::testing
