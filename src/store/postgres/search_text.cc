#include "store/postgres/search_text.h"

#include <string>
#include <vector>

namespace chatstore::postgres {

std::string TsQueryText(const std::vector<std::string>& terms) {
  std::string out;
  for (const std::string& t : terms) {
    if (!out.empty()) out += " & ";
    out += '\'';
    out += t;
    out += '\'';
  }
  return out;
}

}  // namespace chatstore::postgres
