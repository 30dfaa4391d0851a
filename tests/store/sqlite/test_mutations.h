// Minimal Mutations for testing the sqlite store by itself, independent of
// the core's real mutations: they follow the Mutation contract (seqs numbered
// from last_seq, one event per change) and nothing more.
#ifndef CHATSTORE_TESTS_STORE_SQLITE_TEST_MUTATIONS_H_
#define CHATSTORE_TESTS_STORE_SQLITE_TEST_MUTATIONS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chatstore/store.h"

namespace chatstore::sqlite_test {

// A mutation that needs no message row.
class SessionMutation : public Mutation {
 public:
  explicit SessionMutation(std::string session_id)
      : session_id_(std::move(session_id)) {}
  const std::string& session_id() const override { return session_id_; }
  const std::string& message_id() const override { return no_message_; }

 private:
  std::string session_id_;
  std::string no_message_;
};

// Creates the session (AlreadyExists when it exists) with event 1,
// "session.created". Ephemeral when `expires_at` is set.
class CreateTestSession final : public SessionMutation {
 public:
  CreateTestSession(std::string id, std::string user_id,
                    std::optional<Timestamp> expires_at = std::nullopt)
      : SessionMutation(std::move(id)),
        user_id_(std::move(user_id)),
        expires_at_(expires_at) {}

  Result<WriteBatch> Prepare(const Session* session, const Message*,
                             Timestamp now) const override {
    if (session != nullptr) {
      return Status::AlreadyExists("session " + session_id() + " exists");
    }
    WriteBatch b;
    b.creates_session = true;
    b.session.id = session_id();
    b.session.user_id = user_id_;
    b.session.title = "test session";
    b.session.persistent = !expires_at_.has_value();
    b.session.last_seq = 1;
    b.session.created_at = now;
    b.session.updated_at = now;
    b.session.expires_at = expires_at_;
    b.events.push_back({session_id(), 1, "session.created", "{}", now});
    return b;
  }

 private:
  std::string user_id_;
  std::optional<Timestamp> expires_at_;
};

// Appends one "test.x" event with data {"n":n}. NotFound without a session.
class AppendTestEvent final : public SessionMutation {
 public:
  AppendTestEvent(std::string session_id, std::int64_t n)
      : SessionMutation(std::move(session_id)), n_(n) {}

  Result<WriteBatch> Prepare(const Session* session, const Message*,
                             Timestamp now) const override {
    if (session == nullptr) {
      return Status::NotFound("session " + session_id() + " not found");
    }
    WriteBatch b;
    b.session = *session;
    b.session.last_seq = session->last_seq + 1;
    b.session.updated_at = now;
    b.events.push_back({session_id(), b.session.last_seq, "test.x",
                        "{\"n\":" + std::to_string(n_) + "}", now});
    return b;
  }

 private:
  std::int64_t n_;
};

// Adds a user message (complete unless told otherwise) with its
// "message.created" event, whose data repeats the content as the core's
// does. `content` must need no JSON escaping.
class AddTestMessage final : public Mutation {
 public:
  AddTestMessage(std::string session_id, std::string message_id,
                 std::string content,
                 MessageStatus status = MessageStatus::kComplete)
      : session_id_(std::move(session_id)),
        message_id_(std::move(message_id)),
        content_(std::move(content)),
        status_(status) {}

  const std::string& session_id() const override { return session_id_; }
  const std::string& message_id() const override { return message_id_; }

  Result<WriteBatch> Prepare(const Session* session, const Message* message,
                             Timestamp now) const override {
    if (session == nullptr) {
      return Status::NotFound("session " + session_id_ + " not found");
    }
    if (message != nullptr) {
      return Status::AlreadyExists("message " + message_id_ + " exists");
    }
    WriteBatch b;
    b.session = *session;
    b.session.last_seq = session->last_seq + 1;
    b.session.message_count = session->message_count + 1;
    b.session.updated_at = now;
    Message m;
    m.id = message_id_;
    m.session_id = session_id_;
    m.seq = b.session.last_seq;
    m.role = Role::kUser;
    m.content = content_;
    m.status = status_;
    if (status_ == MessageStatus::kComplete) m.tokens = 3;
    m.created_at = now;
    m.updated_at = now;
    b.messages.push_back({m, /*created=*/true});
    b.events.push_back(
        {session_id_, m.seq, "message.created",
         "{\"id\":\"" + message_id_ + "\",\"content\":\"" + content_ + "\"}",
         now});
    return b;
  }

 private:
  std::string session_id_;
  std::string message_id_;
  std::string content_;
  MessageStatus status_;
};

// Completes a streaming message with its final content. NotFound without
// the message, Conflict when it is already complete.
class CompleteTestMessage final : public Mutation {
 public:
  CompleteTestMessage(std::string session_id, std::string message_id,
                      std::string content)
      : session_id_(std::move(session_id)),
        message_id_(std::move(message_id)),
        content_(std::move(content)) {}

  const std::string& session_id() const override { return session_id_; }
  const std::string& message_id() const override { return message_id_; }

  Result<WriteBatch> Prepare(const Session* session, const Message* message,
                             Timestamp now) const override {
    if (session == nullptr || message == nullptr) {
      return Status::NotFound("message " + message_id_ + " not found");
    }
    if (message->status == MessageStatus::kComplete) {
      return Status::Conflict("message " + message_id_ + " is complete");
    }
    WriteBatch b;
    b.session = *session;
    b.session.last_seq = session->last_seq + 1;
    b.session.updated_at = now;
    Message m = *message;
    m.content = content_;
    m.status = MessageStatus::kComplete;
    m.tokens = 5;
    m.updated_at = now;
    b.messages.push_back({m, /*created=*/false});
    b.events.push_back({session_id_, b.session.last_seq, "message.completed",
                        "{\"id\":\"" + message_id_ + "\"}", now});
    return b;
  }

 private:
  std::string session_id_;
  std::string message_id_;
  std::string content_;
};

// A buggy mutation whose batch skips a seq: the store must refuse it.
class GappyTestEvent final : public SessionMutation {
 public:
  using SessionMutation::SessionMutation;

  Result<WriteBatch> Prepare(const Session* session, const Message*,
                             Timestamp now) const override {
    if (session == nullptr) return Status::NotFound("no session");
    WriteBatch b;
    b.session = *session;
    b.session.last_seq = session->last_seq + 2;
    b.events.push_back(
        {session_id(), b.session.last_seq, "test.gap", "{}", now});
    return b;
  }
};

}  // namespace chatstore::sqlite_test

#endif  // CHATSTORE_TESTS_STORE_SQLITE_TEST_MUTATIONS_H_
