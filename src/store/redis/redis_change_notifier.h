// The Redis ChangeNotifier: one connection SUBSCRIBEd to
// keys::kChangesChannel, on which the apply and delete scripts publish.
#ifndef CHATSTORE_STORE_REDIS_REDIS_CHANGE_NOTIFIER_H_
#define CHATSTORE_STORE_REDIS_REDIS_CHANGE_NOTIFIER_H_

#include <memory>
#include <string_view>

#include "chatstore/change_notifier.h"

namespace chatstore {

// `rest` is the URI after "redis://" (as for OpenRedisStore).
// InvalidArgument when malformed.
Result<std::unique_ptr<ChangeNotifier>> OpenRedisChangeNotifier(
    std::string_view rest);

}  // namespace chatstore

#endif  // CHATSTORE_STORE_REDIS_REDIS_CHANGE_NOTIFIER_H_
