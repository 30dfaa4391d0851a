#include "support/process_stats.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace chatstore::testing {
namespace {

// A "Name:   1234 kB" line of /proc/<pid>/status, in bytes.
std::int64_t StatusKilobytes(pid_t pid, const std::string& name) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(name + ":")) {
      return std::stoll(line.substr(name.size() + 1)) * 1024;
    }
  }
  return 0;
}

}  // namespace

std::int64_t ResidentBytes(pid_t pid) { return StatusKilobytes(pid, "VmRSS"); }

std::int64_t PeakResidentBytes(pid_t pid) {
  return StatusKilobytes(pid, "VmHWM");
}

int OpenFileDescriptors(pid_t pid) {
  std::error_code ec;
  std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd",
                                         ec);
  if (ec) return -1;
  int count = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    ++count;
  }
  return count;
}

}  // namespace chatstore::testing
