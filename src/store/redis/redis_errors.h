// The one place where hiredis and Redis errors become chatstore Status codes.
#ifndef CHATSTORE_STORE_REDIS_REDIS_ERRORS_H_
#define CHATSTORE_STORE_REDIS_REDIS_ERRORS_H_

#include <string_view>

#include "chatstore/status.h"

struct redisContext;
struct redisReply;

namespace chatstore::redis {

// A failed connection or command on `ctx` (ctx->err set, or a null reply):
// I/O errors, EOF, timeouts and refused connections are Unavailable, so the
// server answers 503 and the caller may retry. `what` names the operation.
Status FromContextError(const redisContext* ctx, std::string_view what);

// A REDIS_REPLY_ERROR: LOADING/BUSY/MASTERDOWN/READONLY/TRYAGAIN/CLUSTERDOWN
// are Unavailable, OOM is ResourceExhausted, anything else (a bad command or
// a script bug) is Internal.
Status FromErrorReply(const redisReply* reply, std::string_view what);

// True for the NOSCRIPT error EVALSHA answers when the server lost its
// script cache (a restart, SCRIPT FLUSH): the caller loads it again.
bool IsNoScript(const redisReply* reply);

}  // namespace chatstore::redis

#endif  // CHATSTORE_STORE_REDIS_REDIS_ERRORS_H_
