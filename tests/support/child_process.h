// A child process for multi-process tests: a helper binary run with
// arguments, its stdout and stderr read through a pipe with deadlines.
#ifndef CHATSTORE_TESTS_SUPPORT_CHILD_PROCESS_H_
#define CHATSTORE_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace chatstore::testing {

// The destructor kills and reaps a child still running, so no test leaves
// one behind. Not thread-safe.
class ChildProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts `program` with `args` (argv[1...]); a failure to start is a test
  // failure (ADD_FAILURE), and the child then exits with status 127.
  ChildProcess(const std::string& program, std::vector<std::string> args);
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  // Reads what the child wrote until `deadline`; false at end of output
  // (the child exited) or when the deadline passed.
  bool ReadSome(Clock::time_point deadline);

  // Reads to the end of the child's output, then reaps it. Returns the
  // exit status (128+signal when killed), or -1 when the deadline passed
  // first (the destructor then kills it).
  int Finish(Clock::time_point deadline);

  // SIGKILL, then collect what it wrote before dying.
  void KillAndDrain(Clock::time_point deadline);

  // Complete lines so far ("123\n"); a trailing partial line is left out.
  std::vector<std::string> Lines() const;

  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool eof_ = false;
  std::string output_;
};

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_SUPPORT_CHILD_PROCESS_H_
