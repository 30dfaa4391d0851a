// Self-checking cache values for the concurrency tests: a value names the
// key it was stored under, its length and a hash of its payload, so a reader
// can tell a whole value from a torn, truncated or misplaced one.
#ifndef CHATSTORE_TESTS_CACHE_CHECKED_VALUE_H_
#define CHATSTORE_TESTS_CACHE_CHECKED_VALUE_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace chatstore::testing {

inline std::uint64_t Fnv1a(std::string_view bytes) {
  std::uint64_t h = 1469598103934665603ull;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// "cv|<key>|<total length>|<payload hash, 16 hex>|<payload>" of `size`
// bytes in all (at least the header's length), the payload drawn from
// `seed`.
inline std::string CheckedValue(std::string_view key, std::size_t size,
                                std::uint64_t seed) {
  std::string prefix =
      "cv|" + std::string(key) + "|" + std::to_string(size) + "|";
  const std::size_t header = prefix.size() + 17;
  const std::size_t payload_size = size > header ? size - header : 0;
  std::string payload(payload_size, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (char& c : payload) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(Fnv1a(payload)));
  return prefix + hash + "|" + payload;
}

// Empty when `value` is a whole CheckedValue stored under `key`; otherwise
// what is wrong with it.
inline std::string CheckValue(std::string_view key, std::string_view value) {
  const std::string prefix = "cv|" + std::string(key) + "|";
  if (!value.starts_with(prefix))
    return "value does not name key " + std::string(key);
  std::string_view rest = value.substr(prefix.size());
  const std::size_t bar = rest.find('|');
  if (bar == std::string_view::npos) return "no length";
  if (std::to_string(value.size()) != rest.substr(0, bar)) {
    return "length " + std::to_string(value.size()) + " instead of " +
           std::string(rest.substr(0, bar));
  }
  rest.remove_prefix(bar + 1);
  if (rest.size() < 17 || rest[16] != '|') return "no hash";
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(Fnv1a(rest.substr(17))));
  if (rest.substr(0, 16) != hash) return "payload hash mismatch (torn value)";
  return "";
}

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_CACHE_CHECKED_VALUE_H_
