#include "server/export_stream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <memory>
#include <utility>

#include "chatstore/export.h"

namespace chatstore::server {
namespace asio = boost::asio;
namespace beast = boost::beast;

asio::awaitable<bool> StreamUserExport(beast::tcp_stream& stream,
                                       SessionService& service,
                                       WorkerPool& pool,
                                       const ExportStart& start,
                                       HttpResponse head) {
  constexpr std::chrono::seconds kWriteTimeout{60};
  constexpr int kPage = 200;
  head.chunked(true);
  stream.expires_after(kWriteTimeout);
  http::response_serializer<http::string_body> serializer(head);
  auto [head_ec, head_n] = co_await http::async_write_header(
      stream, serializer, asio::as_tuple(asio::use_awaitable));
  if (head_ec) co_return false;

  auto cursor =
      std::make_unique<UserExportWriter>(service, start.user_id, kPage);
  while (true) {
    Result<std::string> piece =
        co_await pool.Offload([&cursor] { return cursor->Next(); });
    if (!piece.ok()) co_return false;
    stream.expires_after(kWriteTimeout);
    if (piece->empty()) {
      auto [ec, n] = co_await asio::async_write(
          stream, http::make_chunk_last(), asio::as_tuple(asio::use_awaitable));
      co_return !ec;
    }
    auto [ec, n] = co_await asio::async_write(
        stream, http::make_chunk(asio::buffer(*piece)),
        asio::as_tuple(asio::use_awaitable));
    if (ec) co_return false;
  }
}

}  // namespace chatstore::server
