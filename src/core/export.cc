#include "chatstore/export.h"

#include <optional>
#include <string>
#include <utility>

#include "core/wire_format.h"

namespace chatstore {

UserExportWriter::UserExportWriter(SessionService& service, std::string user_id,
                                   int page)
    : service_(service), user_id_(std::move(user_id)), page_(page) {}

Result<std::string> UserExportWriter::Next() {
  std::string out;
  switch (phase_) {
    case Phase::kHeader: {
      CHATSTORE_ASSIGN_OR_RETURN(Preferences prefs,
                                 service_.GetPreferences(user_id_));
      out += "{\"version\":";
      out += std::to_string(kExportFormatVersion);
      out += ",\"user_id\":";
      wire::AppendQuoted(out, user_id_);
      out += ",\"exported_at\":\"";
      out += FormatTimestamp(service_.options().clock->Now());
      out += "\",\"preferences\":";
      out += wire::PreferencesJson(prefs);
      // The user's `user:` keys once, as stored (the sessions below show
      // them merged into their state too; docs/export-format.md).
      CHATSTORE_ASSIGN_OR_RETURN(std::string user_state,
                                 service_.UserState(user_id_));
      out += ",\"user_state\":";
      out += user_state;
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
      if (sessions_written_ > 0) out += ',';
      ++sessions_written_;
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
          ++messages_written_;
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

Status WriteUserExport(UserExportWriter& writer,
                       const std::function<Status(std::string_view)>& sink) {
  for (;;) {
    CHATSTORE_ASSIGN_OR_RETURN(std::string piece, writer.Next());
    if (piece.empty()) return Status::Ok();
    CHATSTORE_RETURN_IF_ERROR(sink(piece));
  }
}

}  // namespace chatstore
