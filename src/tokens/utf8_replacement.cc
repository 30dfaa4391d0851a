#include "tokens/utf8_replacement.h"

#include <cstdint>
#include <cstring>

namespace chatstore::tokens_internal {
namespace {

// Classifies the sequence at p[0 .. remaining) following the WHATWG UTF-8
// decoder: returns its length (> 0) when well-formed, or minus the length of
// the maximal subpart that must become a single U+FFFD. The byte after a
// rejected subpart is decoded afresh, as the standard's "restore byte" says.
// REQUIRES: remaining > 0.
int ClassifySequence(const unsigned char* p, std::size_t remaining) {
  const unsigned char lead = p[0];
  if (lead < 0x80) return 1;
  int continuation_count;
  unsigned char lower = 0x80;
  unsigned char upper = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    continuation_count = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    continuation_count = 2;
    if (lead == 0xE0) lower = 0xA0;  // overlong
    if (lead == 0xED) upper = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    continuation_count = 3;
    if (lead == 0xF0) lower = 0x90;  // overlong
    if (lead == 0xF4) upper = 0x8F;  // past U+10FFFF
  } else {
    return -1;  // continuation byte, C0/C1 or F5..FF: never a lead
  }
  for (int k = 1; k <= continuation_count; ++k) {
    if (static_cast<std::size_t>(k) >= remaining) return -k;  // truncated
    if (p[k] < lower || p[k] > upper) return -k;
    lower = 0x80;
    upper = 0xBF;
  }
  return continuation_count + 1;
}

// Length of the ASCII prefix of [p, end), eight bytes at a time: most chat
// text is mostly ASCII.
std::size_t AsciiPrefixLength(const unsigned char* p,
                              const unsigned char* end) {
  const unsigned char* start = p;
  while (end - p >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, 8);
    if (word & 0x8080808080808080ull) break;
    p += 8;
  }
  while (p < end && *p < 0x80) ++p;
  return static_cast<std::size_t>(p - start);
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char* end = p + text.size();
  while (p < end) {
    p += AsciiPrefixLength(p, end);
    if (p == end) break;
    const int length = ClassifySequence(p, static_cast<std::size_t>(end - p));
    if (length < 0) return false;
    p += length;
  }
  return true;
}

std::string ReplaceInvalidUtf8(std::string_view text) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size() + 16);
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char* end = p + text.size();
  while (p < end) {
    const std::size_t ascii = AsciiPrefixLength(p, end);
    out.append(reinterpret_cast<const char*>(p), ascii);
    p += ascii;
    if (p == end) break;
    const int length = ClassifySequence(p, static_cast<std::size_t>(end - p));
    if (length > 0) {
      out.append(reinterpret_cast<const char*>(p), length);
      p += length;
    } else {
      out.append(kReplacement, 3);
      p += -length;
    }
  }
  return out;
}

}  // namespace chatstore::tokens_internal
