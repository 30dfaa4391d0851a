// JSON parsing with limits, RFC 7396 merge patch, and UTF-8 validation:
// the checks every piece of caller-supplied JSON passes before it is stored.
#ifndef CHATSTORE_CORE_JSON_UTIL_H_
#define CHATSTORE_CORE_JSON_UTIL_H_

#include <boost/json.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "chatstore/status.h"

namespace chatstore::json {

// Parses `text` like boost::json::parse, except that every number with a
// fraction or exponent is converted with std::from_chars, which rounds
// correctly: Boost.JSON 1.81's own conversion is off by one ulp for some
// inputs, so a stored number would change on its first write/read cycle.
// Every JSON chatstore keeps or compares is parsed with this.
boost::json::value ParseExact(std::string_view text,
                              boost::system::error_code& ec,
                              const boost::json::parse_options& options = {});

// Parses `text` as one JSON value no deeper than `max_depth`.
// InvalidArgument naming `field` when it is not JSON (or not valid UTF-8);
// Unprocessable when it is nested too deeply.
Result<boost::json::value> Parse(std::string_view text, std::size_t max_depth,
                                 std::string_view field);

// Parse() that also requires an object (Unprocessable otherwise).
Result<boost::json::object> ParseObject(std::string_view text,
                                        std::size_t max_depth,
                                        std::string_view field);

// Depth of a value: 0 for scalars, 1 for a flat array/object, ...
std::size_t Depth(const boost::json::value& v);

// Applies an RFC 7396 merge patch to `target` in place.
void MergePatch(boost::json::value& target, const boost::json::value& patch);

// Merges `patch` into the stored JSON object text `stored` (a missing or
// malformed document counts as {}) and returns the result serialized.
// Unprocessable naming `field` when it would exceed `max_bytes`. The one
// read-modify-write of session state, metadata and the user state document.
Result<std::string> MergeStateText(std::string_view stored,
                                   const boost::json::object& patch,
                                   std::string_view field,
                                   std::size_t max_bytes);
// MergeStateText() with the patch as JSON object text (a store's
// WriteBatch::user_state_patch); Internal when it is not an object.
Result<std::string> MergeStateText(std::string_view stored,
                                   std::string_view patch,
                                   std::string_view field,
                                   std::size_t max_bytes);

// Compact, single-line serialization (what events carry).
std::string Serialize(const boost::json::value& v);

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF).
bool IsValidUtf8(std::string_view s);

}  // namespace chatstore::json

#endif  // CHATSTORE_CORE_JSON_UTIL_H_
