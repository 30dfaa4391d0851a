// memory:// — the ephemeral store: anonymous users' sessions, tests,
// --policy ephemeral-all. Nothing survives the process.
#ifndef CHATSTORE_STORE_MEMORY_MEMORY_STORE_H_
#define CHATSTORE_STORE_MEMORY_MEMORY_STORE_H_

#include <memory>
#include <string_view>

#include "chatstore/store.h"

namespace chatstore {

// `rest` is the URI after "memory://" (ignored today; reserved for options).
Result<std::shared_ptr<Store>> OpenMemoryStore(std::string_view rest,
                                               const StoreOptions& options);

}  // namespace chatstore

#endif  // CHATSTORE_STORE_MEMORY_MEMORY_STORE_H_
