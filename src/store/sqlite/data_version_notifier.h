// The SQLite ChangeNotifier for a database file that several processes
// share: SQLite has no cross-process notification, but `PRAGMA
// data_version` on a connection changes whenever another connection has
// committed, and reading it costs microseconds. A dedicated connection polls
// it; any change is reported as "anything may have changed" (the pragma
// does not say which session), and followers re-read the sessions they
// follow.
#ifndef CHATSTORE_STORE_SQLITE_DATA_VERSION_NOTIFIER_H_
#define CHATSTORE_STORE_SQLITE_DATA_VERSION_NOTIFIER_H_

#include <chrono>
#include <memory>
#include <string>

#include "chatstore/change_notifier.h"

namespace chatstore::sqlite {

// How often the file is polled: the most a change from another process
// waits before followers hear of it.
inline constexpr std::chrono::milliseconds kDataVersionPollInterval{50};

// A notifier for the database file at `path` (which OpenSqliteStore has
// created). It opens its own connection on Start.
std::unique_ptr<ChangeNotifier> NewDataVersionNotifier(std::string path);

}  // namespace chatstore::sqlite

#endif  // CHATSTORE_STORE_SQLITE_DATA_VERSION_NOTIFIER_H_
