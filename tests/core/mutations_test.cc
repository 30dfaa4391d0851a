// The meaning of each write, tested as the pure function it is: current
// rows in, WriteBatch (or the refusal) out. No store involved.
#include "core/mutations.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "chatstore/ids.h"

namespace chatstore::core {
namespace {

const Timestamp kT0 = FromMillis(1'795'000'000'000);
const Timestamp kT1 = kT0 + std::chrono::seconds(10);

WriteContext Ctx(std::string user = "u-1") {
  WriteContext ctx;
  ctx.user_id = std::move(user);
  ctx.ephemeral_ttl = std::chrono::seconds(60);
  ctx.max_content_bytes = 64;
  ctx.max_state_bytes = 64;
  return ctx;
}

Session NewRow(bool persistent = true) {
  Session s;
  s.id = NewSessionId(kT0, persistent);
  s.user_id = "u-1";
  s.title = "t";
  s.persistent = persistent;
  return s;
}

Session Created(bool persistent = true) {
  auto r =
      CreateSession(Ctx(), NewRow(persistent))->Prepare(nullptr, nullptr, kT0);
  EXPECT_TRUE(r.ok());
  return r->session;
}

boost::json::value Data(const Event& e) { return boost::json::parse(e.data); }

TEST(CreateSessionTest, EmitsSessionCreatedAsSeqOne) {
  auto r = CreateSession(Ctx(), NewRow())->Prepare(nullptr, nullptr, kT0);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->creates_session);
  EXPECT_EQ(r->session.last_seq, 1);
  EXPECT_EQ(r->session.created_at, kT0);
  EXPECT_FALSE(r->session.expires_at.has_value());
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(r->events[0].seq, 1);
  EXPECT_EQ(r->events[0].type, "session.created");
  EXPECT_EQ(Data(r->events[0]).at("last_seq"), 1);
  EXPECT_EQ(Data(r->events[0]).at("persistent"), true);
}

TEST(CreateSessionTest, EphemeralSessionExpiresAfterTtl) {
  Session s = Created(/*persistent=*/false);
  ASSERT_TRUE(s.expires_at.has_value());
  EXPECT_EQ(*s.expires_at, kT0 + std::chrono::seconds(60));
}

TEST(CreateSessionTest, RefusesExistingId) {
  Session s = Created();
  auto r = CreateSession(Ctx(), s)->Prepare(&s, nullptr, kT0);
  EXPECT_EQ(r.status().code(), Status::Code::kAlreadyExists);
}

// Found by fuzz/mutation_prepare_fuzz.cc: a new session could start with
// more state than any patch may leave (max_state_bytes).
TEST(CreateSessionTest, StateAndMetadataWithinTheLimits) {
  Session row = NewRow();
  row.state = R"({"k":")" + std::string(64, 'x') + R"("})";
  auto r = CreateSession(Ctx(), row)->Prepare(nullptr, nullptr, kT0);
  EXPECT_EQ(r.status().code(), Status::Code::kUnprocessable);
  row.state = R"({"k":"x"})";
  WriteContext ctx = Ctx();
  ctx.max_metadata_bytes = 8;
  row.metadata = R"({"k":"xxxxx"})";
  r = CreateSession(ctx, row)->Prepare(nullptr, nullptr, kT0);
  EXPECT_EQ(r.status().code(), Status::Code::kUnprocessable);
  row.metadata = "{}";
  EXPECT_TRUE(CreateSession(ctx, row)->Prepare(nullptr, nullptr, kT0).ok());
}

TEST(SessionWriteTest, MissingOrForeignSessionIsNotFound) {
  Session s = Created();
  Message draft;
  draft.id = NewId(kT0);
  EXPECT_TRUE(AddMessage(Ctx(), s.id, draft)
                  ->Prepare(nullptr, nullptr, kT1)
                  .status()
                  .IsNotFound());
  EXPECT_TRUE(AddMessage(Ctx("u-2"), s.id, draft)
                  ->Prepare(&s, nullptr, kT1)
                  .status()
                  .IsNotFound());
}

TEST(AddMessageTest, MessageSeqIsItsCreatedEventSeq) {
  Session s = Created();
  Message draft;
  draft.id = NewId(kT0);
  draft.role = Role::kAssistant;
  draft.content = "hi";
  auto r = AddMessage(Ctx(), s.id, draft)->Prepare(&s, nullptr, kT1);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_TRUE(r->messages[0].created);
  EXPECT_EQ(r->messages[0].row.seq, 2);
  EXPECT_EQ(r->events[0].seq, 2);
  EXPECT_EQ(Data(r->events[0]).at("seq"), 2);
  EXPECT_EQ(Data(r->events[0]).at("role"), "assistant");
  EXPECT_EQ(r->session.message_count, 1);
  EXPECT_EQ(r->session.last_seq, 2);
  EXPECT_EQ(r->session.updated_at, kT1);
}

TEST(AddMessageTest, WriteSlidesEphemeralExpiry) {
  Session s = Created(/*persistent=*/false);
  Message draft;
  draft.id = NewId(kT0);
  auto r = AddMessage(Ctx(), s.id, draft)->Prepare(&s, nullptr, kT1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r->session.expires_at, kT1 + std::chrono::seconds(60));
}

Message Streaming(const Session& s, std::string content = "") {
  Message m;
  m.id = NewId(kT0);
  m.session_id = s.id;
  m.seq = 2;
  m.role = Role::kAssistant;
  m.status = MessageStatus::kStreaming;
  m.content = std::move(content);
  return m;
}

TEST(AppendDeltaTest, OffsetIsContentLengthBefore) {
  Session s = Created();
  Message m = Streaming(s, "Hel");
  auto r = AppendDelta(Ctx(), s.id, m.id, "lo")->Prepare(&s, &m, kT1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->messages[0].row.content, "Hello");
  EXPECT_FALSE(r->messages[0].created);
  const auto d = Data(r->events[0]);
  EXPECT_EQ(r->events[0].type, "message.delta");
  EXPECT_EQ(d.at("offset"), 3);
  EXPECT_EQ(d.at("delta"), "lo");
  EXPECT_EQ(d.at("message_id"), m.id.c_str());
}

TEST(AppendDeltaTest, CompletedMessageIsConflict) {
  Session s = Created();
  Message m = Streaming(s);
  m.status = MessageStatus::kComplete;
  auto r = AppendDelta(Ctx(), s.id, m.id, "x")->Prepare(&s, &m, kT1);
  EXPECT_TRUE(r.status().IsConflict());
}

TEST(AppendDeltaTest, MissingMessageIsNotFound) {
  Session s = Created();
  auto r = AppendDelta(Ctx(), s.id, NewId(kT0), "x")->Prepare(&s, nullptr, kT1);
  EXPECT_TRUE(r.status().IsNotFound());
}

TEST(AppendDeltaTest, ContentLimitHolds) {
  Session s = Created();
  Message m = Streaming(s, std::string(60, 'a'));
  auto r = AppendDelta(Ctx(), s.id, m.id, "12345")->Prepare(&s, &m, kT1);
  EXPECT_EQ(r.status().code(), Status::Code::kUnprocessable);
}

TEST(CompleteMessageTest, CompletesOnceAndMayReplaceContent) {
  Session s = Created();
  Message m = Streaming(s, "draft");
  auto r =
      CompleteMessage(Ctx(), s.id, m.id, std::string("final"), TokenCount{5, 1})
          ->Prepare(&s, &m, kT1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->messages[0].row.status, MessageStatus::kComplete);
  EXPECT_EQ(r->messages[0].row.content, "final");
  EXPECT_EQ(r->events[0].type, "message.completed");
  EXPECT_EQ(Data(r->events[0]).at("status"), "complete");
  EXPECT_EQ(r->messages[0].row.tokens, 1);
  EXPECT_EQ(Data(r->events[0]).at("tokens"), 1);
  Message done = r->messages[0].row;
  EXPECT_TRUE(CompleteMessage(Ctx(), s.id, m.id, std::nullopt, std::nullopt)
                  ->Prepare(&s, &done, kT1)
                  .status()
                  .IsConflict());
}

TEST(CompleteMessageTest, RecountsWhenADeltaLandedAfterThePrecount) {
  Session s = Created();
  Message m = Streaming(s, "Hello world");  // "Hello", " world": 2 tokens
  // Precounted when the content was "Hello" (1 token): stale, so recounted.
  auto r = CompleteMessage(Ctx(), s.id, m.id, std::nullopt, TokenCount{5, 1})
               ->Prepare(&s, &m, kT1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->messages[0].row.tokens, 2);
  // A precount of the current length is used as it is.
  auto fresh =
      CompleteMessage(Ctx(), s.id, m.id, std::nullopt, TokenCount{11, 2})
          ->Prepare(&s, &m, kT1);
  EXPECT_EQ(fresh->messages[0].row.tokens, 2);
}

TEST(UpdateSessionTest, StateDeltaThenSessionUpdatedWithFinalSeq) {
  Session s = Created();
  s.state = R"({"a":{"b":1,"c":2},"keep":true})";
  ParsedPatch p;
  p.title = "new";
  p.state = boost::json::parse(R"({"a":{"b":null,"d":3}})").as_object();
  auto r = UpdateSession(Ctx(), s.id, p)->Prepare(&s, nullptr, kT1);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->events.size(), 2u);
  EXPECT_EQ(r->events[0].type, "state.delta");
  EXPECT_EQ(Data(r->events[0]).at("delta"), boost::json::value(*p.state));
  EXPECT_EQ(r->events[1].type, "session.updated");
  EXPECT_EQ(r->events[1].seq, 3);
  EXPECT_EQ(Data(r->events[1]).at("last_seq"), 3);
  EXPECT_EQ(r->session.last_seq, 3);
  EXPECT_EQ(boost::json::parse(r->session.state),
            boost::json::parse(R"({"a":{"c":2,"d":3},"keep":true})"));
  EXPECT_EQ(r->session.title, "new");
}

TEST(UpdateSessionTest, StateSizeLimitAfterPatch) {
  Session s = Created();
  ParsedPatch p;
  p.state = boost::json::object{{"big", std::string(100, 'x')}};
  auto r = UpdateSession(Ctx(), s.id, p)->Prepare(&s, nullptr, kT1);
  EXPECT_EQ(r.status().code(), Status::Code::kUnprocessable);
}

TEST(AppendEventsTest, ConsecutiveSeqs) {
  Session s = Created();
  std::vector<Event> evs(3);
  for (auto& e : evs) {
    e.type = "agent.step";
    e.data = "{}";
  }
  auto r = AppendEvents(Ctx(), s.id, evs)->Prepare(&s, nullptr, kT1);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->events.size(), 3u);
  EXPECT_EQ(r->events[0].seq, 2);
  EXPECT_EQ(r->events[2].seq, 4);
  EXPECT_EQ(r->session.last_seq, 4);
}

TEST(EventTypeTest, Validation) {
  EXPECT_TRUE(IsValidAppEventType("progress"));
  EXPECT_TRUE(IsValidAppEventType("agent.tool_call-1"));
  EXPECT_TRUE(IsValidAppEventType(std::string(64, 'a')));
  EXPECT_FALSE(IsValidAppEventType(std::string(65, 'a')));
  EXPECT_FALSE(IsValidAppEventType(""));
  EXPECT_FALSE(IsValidAppEventType("Progress"));
  EXPECT_FALSE(IsValidAppEventType("1x"));
  EXPECT_FALSE(IsValidAppEventType("a b"));
  EXPECT_FALSE(IsValidAppEventType("a\nevent: x"));
  EXPECT_FALSE(IsValidAppEventType("message.created"));
  EXPECT_FALSE(IsValidAppEventType("session.deleted"));
  EXPECT_FALSE(IsValidAppEventType("snapshot"));
}

}  // namespace
}  // namespace chatstore::core
