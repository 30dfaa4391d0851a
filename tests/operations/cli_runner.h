// Runs the real `chatstore` binary for a test and collects what it printed.
#ifndef CHATSTORE_TESTS_OPERATIONS_CLI_RUNNER_H_
#define CHATSTORE_TESTS_OPERATIONS_CLI_RUNNER_H_

#include <map>
#include <string>
#include <vector>

namespace chatstore::testing {

struct CliResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs `chatstore args...` with the test's environment minus CHATSTORE_*
// (so a developer's settings never leak in) plus `env`, and waits for it.
CliResult RunCli(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {});

// The lines of `text` (without their newlines; no empty last line).
std::vector<std::string> Lines(const std::string& text);

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_OPERATIONS_CLI_RUNNER_H_
