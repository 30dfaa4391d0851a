// Full-text search queries for PostgreSQL. Words follow store/search_words.h
// (shared with the memory and redis stores) so every backend matches the same
// messages and brackets the same words; the SQL function
// chatstore_search_vector() (schema.cc) splits stored text by the same rule.
#ifndef CHATSTORE_STORE_POSTGRES_SEARCH_TEXT_H_
#define CHATSTORE_STORE_POSTGRES_SEARCH_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace chatstore::postgres {

// PostgreSQL refuses lexemes of 2 KiB or more; chatstore_search_vector()
// leaves longer words out of the index, so such a query word matches nothing.
inline constexpr std::size_t kMaxLexemeBytes = 2046;

// A tsquery in PostgreSQL's input syntax that requires every term:
// "'hello' & 'world'". Terms hold no quote or backslash (they are words), so
// quoting each one makes it a literal lexeme, never an operator.
// REQUIRES: terms non-empty, each from search::QueryTerms().
std::string TsQueryText(const std::vector<std::string>& terms);

}  // namespace chatstore::postgres

#endif  // CHATSTORE_STORE_POSTGRES_SEARCH_TEXT_H_
