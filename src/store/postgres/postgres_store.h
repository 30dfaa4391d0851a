// postgresql:// — sessions in a PostgreSQL database shared by several
// chatstored instances. Schema and query plans: docs/postgres.md.
#ifndef CHATSTORE_STORE_POSTGRES_POSTGRES_STORE_H_
#define CHATSTORE_STORE_POSTGRES_POSTGRES_STORE_H_

#include <memory>
#include <string_view>

#include "chatstore/store.h"

namespace chatstore {

// `uri` is the whole libpq connection URI ("postgresql://user@host:port/db").
// Runs pending schema migrations. Unavailable when the server cannot be
// reached.
Result<std::shared_ptr<Store>> OpenPostgresStore(std::string_view uri,
                                                 const StoreOptions& options);

}  // namespace chatstore

#endif  // CHATSTORE_STORE_POSTGRES_POSTGRES_STORE_H_
