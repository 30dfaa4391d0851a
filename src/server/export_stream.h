// GDPR export of one user's data over HTTP: the document of
// chatstore/export.h (docs/export-format.md), produced piece by piece on the
// worker pool and sent with chunked transfer encoding, so it is never held
// in memory.
#ifndef CHATSTORE_SERVER_EXPORT_STREAM_H_
#define CHATSTORE_SERVER_EXPORT_STREAM_H_

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "chatstore/service.h"
#include "server/http_types.h"
#include "server/worker_pool.h"

namespace chatstore::server {

// Serves an export over `stream`: writes `head` with chunked encoding, then
// the document. On a mid-stream failure the connection is closed without the
// final chunk, so the client sees a truncated (not a silently short) body.
boost::asio::awaitable<bool> StreamUserExport(boost::beast::tcp_stream& stream,
                                              SessionService& service,
                                              WorkerPool& pool,
                                              const ExportStart& start,
                                              HttpResponse head);

}  // namespace chatstore::server

#endif  // CHATSTORE_SERVER_EXPORT_STREAM_H_
