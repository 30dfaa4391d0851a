// What a search word is, for the backends that match words themselves
// (memory, redis; postgres splits stored text by the same rule in SQL), so
// every backend finds the same messages and brackets the same words. A word is
// a run of ASCII letters and digits or non-ASCII bytes (UTF-8 words of any
// script stay whole); ASCII letters match case-insensitively.
#ifndef CHATSTORE_STORE_SEARCH_WORDS_H_
#define CHATSTORE_STORE_SEARCH_WORDS_H_

#include <string>
#include <string_view>
#include <vector>

namespace chatstore::search {

// The query's distinct words, lowercased; empty when it has none.
std::vector<std::string> QueryTerms(std::string_view query);

// True when every term occurs as a whole word of `text`.
bool MatchesAll(std::string_view text, const std::vector<std::string>& terms);

// `content` (or a window of it around the first match for long content)
// with every matching word wrapped in [ ].
std::string Snippet(std::string_view content,
                    const std::vector<std::string>& terms);

}  // namespace chatstore::search

#endif  // CHATSTORE_STORE_SEARCH_WORDS_H_
