// GDPR export of one user's data as one JSON document, streamed with chunked
// transfer encoding: sessions are written one by one and their messages and
// events page by page, so the document is never held in memory.
//
// Document: {"version": 1, "user_id", "exported_at", "preferences",
//            "sessions": [{"session", "messages": [...], "events": [...]}]}
#ifndef CHATSTORE_SERVER_EXPORT_STREAM_H_
#define CHATSTORE_SERVER_EXPORT_STREAM_H_

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "chatstore/service.h"
#include "server/http_types.h"
#include "server/worker_pool.h"

namespace chatstore::server {

// Produces the document piece by piece; each Next() makes at most one
// service call. Blocking: call it on the worker pool. Not thread-safe.
class UserExportCursor {
 public:
  UserExportCursor(SessionService& service, std::string user_id, int page);

  // The next piece of the document; an empty string once it is complete.
  Result<std::string> Next();

 private:
  enum class Phase {
    kHeader,
    kSessionList,
    kSessionStart,
    kMessages,
    kEvents,
    kSessionEnd,
    kFooter,
    kDone,
  };

  SessionService& service_;
  const std::string user_id_;
  const int page_;
  Phase phase_ = Phase::kHeader;
  SessionPage sessions_;
  std::size_t session_index_ = 0;
  bool first_session_ = true;
  bool more_sessions_ = true;
  std::int64_t after_seq_ = 0;
  bool first_item_ = true;
};

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
