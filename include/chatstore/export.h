// The GDPR export of one user: one JSON document with the user's
// preferences and every session with its messages and events
// (docs/export-format.md documents it). It is produced piece by piece —
// sessions one at a time, messages and events a page at a time — so its
// memory does not grow with the user's data. chatstored streams it as a
// chunked HTTP body; `chatstore export` writes it to a file.
#ifndef CHATSTORE_EXPORT_H_
#define CHATSTORE_EXPORT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "chatstore/service.h"
#include "chatstore/status.h"
#include "chatstore/types.h"

namespace chatstore {

// The document's "version" field. It changes only when a field is removed
// or changes meaning; new fields may appear within a version.
inline constexpr int kExportFormatVersion = 1;

// Produces the document of `user_id` through `service` (so it reads every
// store the user's sessions live in). Each Next() makes at most one service
// call. Blocking; not thread-safe. REQUIRES: `service` outlives the writer.
class UserExportWriter {
 public:
  // `page`: messages or events read per call (1 .. the service's max page).
  UserExportWriter(SessionService& service, std::string user_id,
                   int page = 200);

  // The next piece of the document; an empty string once it is complete.
  // A session deleted during the export ends early (its arrays close); any
  // other store error is returned, and the document is then incomplete.
  Result<std::string> Next();

  // Sessions and messages written so far (for an audit record or a
  // progress line).
  std::int64_t sessions_written() const { return sessions_written_; }
  std::int64_t messages_written() const { return messages_written_; }

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
  bool more_sessions_ = true;
  std::int64_t after_seq_ = 0;
  bool first_item_ = true;
  std::int64_t sessions_written_ = 0;
  std::int64_t messages_written_ = 0;
};

// Writes the whole document to `sink`, one piece per call; stops at the
// first error of the store or of the sink and returns it.
Status WriteUserExport(UserExportWriter& writer,
                       const std::function<Status(std::string_view)>& sink);

}  // namespace chatstore

#endif  // CHATSTORE_EXPORT_H_
