// A fixed pool of reader connections handed out one thread at a time.
#ifndef CHATSTORE_STORE_SQLITE_READER_POOL_H_
#define CHATSTORE_STORE_SQLITE_READER_POOL_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace chatstore::sqlite {

// Each slot has its own mutex, so there is no pool-wide lock on the read
// path: a thread starts at its own slot (spread round-robin) and takes the
// first free one, and blocks on its own slot only when all are busy.
// Thread-safe.
template <typename Conn>
class ReaderPool {
 public:
  // REQUIRES `conns` is not empty.
  explicit ReaderPool(std::vector<std::unique_ptr<Conn>> conns) {
    slots_.reserve(conns.size());
    for (auto& c : conns)
      slots_.push_back(std::make_unique<Slot>(std::move(c)));
  }

  // Exclusive use of one connection until the Lease is destroyed.
  class Lease {
   public:
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { lock_.unlock(); }
    Conn* operator->() const { return conn_; }
    Conn& operator*() const { return *conn_; }

   private:
    friend class ReaderPool;
    Lease(std::unique_lock<std::mutex> lock, Conn* conn)
        : lock_(std::move(lock)), conn_(conn) {}
    std::unique_lock<std::mutex> lock_;
    Conn* conn_;
  };

  Lease Acquire() {
    const std::size_t n = slots_.size();
    const std::size_t start = HomeSlot() % n;
    for (std::size_t i = 0; i < n; ++i) {
      Slot& s = *slots_[(start + i) % n];
      std::unique_lock lock(s.mu, std::try_to_lock);
      if (lock.owns_lock()) return Lease(std::move(lock), s.conn.get());
    }
    Slot& s = *slots_[start];
    return Lease(std::unique_lock(s.mu), s.conn.get());
  }

  std::size_t size() const { return slots_.size(); }

 private:
  struct Slot {
    explicit Slot(std::unique_ptr<Conn> c) : conn(std::move(c)) {}
    std::mutex mu;
    std::unique_ptr<Conn> conn;
  };

  // A per-thread starting point, so steady readers keep to distinct slots
  // (and distinct connections' warm caches) without coordinating.
  static std::size_t HomeSlot() {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t home = next.fetch_add(1);
    return home;
  }

  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace chatstore::sqlite

#endif  // CHATSTORE_STORE_SQLITE_READER_POOL_H_
