// memory:// — sessions held in process memory.
//
// Layout and locking (no global lock on the append path):
//   sessions_: kSessionShards shards, each a shared_mutex over a map
//              id -> shared_ptr<SessionEntry>. Lookups hold a shard in shared
//              mode only long enough to copy the shared_ptr.
//   SessionEntry::mu: serializes every read and write of one session; Apply
//              runs Mutation::Prepare and writes the batch under it, so a
//              session's seqs are assigned one change at a time.
//   users_:    kUserShards shards of user id -> shared_ptr<UserEntry>; a
//              UserEntry holds the user's session list ordered by
//              (updated_at, id) descending, plus preferences, under its own
//              mutex.
// Lock order: SessionEntry::mu first, then at most one of a session shard or
// (user shard, then UserEntry::mu). A shard is never held while waiting for
// an entry's or a user's mutex, and no mutex is held while waiting for a
// SessionEntry::mu, so no cycle can form.
#include "store/memory/memory_store.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chatstore/store.h"
#include "core/json_util.h"
#include "store/search_words.h"

namespace chatstore {
namespace {

constexpr std::size_t kSessionShards = 64;  // power of two
constexpr std::size_t kUserShards = 16;     // power of two
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

// Heterogeneous lookup, so a string_view finds a std::string key without a
// temporary string.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const {
    return std::hash<std::string_view>{}(s);
  }
};

// A user's session list position: (updated_at ms, id).
struct ListKey {
  std::int64_t updated_ms = 0;
  std::string id;
};

struct NewestFirst {
  bool operator()(const ListKey& a, const ListKey& b) const {
    return std::tie(b.updated_ms, b.id) < std::tie(a.updated_ms, a.id);
  }
};

struct UserEntry {
  std::mutex mu;
  // Set (under mu) when the entry left users_ because it held nothing; a
  // thread that finds a dropped entry looks the user up again.
  bool dropped = false;
  // Status rides along so a filtered listing does not need session locks.
  std::map<ListKey, SessionStatus, NewestFirst> sessions;
  std::optional<Preferences> prefs;
  // The `user:` state document (JSON object text); empty when none.
  std::string state;
};

// An event without its session id and seq, which the entry implies: the
// event at index i has seq i + 1 because the log has no gaps. Delta events
// are the most numerous rows, so they are kept lean.
struct StoredEvent {
  std::string type;
  std::string data;
  Timestamp created_at;
};

struct SessionEntry {
  std::mutex mu;
  bool erased = false;  // removed from sessions_; look the id up again
  Session session;
  // Ascending seq. Messages are heap-allocated so message_by_id's keys (views
  // of Message::id) stay valid as the vector grows.
  std::vector<std::unique_ptr<Message>> messages;
  std::unordered_map<std::string_view, Message*> message_by_id;
  std::vector<StoredEvent> events;  // events[i].seq == i + 1
  std::int64_t bytes = 0;           // approximate, see Stats()
  // A copy of session.expires_at readable without mu, so the sweeper can
  // skip live sessions without locking them. Written under mu.
  std::atomic<std::int64_t> expires_ms{kNever};
  // The owner's entry: set under mu before anyone else can lock the entry,
  // then fixed (sessions never change owner).
  std::shared_ptr<UserEntry> user;
};

template <typename Map>
struct Shard {
  std::shared_mutex mu;
  Map map;
};
using SessionShard =
    Shard<std::unordered_map<std::string, std::shared_ptr<SessionEntry>,
                             StringHash, std::equal_to<>>>;
using UserShard =
    Shard<std::unordered_map<std::string, std::shared_ptr<UserEntry>,
                             StringHash, std::equal_to<>>>;

std::int64_t SessionBytes(const Session& s) {
  return static_cast<std::int64_t>(s.id.size() + s.user_id.size() +
                                   s.title.size() + s.metadata.size() +
                                   s.state.size());
}
std::int64_t MessageBytes(const Message& m) {
  return static_cast<std::int64_t>(m.id.size() + m.content.size() +
                                   m.metadata.size());
}
std::int64_t EventBytes(const Event& e) {
  return static_cast<std::int64_t>(e.type.size() + e.data.size());
}

bool IsExpired(const Session& s, Timestamp now) {
  return s.expires_at.has_value() && *s.expires_at <= now;
}

// ---- Search ----------------------------------------------------------------
// Words are matched by the rules in store/search_words.h (shared with the
// redis backend): a linear scan of the user's messages, fine for the small,
// ephemeral data this store holds.

// Newest first: (created_at, message id) descending.
bool NewerHit(const SearchHit& a, const SearchHit& b) {
  return std::tie(a.created_at, a.message_id) >
         std::tie(b.created_at, b.message_id);
}

// ---- The store -------------------------------------------------------------

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(const StoreOptions& options)
      : clock_(options.clock ? options.clock : SystemClock()),
        max_sessions_(options.memory_max_sessions) {}

  std::string_view kind() const override { return "memory"; }

  void Apply(std::shared_ptr<const Mutation> mutation,
             ApplyCallback done) override;
  Result<Session> GetSession(std::string_view session_id) override;
  Result<Message> GetMessage(std::string_view session_id,
                             std::string_view message_id) override;
  Result<SessionPage> ListSessions(std::string_view user_id,
                                   std::optional<SessionStatus> status,
                                   const std::optional<SessionCursor>& after,
                                   int limit) override;
  Result<std::vector<Event>> ReadEvents(std::string_view session_id,
                                        std::int64_t after_seq,
                                        int limit) override;
  Result<std::vector<Message>> ReadMessages(std::string_view session_id,
                                            std::int64_t after_seq,
                                            int limit) override;
  Result<std::vector<Message>> ReadMessagesBefore(std::string_view session_id,
                                                  std::int64_t before_seq,
                                                  int limit) override;
  Result<EraseCounts> DeleteSession(std::string_view session_id) override;
  Result<EraseCounts> DeleteUser(std::string_view user_id) override;
  Result<SearchPage> Search(std::string_view user_id, std::string_view query,
                            const std::optional<SearchCursor>& after,
                            int limit) override;
  Result<Preferences> GetPreferences(std::string_view user_id) override;
  Status PutPreferences(std::string_view user_id,
                        const Preferences& prefs) override;
  Result<SweepResult> SweepSessions(const SweepRequest& request) override;
  Result<SessionScanPage> ScanSessions(std::string_view cursor,
                                       int limit) override;
  Result<std::string> GetUserState(std::string_view user_id) override;
  Result<UserStateScanPage> ScanUserStates(std::string_view cursor,
                                           int limit) override;
  Status PutUserState(std::string_view user_id,
                      std::string_view state) override;
  Result<PreferencesScanPage> ScanPreferences(std::string_view cursor,
                                              int limit) override;
  Status Ping() override { return Status::Ok(); }
  Result<StoreStats> Stats() override;

 private:
  // A live session, locked. `entry` is null when the session is missing or
  // expired.
  struct Locked {
    std::shared_ptr<SessionEntry> entry;
    std::unique_lock<std::mutex> lock;
  };

  SessionShard& SessionShardFor(std::string_view id) {
    return session_shards_[StringHash{}(id) & (kSessionShards - 1)];
  }
  UserShard& UserShardFor(std::string_view id) {
    return user_shards_[StringHash{}(id) & (kUserShards - 1)];
  }

  std::shared_ptr<SessionEntry> FindEntry(std::string_view id);
  Locked LockLive(std::string_view id);
  std::shared_ptr<UserEntry> FindUser(std::string_view user_id);
  // The user's entry, created when missing, locked and not dropped.
  std::pair<std::shared_ptr<UserEntry>, std::unique_lock<std::mutex>>
  LockUserForWrite(std::string_view user_id);
  // Removes the user's entry when it holds no sessions and no preferences,
  // so anonymous users do not leave a trail behind.
  void MaybeDropUser(const std::string& user_id);

  // Writes `batch`, already checked by CheckBatch, into `e`.
  // REQUIRES: e.mu held.
  void Write(SessionEntry& e, const WriteBatch& batch);
  // Removes `e` from the store and frees its rows. The caller runs
  // MaybeDropUser(user id) after releasing e.mu. REQUIRES: e.mu held.
  EraseCounts EraseLocked(SessionEntry& e);
  // Takes a slot under the session cap, dropping expired sessions first when
  // the store is full.
  Status ReserveSlot(Timestamp now);

  void ApplyToLive(SessionEntry& e, const Mutation& mutation, Timestamp now,
                   const ApplyCallback& done);
  // False when another thread created the same id first (the caller retries
  // against that session).
  bool ApplyCreate(const Mutation& mutation, const ApplyCallback& done);

  const std::shared_ptr<Clock> clock_;
  const std::size_t max_sessions_;
  SessionShard session_shards_[kSessionShards];
  UserShard user_shards_[kUserShards];
  // Sessions held, including expired ones not yet dropped (they still use
  // memory, so the cap counts them).
  std::atomic<std::size_t> session_count_{0};
  std::atomic<std::int64_t> message_count_{0};
  std::atomic<std::int64_t> event_count_{0};
  std::atomic<std::int64_t> byte_count_{0};
};

// Merges the batch's `user:` patch into the user's document (the core's
// merge, so every backend merges alike). REQUIRES: user.mu held.
Status MergeUserState(UserEntry& user, const WriteBatch& batch) {
  CHATSTORE_ASSIGN_OR_RETURN(
      std::string merged,
      json::MergeStateText(user.state.empty() ? "{}" : user.state,
                           *batch.user_state_patch, "state (user: keys)",
                           batch.user_state_max_bytes));
  user.state = merged == "{}" ? std::string() : std::move(merged);
  return Status::Ok();
}

// Checks that a prepared batch continues `e` (or starts a new session when
// `e` holds none): gapless seqs, the same session and owner, message rows
// that exist exactly when they are updated. A violation is a bug in the core;
// refusing it keeps the log intact.
Status CheckBatch(const SessionEntry& e, const WriteBatch& batch,
                  const std::string& session_id) {
  const std::int64_t last = static_cast<std::int64_t>(e.events.size());
  if (batch.session.id != session_id) {
    return Status::Internal("batch is for session " + batch.session.id +
                            ", not " + session_id);
  }
  if (last > 0 && batch.session.user_id != e.session.user_id) {
    return Status::Internal("batch changes the owner of session " + session_id);
  }
  if (batch.events.empty()) {
    return Status::Internal("batch without events for session " + session_id);
  }
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    if (batch.events[i].seq != last + 1 + static_cast<std::int64_t>(i)) {
      return Status::Internal("batch seqs do not continue session " +
                              session_id + " at seq " +
                              std::to_string(last + 1));
    }
  }
  if (batch.session.last_seq != batch.events.back().seq) {
    return Status::Internal("batch last_seq disagrees with its events");
  }
  for (std::size_t i = 0; i < batch.messages.size(); ++i) {
    const Message& row = batch.messages[i].row;
    bool exists = e.message_by_id.contains(row.id);
    for (std::size_t j = 0; j < i; ++j) {
      if (batch.messages[j].created && batch.messages[j].row.id == row.id) {
        exists = true;
      }
    }
    if (batch.messages[i].created == exists) {
      return Status::Internal(
          "batch " + std::string(exists ? "re-creates" : "updates missing") +
          " message " + row.id);
    }
  }
  return Status::Ok();
}

std::shared_ptr<SessionEntry> MemoryStore::FindEntry(std::string_view id) {
  SessionShard& shard = SessionShardFor(id);
  std::shared_lock lock(shard.mu);
  auto it = shard.map.find(id);
  return it == shard.map.end() ? nullptr : it->second;
}

// What every read answers for a session that is missing or expired.
Status SessionNotFound(std::string_view session_id) {
  return Status::NotFound("session " + std::string(session_id) + " not found");
}

MemoryStore::Locked MemoryStore::LockLive(std::string_view id) {
  for (;;) {
    std::shared_ptr<SessionEntry> e = FindEntry(id);
    if (!e) return {};
    std::unique_lock lock(e->mu);
    // An erased entry left the shard before its mutex was released, so a
    // second lookup cannot find it again.
    if (e->erased) continue;
    if (IsExpired(e->session, clock_->Now())) return {};
    return {std::move(e), std::move(lock)};
  }
}

std::shared_ptr<UserEntry> MemoryStore::FindUser(std::string_view user_id) {
  UserShard& shard = UserShardFor(user_id);
  std::shared_lock lock(shard.mu);
  auto it = shard.map.find(user_id);
  return it == shard.map.end() ? nullptr : it->second;
}

std::pair<std::shared_ptr<UserEntry>, std::unique_lock<std::mutex>>
MemoryStore::LockUserForWrite(std::string_view user_id) {
  for (;;) {
    std::shared_ptr<UserEntry> user = FindUser(user_id);
    if (!user) {
      UserShard& shard = UserShardFor(user_id);
      std::unique_lock lock(shard.mu);
      auto [it, inserted] = shard.map.try_emplace(std::string(user_id));
      if (inserted) it->second = std::make_shared<UserEntry>();
      user = it->second;
    }
    std::unique_lock lock(user->mu);
    if (!user->dropped) return {std::move(user), std::move(lock)};
  }
}

void MemoryStore::MaybeDropUser(const std::string& user_id) {
  UserShard& shard = UserShardFor(user_id);
  std::unique_lock shard_lock(shard.mu);
  auto it = shard.map.find(user_id);
  if (it == shard.map.end()) return;
  // Erasing the map's pointer may free the entry: this reference keeps it
  // alive until `lock` (declared after it, so destroyed first) unlocks.
  const std::shared_ptr<UserEntry> user = it->second;
  std::lock_guard lock(user->mu);
  if (!user->sessions.empty() || user->prefs.has_value() ||
      !user->state.empty()) {
    return;
  }
  user->dropped = true;
  shard.map.erase(it);
}

void MemoryStore::Write(SessionEntry& e, const WriteBatch& batch) {
  std::int64_t bytes = SessionBytes(batch.session) - SessionBytes(e.session);
  std::int64_t new_messages = 0;
  e.session = batch.session;
  for (const MessageWrite& w : batch.messages) {
    if (w.created) {
      auto row = std::make_unique<Message>(w.row);
      bytes += MessageBytes(*row);
      e.message_by_id.emplace(row->id, row.get());
      // A new message's seq is that of an event in this batch, so it sorts
      // last; the search keeps the order even if that ever changes.
      auto pos = std::upper_bound(
          e.messages.begin(), e.messages.end(), row->seq,
          [](std::int64_t seq, const auto& m) { return seq < m->seq; });
      e.messages.insert(pos, std::move(row));
      ++new_messages;
    } else {
      auto it = e.message_by_id.find(w.row.id);
      Message* row = it->second;
      bytes += MessageBytes(w.row) - MessageBytes(*row);
      // The key views row->id, which the assignment replaces.
      e.message_by_id.erase(it);
      *row = w.row;
      e.message_by_id.emplace(row->id, row);
    }
  }
  for (const Event& ev : batch.events) {
    bytes += EventBytes(ev);
    e.events.push_back({ev.type, ev.data, ev.created_at});
  }
  e.bytes += bytes;
  e.expires_ms.store(e.session.expires_at ? ToMillis(*e.session.expires_at)
                                          : kNever);
  message_count_ += new_messages;
  event_count_ += static_cast<std::int64_t>(batch.events.size());
  byte_count_ += bytes;
}

EraseCounts MemoryStore::EraseLocked(SessionEntry& e) {
  const EraseCounts counts{1, static_cast<std::int64_t>(e.messages.size()),
                           static_cast<std::int64_t>(e.events.size())};
  e.erased = true;
  {
    SessionShard& shard = SessionShardFor(e.session.id);
    std::unique_lock lock(shard.mu);
    auto it = shard.map.find(e.session.id);
    if (it != shard.map.end() && it->second.get() == &e) shard.map.erase(it);
  }
  {
    std::lock_guard lock(e.user->mu);
    e.user->sessions.erase(
        ListKey{ToMillis(e.session.updated_at), e.session.id});
  }
  session_count_.fetch_sub(1);
  message_count_ -= counts.messages;
  event_count_ -= counts.events;
  byte_count_ -= e.bytes;
  // Free the rows now: readers may still hold the entry for a moment.
  // Assigning empty containers (not clear()) releases their capacity.
  e.message_by_id = decltype(e.message_by_id)();
  e.messages = decltype(e.messages)();
  e.events = decltype(e.events)();
  e.bytes = 0;
  return counts;
}

Status MemoryStore::ReserveSlot(Timestamp now) {
  for (int attempt = 0;; ++attempt) {
    std::size_t n = session_count_.load();
    while (n < max_sessions_) {
      if (session_count_.compare_exchange_weak(n, n + 1)) return Status::Ok();
    }
    if (attempt > 0) {
      return Status::ResourceExhausted("memory store holds its maximum of " +
                                       std::to_string(max_sessions_) +
                                       " sessions");
    }
    (void)SweepSessions(
        {SweepRule::kExpired, now, std::numeric_limits<int>::max()});
  }
}

void MemoryStore::Apply(std::shared_ptr<const Mutation> mutation,
                        ApplyCallback done) {
  const std::string& id = mutation->session_id();
  for (;;) {
    if (std::shared_ptr<SessionEntry> e = FindEntry(id)) {
      std::unique_lock lock(e->mu);
      if (e->erased) continue;
      const Timestamp now = clock_->Now();
      if (!IsExpired(e->session, now)) {
        // `done` runs under the session's lock so that callbacks of one
        // session arrive in seq order.
        ApplyToLive(*e, *mutation, now, done);
        return;
      }
      // Expired reads as missing. Removing it is the sweeper's job (and the
      // cap's), unless the change would create a session under the same id.
      Result<WriteBatch> batch = mutation->Prepare(nullptr, nullptr, now);
      if (!batch.ok() || !batch->creates_session) {
        done(batch.ok() ? Status::Internal("mutation of missing session " + id +
                                           " does not create it")
                        : batch.status());
        return;
      }
      const std::string user_id = e->session.user_id;
      EraseLocked(*e);
      lock.unlock();
      MaybeDropUser(user_id);
      continue;
    }
    if (ApplyCreate(*mutation, done)) return;
  }
}

void MemoryStore::ApplyToLive(SessionEntry& e, const Mutation& mutation,
                              Timestamp now, const ApplyCallback& done) {
  const Message* message = nullptr;
  if (!mutation.message_id().empty()) {
    auto it = e.message_by_id.find(mutation.message_id());
    if (it != e.message_by_id.end()) message = it->second;
  }
  Result<WriteBatch> batch = mutation.Prepare(&e.session, message, now);
  if (!batch.ok()) {
    done(std::move(batch));
    return;
  }
  if (batch->creates_session) {
    done(Status::AlreadyExists("session " + e.session.id + " already exists"));
    return;
  }
  if (Status s = CheckBatch(e, *batch, e.session.id); !s.ok()) {
    done(std::move(s));
    return;
  }
  if (batch->user_state_patch) {
    // Under the session's lock, then the user's (the order every path
    // takes), so the merge and the session's write are one atomic step.
    std::lock_guard lock(e.user->mu);
    if (Status s = MergeUserState(*e.user, *batch); !s.ok()) {
      done(std::move(s));
      return;
    }
  }
  const ListKey old_key{ToMillis(e.session.updated_at), e.session.id};
  const SessionStatus old_status = e.session.status;
  Write(e, *batch);
  const std::int64_t updated_ms = ToMillis(e.session.updated_at);
  if (updated_ms != old_key.updated_ms || e.session.status != old_status) {
    std::lock_guard lock(e.user->mu);
    e.user->sessions.erase(old_key);
    e.user->sessions.emplace(ListKey{updated_ms, e.session.id},
                             e.session.status);
  }
  done(std::move(batch));
}

bool MemoryStore::ApplyCreate(const Mutation& mutation,
                              const ApplyCallback& done) {
  const Timestamp now = clock_->Now();
  Result<WriteBatch> batch = mutation.Prepare(nullptr, nullptr, now);
  if (!batch.ok()) {
    done(std::move(batch));
    return true;
  }
  const std::string& id = mutation.session_id();
  if (!batch->creates_session) {
    done(Status::Internal("mutation of missing session " + id +
                          " does not create it"));
    return true;
  }
  auto e = std::make_shared<SessionEntry>();
  if (Status s = CheckBatch(*e, *batch, id); !s.ok()) {
    done(std::move(s));
    return true;
  }
  if (Status s = ReserveSlot(now); !s.ok()) {
    done(std::move(s));
    return true;
  }
  // Locked before it is published: whoever finds it in the shard waits
  // until it is fully written.
  std::unique_lock lock(e->mu);
  {
    SessionShard& shard = SessionShardFor(id);
    std::unique_lock shard_lock(shard.mu);
    if (!shard.map.try_emplace(id, e).second) {
      session_count_.fetch_sub(1);
      return false;
    }
  }
  {
    auto [user, user_lock] = LockUserForWrite(batch->session.user_id);
    if (batch->user_state_patch) {
      if (Status s = MergeUserState(*user, *batch); !s.ok()) {
        // Nobody has seen the entry yet (its lock is held): withdraw it.
        user_lock.unlock();
        SessionShard& shard = SessionShardFor(id);
        {
          std::unique_lock shard_lock(shard.mu);
          shard.map.erase(id);
        }
        e->erased = true;
        session_count_.fetch_sub(1);
        MaybeDropUser(batch->session.user_id);
        done(std::move(s));
        return true;
      }
    }
    Write(*e, *batch);
    user->sessions.emplace(
        ListKey{ToMillis(e->session.updated_at), e->session.id},
        e->session.status);
    e->user = std::move(user);
  }
  done(std::move(batch));
  return true;
}

Result<Session> MemoryStore::GetSession(std::string_view session_id) {
  Locked l = LockLive(session_id);
  if (!l.entry) return SessionNotFound(session_id);
  return l.entry->session;
}

Result<Message> MemoryStore::GetMessage(std::string_view session_id,
                                        std::string_view message_id) {
  Locked l = LockLive(session_id);
  if (!l.entry) return SessionNotFound(session_id);
  auto it = l.entry->message_by_id.find(message_id);
  if (it == l.entry->message_by_id.end()) {
    return Status::NotFound("message " + std::string(message_id) +
                            " not found");
  }
  return *it->second;
}

Result<SessionPage> MemoryStore::ListSessions(
    std::string_view user_id, std::optional<SessionStatus> status,
    const std::optional<SessionCursor>& after, int limit) {
  SessionPage page;
  if (limit <= 0) return page;
  std::shared_ptr<UserEntry> user = FindUser(user_id);
  if (!user) return page;
  const auto wanted = [&](SessionStatus s) { return !status || s == *status; };
  std::optional<ListKey> pos;
  if (after) pos = ListKey{ToMillis(after->updated_at), after->id};
  const std::size_t want = static_cast<std::size_t>(limit);
  // The index is read in batches under the user's lock and the rows under
  // each session's own lock (never both: the lock order is session ->
  // user). A session removed or expired in between is skipped and the next
  // batch fills the page.
  bool exhausted = false;
  while (page.sessions.size() < want && !exhausted) {
    std::vector<ListKey> keys;
    {
      std::lock_guard lock(user->mu);
      if (user->dropped) break;
      auto it = pos ? user->sessions.upper_bound(*pos) : user->sessions.begin();
      while (it != user->sessions.end() &&
             keys.size() < want - page.sessions.size()) {
        if (wanted(it->second)) keys.push_back(it->first);
        ++it;
      }
      exhausted = it == user->sessions.end();
    }
    for (ListKey& key : keys) {
      Locked l = LockLive(key.id);
      if (l.entry && l.entry->session.user_id == user_id &&
          wanted(l.entry->session.status)) {
        page.sessions.push_back(l.entry->session);
      }
      pos = std::move(key);
    }
  }
  if (page.sessions.size() == want && pos) {
    std::lock_guard lock(user->mu);
    for (auto it = user->sessions.upper_bound(*pos); it != user->sessions.end();
         ++it) {
      if (wanted(it->second)) {
        // The cursor is the index position, which equals the last row's
        // (updated_at, id) unless that row changed while the page was read.
        page.next = SessionCursor{FromMillis(pos->updated_ms), pos->id};
        break;
      }
    }
  }
  return page;
}

Result<std::vector<Event>> MemoryStore::ReadEvents(std::string_view session_id,
                                                   std::int64_t after_seq,
                                                   int limit) {
  Locked l = LockLive(session_id);
  if (!l.entry) return SessionNotFound(session_id);
  const auto& events = l.entry->events;
  const std::int64_t size = static_cast<std::int64_t>(events.size());
  const std::int64_t from = std::clamp<std::int64_t>(after_seq, 0, size);
  const std::int64_t to =
      std::min<std::int64_t>(size, from + std::max(limit, 0));
  std::vector<Event> out;
  out.reserve(static_cast<std::size_t>(to - from));
  for (std::int64_t i = from; i < to; ++i) {
    const StoredEvent& ev = events[static_cast<std::size_t>(i)];
    out.push_back(
        Event{l.entry->session.id, i + 1, ev.type, ev.data, ev.created_at});
  }
  return out;
}

Result<std::vector<Message>> MemoryStore::ReadMessages(
    std::string_view session_id, std::int64_t after_seq, int limit) {
  Locked l = LockLive(session_id);
  if (!l.entry) return SessionNotFound(session_id);
  const auto& messages = l.entry->messages;
  auto it = std::partition_point(
      messages.begin(), messages.end(),
      [after_seq](const auto& m) { return m->seq <= after_seq; });
  std::vector<Message> out;
  for (; it != messages.end() &&
         out.size() < static_cast<std::size_t>(std::max(limit, 0));
       ++it) {
    out.push_back(**it);
  }
  return out;
}

Result<std::vector<Message>> MemoryStore::ReadMessagesBefore(
    std::string_view session_id, std::int64_t before_seq, int limit) {
  Locked l = LockLive(session_id);
  if (!l.entry) return SessionNotFound(session_id);
  const auto& messages = l.entry->messages;
  // Messages are kept in seq order: the page is the run just before the
  // first message at or after `before_seq`, read backwards.
  auto it = std::partition_point(
      messages.begin(), messages.end(),
      [before_seq](const auto& m) { return m->seq < before_seq; });
  std::vector<Message> out;
  while (it != messages.begin() &&
         out.size() < static_cast<std::size_t>(std::max(limit, 0))) {
    --it;
    out.push_back(**it);
  }
  return out;
}

Result<EraseCounts> MemoryStore::DeleteSession(std::string_view session_id) {
  for (;;) {
    std::shared_ptr<SessionEntry> e = FindEntry(session_id);
    if (!e) break;
    std::unique_lock lock(e->mu);
    if (e->erased) continue;
    const bool expired = IsExpired(e->session, clock_->Now());
    const std::string user_id = e->session.user_id;
    const EraseCounts counts = EraseLocked(*e);
    lock.unlock();
    MaybeDropUser(user_id);
    // An expired session is garbage to drop, but to the caller it was
    // already gone.
    if (expired) break;
    return counts;
  }
  return Status::NotFound("session " + std::string(session_id) + " not found");
}

Result<EraseCounts> MemoryStore::DeleteUser(std::string_view user_id) {
  EraseCounts total;
  std::shared_ptr<UserEntry> user = FindUser(user_id);
  if (!user) return total;
  std::vector<std::string> ids;
  {
    std::lock_guard lock(user->mu);
    user->prefs.reset();
    user->state.clear();
    ids.reserve(user->sessions.size());
    for (const auto& [key, status] : user->sessions) ids.push_back(key.id);
  }
  for (const std::string& id : ids) {
    std::shared_ptr<SessionEntry> e = FindEntry(id);
    if (!e) continue;
    std::lock_guard lock(e->mu);
    // Expired sessions are erased and counted too: they are still the
    // user's data until dropped.
    if (e->erased || e->session.user_id != user_id) continue;
    const EraseCounts c = EraseLocked(*e);
    total.sessions += c.sessions;
    total.messages += c.messages;
    total.events += c.events;
  }
  MaybeDropUser(std::string(user_id));
  return total;
}

// Cost: a linear scan of every complete message of the user's sessions,
// O(bytes of the user's messages) per query, with a heap of limit + 1 hits.
// The memory store holds small ephemeral data (anonymous users' chats), for
// which an inverted index would cost more memory than the scan costs time.
Result<SearchPage> MemoryStore::Search(std::string_view user_id,
                                       std::string_view query,
                                       const std::optional<SearchCursor>& after,
                                       int limit) {
  const std::vector<std::string> terms = search::QueryTerms(query);
  if (terms.empty()) {
    return Status::InvalidArgument("search query has no words");
  }
  SearchPage page;
  if (limit <= 0) return page;
  std::shared_ptr<UserEntry> user = FindUser(user_id);
  if (!user) return page;
  std::vector<std::string> ids;
  {
    std::lock_guard lock(user->mu);
    ids.reserve(user->sessions.size());
    for (const auto& [key, status] : user->sessions) ids.push_back(key.id);
  }
  const std::size_t keep = static_cast<std::size_t>(limit) + 1;
  // A heap whose top is the oldest hit kept, so it holds the newest `keep`.
  std::vector<SearchHit> heap;
  for (const std::string& id : ids) {
    Locked l = LockLive(id);
    if (!l.entry || l.entry->session.user_id != user_id) continue;
    for (const auto& m : l.entry->messages) {
      if (m->status != MessageStatus::kComplete) continue;
      if (after && std::tie(m->created_at, m->id) >=
                       std::tie(after->created_at, after->message_id)) {
        continue;
      }
      SearchHit hit{id, m->id, m->seq, {}, m->created_at};
      if (heap.size() == keep && !NewerHit(hit, heap.front())) continue;
      if (!search::MatchesAll(m->content, terms)) continue;
      hit.snippet = search::Snippet(m->content, terms);
      heap.push_back(std::move(hit));
      std::push_heap(heap.begin(), heap.end(), NewerHit);
      if (heap.size() > keep) {
        std::pop_heap(heap.begin(), heap.end(), NewerHit);
        heap.pop_back();
      }
    }
  }
  std::sort_heap(heap.begin(), heap.end(), NewerHit);
  if (heap.size() == keep) {
    heap.pop_back();
    page.next = SearchCursor{heap.back().created_at, heap.back().message_id};
  }
  page.hits = std::move(heap);
  return page;
}

Result<Preferences> MemoryStore::GetPreferences(std::string_view user_id) {
  if (std::shared_ptr<UserEntry> user = FindUser(user_id)) {
    std::lock_guard lock(user->mu);
    if (!user->dropped && user->prefs) return *user->prefs;
  }
  return Status::NotFound("no preferences stored for user " +
                          std::string(user_id));
}

Status MemoryStore::PutPreferences(std::string_view user_id,
                                   const Preferences& prefs) {
  auto [user, lock] = LockUserForWrite(user_id);
  user->prefs = prefs;
  return Status::Ok();
}

Result<std::string> MemoryStore::GetUserState(std::string_view user_id) {
  if (std::shared_ptr<UserEntry> user = FindUser(user_id)) {
    std::lock_guard lock(user->mu);
    if (!user->dropped && !user->state.empty()) return user->state;
  }
  return std::string("{}");
}

Status MemoryStore::PutUserState(std::string_view user_id,
                                 std::string_view state) {
  {
    auto [user, lock] = LockUserForWrite(user_id);
    user->state = state == "{}" ? std::string() : std::string(state);
  }
  MaybeDropUser(std::string(user_id));
  return Status::Ok();
}

// The time a rule orders its sessions by (oldest first).
std::int64_t SweepOrderMs(SweepRule rule, const Session& s) {
  switch (rule) {
    case SweepRule::kExpired:
      return s.expires_at ? ToMillis(*s.expires_at) : kNever;
    case SweepRule::kInactive:
      return ToMillis(s.updated_at);
    case SweepRule::kNeverUsed:
      return ToMillis(s.created_at);
  }
  return kNever;
}

// Cost: every session is looked at (under its lock, except for expiry,
// which the atomic copy answers), O(sessions + limit log limit): the memory
// store holds small ephemeral data, and a sweep runs once a minute.
Result<SweepResult> MemoryStore::SweepSessions(const SweepRequest& request) {
  SweepResult result;
  if (request.limit <= 0) return result;
  const auto keep = static_cast<std::size_t>(request.limit);
  // (order time, id, entry): the id is copied under the entry's lock, since
  // writers assign the whole session row.
  using Candidate =
      std::tuple<std::int64_t, std::string, std::shared_ptr<SessionEntry>>;
  auto older = [](const Candidate& a, const Candidate& b) {
    return std::tie(std::get<0>(a), std::get<1>(a)) <
           std::tie(std::get<0>(b), std::get<1>(b));
  };
  // A max-heap of the `keep` oldest candidates seen so far.
  std::vector<Candidate> heap;
  const std::int64_t cutoff_ms = ToMillis(request.cutoff);
  for (SessionShard& shard : session_shards_) {
    std::vector<std::shared_ptr<SessionEntry>> entries;
    {
      std::shared_lock lock(shard.mu);
      entries.reserve(shard.map.size());
      for (const auto& [id, e] : shard.map) {
        if (request.rule == SweepRule::kExpired &&
            e->expires_ms.load() > cutoff_ms) {
          continue;
        }
        entries.push_back(e);
      }
    }
    for (std::shared_ptr<SessionEntry>& e : entries) {
      std::lock_guard lock(e->mu);
      if (e->erased || !SweepSelects(request, e->session)) continue;
      Candidate c{SweepOrderMs(request.rule, e->session), e->session.id,
                  std::move(e)};
      if (heap.size() == keep && !older(c, heap.front())) continue;
      heap.push_back(std::move(c));
      std::push_heap(heap.begin(), heap.end(), older);
      if (heap.size() > keep) {
        std::pop_heap(heap.begin(), heap.end(), older);
        heap.pop_back();
      }
    }
  }
  std::sort_heap(heap.begin(), heap.end(), older);
  for (const Candidate& c : heap) {
    SessionEntry& e = *std::get<2>(c);
    std::unique_lock lock(e.mu);
    // Checked again under the lock the writers take: a write since the
    // selection may have brought the session out of the rule.
    if (e.erased || !SweepSelects(request, e.session)) continue;
    const std::string user_id = e.session.user_id;
    result.session_ids.push_back(e.session.id);
    const EraseCounts counts = EraseLocked(e);
    lock.unlock();
    MaybeDropUser(user_id);
    result.counts.sessions += counts.sessions;
    result.counts.messages += counts.messages;
    result.counts.events += counts.events;
  }
  return result;
}

// The `limit` smallest keys above `cursor` of the shards' maps whose value
// passes `keep`, ascending, and the scan's next cursor (the last key when
// the page is full). The maps are hashed, so each page looks at every key:
// a full scan costs O(keys x pages), which is fine for what fits in memory.
template <typename Shards, typename Keep>
std::pair<std::vector<std::string>, std::string> KeysAfter(
    Shards& shards, std::string_view cursor, int limit, Keep keep) {
  std::vector<std::string> keys;
  const auto page = static_cast<std::size_t>(limit);
  for (auto& shard : shards) {
    std::shared_lock lock(shard.mu);
    for (const auto& [key, value] : shard.map) {
      if (std::string_view(key) <= cursor || !keep(*value)) continue;
      keys.push_back(key);
      // Keep the vector small: trim to the page whenever it doubles.
      if (keys.size() >= 2 * page) {
        std::nth_element(keys.begin(), keys.begin() + page, keys.end());
        keys.resize(page);
      }
    }
  }
  std::sort(keys.begin(), keys.end());
  std::string next;
  if (keys.size() >= page) {
    keys.resize(page);
    next = keys.back();
  }
  return {std::move(keys), std::move(next)};
}

Result<SessionScanPage> MemoryStore::ScanSessions(std::string_view cursor,
                                                  int limit) {
  if (limit <= 0) return Status::InvalidArgument("scan limit must be positive");
  auto [ids, next] = KeysAfter(session_shards_, cursor, limit,
                               [](const SessionEntry&) { return true; });
  SessionScanPage page;
  page.next_cursor = std::move(next);
  for (const std::string& id : ids) {
    Locked l = LockLive(id);  // skips sessions erased or expired meanwhile
    if (l.entry) page.sessions.push_back(l.entry->session);
  }
  return page;
}

Result<PreferencesScanPage> MemoryStore::ScanPreferences(
    std::string_view cursor, int limit) {
  if (limit <= 0) return Status::InvalidArgument("scan limit must be positive");
  auto [ids, next] = KeysAfter(user_shards_, cursor, limit, [](UserEntry& u) {
    std::lock_guard lock(u.mu);
    return u.prefs.has_value();
  });
  PreferencesScanPage page;
  page.next_cursor = std::move(next);
  for (std::string& id : ids) {
    Result<Preferences> prefs = GetPreferences(id);
    if (prefs.ok()) page.users.push_back({std::move(id), *prefs});
  }
  return page;
}

Result<UserStateScanPage> MemoryStore::ScanUserStates(std::string_view cursor,
                                                      int limit) {
  if (limit <= 0) return Status::InvalidArgument("scan limit must be positive");
  auto [ids, next] = KeysAfter(user_shards_, cursor, limit, [](UserEntry& u) {
    std::lock_guard lock(u.mu);
    return !u.state.empty();
  });
  UserStateScanPage page;
  page.next_cursor = std::move(next);
  for (std::string& id : ids) {
    CHATSTORE_ASSIGN_OR_RETURN(std::string state, GetUserState(id));
    if (state != "{}") page.users.push_back({std::move(id), std::move(state)});
  }
  return page;
}

Result<StoreStats> MemoryStore::Stats() {
  StoreStats stats;
  stats.sessions = static_cast<std::int64_t>(session_count_.load());
  stats.messages = message_count_.load();
  stats.events = event_count_.load();
  stats.bytes = byte_count_.load();
  return stats;
}

}  // namespace

Result<std::shared_ptr<Store>> OpenMemoryStore(std::string_view rest,
                                               const StoreOptions& options) {
  // `rest` is reserved for options (memory_store.h) and ignored today.
  if (options.memory_max_sessions == 0) {
    return Status::InvalidArgument("memory_max_sessions must be positive");
  }
  return std::shared_ptr<Store>(std::make_shared<MemoryStore>(options));
}

}  // namespace chatstore
