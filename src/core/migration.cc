#include "chatstore/migration.h"

#include <sodium.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "core/wire_format.h"

namespace chatstore {
namespace {

// How often a session that keeps changing at the source is re-read before
// the migration gives up on it (and reports Unavailable).
constexpr int kMaxReadAttempts = 5;

struct WholeSession {
  Session row;
  std::vector<Message> messages;
  std::vector<Event> events;
};

// Calls `each` for every row of a paged read (`read(after_seq, limit)`)
// whose seq is at most `last_seq`, in seq order.
template <typename Row, typename Read, typename Each>
Status ForEachUpTo(std::int64_t last_seq, int page, Read read, Each each) {
  std::int64_t after = 0;
  while (after < last_seq) {
    CHATSTORE_ASSIGN_OR_RETURN(std::vector<Row> rows, read(after, page));
    for (Row& row : rows) {
      if (row.seq > last_seq) return Status::Ok();
      after = row.seq;
      CHATSTORE_RETURN_IF_ERROR(each(std::move(row)));
    }
    if (rows.size() < static_cast<std::size_t>(page)) break;
  }
  return Status::Ok();
}

Status ForEachMessage(Store& store, const Session& s, int page,
                      const std::function<Status(Message)>& each) {
  return ForEachUpTo<Message>(
      s.last_seq, page,
      [&](std::int64_t after, int limit) {
        return store.ReadMessages(s.id, after, limit);
      },
      each);
}

Status ForEachEvent(Store& store, const Session& s, int page,
                    const std::function<Status(Event)>& each) {
  return ForEachUpTo<Event>(
      s.last_seq, page,
      [&](std::int64_t after, int limit) {
        return store.ReadEvents(s.id, after, limit);
      },
      each);
}

// The session as one consistent snapshot: its rows are read a page at a
// time, so a write in between would mix two states; the row is read again
// afterwards and the whole read repeated when last_seq moved.
Result<WholeSession> ReadWholeSession(Store& store, const std::string& id,
                                      int page) {
  for (int attempt = 0; attempt < kMaxReadAttempts; ++attempt) {
    WholeSession whole;
    CHATSTORE_ASSIGN_OR_RETURN(whole.row, store.GetSession(id));
    CHATSTORE_RETURN_IF_ERROR(
        ForEachMessage(store, whole.row, page, [&](Message m) {
          whole.messages.push_back(std::move(m));
          return Status::Ok();
        }));
    CHATSTORE_RETURN_IF_ERROR(
        ForEachEvent(store, whole.row, page, [&](Event e) {
          whole.events.push_back(std::move(e));
          return Status::Ok();
        }));
    CHATSTORE_ASSIGN_OR_RETURN(const Session again, store.GetSession(id));
    if (again.last_seq == whole.row.last_seq) return whole;
  }
  return Status::Unavailable("session " + id + " kept changing at the source");
}

// Pages through every live session of `store` while `each` answers true.
Status ForEachSession(Store& store, int page,
                      const std::function<Result<bool>(Session)>& each) {
  std::string cursor;
  do {
    CHATSTORE_ASSIGN_OR_RETURN(SessionScanPage scan,
                               store.ScanSessions(cursor, page));
    for (Session& s : scan.sessions) {
      CHATSTORE_ASSIGN_OR_RETURN(const bool go_on, each(std::move(s)));
      if (!go_on) return Status::Ok();
    }
    cursor = std::move(scan.next_cursor);
  } while (!cursor.empty());
  return Status::Ok();
}

// Runs `each` on every row of a paged whole-store scan of per-user rows:
// `scan(cursor)` answers a page with `users` and `next_cursor`.
template <typename Scan, typename Each>
Status ForEachUserRow(const Scan& scan, const Each& each) {
  std::string cursor;
  do {
    auto scanned = scan(cursor);
    CHATSTORE_RETURN_IF_ERROR(scanned.status());
    for (auto& row : scanned->users) {
      CHATSTORE_RETURN_IF_ERROR(each(std::move(row)));
    }
    cursor = std::move(scanned->next_cursor);
  } while (!cursor.empty());
  return Status::Ok();
}

Status ForEachPreferences(Store& store, int page,
                          const std::function<Status(UserPreferences)>& each) {
  return ForEachUserRow(
      [&](const std::string& c) { return store.ScanPreferences(c, page); },
      each);
}

Status ForEachUserState(Store& store, int page,
                        const std::function<Status(UserState)>& each) {
  return ForEachUserRow(
      [&](const std::string& c) { return store.ScanUserStates(c, page); },
      each);
}

// What verification compares of one session.
struct SessionDigest {
  std::int64_t messages = 0;
  std::int64_t events = 0;
  std::string checksum;  // hex BLAKE2b-256 of the rendered rows
};

Result<SessionDigest> DigestSession(Store& store, const Session& row,
                                    int page) {
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, crypto_generichash_BYTES);
  const auto add = [&state](const std::string& json) {
    crypto_generichash_update(
        &state, reinterpret_cast<const unsigned char*>(json.data()),
        json.size());
    const unsigned char newline = '\n';
    crypto_generichash_update(&state, &newline, 1);
  };
  SessionDigest digest;
  add(wire::SessionJson(row));
  CHATSTORE_RETURN_IF_ERROR(ForEachMessage(store, row, page, [&](Message m) {
    ++digest.messages;
    add(wire::MessageJson(m));
    return Status::Ok();
  }));
  CHATSTORE_RETURN_IF_ERROR(ForEachEvent(store, row, page, [&](Event e) {
    ++digest.events;
    add(wire::EventJson(e));
    return Status::Ok();
  }));
  std::array<unsigned char, crypto_generichash_BYTES> hash;
  crypto_generichash_final(&state, hash.data(), hash.size());
  std::array<char, crypto_generichash_BYTES * 2 + 1> hex;
  sodium_bin2hex(hex.data(), hex.size(), hash.data(), hash.size());
  digest.checksum = hex.data();
  return digest;
}

}  // namespace

Result<MigrationProgress> MigrateStore(Store& from, Store& to,
                                       const MigrationOptions& options) {
  if (options.page < 1) {
    return Status::InvalidArgument("migration page must be positive");
  }
  MigrationProgress progress;
  if (Result<StoreStats> stats = from.Stats(); stats.ok()) {
    progress.sessions_total = stats->sessions;
  }
  const auto report = [&] {
    if (options.on_progress) options.on_progress(progress);
  };
  bool sliced = false;  // stopped at max_sessions
  CHATSTORE_RETURN_IF_ERROR(
      ForEachSession(from, options.page, [&](Session s) -> Result<bool> {
        ++progress.sessions_seen;
        Result<Session> there = to.GetSession(s.id);
        if (!there.ok() && !there.status().IsNotFound()) {
          return there.status();
        }
        if (there.ok() && there->last_seq == s.last_seq) {
          ++progress.sessions_skipped;
          report();
          return true;
        }
        Result<WholeSession> whole = ReadWholeSession(from, s.id, options.page);
        if (!whole.ok()) {
          // Deleted at the source since the scan saw it: nothing to copy.
          if (whole.status().IsNotFound()) return true;
          return whole.status();
        }
        if (there.ok()) {  // a stale copy: replace it
          Result<EraseCounts> dropped = to.DeleteSession(s.id);
          if (!dropped.ok() && !dropped.status().IsNotFound()) {
            return dropped.status();
          }
        }
        const std::int64_t messages =
            static_cast<std::int64_t>(whole->messages.size());
        const std::int64_t events =
            static_cast<std::int64_t>(whole->events.size());
        CHATSTORE_RETURN_IF_ERROR(to.ImportSession(
            whole->row, std::move(whole->messages), std::move(whole->events)));
        ++progress.sessions_copied;
        progress.messages_copied += messages;
        progress.events_copied += events;
        report();
        sliced = options.max_sessions > 0 &&
                 progress.sessions_copied >= options.max_sessions;
        return !sliced;
      }));
  if (sliced) return progress;  // the next run continues
  CHATSTORE_RETURN_IF_ERROR(
      ForEachPreferences(from, options.page, [&](UserPreferences u) {
        CHATSTORE_RETURN_IF_ERROR(to.PutPreferences(u.user_id, u.preferences));
        ++progress.preferences_copied;
        return Status::Ok();
      }));
  CHATSTORE_RETURN_IF_ERROR(
      ForEachUserState(from, options.page, [&](UserState u) {
        CHATSTORE_RETURN_IF_ERROR(to.PutUserState(u.user_id, u.state));
        ++progress.user_states_copied;
        return Status::Ok();
      }));
  report();
  return progress;
}

Result<VerifyReport> VerifyMigration(Store& from, Store& to,
                                     const MigrationOptions& options) {
  if (options.page < 1) {
    return Status::InvalidArgument("migration page must be positive");
  }
  VerifyReport report;
  const auto differ = [&report](std::string what) {
    ++report.differences;
    if (report.listed.size() < VerifyReport::kMaxListed) {
      report.listed.push_back(std::move(what));
    }
  };
  CHATSTORE_RETURN_IF_ERROR(
      ForEachSession(from, options.page, [&](Session s) -> Result<bool> {
        ++report.sessions_checked;
        Result<Session> there = to.GetSession(s.id);
        if (!there.ok()) {
          if (!there.status().IsNotFound()) return there.status();
          differ("session " + s.id + ": missing at the destination");
          return true;
        }
        CHATSTORE_ASSIGN_OR_RETURN(SessionDigest source,
                                   DigestSession(from, s, options.page));
        CHATSTORE_ASSIGN_OR_RETURN(SessionDigest copy,
                                   DigestSession(to, *there, options.page));
        if (source.messages != copy.messages) {
          differ("session " + s.id + ": " + std::to_string(source.messages) +
                 " messages at the source, " + std::to_string(copy.messages) +
                 " at the destination");
        } else if (source.events != copy.events) {
          differ("session " + s.id + ": " + std::to_string(source.events) +
                 " events at the source, " + std::to_string(copy.events) +
                 " at the destination");
        } else if (source.checksum != copy.checksum) {
          differ("session " + s.id + ": checksum " + source.checksum +
                 " at the source, " + copy.checksum + " at the destination");
        }
        return true;
      }));
  CHATSTORE_RETURN_IF_ERROR(
      ForEachPreferences(from, options.page, [&](UserPreferences u) -> Status {
        ++report.preferences_checked;
        Result<Preferences> there = to.GetPreferences(u.user_id);
        if (!there.ok()) {
          if (!there.status().IsNotFound()) return there.status();
          differ("preferences of user " + u.user_id +
                 ": missing at the destination");
        } else if (there->persist_history != u.preferences.persist_history) {
          differ("preferences of user " + u.user_id + ": differ");
        }
        return Status::Ok();
      }));
  CHATSTORE_RETURN_IF_ERROR(
      ForEachUserState(from, options.page, [&](UserState u) -> Status {
        ++report.user_states_checked;
        CHATSTORE_ASSIGN_OR_RETURN(std::string there,
                                   to.GetUserState(u.user_id));
        if (there != u.state) {
          differ("user: state of user " + u.user_id + ": differs");
        }
        return Status::Ok();
      }));
  return report;
}

}  // namespace chatstore
