// A bounded pool of database connections, opened lazily and replaced when
// they break. Generic over the connection type so that this header needs no
// pqxx (the backend instantiates it with pqxx::connection in a .cc file).
#ifndef CHATSTORE_STORE_POSTGRES_CONNECTION_POOL_H_
#define CHATSTORE_STORE_POSTGRES_CONNECTION_POOL_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace chatstore::postgres {

// Thread-safe. At most `capacity` connections exist at once; a caller that
// finds none idle opens one (outside the pool's lock) when below capacity,
// else waits up to `acquire_timeout` for one to come back.
template <typename Conn>
class ConnectionPool {
 public:
  // Opens a ready connection (statements prepared). May throw; the
  // exception reaches the caller of Acquire().
  using Factory = std::function<std::unique_ptr<Conn>()>;

  // A connection checked out of the pool. Returned to the pool when
  // destroyed, unless Discard() was called (a broken connection).
  class Lease {
   public:
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)),
          conn_(std::move(other.conn_)),
          fresh_(other.fresh_) {}
    Lease& operator=(Lease&& other) noexcept {
      if (this != &other) {
        if (pool_ != nullptr) pool_->Return(std::move(conn_));
        pool_ = std::exchange(other.pool_, nullptr);
        conn_ = std::move(other.conn_);
        fresh_ = other.fresh_;
      }
      return *this;
    }
    Lease(const Lease&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Return(std::move(conn_));
    }

    Conn& operator*() const { return *conn_; }
    Conn* operator->() const { return conn_.get(); }
    // True when Acquire() opened this connection, false when it was idle in
    // the pool (and may have died while it waited there).
    bool fresh() const { return fresh_; }
    // Closes the connection instead of returning it.
    void Discard() { conn_.reset(); }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<Conn> conn, bool fresh)
        : pool_(pool), conn_(std::move(conn)), fresh_(fresh) {}
    ConnectionPool* pool_;
    std::unique_ptr<Conn> conn_;
    bool fresh_;
  };

  // REQUIRES: capacity > 0.
  ConnectionPool(std::size_t capacity,
                 std::chrono::milliseconds acquire_timeout, Factory factory)
      : capacity_(capacity),
        acquire_timeout_(acquire_timeout),
        factory_(std::move(factory)) {}
  // REQUIRES: no Lease outlives the pool.
  ~ConnectionPool() = default;
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // An idle connection, or a new one. nullopt when all `capacity`
  // connections stayed busy for `acquire_timeout`. Rethrows what the
  // factory throws (e.g. the server is down).
  std::optional<Lease> Acquire() {
    std::unique_lock lock(mu_);
    const bool got = cv_.wait_for(lock, acquire_timeout_, [this] {
      return !idle_.empty() || open_ < capacity_;
    });
    if (!got) return std::nullopt;
    if (!idle_.empty()) {
      std::unique_ptr<Conn> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn), /*fresh=*/false);
    }
    ++open_;  // reserve the slot, then connect without holding the lock
    lock.unlock();
    try {
      return Lease(this, factory_(), /*fresh=*/true);
    } catch (...) {
      lock.lock();
      --open_;
      cv_.notify_one();
      throw;
    }
  }

  // Closes every idle connection. Called when one connection was found
  // broken: a server restart breaks them all, and each caller should not
  // have to discover that on its own.
  void DiscardIdle() {
    std::vector<std::unique_ptr<Conn>> doomed;
    {
      std::lock_guard lock(mu_);
      doomed.swap(idle_);
      open_ -= doomed.size();
      cv_.notify_all();
    }
    // `doomed` closes its connections here, outside the lock.
  }

  std::size_t capacity() const { return capacity_; }

 private:
  void Return(std::unique_ptr<Conn> conn) {
    std::lock_guard lock(mu_);
    if (conn) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
    cv_.notify_one();
  }

  const std::size_t capacity_;
  const std::chrono::milliseconds acquire_timeout_;
  const Factory factory_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;  // guarded by mu_
  std::size_t open_ = 0;  // idle + leased + being opened; guarded by mu_
};

}  // namespace chatstore::postgres

#endif  // CHATSTORE_STORE_POSTGRES_CONNECTION_POOL_H_
