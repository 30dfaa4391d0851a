#include "store/postgres/array_literal.h"

#include <string>

namespace chatstore::postgres {

std::string TextArrayLiteral(const std::vector<std::string_view>& items) {
  std::size_t size = 2;
  for (std::string_view s : items) size += s.size() + 3;
  std::string out;
  out.reserve(size + size / 8);
  out += '{';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string Int64ArrayLiteral(const std::vector<std::int64_t>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(items[i]);
  }
  out += '}';
  return out;
}

}  // namespace chatstore::postgres
