// Whole-store scans and imports (what `chatstore migrate` is built on), on
// every backend of AllBackends(): scans visit every live session and every
// user's preferences whatever the page size, and an imported session is the
// source's session exactly — ids, seqs, timestamps, content — written all
// or nothing and searchable like any other.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "chatstore/clock.h"
#include "chatstore/ids.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "conformance/backend_test.h"
#include "conformance/backends.h"
#include "core/wire_format.h"

namespace chatstore::conformance {
namespace {

using namespace std::chrono_literals;

struct WholeSession {
  Session row;
  std::vector<Message> messages;
  std::vector<Event> events;
};

WholeSession ReadWhole(Store& store, const std::string& id) {
  WholeSession whole;
  Result<Session> row = store.GetSession(id);
  EXPECT_TRUE(row.ok()) << row.status().ToString();
  if (!row.ok()) return whole;
  whole.row = *row;
  Result<std::vector<Message>> messages = store.ReadMessages(id, 0, 1000);
  Result<std::vector<Event>> events = store.ReadEvents(id, 0, 1000);
  EXPECT_TRUE(messages.ok() && events.ok());
  if (messages.ok()) whole.messages = *messages;
  if (events.ok()) whole.events = *events;
  return whole;
}

// Every field, as text (the wire JSON plus the stored JSON texts, which the
// wire form would normalise).
std::vector<std::string> Render(const WholeSession& w) {
  std::vector<std::string> out = {wire::SessionJson(w.row), w.row.metadata,
                                  w.row.state};
  for (const Message& m : w.messages) {
    out.push_back(wire::MessageJson(m));
    out.push_back(m.metadata);
  }
  for (const Event& e : w.events) out.push_back(wire::EventJson(e));
  return out;
}

class StoreScanImportTest : public BackendTest {
 protected:
  StoreScanImportTest() : BackendTest(std::chrono::seconds(60)) {}
};

TEST_P(StoreScanImportTest, ScanSessionsVisitsEveryLiveSessionOfEveryUser) {
  std::set<std::string> live;
  for (int u = 0; u < 3; ++u) {
    const std::string user = NewUser();
    for (int i = 0; i < 3; ++i) {
      Result<Session> s = service_->CreateSession(user, {.title = "t"});
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      live.insert(s->id);
      clock_->Advance(1ms);
    }
  }
  // An ephemeral session that expires is not part of the store any more.
  Result<Session> ephemeral =
      service_->CreateSession(NewUser(), {.persistent = false});
  ASSERT_TRUE(ephemeral.ok());
  clock_->Advance(61s);

  for (int limit : {1, 2, 1000}) {
    std::set<std::string> seen;
    std::string cursor;
    int pages = 0;
    do {
      Result<SessionScanPage> page = store_->ScanSessions(cursor, limit);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      for (const Session& s : page->sessions) {
        seen.insert(s.id);
        Result<Session> direct = store_->GetSession(s.id);
        ASSERT_TRUE(direct.ok());
        EXPECT_EQ(wire::SessionJson(s), wire::SessionJson(*direct));
      }
      cursor = page->next_cursor;
      ASSERT_LT(++pages, 1000) << "the scan does not end";
    } while (!cursor.empty());
    EXPECT_EQ(seen, live) << "page size " << limit;
  }
  EXPECT_EQ(store_->ScanSessions("", 0).status().code(),
            Status::Code::kInvalidArgument);
}

TEST_P(StoreScanImportTest, ScanPreferencesVisitsEveryUser) {
  std::set<std::pair<std::string, bool>> stored;
  for (int u = 0; u < 5; ++u) {
    const std::string user = NewUser();
    const bool persist = u % 2 == 0;
    ASSERT_TRUE(store_->PutPreferences(user, {persist}).ok());
    stored.insert({user, persist});
  }
  std::set<std::pair<std::string, bool>> seen;
  std::string cursor;
  int pages = 0;
  do {
    Result<PreferencesScanPage> page = store_->ScanPreferences(cursor, 2);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const UserPreferences& u : page->users) {
      seen.insert({u.user_id, u.preferences.persist_history});
    }
    cursor = page->next_cursor;
    ASSERT_LT(++pages, 1000);
  } while (!cursor.empty());
  EXPECT_EQ(seen, stored);
}

TEST_P(StoreScanImportTest, ImportedSessionIsTheSourceSessionExactly) {
  // The source: a memory store on the same clock, written through the
  // service like production data (streamed message, state, app events).
  StoreOptions source_options;
  source_options.clock = clock_;
  std::shared_ptr<Store> source = *OpenStore("memory://", source_options);
  ServiceOptions service_options;
  service_options.clock = clock_;
  SessionService writer(source, source, service_options);
  const std::string user = NewUser();
  Result<Session> s = writer.CreateSession(
      user, {.title = "zebra notes", .metadata = R"({"b":1,"a":[1,2]})"});
  ASSERT_TRUE(s.ok());
  clock_->Advance(5ms);
  ASSERT_TRUE(writer
                  .AddMessage(user, s->id,
                              {.role = Role::kUser,
                               .content = "where do zebras sleep",
                               .metadata = R"({"lang": "en"})"})
                  .ok());
  clock_->Advance(5ms);
  Result<Message> streaming = writer.AddMessage(
      user, s->id,
      {.role = Role::kAssistant, .status = MessageStatus::kStreaming});
  ASSERT_TRUE(streaming.ok());
  ASSERT_TRUE(
      writer.AppendDelta(user, s->id, streaming->id, "standing up, ").ok());
  clock_->Advance(5ms);
  ASSERT_TRUE(
      writer.CompleteMessage(user, s->id, streaming->id, std::nullopt).ok());
  ASSERT_TRUE(writer
                  .AddMessage(user, s->id,
                              {.role = Role::kAssistant,
                               .content = "still typing",
                               .status = MessageStatus::kStreaming})
                  .ok());
  ASSERT_TRUE(
      writer.AppendEvents(user, s->id, {{"app.progress", R"({"p":0.5})"}})
          .ok());
  ASSERT_TRUE(
      writer.UpdateSession(user, s->id, {.state = R"({"step":"done"})"}).ok());
  const WholeSession original = ReadWhole(*source, s->id);
  ASSERT_GE(original.events.size(), 7u);
  ASSERT_EQ(original.messages.size(), 3u);

  clock_->Advance(1h);  // the import must not restamp anything
  ASSERT_TRUE(
      store_->ImportSession(original.row, original.messages, original.events)
          .ok());
  const WholeSession copy = ReadWhole(*store_, s->id);
  EXPECT_EQ(Render(copy), Render(original));

  // Searchable, listed for its user, and a live session: the next change
  // continues its log.
  Result<SearchPage> hits = store_->Search(user, "zebras", std::nullopt, 10);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_EQ(hits->hits.size(), 1u);
  EXPECT_EQ(hits->hits[0].message_id, original.messages[0].id);
  Result<SessionPage> listed =
      store_->ListSessions(user, std::nullopt, std::nullopt, 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->sessions.size(), 1u);
  Result<SeqRange> next =
      service_->AppendEvents(user, s->id, {{"app.after", "{}"}});
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->first_seq, original.row.last_seq + 1);
}

TEST_P(StoreScanImportTest, ImportRefusesATakenIdAndInconsistentRows) {
  const std::string user = NewUser();
  Result<Session> s = service_->CreateSession(user, {.title = "t"});
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(service_->AddMessage(user, s->id, {.content = "hello"}).ok());
  WholeSession whole = ReadWhole(*store_, s->id);
  EXPECT_EQ(
      store_->ImportSession(whole.row, whole.messages, whole.events).code(),
      Status::Code::kAlreadyExists);
  // Still the original, untouched.
  EXPECT_EQ(Render(ReadWhole(*store_, s->id)), Render(whole));

  // The same rows under a new id, with a gap in the log: nothing written.
  WholeSession gap = whole;
  gap.row.id = NewId(clock_->Now());
  for (Message& m : gap.messages) m.session_id = gap.row.id;
  for (Event& e : gap.events) e.session_id = gap.row.id;
  gap.events.erase(gap.events.begin());
  EXPECT_EQ(store_->ImportSession(gap.row, gap.messages, gap.events).code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(store_->GetSession(gap.row.id).status().IsNotFound());
  WholeSession stray = whole;
  stray.row.id = NewId(clock_->Now());
  for (Event& e : stray.events) e.session_id = stray.row.id;
  // Messages still name the other session.
  EXPECT_EQ(
      store_->ImportSession(stray.row, stray.messages, stray.events).code(),
      Status::Code::kInvalidArgument);
  EXPECT_TRUE(store_->GetSession(stray.row.id).status().IsNotFound());
}

INSTANTIATE_TEST_SUITE_P(
    Backends, StoreScanImportTest, ::testing::ValuesIn(AllBackends()),
    [](const ::testing::TestParamInfo<BackendParam>& info) {
      return info.param.name;
    });

}  // namespace
}  // namespace chatstore::conformance
