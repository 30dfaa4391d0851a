// PostgreSQL array literals ("{...}") for statement parameters, so that a
// batch of rows travels as a few array parameters of one statement (INSERT
// ... SELECT FROM unnest($1, $2, ...)) instead of one statement per row.
// libpqxx 7 converts containers itself; 6.4 does not, so the backend builds
// the text form here for both.
#ifndef CHATSTORE_STORE_POSTGRES_ARRAY_LITERAL_H_
#define CHATSTORE_STORE_POSTGRES_ARRAY_LITERAL_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chatstore::postgres {

// {"a","b \"quoted\""}: every element double-quoted, with '"' and '\'
// backslash-escaped, so any text (commas, braces, "NULL") stays one
// non-null element. For a text[] parameter.
std::string TextArrayLiteral(const std::vector<std::string_view>& items);

// {1,2,3}, for a bigint[] parameter.
std::string Int64ArrayLiteral(const std::vector<std::int64_t>& items);

}  // namespace chatstore::postgres

#endif  // CHATSTORE_STORE_POSTGRES_ARRAY_LITERAL_H_
