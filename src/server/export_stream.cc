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

#include "core/wire_format.h"
#include "server/resource_json.h"

namespace chatstore::server {
namespace asio = boost::asio;
namespace beast = boost::beast;

UserExportCursor::UserExportCursor(SessionService& service, std::string user_id,
                                   int page)
    : service_(service), user_id_(std::move(user_id)), page_(page) {}

Result<std::string> UserExportCursor::Next() {
  std::string out;
  switch (phase_) {
    case Phase::kHeader: {
      CHATSTORE_ASSIGN_OR_RETURN(Preferences prefs,
                                 service_.GetPreferences(user_id_));
      out += "{\"version\":1,\"user_id\":";
      wire::AppendQuoted(out, user_id_);
      out += ",\"exported_at\":\"";
      out += FormatTimestamp(service_.options().clock->Now());
      out += "\",\"preferences\":";
      out += PreferencesJson(prefs);
      out += ",\"sessions\":[";
      phase_ = Phase::kSessionList;
      return out;
    }
    case Phase::kSessionList: {
      if (!more_sessions_) {
        phase_ = Phase::kFooter;
        return Next();
      }
      std::optional<SessionCursor> after = sessions_.next;
      CHATSTORE_ASSIGN_OR_RETURN(
          sessions_,
          service_.ListSessions(user_id_, std::nullopt, after, page_));
      more_sessions_ = sessions_.next.has_value();
      session_index_ = 0;
      phase_ =
          sessions_.sessions.empty() ? Phase::kFooter : Phase::kSessionStart;
      return Next();
    }
    case Phase::kSessionStart: {
      if (!first_session_) out += ',';
      first_session_ = false;
      out += "{\"session\":";
      out += wire::SessionJson(sessions_.sessions[session_index_]);
      out += ",\"messages\":[";
      after_seq_ = 0;
      first_item_ = true;
      phase_ = Phase::kMessages;
      return out;
    }
    case Phase::kMessages: {
      const Session& session = sessions_.sessions[session_index_];
      Result<MessagePage> page =
          service_.ReadMessages(user_id_, session.id, after_seq_, page_);
      if (!page.ok() && !page.status().IsNotFound()) return page.status();
      if (page.ok()) {
        for (const Message& m : page->messages) {
          if (!first_item_) out += ',';
          first_item_ = false;
          out += wire::MessageJson(m);
        }
      }
      // A session deleted mid-export simply ends early.
      if (!page.ok() || !page->next_after_seq || page->messages.empty()) {
        out += "],\"events\":[";
        after_seq_ = 0;
        first_item_ = true;
        phase_ = Phase::kEvents;
      } else {
        after_seq_ = *page->next_after_seq;
      }
      return out;
    }
    case Phase::kEvents: {
      const Session& session = sessions_.sessions[session_index_];
      Result<EventPage> page =
          service_.ReadEvents(user_id_, session.id, after_seq_, page_);
      if (!page.ok() && !page.status().IsNotFound()) return page.status();
      if (page.ok()) {
        for (const Event& e : page->events) {
          if (!first_item_) out += ',';
          first_item_ = false;
          out += wire::EventJson(e);
        }
      }
      if (!page.ok() || !page->next_after_seq || page->events.empty()) {
        phase_ = Phase::kSessionEnd;
      } else {
        after_seq_ = *page->next_after_seq;
      }
      return out;
    }
    case Phase::kSessionEnd: {
      out += "]}";
      ++session_index_;
      phase_ = session_index_ < sessions_.sessions.size() ? Phase::kSessionStart
                                                          : Phase::kSessionList;
      return out;
    }
    case Phase::kFooter:
      phase_ = Phase::kDone;
      return std::string("]}");
    case Phase::kDone:
      return std::string();
  }
  return std::string();
}

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
      std::make_unique<UserExportCursor>(service, start.user_id, kPage);
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
