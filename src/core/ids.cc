#include "chatstore/ids.h"

#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace chatstore {
namespace {

// sodium_init() is idempotent and thread-safe; call it once per process.
void EnsureSodium() {
  static const bool ok = [] {
    if (sodium_init() < 0) std::abort();  // no CSPRNG: refuse to make ids
    return true;
  }();
  (void)ok;
}

std::array<std::uint8_t, 16> NewUuid7Bytes(Timestamp now) {
  EnsureSodium();
  std::array<std::uint8_t, 16> b;
  randombytes_buf(b.data(), b.size());
  const std::uint64_t ms = static_cast<std::uint64_t>(ToMillis(now));
  for (int i = 0; i < 6; ++i)
    b[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  b[6] = static_cast<std::uint8_t>(0x70 | (b[6] & 0x0F));  // version 7
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3F));  // variant 10
  return b;
}

std::string Format(const std::array<std::uint8_t, 16>& b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[b[i] >> 4]);
    s.push_back(kHex[b[i] & 0xF]);
  }
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string NewId(Timestamp now) { return Format(NewUuid7Bytes(now)); }

std::string NewSessionId(Timestamp now, bool persistent) {
  auto b = NewUuid7Bytes(now);
  // rand_a is the low nibble of byte 6 and all of byte 7; its lowest bit is
  // the lowest bit of byte 7.
  b[7] = static_cast<std::uint8_t>((b[7] & 0xFE) | (persistent ? 0 : 1));
  return Format(b);
}

bool IsEphemeralSessionId(std::string_view id) {
  // Byte 7 is hex characters 16..17 of "xxxxxxxx-xxxx-7xxx-...": index 16
  // and 17 in the canonical form (positions count the dashes).
  if (id.size() != 36) return false;
  const int low = HexValue(id[17]);
  return low >= 0 && (low & 1) == 1;
}

bool IsValidId(std::string_view id) {
  if (id.size() != 36) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : HexValue(id[i]) < 0) return false;
  }
  return true;
}

}  // namespace chatstore
