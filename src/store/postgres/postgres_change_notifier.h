// The PostgreSQL ChangeNotifier: one connection that LISTENs on the
// `cs_changes` channel, on which every write and erase transaction NOTIFYs.
#ifndef CHATSTORE_STORE_POSTGRES_POSTGRES_CHANGE_NOTIFIER_H_
#define CHATSTORE_STORE_POSTGRES_POSTGRES_CHANGE_NOTIFIER_H_

#include <memory>
#include <string_view>

#include "chatstore/change_notifier.h"

namespace chatstore {

// `uri` is the whole "postgresql://..." URI (as for OpenPostgresStore).
// InvalidArgument when malformed.
Result<std::unique_ptr<ChangeNotifier>> OpenPostgresChangeNotifier(
    std::string_view uri);

}  // namespace chatstore

#endif  // CHATSTORE_STORE_POSTGRES_POSTGRES_CHANGE_NOTIFIER_H_
