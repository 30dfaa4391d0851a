// The query part of a store URI ("?a=1&b=2"), split into its parameters:
// the one parser behind every backend's URI options.
#ifndef CHATSTORE_STORE_URI_QUERY_H_
#define CHATSTORE_STORE_URI_QUERY_H_

#include <string_view>
#include <vector>

namespace chatstore {

struct UriParam {
  std::string_view text;   // "name=value" as written
  std::string_view name;   // before the first '='
  std::string_view value;  // after it; empty when there is no '='
};

// The parameters of `query` (the text after '?'), in order; empty
// parameters ("a=1&&b=2") are skipped. Views into `query`.
inline std::vector<UriParam> SplitUriQuery(std::string_view query) {
  std::vector<UriParam> params;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view text = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (text.empty()) continue;
    const std::size_t eq = text.find('=');
    params.push_back({text, text.substr(0, eq),
                      eq == std::string_view::npos ? std::string_view()
                                                   : text.substr(eq + 1)});
  }
  return params;
}

}  // namespace chatstore

#endif  // CHATSTORE_STORE_URI_QUERY_H_
