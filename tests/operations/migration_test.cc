// Migration between real backends: a store copied sqlite -> redis ->
// postgres -> sqlite exports exactly as it started; an interrupted
// migration resumes; --verify's comparison catches a tampered copy.
#include "chatstore/migration.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "chatstore/export.h"
#include "chatstore/ids.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "support/postgres_server.h"
#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace chatstore::testing {
namespace {

namespace json = boost::json;

std::shared_ptr<Store> Open(const std::string& uri) {
  Result<std::shared_ptr<Store>> store = OpenStore(uri);
  if (!store.ok()) {
    ADD_FAILURE() << uri << ": " << store.status().ToString();
    return nullptr;
  }
  return *store;
}

// Writes users with sessions of every kind of content: complete and
// streaming messages, deltas, state, app events, preferences and `user:`
// state (some users none of either). Returns the users.
std::vector<std::string> Populate(Store& store, int users,
                                  int sessions_per_user) {
  SessionService service(std::shared_ptr<Store>(&store, [](Store*) {}), nullptr,
                         {});
  std::vector<std::string> ids;
  for (int u = 0; u < users; ++u) {
    const std::string user =
        "user-" + std::to_string(u) + "-" + NewId(SystemClock()->Now());
    ids.push_back(user);
    if (u % 2 == 0) {
      EXPECT_TRUE(service.PutPreferences(user, {u % 4 == 0}).ok());
    }
    for (int i = 0; i < sessions_per_user; ++i) {
      Result<Session> s = service.CreateSession(
          user, {.title = "session " + std::to_string(i),
                 .metadata = R"({"tag":"t)" + std::to_string(i) + R"("})"});
      EXPECT_TRUE(s.ok());
      if (!s.ok()) continue;
      EXPECT_TRUE(service
                      .AddMessage(user, s->id,
                                  {.role = Role::kUser,
                                   .content = "question " + std::to_string(i) +
                                              " \xC3\xA9t\xC3\xA9 \"quoted\""})
                      .ok());
      Result<Message> reply = service.AddMessage(
          user, s->id,
          {.role = Role::kAssistant, .status = MessageStatus::kStreaming});
      EXPECT_TRUE(reply.ok());
      if (!reply.ok()) continue;
      for (int d = 0; d < 3; ++d) {
        EXPECT_TRUE(service
                        .AppendDelta(user, s->id, reply->id,
                                     "part " + std::to_string(d) + " ")
                        .ok());
      }
      if (i % 2 == 0) {
        EXPECT_TRUE(
            service.CompleteMessage(user, s->id, reply->id, std::nullopt).ok());
      }
      EXPECT_TRUE(
          service.AppendEvents(user, s->id, {{"app.step", R"({"n":1})"}}).ok());
      EXPECT_TRUE(
          service.UpdateSession(user, s->id, {.state = R"({"phase":"two"})"})
              .ok());
      if (u % 3 != 2) {
        const std::string state = R"({"user:lang":"l)" + std::to_string(u) +
                                  R"(","user:seen":{"s)" + std::to_string(i) +
                                  R"(":true},"temp:t":1})";
        EXPECT_TRUE(service.UpdateSession(user, s->id, {.state = state}).ok());
      }
    }
  }
  return ids;
}

// The user's export document without its "exported_at" (the one field that
// differs between two exports of the same data).
json::value ExportOf(Store& store, const std::string& user) {
  SessionService service(std::shared_ptr<Store>(&store, [](Store*) {}), nullptr,
                         {});
  UserExportWriter writer(service, user, /*page=*/2);
  std::string doc;
  EXPECT_TRUE(WriteUserExport(writer, [&doc](std::string_view piece) {
                doc += piece;
                return Status::Ok();
              }).ok());
  json::value v = json::parse(doc);
  v.as_object().erase("exported_at");
  return v;
}

MigrationOptions SmallPages() {
  MigrationOptions options;
  options.page = 2;  // several pages of sessions, messages and events
  return options;
}

void ExpectVerified(Store& from, Store& to) {
  Result<VerifyReport> report = VerifyMigration(from, to, SmallPages());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->differences, 0)
      << (report->listed.empty() ? "" : report->listed.front());
}

TEST(MigrationTest, RoundTripThroughEveryBackendKeepsExportsIdentical) {
  TempDir dir;
  RedisServer& redis = SharedRedisServer();
  redis.FlushAll();
  PostgresServer& postgres = SharedPostgresServer();
  const std::string pg_uri = postgres.CreateDatabase();

  auto first = Open("sqlite://" + dir.File("first.db"));
  auto via_redis = Open(redis.uri());
  auto via_postgres = Open(pg_uri);
  auto last = Open("sqlite://" + dir.File("last.db"));
  ASSERT_TRUE(first && via_redis && via_postgres && last);
  const std::vector<std::string> users = Populate(*first, 3, 3);

  Store* chain[] = {first.get(), via_redis.get(), via_postgres.get(),
                    last.get()};
  for (int hop = 0; hop < 3; ++hop) {
    Result<MigrationProgress> done =
        MigrateStore(*chain[hop], *chain[hop + 1], SmallPages());
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    EXPECT_EQ(done->sessions_copied, 9) << "hop " << hop;
    EXPECT_EQ(done->sessions_skipped, 0);
    EXPECT_EQ(done->messages_copied, 18);
    EXPECT_EQ(done->preferences_copied, 2);
    EXPECT_EQ(done->user_states_copied, 2);
    ExpectVerified(*chain[hop], *chain[hop + 1]);
  }
  // The export carries the user's document, and every session shows it.
  const json::value user_state =
      json::parse(R"({"user:lang":"l0","user:seen":{"s0":true,"s1":true,)"
                  R"("s2":true}})");
  const json::value exported = ExportOf(*last, users[0]);
  EXPECT_EQ(exported.at("user_state"), user_state);
  for (const json::value& s : exported.at("sessions").as_array()) {
    EXPECT_EQ(s.at("session").at("state").at("user:lang"), "l0");
  }
  EXPECT_EQ(ExportOf(*last, users[2]).at("user_state"), json::object());
  for (const std::string& user : users) {
    const json::value original = ExportOf(*first, user);
    EXPECT_EQ(original.at("sessions").as_array().size(), 3u);
    for (Store* store : chain) {
      EXPECT_EQ(ExportOf(*store, user), original)
          << user << " differs on " << store->kind();
    }
  }
  postgres.DropDatabase(pg_uri);
}

TEST(MigrationTest, InterruptedMigrationResumesWhereItStopped) {
  TempDir dir;
  auto from = Open("sqlite://" + dir.File("from.db"));
  auto to = Open("sqlite://" + dir.File("to.db"));
  ASSERT_TRUE(from && to);
  Populate(*from, 2, 3);

  // Interrupted after two sessions (the same as a crash between two
  // sessions: each is written atomically).
  MigrationOptions slice = SmallPages();
  slice.max_sessions = 2;
  Result<MigrationProgress> first = MigrateStore(*from, *to, slice);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->sessions_copied, 2);
  EXPECT_EQ(to->Stats()->sessions, 2);
  Result<VerifyReport> partial = VerifyMigration(*from, *to, SmallPages());
  ASSERT_TRUE(partial.ok());
  // 4 sessions, 1 user's prefs, 2 users' user: state.
  EXPECT_EQ(partial->differences, 4 + 1 + 2);

  Result<MigrationProgress> rest = MigrateStore(*from, *to, SmallPages());
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(rest->sessions_skipped, 2);
  EXPECT_EQ(rest->sessions_copied, 4);
  ExpectVerified(*from, *to);

  // A session that grew at the source since it was copied is copied again.
  Result<SessionScanPage> scan = from->ScanSessions("", 1);
  ASSERT_TRUE(scan.ok() && !scan->sessions.empty());
  const Session& grown = scan->sessions[0];
  SessionService service(from, nullptr, {});
  ASSERT_TRUE(service
                  .AddMessage(grown.user_id, grown.id,
                              {.content = "written after the copy"})
                  .ok());
  Result<MigrationProgress> again = MigrateStore(*from, *to, SmallPages());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->sessions_copied, 1);
  EXPECT_EQ(again->sessions_skipped, 5);
  ExpectVerified(*from, *to);
  EXPECT_EQ(to->GetSession(grown.id)->message_count, grown.message_count + 1);
}

TEST(MigrationTest, VerifyFindsEveryKindOfTampering) {
  TempDir dir;
  PostgresServer& postgres = SharedPostgresServer();
  const std::string pg_uri = postgres.CreateDatabase();
  auto from = Open("sqlite://" + dir.File("from.db"));
  auto to = Open(pg_uri);
  ASSERT_TRUE(from && to);
  const std::vector<std::string> users = Populate(*from, 2, 2);
  ASSERT_TRUE(MigrateStore(*from, *to, SmallPages()).ok());
  ExpectVerified(*from, *to);

  // Same counts, one changed byte of content: only the checksum sees it.
  const std::string db = pg_uri.substr(pg_uri.rfind('/') + 1);
  postgres.Query(db,
                 "UPDATE messages SET content = content || '!' WHERE id = "
                 "(SELECT id FROM messages ORDER BY id LIMIT 1)");
  Result<VerifyReport> report = VerifyMigration(*from, *to, SmallPages());
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->differences, 1);
  EXPECT_NE(report->listed[0].find("checksum"), std::string::npos)
      << report->listed[0];

  // A missing session, and preferences that differ.
  Result<SessionScanPage> scan = to->ScanSessions("", 1);
  ASSERT_TRUE(scan.ok() && !scan->sessions.empty());
  ASSERT_TRUE(to->DeleteSession(scan->sessions[0].id).ok());
  ASSERT_TRUE(to->PutPreferences(users[0], {false}).ok());  // was true
  ASSERT_TRUE(to->PutUserState(users[1], R"({"user:lang":"changed"})").ok());
  report = VerifyMigration(*from, *to, SmallPages());
  ASSERT_TRUE(report.ok());
  EXPECT_GE(report->differences, 3);
  std::string all;
  for (const std::string& line : report->listed) all += line + "\n";
  EXPECT_NE(all.find("missing at the destination"), std::string::npos) << all;
  EXPECT_NE(all.find("preferences of user " + users[0]), std::string::npos)
      << all;
  EXPECT_NE(all.find("user: state of user " + users[1]), std::string::npos)
      << all;
  postgres.DropDatabase(pg_uri);
}

}  // namespace
}  // namespace chatstore::testing
