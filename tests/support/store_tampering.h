// Writes behind a store decorator's back, as an attacker with write access
// to the storage would: for tests of encryption at rest.
#ifndef CHATSTORE_TESTS_SUPPORT_STORE_TAMPERING_H_
#define CHATSTORE_TESTS_SUPPORT_STORE_TAMPERING_H_

#include <string>
#include <utility>

#include "chatstore/store.h"

namespace chatstore::testing {

// Replaces one message's stored content with `content` (and appends an
// event whose data is a malformed envelope, as a write needs one).
class OverwriteContent final : public Mutation {
 public:
  OverwriteContent(std::string session_id, std::string message_id,
                   std::string content)
      : session_id_(std::move(session_id)),
        message_id_(std::move(message_id)),
        content_(std::move(content)) {}
  const std::string& session_id() const override { return session_id_; }
  const std::string& message_id() const override { return message_id_; }
  Result<WriteBatch> Prepare(const Session* session, const Message* message,
                             Timestamp now) const override {
    if (session == nullptr || message == nullptr) {
      return Status::NotFound("no such message");
    }
    WriteBatch batch;
    batch.session = *session;
    batch.session.last_seq += 1;
    MessageWrite write{*message, false};
    write.row.content = content_;
    batch.messages.push_back(std::move(write));
    batch.events.push_back(Event{session_id_, batch.session.last_seq,
                                 "test.overwrite", R"({"enc":"v1:a:AAAA"})",
                                 now});
    return batch;
  }

 private:
  std::string session_id_, message_id_, content_;
};

}  // namespace chatstore::testing

#endif  // CHATSTORE_TESTS_SUPPORT_STORE_TAMPERING_H_
