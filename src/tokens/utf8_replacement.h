// Invalid UTF-8 handling for token counting. tiktoken counts JavaScript
// strings, which cannot hold invalid UTF-8, so chatstore defines the count of
// arbitrary bytes as tiktoken's count of what a browser's TextDecoder makes
// of them: each maximal subpart of an ill-formed sequence becomes one U+FFFD
// (the WHATWG Encoding Standard's UTF-8 decoder, which is also Unicode's
// "best practice" for U+FFFD substitution). A byte-order mark is kept as
// U+FEFF text, like TextDecoder with {ignoreBOM: true}: a leading BOM in valid
// text is part of the message.
#ifndef CHATSTORE_TOKENS_UTF8_REPLACEMENT_H_
#define CHATSTORE_TOKENS_UTF8_REPLACEMENT_H_

#include <string>
#include <string_view>

namespace chatstore::tokens_internal {

// True when `text` is well-formed UTF-8: no stray continuation bytes,
// overlong forms, surrogates (U+D800..U+DFFF) or code points past U+10FFFF.
bool IsValidUtf8(std::string_view text);

// `text` with every maximal subpart of an ill-formed sequence replaced by
// U+FFFD (EF BF BD), exactly as WHATWG's UTF-8 decoder in replacement mode.
// Well-formed text comes back unchanged.
std::string ReplaceInvalidUtf8(std::string_view text);

}  // namespace chatstore::tokens_internal

#endif  // CHATSTORE_TOKENS_UTF8_REPLACEMENT_H_
