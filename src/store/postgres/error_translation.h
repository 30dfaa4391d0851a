// The one place where libpqxx exceptions become chatstore Status values.
// The header names no pqxx type: callers hand over the exception in flight.
#ifndef CHATSTORE_STORE_POSTGRES_ERROR_TRANSLATION_H_
#define CHATSTORE_STORE_POSTGRES_ERROR_TRANSLATION_H_

#include <string_view>

#include "chatstore/status.h"

namespace chatstore::postgres {

// What the caller should do about a failed database call.
enum class Recovery {
  kGiveUp,     // return `status` to the caller
  kRetry,      // a serialization failure or deadlock: run the whole
               // transaction again (it was rolled back)
  kReconnect,  // the connection is gone: drop it; the transaction was
               // not committed, so running it again is safe
};

struct DbError {
  Status status;  // never OK
  Recovery recovery = Recovery::kGiveUp;
};

// Translates the exception being handled. `context` names the operation
// ("append to session 0193..."), and prefixes the message.
// Mapping: broken connection, SQLSTATE class 08, admin/crash shutdown and
// "cannot connect now" (57P01-57P03) -> Unavailable + kReconnect; commit
// outcome unknown (in_doubt_error) -> Unavailable (never retried: the change
// may have been written); serialization failure (40001) and deadlock
// (40P01) -> Unavailable + kRetry; statement timeout / cancel (57014), lock
// timeout (55P03) and insufficient resources (class 53) -> Unavailable;
// unique violation (23505) -> AlreadyExists; data exceptions (class 22, e.g.
// a NUL byte in text) -> InvalidArgument; program limits (class 54, e.g. a
// tsvector over 1 MB) -> Unprocessable; anything else -> Internal.
// REQUIRES: called inside a catch handler.
DbError TranslateCurrentException(std::string_view context);

}  // namespace chatstore::postgres

#endif  // CHATSTORE_STORE_POSTGRES_ERROR_TRANSLATION_H_
