// What /proc says about a running process: resident memory and open file
// descriptors, for tests and benchmarks that bound a server's resources.
#ifndef CHATSTORE_TESTS_SUPPORT_PROCESS_STATS_H_
#define CHATSTORE_TESTS_SUPPORT_PROCESS_STATS_H_

#include <sys/types.h>

#include <cstdint>

namespace chatstore::testing {

// VmRSS of `pid` in bytes; 0 when the process is gone.
std::int64_t ResidentBytes(pid_t pid);
// VmHWM of `pid` in bytes: the highest VmRSS so far; 0 when gone.
std::int64_t PeakResidentBytes(pid_t pid);
// Entries of /proc/<pid>/fd; -1 when the process is gone.
int OpenFileDescriptors(pid_t pid);

// Whether this test (and so the chatstored built beside it) runs under
// AddressSanitizer or ThreadSanitizer. ASan's quarantine keeps freed memory
// resident and both grow shadow memory with every allocation (TSan 5-10x),
// so resident memory says nothing about the server's own bounds there:
// memory bounds are asserted in the normal build only. Their checks also
// slow every call, so time limits of responsiveness checks get
// kSanitizerSlowdown times more.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kUnderSanitizer = true;
#else
inline constexpr bool kUnderSanitizer = false;
#endif
inline constexpr int kSanitizerSlowdown = kUnderSanitizer ? 4 : 1;

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_SUPPORT_PROCESS_STATS_H_
