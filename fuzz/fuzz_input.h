// Splits one fuzz input into the pieces a target needs. Deterministic: the
// same bytes always give the same pieces, so a saved input replays exactly.
#ifndef CHATSTORE_FUZZ_FUZZ_INPUT_H_
#define CHATSTORE_FUZZ_FUZZ_INPUT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chatstore::fuzz {

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  // One byte (0 when the input is used up).
  std::uint8_t Byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // Bytes up to the next `separator` (which is consumed), or all the rest.
  std::string_view Until(char separator) {
    const std::size_t at = rest_.find(separator);
    const std::string_view piece = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return piece;
  }
  std::string_view Rest() {
    const std::string_view all = rest_;
    rest_ = {};
    return all;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

// Fails the run (libFuzzer records the input as a crash; the regression
// replay exits non-zero) when a property of the code under test is broken.
[[noreturn]] void PropertyFailed(const char* what, std::string_view detail);

#define FUZZ_CHECK(condition, detail)                          \
  do {                                                         \
    if (!(condition)) {                                        \
      ::chatstore::fuzz::PropertyFailed(#condition, (detail)); \
    }                                                          \
  } while (false)

}  // namespace chatstore::fuzz

#endif  // CHATSTORE_FUZZ_FUZZ_INPUT_H_
