// Runs blocking SessionService calls off the I/O threads: a coroutine awaits
// Offload() and resumes on its own executor when the work is done, so I/O
// threads never wait on a store.
#ifndef CHATSTORE_SERVER_WORKER_POOL_H_
#define CHATSTORE_SERVER_WORKER_POOL_H_

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace chatstore::server {

class WorkerPool {
 public:
  explicit WorkerPool(std::size_t threads) : pool_(threads) {}

  // Runs `work()` on a worker thread; the awaiting coroutine resumes on its
  // own executor with the result. `work` must not throw.
  template <typename Work>
  auto Offload(Work work)
      -> boost::asio::awaitable<std::invoke_result_t<Work&>> {
    using Value = std::invoke_result_t<Work&>;
    return boost::asio::async_initiate<decltype(boost::asio::use_awaitable),
                                       void(Value)>(
        [this](auto handler, Work work) {
          boost::asio::post(pool_, [handler = std::move(handler),
                                    work = std::move(work)]() mutable {
            Value value = work();
            auto executor = boost::asio::get_associated_executor(handler);
            boost::asio::dispatch(executor,
                                  [handler = std::move(handler),
                                   value = std::move(value)]() mutable {
                                    std::move(handler)(std::move(value));
                                  });
          });
        },
        boost::asio::use_awaitable, std::move(work));
  }

  // Waits for queued and running work to finish; no new work runs after.
  void Join() { pool_.join(); }

 private:
  boost::asio::thread_pool pool_;
};

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_WORKER_POOL_H_
