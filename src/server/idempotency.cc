#include "server/idempotency.h"

#include <sodium.h>

namespace chatstore::server {

IdempotencyTable::IdempotencyTable(std::size_t max_entries,
                                   std::chrono::seconds ttl)
    : max_entries_(max_entries), ttl_(ttl) {}

std::string IdempotencyTable::TableKey(std::string_view user_id,
                                       std::string_view key) {
  // A NUL cannot occur in either part (header values and JWT subjects are
  // text), so the pair maps to one string unambiguously.
  std::string out(user_id);
  out += '\0';
  out += key;
  return out;
}

void IdempotencyTable::Expire(Clock::time_point now) {
  while (!order_.empty()) {
    auto it = entries_.find(order_.front());
    const bool too_many = entries_.size() > max_entries_;
    if (!too_many && now - it->second.created < ttl_) break;
    entries_.erase(it);
    order_.pop_front();
  }
}

IdempotencyTable::Lookup IdempotencyTable::Begin(std::string_view user_id,
                                                 std::string_view key,
                                                 std::string_view fingerprint,
                                                 Clock::time_point now) {
  std::lock_guard lock(mu_);
  Expire(now);
  std::string table_key = TableKey(user_id, key);
  auto it = entries_.find(table_key);
  if (it != entries_.end()) {
    if (it->second.fingerprint != fingerprint) {
      return {Outcome::kMismatch, std::nullopt};
    }
    if (!it->second.answer) return {Outcome::kInProgress, std::nullopt};
    return {Outcome::kReplay, it->second.answer};
  }
  order_.push_back(table_key);
  entries_.emplace(std::move(table_key),
                   Entry{std::string(fingerprint), now, std::nullopt,
                         std::prev(order_.end())});
  Expire(now);
  return {Outcome::kFirst, std::nullopt};
}

void IdempotencyTable::Finish(std::string_view user_id, std::string_view key,
                              StoredAnswer answer) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(TableKey(user_id, key));
  if (it != entries_.end()) it->second.answer = std::move(answer);
}

void IdempotencyTable::Abandon(std::string_view user_id, std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(TableKey(user_id, key));
  if (it == entries_.end()) return;
  order_.erase(it->second.order);
  entries_.erase(it);
}

std::size_t IdempotencyTable::size() {
  std::lock_guard lock(mu_);
  return entries_.size();
}

std::string RequestFingerprint(std::string_view method, std::string_view target,
                               std::string_view body) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  auto feed = [&](std::string_view part) {
    crypto_hash_sha256_update(
        &state, reinterpret_cast<const unsigned char*>(part.data()),
        part.size());
    const unsigned char separator = '\n';
    crypto_hash_sha256_update(&state, &separator, 1);
  };
  feed(method);
  feed(target);
  feed(body);
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

}  // namespace chatstore::server
