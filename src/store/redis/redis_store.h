// redis:// — sessions in a Redis server shared by several chatstored
// instances. Key layout: docs/redis.md.
#ifndef CHATSTORE_STORE_REDIS_REDIS_STORE_H_
#define CHATSTORE_STORE_REDIS_REDIS_STORE_H_

#include <memory>
#include <string_view>

#include "chatstore/store.h"

namespace chatstore {

// `rest` is the URI after "redis://": "host:port/db" (db optional, 0).
// Unavailable when the server cannot be reached.
Result<std::shared_ptr<Store>> OpenRedisStore(std::string_view rest,
                                              const StoreOptions& options);

}  // namespace chatstore

#endif  // CHATSTORE_STORE_REDIS_REDIS_STORE_H_
