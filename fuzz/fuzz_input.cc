#include "fuzz/fuzz_input.h"

#include <cstdio>
#include <cstdlib>

namespace chatstore::fuzz {

void PropertyFailed(const char* what, std::string_view detail) {
  std::fprintf(stderr, "property failed: %s\n  %.*s\n", what,
               static_cast<int>(std::min<std::size_t>(detail.size(), 2000)),
               detail.data());
  std::abort();
}

}  // namespace chatstore::fuzz
