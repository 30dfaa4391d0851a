// redis:// — the Store on one Redis server (docs/redis.md: key layout,
// atomicity, search cost, what Redis Cluster would change).
//
// Writes are optimistic: Apply reads the session (and message) in one
// MULTI/EXEC snapshot, runs Mutation::Prepare in C++, and hands the batch to
// a Lua script that writes it only if the session's (gen, last_seq) is still
// what was read. Every write bumps last_seq, so an unchanged last_seq means
// nothing of the session changed, its messages included; gen is random per
// creation, so a deleted and re-created session cannot pass for the old
// one. On a mismatch (another process wrote first) Apply reads and prepares
// again. Inside this process, Apply also holds a per-session striped mutex
// from the read to the `done` callback: that keeps callbacks in seq order
// (store.h's contract) and leaves the CAS to arbitrate between processes.
#include "store/redis/redis_store.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "chatstore/store.h"
#include "core/json_util.h"
#include "store/redis/redis_connection.h"
#include "store/redis/redis_errors.h"
#include "store/redis/redis_keys.h"
#include "store/redis/redis_rows.h"
#include "store/redis/redis_scripts.h"
#include "store/search_words.h"

namespace chatstore {
namespace {

using redis::Command;
using redis::Reply;
using redis::StoredSession;

constexpr std::size_t kPoolSize = 8;
constexpr std::size_t kApplyStripes = 256;
// Conflicts only come from other processes writing the same session at the
// same moment; each retry sees their result, so a handful suffices.
constexpr int kMaxAttempts = 32;
// EXPIRE only reclaims memory if the sweeper never ran: expiry is decided by
// the injected clock, and Redis's own clock may disagree with it, so keys
// outlive expires_at by a margin.
constexpr std::int64_t kExpireMarginSeconds = 3600;
// Index pages read per round trip while filtering (listing, search).
constexpr std::size_t kScanBatch = 128;

std::string_view Str(const redisReply* r) {
  return r && r->str ? std::string_view(r->str, r->len) : std::string_view();
}

bool IsNil(const redisReply* r) { return r->type == REDIS_REPLY_NIL; }

bool IsExpired(const Session& s, Timestamp now) {
  return s.expires_at.has_value() && *s.expires_at <= now;
}

Status SessionNotFound(std::string_view sid) {
  return Status::NotFound("session " + std::string(sid) + " not found");
}

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng;
}

// A session incarnation token (see redis_rows.h StoredSession).
std::string NewGen() {
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t v = Rng()();
  std::string out(16, '0');
  for (char& c : out) {
    c = kHex[v & 15];
    v >>= 4;
  }
  return out;
}

// Jittered exponential backoff so two writers that collided do not collide
// again in lockstep.
void Backoff(int attempt) {
  const int cap_ms = std::min(50, 1 << std::min(attempt, 6));
  std::uniform_int_distribution<int> dist(0, cap_ms * 1000);
  std::this_thread::sleep_for(std::chrono::microseconds(dist(Rng())));
}

Status CheckElements(const redisReply* array, std::string_view what) {
  for (std::size_t i = 0; i < array->elements; ++i) {
    CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(array->element[i], what));
  }
  return Status::Ok();
}

// A position in a sorted-set index: its score (ms) and member.
struct IndexPos {
  std::int64_t ms = 0;
  std::string member;
};

// The part of a member that orders equal scores: the session id for the
// session indexes; the message id (before '|') for the search index.
std::string_view OrderKey(std::string_view member) {
  return member.substr(0, member.find('|'));
}

// A search index member "<message id>|<session id>", split.
struct SearchMember {
  std::string_view message_id;
  std::string_view session_id;
};
SearchMember SplitSearchMember(std::string_view member) {
  const std::string_view mid = OrderKey(member);
  return {mid, member.substr(std::min(mid.size() + 1, member.size()))};
}

// Checks that a prepared batch continues the stored session (or creates
// it): the same session and owner, gapless seqs. A violation is a core bug;
// refusing it keeps the log intact.
Status CheckBatch(const StoredSession* stored, const WriteBatch& batch,
                  const std::string& sid) {
  if (batch.session.id != sid) {
    return Status::Internal("batch is for session " + batch.session.id +
                            ", not " + sid);
  }
  if (batch.events.empty()) {
    return Status::Internal("batch without events for session " + sid);
  }
  if (batch.creates_session != (stored == nullptr)) {
    if (stored != nullptr) {
      return Status::AlreadyExists("session " + sid + " already exists");
    }
    return Status::Internal("mutation of missing session " + sid +
                            " does not create it");
  }
  const std::int64_t last = stored ? stored->row.last_seq : 0;
  if (stored && stored->row.user_id != batch.session.user_id) {
    return Status::Internal("batch changes the owner of session " + sid);
  }
  for (std::size_t i = 0; i < batch.events.size(); ++i) {
    if (batch.events[i].seq != last + 1 + static_cast<std::int64_t>(i)) {
      return Status::Internal("batch seqs do not continue session " + sid);
    }
  }
  if (batch.session.last_seq != batch.events.back().seq) {
    return Status::Internal("batch last_seq disagrees with its events");
  }
  return Status::Ok();
}

class RedisStore final : public Store {
 public:
  RedisStore(const redis::Endpoint& endpoint, const StoreOptions& options)
      : clock_(options.clock ? options.clock : SystemClock()),
        pool_(endpoint, kPoolSize),
        apply_script_(redis::kApplyScript),
        delete_script_(redis::kDeleteScript) {}

  // Loads the scripts; Unavailable when the server cannot be reached.
  Status Init() {
    redis::ConnectionPool::Lease conn = pool_.Acquire();
    CHATSTORE_RETURN_IF_ERROR(apply_script_.Load(*conn));
    return delete_script_.Load(*conn);
  }

  std::string_view kind() const override { return "redis"; }

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
  Status Ping() override;
  Result<StoreStats> Stats() override;

 private:
  std::mutex& StripeFor(std::string_view sid) {
    return stripes_[std::hash<std::string_view>{}(sid) % kApplyStripes];
  }

  // One optimistic attempt: the written batch, nullopt on a CAS conflict,
  // or the error to give the caller (Prepare's or Redis's).
  Result<std::optional<WriteBatch>> TryApply(const Mutation& mutation);
  // Runs the delete script for `s`: counts, or nullopt when the session
  // is another incarnation than `s` or, with `only_unchanged`, was written
  // since `s` was read.
  Result<std::optional<EraseCounts>> RunDelete(redis::Connection& conn,
                                               const StoredSession& s,
                                               bool only_unchanged = false);
  // Deletes the session if it is still the incarnation `gen`, retrying on
  // conflicts. nullopt when it is gone. REQUIRES: no lease held.
  Result<std::optional<EraseCounts>> DeleteLocked(std::string_view sid,
                                                  bool count_expired);
  Result<std::optional<StoredSession>> LoadSession(std::string_view sid);
  // Up to `count` index entries strictly after `pos` in (score, order key)
  // descending order.
  // The messages whose ids `range` (a ZRANGE-like command on the seq
  // index) returns, in its order, read with the session row in one
  // transaction. NotFound when the session is missing or expired.
  Result<std::vector<Message>> ReadMessageRange(std::string_view session_id,
                                                Command range, int limit);
  Result<std::vector<IndexPos>> IndexAfter(const std::string& key,
                                           const std::optional<IndexPos>& pos,
                                           std::size_t count);
  // Best effort: drops index entries of sessions Redis already removed
  // (EXPIRE reclaimed them before the sweeper ran).
  void ForgetStaleSessions(std::string_view user_id,
                           const std::vector<std::string>& sids);
  // One SCAN step over the keys matching `prefix`*`suffix`: the ids the
  // `*` stood for, and the next cursor ("" when the scan is complete).
  Result<std::pair<std::vector<std::string>, std::string>> ScanKeys(
      std::string_view cursor, int limit, std::string_view prefix,
      std::string_view suffix);

  const std::shared_ptr<Clock> clock_;
  redis::ConnectionPool pool_;
  redis::Script apply_script_;
  redis::Script delete_script_;
  std::array<std::mutex, kApplyStripes> stripes_;
};

Result<std::optional<StoredSession>> RedisStore::LoadSession(
    std::string_view sid) {
  CHATSTORE_ASSIGN_OR_RETURN(Reply reply,
                             pool_.Run({"HGETALL", redis::keys::Session(sid)}));
  CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(reply.get(), "HGETALL"));
  return redis::DecodeSession(reply.get());
}

void RedisStore::Apply(std::shared_ptr<const Mutation> mutation,
                       ApplyCallback done) {
  const std::string& sid = mutation->session_id();
  std::lock_guard lock(StripeFor(sid));
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0) Backoff(attempt);
    Result<std::optional<WriteBatch>> outcome = TryApply(*mutation);
    if (!outcome.ok()) {
      done(outcome.status());
      return;
    }
    if (outcome->has_value()) {
      // Still under the stripe lock: the next change to this session waits
      // until its predecessor's callback returned.
      done(std::move(**outcome));
      return;
    }
  }
  done(Status::Unavailable("redis: session " + sid +
                           " kept changing; gave up "
                           "after " +
                           std::to_string(kMaxAttempts) + " attempts"));
}

Result<std::optional<WriteBatch>> RedisStore::TryApply(
    const Mutation& mutation) {
  const std::string& sid = mutation.session_id();
  const std::string& mid = mutation.message_id();
  redis::ConnectionPool::Lease conn = pool_.Acquire();
  std::vector<Command> reads = {{"HGETALL", redis::keys::Session(sid)}};
  if (!mid.empty()) reads.push_back({"HGET", redis::keys::Messages(sid), mid});
  // One snapshot: the message row matches the session's last_seq that the
  // CAS checks.
  CHATSTORE_ASSIGN_OR_RETURN(Reply snap, conn->Transaction(reads));
  CHATSTORE_RETURN_IF_ERROR(CheckElements(snap.get(), "load session"));
  CHATSTORE_ASSIGN_OR_RETURN(std::optional<StoredSession> stored,
                             redis::DecodeSession(snap->element[0]));
  const Timestamp now = clock_->Now();
  std::optional<Message> message;
  if (stored && !mid.empty() && !IsNil(snap->element[1])) {
    CHATSTORE_ASSIGN_OR_RETURN(
        message, redis::DecodeMessage(Str(snap->element[1]), sid));
  }
  // Expired reads as missing.
  const bool expired = stored && IsExpired(stored->row, now);
  const bool live = stored && !expired;
  CHATSTORE_ASSIGN_OR_RETURN(
      WriteBatch batch,
      mutation.Prepare(live ? &stored->row : nullptr,
                       live && message ? &*message : nullptr, now));
  if (expired) {
    // Removing an expired session is the sweeper's job (which counts it),
    // unless this change creates a session under the same id: then the old
    // one goes first so that the create finds the id free.
    if (!batch.creates_session) {
      return Status::Internal("mutation of missing session " + sid +
                              " does not create it");
    }
    CHATSTORE_ASSIGN_OR_RETURN(std::optional<EraseCounts> dropped,
                               RunDelete(*conn, *stored));
    if (!dropped) return std::optional<WriteBatch>();
    stored.reset();
  }
  CHATSTORE_RETURN_IF_ERROR(
      CheckBatch(stored ? &*stored : nullptr, batch, sid));

  const Session& s = batch.session;
  std::vector<std::string> keys;
  keys.reserve(13);
  for (std::string& k : redis::keys::SessionKeys(sid)) {
    keys.push_back(std::move(k));
  }
  keys.push_back(redis::keys::UserSessions(s.user_id));
  keys.push_back(redis::keys::UserSessionsWithStatus(
      s.user_id, stored ? stored->row.status : s.status));
  keys.push_back(redis::keys::UserSessionsWithStatus(s.user_id, s.status));
  keys.push_back(redis::keys::UserSearch(s.user_id));
  keys.emplace_back(redis::keys::kExpiry);
  keys.emplace_back(redis::keys::kStats);
  keys.emplace_back(redis::keys::kActivity);
  keys.emplace_back(redis::keys::kNeverUsed);
  keys.push_back(redis::keys::UserState(s.user_id));

  // The user's document as it is now, merged here with the core's merge;
  // the script replaces it only if it is still this text (CAS).
  std::string user_before;
  std::string user_after;
  if (batch.user_state_patch) {
    CHATSTORE_ASSIGN_OR_RETURN(
        Reply cur, conn->Run({"GET", redis::keys::UserState(s.user_id)}));
    CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(cur.get(), "GET"));
    if (!IsNil(cur.get())) user_before = std::string(Str(cur.get()));
    CHATSTORE_ASSIGN_OR_RETURN(
        user_after,
        json::MergeStateText(user_before.empty() ? "{}" : user_before,
                             *batch.user_state_patch, "state (user: keys)",
                             batch.user_state_max_bytes));
    if (user_after == "{}") user_after.clear();
  }

  std::vector<std::string> fields =
      redis::SessionFieldsDiff(stored ? &stored->row : nullptr, s);
  if (!stored) {
    fields.emplace_back("gen");
    fields.push_back(NewGen());
  }
  std::vector<std::string> args;
  args.reserve(16 + fields.size() + batch.messages.size() * 5 +
               batch.events.size() * 2);
  args.push_back(stored ? stored->gen : std::string());
  args.push_back(std::to_string(stored ? stored->row.last_seq : 0));
  args.push_back(std::to_string(ToMillis(s.updated_at)));
  args.push_back(sid);
  if (s.expires_at) {
    const auto real_now = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::now().time_since_epoch());
    const std::int64_t left = ToMillis(*s.expires_at) / 1000 - real_now.count();
    args.push_back(std::to_string(ToMillis(*s.expires_at)));
    args.push_back(
        std::to_string(std::max<std::int64_t>(left, 0) + kExpireMarginSeconds));
  } else {
    args.emplace_back();
    args.emplace_back();
  }
  args.push_back(stored ? "0" : "1");
  args.push_back(std::to_string(fields.size() / 2));
  for (std::string& f : fields) args.push_back(std::move(f));
  args.push_back(std::to_string(batch.messages.size()));
  for (const MessageWrite& w : batch.messages) {
    args.push_back(w.row.id);
    args.push_back(std::to_string(w.row.seq));
    args.push_back(redis::EncodeMessage(w.row));
    args.push_back(w.created ? "1" : "0");
    // Only complete messages are searchable (streaming text is partial).
    args.push_back(w.row.status == MessageStatus::kComplete
                       ? std::to_string(ToMillis(w.row.created_at))
                       : std::string());
  }
  args.push_back(std::to_string(batch.events.size()));
  for (const Event& e : batch.events) {
    args.push_back(std::to_string(e.seq));
    args.push_back(redis::EncodeEvent(e));
  }
  args.push_back(batch.user_state_patch ? "1" : "0");
  args.push_back(std::move(user_before));
  args.push_back(std::move(user_after));
  CHATSTORE_ASSIGN_OR_RETURN(Reply written,
                             apply_script_.Eval(*conn, keys, args));
  if (written->type != REDIS_REPLY_INTEGER) {
    return Status::Internal("redis: apply script answered a non-integer");
  }
  if (written->integer == 0) return std::optional<WriteBatch>();
  return std::optional<WriteBatch>(std::move(batch));
}

Result<std::optional<EraseCounts>> RedisStore::RunDelete(
    redis::Connection& conn, const StoredSession& s, bool only_unchanged) {
  const std::string& sid = s.row.id;
  const std::string& uid = s.row.user_id;
  std::vector<std::string> keys;
  keys.reserve(15);
  for (std::string& k : redis::keys::SessionKeys(sid)) {
    keys.push_back(std::move(k));
  }
  keys.push_back(redis::keys::UserSessions(uid));
  keys.push_back(redis::keys::UserSearch(uid));
  keys.emplace_back(redis::keys::kExpiry);
  keys.emplace_back(redis::keys::kStats);
  for (SessionStatus st : redis::keys::kAllStatuses) {
    keys.push_back(redis::keys::UserSessionsWithStatus(uid, st));
  }
  keys.emplace_back(redis::keys::kActivity);
  keys.emplace_back(redis::keys::kNeverUsed);
  std::vector<std::string> args = {s.gen, sid};
  if (only_unchanged) args.push_back(std::to_string(s.row.last_seq));
  CHATSTORE_ASSIGN_OR_RETURN(Reply reply,
                             delete_script_.Eval(conn, keys, args));
  if (IsNil(reply.get())) return std::optional<EraseCounts>();
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
    return Status::Internal("redis: delete script answered an unknown shape");
  }
  return std::optional<EraseCounts>(
      EraseCounts{1, reply->element[0]->integer, reply->element[1]->integer});
}

Result<std::optional<EraseCounts>> RedisStore::DeleteLocked(
    std::string_view sid, bool count_expired) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0) Backoff(attempt);
    redis::ConnectionPool::Lease conn = pool_.Acquire();
    CHATSTORE_ASSIGN_OR_RETURN(
        Reply reply, conn->Run({"HGETALL", redis::keys::Session(sid)}));
    CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(reply.get(), "HGETALL"));
    CHATSTORE_ASSIGN_OR_RETURN(std::optional<StoredSession> stored,
                               redis::DecodeSession(reply.get()));
    if (!stored) return std::optional<EraseCounts>();
    CHATSTORE_ASSIGN_OR_RETURN(std::optional<EraseCounts> counts,
                               RunDelete(*conn, *stored));
    if (!counts) continue;
    // An expired session is garbage to drop, but to a caller asking for
    // this one session it was already gone.
    if (!count_expired && IsExpired(stored->row, clock_->Now())) {
      return std::optional<EraseCounts>();
    }
    return counts;
  }
  return Status::Unavailable("redis: session " + std::string(sid) +
                             " kept changing while being deleted");
}

Result<Session> RedisStore::GetSession(std::string_view session_id) {
  CHATSTORE_ASSIGN_OR_RETURN(std::optional<StoredSession> stored,
                             LoadSession(session_id));
  if (!stored || IsExpired(stored->row, clock_->Now())) {
    return SessionNotFound(session_id);
  }
  return std::move(stored->row);
}

Result<Message> RedisStore::GetMessage(std::string_view session_id,
                                       std::string_view message_id) {
  CHATSTORE_ASSIGN_OR_RETURN(
      Reply snap,
      pool_.Transaction({{"HGETALL", redis::keys::Session(session_id)},
                         {"HGET", redis::keys::Messages(session_id),
                          std::string(message_id)}}));
  CHATSTORE_RETURN_IF_ERROR(CheckElements(snap.get(), "GetMessage"));
  CHATSTORE_ASSIGN_OR_RETURN(std::optional<StoredSession> stored,
                             redis::DecodeSession(snap->element[0]));
  if (!stored || IsExpired(stored->row, clock_->Now())) {
    return SessionNotFound(session_id);
  }
  if (IsNil(snap->element[1])) {
    return Status::NotFound("message " + std::string(message_id) +
                            " not found");
  }
  return redis::DecodeMessage(Str(snap->element[1]), session_id);
}

Result<std::vector<Event>> RedisStore::ReadEvents(std::string_view session_id,
                                                  std::int64_t after_seq,
                                                  int limit) {
  std::vector<Command> reads = {{"HGETALL", redis::keys::Session(session_id)}};
  if (limit > 0) {
    // One O(log n + limit) range read: members carry the whole event.
    reads.push_back({"ZRANGEBYSCORE", redis::keys::Events(session_id),
                     "(" + std::to_string(after_seq), "+inf", "LIMIT", "0",
                     std::to_string(limit)});
  }
  CHATSTORE_ASSIGN_OR_RETURN(Reply snap, pool_.Transaction(reads));
  CHATSTORE_RETURN_IF_ERROR(CheckElements(snap.get(), "ReadEvents"));
  CHATSTORE_ASSIGN_OR_RETURN(std::optional<StoredSession> stored,
                             redis::DecodeSession(snap->element[0]));
  if (!stored || IsExpired(stored->row, clock_->Now())) {
    return SessionNotFound(session_id);
  }
  std::vector<Event> out;
  if (limit <= 0) return out;
  const redisReply* members = snap->element[1];
  out.reserve(members->elements);
  for (std::size_t i = 0; i < members->elements; ++i) {
    CHATSTORE_ASSIGN_OR_RETURN(
        Event e, redis::DecodeEvent(Str(members->element[i]), session_id));
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<Message>> RedisStore::ReadMessages(
    std::string_view session_id, std::int64_t after_seq, int limit) {
  return ReadMessageRange(
      session_id,
      {"ZRANGEBYSCORE", redis::keys::MessageSeqs(session_id),
       "(" + std::to_string(after_seq), "+inf", "LIMIT", "0",
       std::to_string(limit)},
      limit);
}

Result<std::vector<Message>> RedisStore::ReadMessagesBefore(
    std::string_view session_id, std::int64_t before_seq, int limit) {
  // The seq index is a sorted set: a reverse range by score is O(log n + k).
  return ReadMessageRange(
      session_id,
      {"ZREVRANGEBYSCORE", redis::keys::MessageSeqs(session_id),
       "(" + std::to_string(before_seq), "-inf", "LIMIT", "0",
       std::to_string(limit)},
      limit);
}

Result<std::vector<Message>> RedisStore::ReadMessageRange(
    std::string_view session_id, Command range, int limit) {
  std::vector<Command> reads = {{"HGETALL", redis::keys::Session(session_id)}};
  if (limit > 0) reads.push_back(std::move(range));
  CHATSTORE_ASSIGN_OR_RETURN(Reply snap, pool_.Transaction(reads));
  CHATSTORE_RETURN_IF_ERROR(CheckElements(snap.get(), "ReadMessages"));
  CHATSTORE_ASSIGN_OR_RETURN(std::optional<StoredSession> stored,
                             redis::DecodeSession(snap->element[0]));
  if (!stored || IsExpired(stored->row, clock_->Now())) {
    return SessionNotFound(session_id);
  }
  std::vector<Message> out;
  if (limit <= 0 || snap->element[1]->elements == 0) return out;
  // Rows are only ever replaced, never removed without the whole session,
  // so reading them after the index (a second round trip) is consistent
  // enough: a row is at least as new as the index entry.
  Command hmget = {"HMGET", redis::keys::Messages(session_id)};
  for (std::size_t i = 0; i < snap->element[1]->elements; ++i) {
    hmget.emplace_back(Str(snap->element[1]->element[i]));
  }
  CHATSTORE_ASSIGN_OR_RETURN(Reply rows, pool_.Run(hmget));
  CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(rows.get(), "HMGET"));
  out.reserve(rows->elements);
  for (std::size_t i = 0; i < rows->elements; ++i) {
    if (IsNil(rows->element[i])) continue;  // deleted meanwhile
    CHATSTORE_ASSIGN_OR_RETURN(
        Message m, redis::DecodeMessage(Str(rows->element[i]), session_id));
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<IndexPos>> RedisStore::IndexAfter(
    const std::string& key, const std::optional<IndexPos>& pos,
    std::size_t count) {
  std::vector<IndexPos> out;
  const std::string n = std::to_string(count);
  if (!pos) {
    CHATSTORE_ASSIGN_OR_RETURN(
        Reply r, pool_.Run({"ZREVRANGEBYSCORE", key, "+inf", "-inf",
                            "WITHSCORES", "LIMIT", "0", n}));
    CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(r.get(), "ZREVRANGEBYSCORE"));
    for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
      out.push_back({redis::ParseInt64(Str(r->element[i + 1])).value_or(0),
                     std::string(Str(r->element[i]))});
    }
    return out;
  }
  // Keyset "strictly after (ms, key)" in descending order is: members with
  // score == ms whose order key is smaller, then every member with a lower
  // score. A sorted set orders equal scores by member bytes, so the first
  // part is the tail of one equal-score range (normally a handful of
  // entries: those written in the same millisecond).
  const std::string ms = std::to_string(pos->ms);
  CHATSTORE_ASSIGN_OR_RETURN(
      Reply snap, pool_.Transaction({{"ZRANGEBYSCORE", key, ms, ms},
                                     {"ZREVRANGEBYSCORE", key, "(" + ms, "-inf",
                                      "WITHSCORES", "LIMIT", "0", n}}));
  CHATSTORE_RETURN_IF_ERROR(CheckElements(snap.get(), "index page"));
  const redisReply* same = snap->element[0];
  const std::string_view cursor_key = OrderKey(pos->member);
  for (std::size_t i = same->elements; i-- > 0 && out.size() < count;) {
    const std::string_view member = Str(same->element[i]);
    if (OrderKey(member) < cursor_key) {
      out.push_back({pos->ms, std::string(member)});
    }
  }
  const redisReply* lower = snap->element[1];
  for (std::size_t i = 0; i + 1 < lower->elements && out.size() < count;
       i += 2) {
    out.push_back({redis::ParseInt64(Str(lower->element[i + 1])).value_or(0),
                   std::string(Str(lower->element[i]))});
  }
  return out;
}

void RedisStore::ForgetStaleSessions(std::string_view user_id,
                                     const std::vector<std::string>& sids) {
  if (sids.empty()) return;
  std::vector<std::string> keys = {redis::keys::UserSessions(user_id)};
  for (SessionStatus st : redis::keys::kAllStatuses) {
    keys.push_back(redis::keys::UserSessionsWithStatus(user_id, st));
  }
  std::vector<Command> commands;
  for (const std::string& k : keys) {
    Command zrem = {"ZREM", k};
    zrem.insert(zrem.end(), sids.begin(), sids.end());
    commands.push_back(std::move(zrem));
  }
  Command zrem = {"ZREM", std::string(redis::keys::kExpiry)};
  zrem.insert(zrem.end(), sids.begin(), sids.end());
  commands.push_back(std::move(zrem));
  // Best effort: a failure leaves entries that the next reader skips again.
  (void)pool_.Pipeline(commands);
}

Result<SessionPage> RedisStore::ListSessions(
    std::string_view user_id, std::optional<SessionStatus> status,
    const std::optional<SessionCursor>& after, int limit) {
  SessionPage page;
  if (limit <= 0) return page;
  const std::string index =
      status ? redis::keys::UserSessionsWithStatus(user_id, *status)
             : redis::keys::UserSessions(user_id);
  std::optional<IndexPos> pos;
  if (after) pos = IndexPos{ToMillis(after->updated_at), after->id};
  // One row more than asked tells whether another page follows.
  const std::size_t want = static_cast<std::size_t>(limit) + 1;
  std::vector<std::pair<Session, IndexPos>> live;
  const Timestamp now = clock_->Now();
  bool exhausted = false;
  while (live.size() < want && !exhausted) {
    const std::size_t batch = std::max(want - live.size(), kScanBatch);
    CHATSTORE_ASSIGN_OR_RETURN(std::vector<IndexPos> entries,
                               IndexAfter(index, pos, batch));
    exhausted = entries.size() < batch;
    if (entries.empty()) break;
    std::vector<Command> reads;
    reads.reserve(entries.size());
    for (const IndexPos& e : entries) {
      reads.push_back({"HGETALL", redis::keys::Session(e.member)});
    }
    CHATSTORE_ASSIGN_OR_RETURN(std::vector<Reply> rows, pool_.Pipeline(reads));
    std::vector<std::string> stale;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      pos = entries[i];
      if (live.size() == want) break;
      CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(rows[i].get(), "HGETALL"));
      CHATSTORE_ASSIGN_OR_RETURN(std::optional<StoredSession> s,
                                 redis::DecodeSession(rows[i].get()));
      if (!s) {
        stale.push_back(entries[i].member);
        continue;
      }
      // Expired sessions read as missing; the sweeper removes them.
      if (s->row.user_id != user_id || IsExpired(s->row, now) ||
          (status && s->row.status != *status)) {
        continue;
      }
      live.emplace_back(std::move(s->row), entries[i]);
    }
    ForgetStaleSessions(user_id, stale);
  }
  if (live.size() == want) {
    live.pop_back();
    // The cursor is the index position, which equals the row's
    // (updated_at, id) unless the row changed while the page was read.
    const IndexPos& last = live.back().second;
    page.next = SessionCursor{FromMillis(last.ms), last.member};
  }
  page.sessions.reserve(live.size());
  for (auto& [session, index_pos] : live) {
    page.sessions.push_back(std::move(session));
  }
  return page;
}

Result<EraseCounts> RedisStore::DeleteSession(std::string_view session_id) {
  std::lock_guard lock(StripeFor(session_id));
  CHATSTORE_ASSIGN_OR_RETURN(std::optional<EraseCounts> counts,
                             DeleteLocked(session_id, false));
  if (!counts) return SessionNotFound(session_id);
  return *counts;
}

Result<EraseCounts> RedisStore::DeleteUser(std::string_view user_id) {
  EraseCounts total;
  const std::string index = redis::keys::UserSessions(user_id);
  // Rounds, because sessions created while we erase join the index; each
  // round removes what it listed, so this ends unless the user keeps
  // creating sessions as fast as they are erased.
  constexpr int kMaxRounds = 100;
  for (int round = 0; round < kMaxRounds; ++round) {
    CHATSTORE_ASSIGN_OR_RETURN(Reply r,
                               pool_.Run({"ZRANGE", index, "0", "999"}));
    CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(r.get(), "ZRANGE"));
    if (r->elements == 0) break;
    std::vector<std::string> stale;
    for (std::size_t i = 0; i < r->elements; ++i) {
      const std::string sid(Str(r->element[i]));
      std::lock_guard lock(StripeFor(sid));
      // Expired sessions are erased and counted too: they are still the
      // user's data until dropped.
      CHATSTORE_ASSIGN_OR_RETURN(std::optional<EraseCounts> c,
                                 DeleteLocked(sid, true));
      if (!c) {
        stale.push_back(sid);
        continue;
      }
      total.sessions += c->sessions;
      total.messages += c->messages;
      total.events += c->events;
    }
    ForgetStaleSessions(user_id, stale);
  }
  std::vector<std::string> del = {"DEL", redis::keys::UserPrefs(user_id),
                                  redis::keys::UserState(user_id),
                                  redis::keys::UserSearch(user_id), index};
  for (SessionStatus st : redis::keys::kAllStatuses) {
    del.push_back(redis::keys::UserSessionsWithStatus(user_id, st));
  }
  CHATSTORE_ASSIGN_OR_RETURN(Reply r, pool_.Run(del));
  CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(r.get(), "DEL"));
  return total;
}

// Cost: the user's complete messages are indexed by created_at in one sorted
// set; a query walks it newest first from the cursor, fetching rows in
// pipelined batches of kScanBatch and matching words in C++, until limit + 1
// hits. So a query costs O(complete messages newer than the last hit) reads
// and content bytes: all of the user's messages when few match.
Result<SearchPage> RedisStore::Search(std::string_view user_id,
                                      std::string_view query,
                                      const std::optional<SearchCursor>& after,
                                      int limit) {
  const std::vector<std::string> terms = search::QueryTerms(query);
  if (terms.empty()) {
    return Status::InvalidArgument("search query has no words");
  }
  SearchPage page;
  if (limit <= 0) return page;
  const std::string index = redis::keys::UserSearch(user_id);
  std::optional<IndexPos> pos;
  if (after) pos = IndexPos{ToMillis(after->created_at), after->message_id};
  const std::size_t want = static_cast<std::size_t>(limit) + 1;
  const Timestamp now = clock_->Now();
  bool exhausted = false;
  while (page.hits.size() < want && !exhausted) {
    CHATSTORE_ASSIGN_OR_RETURN(std::vector<IndexPos> entries,
                               IndexAfter(index, pos, kScanBatch));
    exhausted = entries.size() < kScanBatch;
    if (entries.empty()) break;
    std::vector<Command> reads;
    reads.reserve(entries.size() * 2);
    for (const IndexPos& e : entries) {
      const SearchMember m = SplitSearchMember(e.member);
      reads.push_back({"HMGET", redis::keys::Session(m.session_id), "user_id",
                       "expires_at"});
      reads.push_back({"HGET", redis::keys::Messages(m.session_id),
                       std::string(m.message_id)});
    }
    CHATSTORE_ASSIGN_OR_RETURN(std::vector<Reply> rows, pool_.Pipeline(reads));
    std::vector<std::string> stale;
    for (std::size_t i = 0; i < entries.size() && page.hits.size() < want;
         ++i) {
      pos = entries[i];
      const redisReply* owner = rows[2 * i].get();
      const redisReply* row = rows[2 * i + 1].get();
      CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(owner, "HMGET"));
      CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(row, "HGET"));
      if (IsNil(owner->element[0]) || IsNil(row)) {
        stale.push_back(entries[i].member);
        continue;
      }
      if (Str(owner->element[0]) != user_id) continue;
      if (!IsNil(owner->element[1]) && Str(owner->element[1]) != "") {
        const auto expires = redis::ParseInt64(Str(owner->element[1]));
        if (expires && FromMillis(*expires) <= now) continue;
      }
      CHATSTORE_ASSIGN_OR_RETURN(
          Message m,
          redis::DecodeMessage(
              Str(row), SplitSearchMember(entries[i].member).session_id));
      if (m.status != MessageStatus::kComplete) continue;
      if (!search::MatchesAll(m.content, terms)) continue;
      page.hits.push_back(SearchHit{m.session_id, m.id, m.seq,
                                    search::Snippet(m.content, terms),
                                    m.created_at});
    }
    if (!stale.empty()) {
      Command zrem = {"ZREM", index};
      zrem.insert(zrem.end(), stale.begin(), stale.end());
      (void)pool_.Run(zrem);  // best effort, like ForgetStaleSessions
    }
  }
  if (page.hits.size() == want) {
    page.hits.pop_back();
    page.next =
        SearchCursor{page.hits.back().created_at, page.hits.back().message_id};
  }
  return page;
}

Result<Preferences> RedisStore::GetPreferences(std::string_view user_id) {
  CHATSTORE_ASSIGN_OR_RETURN(
      Reply r,
      pool_.Run({"HGET", redis::keys::UserPrefs(user_id), "persist_history"}));
  CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(r.get(), "HGET"));
  if (IsNil(r.get())) {
    return Status::NotFound("no preferences stored for user " +
                            std::string(user_id));
  }
  Preferences prefs;
  prefs.persist_history = Str(r.get()) == "1";
  return prefs;
}

Status RedisStore::PutPreferences(std::string_view user_id,
                                  const Preferences& prefs) {
  CHATSTORE_ASSIGN_OR_RETURN(
      Reply r,
      pool_.Run({"HSET", redis::keys::UserPrefs(user_id), "persist_history",
                 prefs.persist_history ? "1" : "0"}));
  return redis::CheckReply(r.get(), "HSET");
}

Result<std::string> RedisStore::GetUserState(std::string_view user_id) {
  CHATSTORE_ASSIGN_OR_RETURN(
      Reply r, pool_.Run({"GET", redis::keys::UserState(user_id)}));
  CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(r.get(), "GET"));
  if (IsNil(r.get())) return std::string("{}");
  return std::string(Str(r.get()));
}

Status RedisStore::PutUserState(std::string_view user_id,
                                std::string_view state) {
  Command command = {"DEL", redis::keys::UserState(user_id)};
  if (state != "{}") {
    command = {"SET", redis::keys::UserState(user_id), std::string(state)};
  }
  CHATSTORE_ASSIGN_OR_RETURN(Reply r, pool_.Run(command));
  return redis::CheckReply(r.get(), command[0]);
}

Result<SweepResult> RedisStore::SweepSessions(const SweepRequest& request) {
  SweepResult result;
  if (request.limit <= 0) return result;
  // Each rule's work list, scored by the time the rule compares.
  std::string set;
  std::string max;
  switch (request.rule) {
    case SweepRule::kExpired:
      set = redis::keys::kExpiry;
      max = std::to_string(ToMillis(request.cutoff));
      break;
    case SweepRule::kInactive:
      set = redis::keys::kActivity;
      max = "(" + std::to_string(ToMillis(request.cutoff));
      break;
    case SweepRule::kNeverUsed:
      set = redis::keys::kNeverUsed;
      max = "(" + std::to_string(ToMillis(request.cutoff));
      break;
  }
  CHATSTORE_ASSIGN_OR_RETURN(
      Reply r, pool_.Run({"ZRANGEBYSCORE", set, "-inf", max, "LIMIT", "0",
                          std::to_string(request.limit)}));
  CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(r.get(), "ZRANGEBYSCORE"));
  for (std::size_t i = 0; i < r->elements; ++i) {
    const std::string sid(Str(r->element[i]));
    std::lock_guard lock(StripeFor(sid));
    CHATSTORE_ASSIGN_OR_RETURN(std::optional<StoredSession> stored,
                               LoadSession(sid));
    if (!stored) {
      // Redis's EXPIRE got there first; its user's index entries are
      // dropped lazily by the next listing.
      (void)pool_.Run({"ZREM", set, sid});
      continue;
    }
    // A write since the range read may have taken it out of the rule.
    if (!SweepSelects(request, stored->row)) continue;
    redis::ConnectionPool::Lease conn = pool_.Acquire();
    // Deleted only if still the version just checked: another instance's
    // append in between moves last_seq and makes the script refuse.
    CHATSTORE_ASSIGN_OR_RETURN(std::optional<EraseCounts> c,
                               RunDelete(*conn, *stored, true));
    if (!c) continue;  // changed meanwhile: the next sweep looks again
    result.session_ids.push_back(sid);
    result.counts.sessions += c->sessions;
    result.counts.messages += c->messages;
    result.counts.events += c->events;
  }
  return result;
}

Status RedisStore::Ping() {
  CHATSTORE_ASSIGN_OR_RETURN(Reply r, pool_.Run({"PING"}));
  return redis::CheckReply(r.get(), "PING");
}

Result<std::pair<std::vector<std::string>, std::string>> RedisStore::ScanKeys(
    std::string_view cursor, int limit, std::string_view prefix,
    std::string_view suffix) {
  if (limit <= 0) return Status::InvalidArgument("scan limit must be positive");
  const std::string start = cursor.empty() ? "0" : std::string(cursor);
  if (!redis::ParseInt64(start).has_value()) {
    return Status::InvalidArgument("not a redis scan cursor: " + start);
  }
  std::string pattern(prefix);
  pattern.append("*").append(suffix);
  CHATSTORE_ASSIGN_OR_RETURN(
      Reply r, pool_.Run({"SCAN", start, "MATCH", pattern, "COUNT",
                          std::to_string(limit)}));
  CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(r.get(), "SCAN"));
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
    return Status::Internal("redis: unexpected SCAN reply");
  }
  std::string next(Str(r->element[0]));
  if (next == "0") next.clear();
  std::vector<std::string> ids;
  const redisReply* keys = r->element[1];
  for (std::size_t i = 0; i < keys->elements; ++i) {
    const std::string_view key = Str(keys->element[i]);
    if (key.size() < prefix.size() + suffix.size()) continue;
    ids.emplace_back(
        key.substr(prefix.size(), key.size() - prefix.size() - suffix.size()));
  }
  return std::pair{std::move(ids), std::move(next)};
}

// SCAN over the session rows' keys: no index is needed (and none has to be
// kept in step by every write), at the price of SCAN's guarantees: a key
// may come back twice, and the page size is a hint.
Result<SessionScanPage> RedisStore::ScanSessions(std::string_view cursor,
                                                 int limit) {
  CHATSTORE_ASSIGN_OR_RETURN(auto step, ScanKeys(cursor, limit, "cs:{", "}:s"));
  SessionScanPage page;
  page.next_cursor = std::move(step.second);
  if (step.first.empty()) return page;
  std::vector<Command> reads;
  for (const std::string& sid : step.first) {
    reads.push_back({"HGETALL", redis::keys::Session(sid)});
  }
  CHATSTORE_ASSIGN_OR_RETURN(std::vector<Reply> rows, pool_.Pipeline(reads));
  const Timestamp now = clock_->Now();
  for (const Reply& row : rows) {
    CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(row.get(), "HGETALL"));
    CHATSTORE_ASSIGN_OR_RETURN(std::optional<StoredSession> stored,
                               redis::DecodeSession(row.get()));
    // Gone since SCAN saw it, or expired: not part of the store.
    if (!stored || IsExpired(stored->row, now)) continue;
    page.sessions.push_back(std::move(stored->row));
  }
  return page;
}

Result<PreferencesScanPage> RedisStore::ScanPreferences(std::string_view cursor,
                                                        int limit) {
  CHATSTORE_ASSIGN_OR_RETURN(auto step,
                             ScanKeys(cursor, limit, "cs:u:{", "}:prefs"));
  PreferencesScanPage page;
  page.next_cursor = std::move(step.second);
  if (step.first.empty()) return page;
  std::vector<Command> reads;
  for (const std::string& uid : step.first) {
    reads.push_back({"HGET", redis::keys::UserPrefs(uid), "persist_history"});
  }
  CHATSTORE_ASSIGN_OR_RETURN(std::vector<Reply> values, pool_.Pipeline(reads));
  for (std::size_t i = 0; i < values.size(); ++i) {
    CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(values[i].get(), "HGET"));
    if (IsNil(values[i].get())) continue;
    page.users.push_back(
        {std::move(step.first[i]), Preferences{Str(values[i].get()) == "1"}});
  }
  return page;
}

Result<UserStateScanPage> RedisStore::ScanUserStates(std::string_view cursor,
                                                     int limit) {
  CHATSTORE_ASSIGN_OR_RETURN(auto step,
                             ScanKeys(cursor, limit, "cs:u:{", "}:state"));
  UserStateScanPage page;
  page.next_cursor = std::move(step.second);
  if (step.first.empty()) return page;
  std::vector<Command> reads;
  for (const std::string& uid : step.first) {
    reads.push_back({"GET", redis::keys::UserState(uid)});
  }
  CHATSTORE_ASSIGN_OR_RETURN(std::vector<Reply> values, pool_.Pipeline(reads));
  for (std::size_t i = 0; i < values.size(); ++i) {
    CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(values[i].get(), "GET"));
    if (IsNil(values[i].get())) continue;
    page.users.push_back(
        {std::move(step.first[i]), std::string(Str(values[i].get()))});
  }
  return page;
}

Result<StoreStats> RedisStore::Stats() {
  CHATSTORE_ASSIGN_OR_RETURN(
      std::vector<Reply> r,
      pool_.Pipeline({{"HMGET", std::string(redis::keys::kStats), "sessions",
                       "messages", "events"},
                      {"INFO", "memory"}}));
  CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(r[0].get(), "HMGET"));
  CHATSTORE_RETURN_IF_ERROR(redis::CheckReply(r[1].get(), "INFO"));
  auto counter = [&](std::size_t i) {
    return redis::ParseInt64(Str(r[0]->element[i])).value_or(0);
  };
  StoreStats stats;
  stats.sessions = counter(0);
  stats.messages = counter(1);
  stats.events = counter(2);
  // The whole server's memory: Redis has no per-prefix accounting.
  const std::string_view info = Str(r[1].get());
  constexpr std::string_view kUsed = "used_memory:";
  if (const auto at = info.find(kUsed); at != std::string_view::npos) {
    const std::string_view rest = info.substr(at + kUsed.size());
    stats.bytes = redis::ParseInt64(rest.substr(0, rest.find_first_of("\r\n")))
                      .value_or(0);
  }
  return stats;
}

}  // namespace

Result<std::shared_ptr<Store>> OpenRedisStore(std::string_view rest,
                                              const StoreOptions& options) {
  CHATSTORE_ASSIGN_OR_RETURN(redis::Endpoint endpoint,
                             redis::ParseEndpoint(rest));
  auto store = std::make_shared<RedisStore>(endpoint, options);
  CHATSTORE_RETURN_IF_ERROR(store->Init());
  return std::shared_ptr<Store>(std::move(store));
}

}  // namespace chatstore
