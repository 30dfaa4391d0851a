// Change notifiers: how one process learns that another process appended to
// a session's log in a store they share (several chatstored instances on one
// Redis, one PostgreSQL, or one SQLite file).
//
// A notification is a wake-up, never data: Redis pub/sub and PostgreSQL
// NOTIFY may drop messages (a reconnect, a full buffer) and say nothing about
// order, so whoever is woken reads the log itself from the store. A notifier
// therefore also reports "anything may have changed" whenever it cannot vouch
// for what it missed: when it (re)connects, and, for SQLite, whenever another
// connection committed.
#ifndef CHATSTORE_CHANGE_NOTIFIER_H_
#define CHATSTORE_CHANGE_NOTIFIER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "chatstore/status.h"

namespace chatstore {

// What a notifier heard.
struct LogChange {
  // The session whose log changed; empty means any session may have
  // changed (re-read every session you follow).
  std::string session_id;
  // The log reached at least this seq; 0 when unknown (e.g. the session
  // was deleted).
  std::int64_t last_seq = 0;

  bool AnySession() const { return session_id.empty(); }
};

// Listens on its own thread (started by Start, joined by Stop), reconnecting
// with backoff after the backend goes away; it never gives up while started.
class ChangeNotifier {
 public:
  using Callback = std::function<void(const LogChange&)>;

  virtual ~ChangeNotifier() = default;

  // Starts the thread. `callback` runs on it, one call at a time; it may
  // block briefly (e.g. read the store), which only delays later
  // notifications. The first call after each (re)connection is an
  // AnySession() change. REQUIRES: called once.
  virtual void Start(Callback callback) = 0;
  // Stops and joins the thread: no callback runs after Stop returns.
  // Idempotent; the destructor calls it. REQUIRES: not called from the
  // callback.
  virtual void Stop() = 0;
  // True while connected and listening (a health signal for operators).
  virtual bool connected() const = 0;
};

// The notifier for the store at `store_uri` (the URI given to OpenStore):
// Redis pub/sub (redis://), PostgreSQL LISTEN (postgresql://), or polling
// SQLite's `PRAGMA data_version` (sqlite://). Null for memory://, which no
// other process can see. Connects on Start, not here; InvalidArgument for a
// malformed or unknown URI.
Result<std::unique_ptr<ChangeNotifier>> OpenChangeNotifier(
    std::string_view store_uri);

}  // namespace chatstore

#endif  // CHATSTORE_CHANGE_NOTIFIER_H_
