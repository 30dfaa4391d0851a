// The chatstore binary: every command's --help, the documented exit codes,
// export and erase of a user, migrate with --verify and slices, and the
// audit records each command leaves (without message content).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "chatstore/ids.h"
#include "chatstore/service.h"
#include "chatstore/store.h"
#include "operations/cli_runner.h"
#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace chatstore::testing {
namespace {

namespace json = boost::json;

// Unique text that must never reach the audit log.
constexpr char kMarker[] = "zanzibar-marker-7f3a";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_uri_ = "sqlite://" + dir_.File("chatstore.db");
  }

  // Writes `sessions` sessions of `user` (two messages each, the user's
  // carrying kMarker) through the library, then closes the store.
  void Seed(const std::string& user, int sessions) {
    std::shared_ptr<Store> store = *OpenStore(store_uri_);
    SessionService service(store, nullptr, {});
    for (int i = 0; i < sessions; ++i) {
      Result<Session> s = service.CreateSession(user, {.title = "chat"});
      ASSERT_TRUE(s.ok());
      ASSERT_TRUE(service
                      .AddMessage(user, s->id,
                                  {.content = std::string("hello ") + kMarker})
                      .ok());
      ASSERT_TRUE(service
                      .AddMessage(user, s->id,
                                  {.role = Role::kAssistant, .content = "hi"})
                      .ok());
    }
  }

  // The audit log's records, parsed.
  std::vector<json::object> AuditRecords() {
    std::vector<json::object> records;
    for (const std::string& line : Lines(ReadFile(dir_.File("audit.log")))) {
      records.push_back(json::parse(line).as_object());
    }
    return records;
  }

  CliResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--store", store_uri_});
    return RunCli(args);
  }

  TempDir dir_;
  std::string store_uri_;
};

TEST_F(CliTest, EveryCommandExplainsItselfWithHelp) {
  const std::vector<std::vector<std::string>> commands = {
      {},           {"export"},           {"erase"},
      {"migrate"},  {"backup"},           {"stats"},
      {"sessions"}, {"sessions", "list"}, {"sessions", "show"},
      {"sweep"}};
  for (std::vector<std::string> command : commands) {
    std::string name = "chatstore";
    for (const std::string& word : command) name += " " + word;
    command.push_back("--help");
    CliResult r = RunCli(command);
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_NE(r.out.find("Usage: " + name), std::string::npos) << name << ":\n"
                                                               << r.out;
  }
  CliResult top = RunCli({"--help"});
  EXPECT_NE(top.out.find("Exit codes: 0 ok, 1 failure"), std::string::npos);
}

TEST_F(CliTest, MistakesGetTheDocumentedExitCodesAndAMessage) {
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string says;
  };
  Seed("someone", 1);
  const std::vector<Case> cases = {
      {{}, 2, "subcommand is required"},
      {{"export"}, 2, "--user is required"},
      {{"export", "--user", "u", "--bogus"}, 2, "--bogus"},
      {{"erase", "--user", "u"}, 2, "add --yes"},
      {{"migrate", "--from", "memory://", "--to", "memory://"}, 2, "same"},
      {{"sessions", "list", "--status", "sleeping"}, 2, "unknown status"},
      {{"sessions", "show", "0190a0a0-0000-7000-8000-000000000000"},
       4,
       "not found"},
      {{"--store", "sqlite://" + dir_.File("typo.db"), "stats"},
       4,
       "no SQLite store at"},
      {{"--store", "nosuch://x", "stats"}, 2, "nosuch"},
      {{"backup", "--to", "/nonexistent-dir/x/backup.db"}, 1, "backup"},
      {{"sweep", "--retention-days", "-1"}, 2, "--retention-days"},
      {{"sweep", "--batch", "0"}, 2, "--batch"},
      {{"sweep", "--never-used-grace-seconds", "soon"}, 2, "soon"},
      {{"--store", "sqlite://" + dir_.File("typo.db"), "sweep"},
       4,
       "no SQLite store at"},
  };
  for (const Case& c : cases) {
    CliResult r = c.args.size() > 1 && c.args[0] == "--store" ? RunCli(c.args)
                                                              : Run(c.args);
    std::string joined;
    for (const std::string& a : c.args) joined += a + " ";
    EXPECT_EQ(r.exit_code, c.exit_code) << joined << "\n" << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos)
        << joined << ": stderr was\n"
        << r.err;
  }
  // Nothing was erased by the refused erase, nothing created by the typo.
  EXPECT_FALSE(std::ifstream(dir_.File("typo.db")).good());
}

TEST_F(CliTest, ExportThenEraseRemovesTheUserAndLeavesAnAuditTrail) {
  Seed("alice", 3);
  Seed("bob", 1);

  const std::string file = dir_.File("alice.json");
  CliResult exported = Run({"export", "--user", "alice", "-o", file});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  json::object doc = json::parse(ReadFile(file)).as_object();
  EXPECT_EQ(doc["version"], 1);
  EXPECT_EQ(doc["user_id"], "alice");
  ASSERT_EQ(doc["sessions"].as_array().size(), 3u);
  EXPECT_EQ(doc["sessions"].as_array()[0].at("messages").as_array().size(), 2u);

  CliResult listed = Run({"sessions", "list", "--user", "alice"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  ASSERT_EQ(Lines(listed.out).size(), 3u);
  const std::string first_id(
      json::parse(Lines(listed.out)[0]).at("id").as_string());
  CliResult shown = Run({"sessions", "show", first_id, "--messages"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(Lines(shown.out).size(), 3u);  // the session, 2 messages
  EXPECT_NE(shown.out.find(kMarker), std::string::npos);
  const std::int64_t last_seq =
      json::parse(Lines(listed.out)[0]).at("last_seq").as_int64();
  CliResult events = Run({"sessions", "show", first_id, "--events"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  ASSERT_EQ(Lines(events.out).size(), static_cast<std::size_t>(1 + last_seq));
  EXPECT_EQ(json::parse(Lines(events.out).back()).at("seq"), last_seq);

  CliResult erased = Run({"erase", "--user", "alice", "--yes"});
  ASSERT_EQ(erased.exit_code, 0) << erased.err;
  json::object counts = json::parse(erased.out).as_object();
  EXPECT_EQ(counts["sessions_deleted"], 3);
  EXPECT_EQ(counts["messages_deleted"], 6);

  // Gone for the CLI and for the library; bob untouched.
  EXPECT_TRUE(Lines(Run({"sessions", "list", "--user", "alice"}).out).empty());
  EXPECT_EQ(Run({"sessions", "show", first_id}).exit_code, 4);
  {
    std::shared_ptr<Store> store = *OpenStore(store_uri_);
    EXPECT_TRUE(store->ListSessions("alice", std::nullopt, std::nullopt, 10)
                    ->sessions.empty());
    EXPECT_EQ(store->ListSessions("bob", std::nullopt, std::nullopt, 10)
                  ->sessions.size(),
              1u);
  }
  CliResult stats = Run({"stats"});
  ASSERT_EQ(stats.exit_code, 0);
  EXPECT_EQ(json::parse(stats.out).at("sessions"), 1);

  // One record per operation, in order, with who/what/when/whom and no
  // content.
  const std::string log = ReadFile(dir_.File("audit.log"));
  EXPECT_EQ(log.find(kMarker), std::string::npos) << log;
  std::vector<json::object> records = AuditRecords();
  std::vector<std::string> actions;
  for (json::object& r : records) {
    actions.emplace_back(r["action"].as_string());
    EXPECT_TRUE(r["actor"].as_string().starts_with("cli:")) << r;
    EXPECT_FALSE(r["time"].as_string().empty());
  }
  EXPECT_EQ(actions, (std::vector<std::string>{
                         "export", "read.sessions", "read.session_content",
                         "read.session_content", "erase", "read.sessions",
                         "read.session"}));
  EXPECT_EQ(records[0]["target"], "alice");
  EXPECT_EQ(records[0]["outcome"], "ok");
  EXPECT_EQ(records[0]["sessions"], 3);
  EXPECT_EQ(records[2]["target"].as_string(), first_id);
  EXPECT_EQ(records[4]["target"], "alice");
  EXPECT_EQ(records[4]["sessions_deleted"], 3);
  EXPECT_EQ(records[6]["outcome"], "NotFound");
}

TEST_F(CliTest, MigrateInSlicesThenVerifyCatchesATamperedCopy) {
  Seed("carol", 3);
  const std::string to = "sqlite://" + dir_.File("copy.db");
  CliResult slice =
      Run({"migrate", "--from", store_uri_, "--to", to, "--max-sessions", "2"});
  ASSERT_EQ(slice.exit_code, 0) << slice.err;
  EXPECT_NE(slice.out.find("copied 2 sessions"), std::string::npos)
      << slice.out;
  EXPECT_NE(slice.out.find("run again"), std::string::npos);
  // No terminal: no progress bar.
  EXPECT_EQ(slice.err.find('\r'), std::string::npos);

  CliResult unfinished =
      Run({"migrate", "--from", store_uri_, "--to", to, "--verify-only"});
  EXPECT_EQ(unfinished.exit_code, 3) << unfinished.out << unfinished.err;
  EXPECT_NE(unfinished.out.find("missing at the destination"),
            std::string::npos);

  CliResult rest =
      Run({"migrate", "--from", store_uri_, "--to", to, "--verify"});
  ASSERT_EQ(rest.exit_code, 0) << rest.out << rest.err;
  EXPECT_NE(rest.out.find("copied 1 sessions"), std::string::npos) << rest.out;
  EXPECT_NE(rest.out.find("2 already at the destination"), std::string::npos);
  EXPECT_NE(rest.out.find("0 differences"), std::string::npos);

  // Tamper with the copy: one more event in one session.
  {
    std::shared_ptr<Store> copy = *OpenStore(to);
    SessionService service(copy, nullptr, {});
    Result<SessionPage> page =
        service.ListSessions("carol", std::nullopt, std::nullopt, 1);
    ASSERT_TRUE(page.ok() && !page->sessions.empty());
    ASSERT_TRUE(
        service
            .AppendEvents("carol", page->sessions[0].id, {{"app.forged", "{}"}})
            .ok());
  }
  CliResult tampered =
      Run({"migrate", "--from", store_uri_, "--to", to, "--verify-only"});
  EXPECT_EQ(tampered.exit_code, 3) << tampered.out << tampered.err;
  EXPECT_NE(tampered.out.find("1 differences"), std::string::npos)
      << tampered.out;

  std::vector<std::string> actions;
  for (json::object& r : AuditRecords()) {
    actions.emplace_back(r["action"].as_string());
    EXPECT_NE(r["target"].as_string().find(" -> "), std::string::npos);
  }
  EXPECT_EQ(actions,
            (std::vector<std::string>{"migrate", "migrate.verify", "migrate",
                                      "migrate.verify", "migrate.verify"}));
}

TEST_F(CliTest, BackupOfAServerStoreNamesTheServersOwnTool) {
  RedisServer& redis = SharedRedisServer();
  CliResult r =
      RunCli({"--store", redis.uri(), "--audit-log", dir_.File("audit.log"),
              "backup", "--to", dir_.File("x.rdb")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("BGSAVE"), std::string::npos) << r.err;
}

TEST_F(CliTest, PasswordsInStoreUrisNeverReachTheAuditLog) {
  // The destination cannot be reached; the record is written anyway, with
  // the password masked.
  Seed("dave", 1);
  CliResult r = Run({"migrate", "--from", store_uri_, "--to",
                     "postgresql://admin:s3cret-pw@127.0.0.1:1/db"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.find("s3cret-pw"), std::string::npos) << r.err;
  const std::string log = ReadFile(dir_.File("audit.log"));
  EXPECT_EQ(log.find("s3cret-pw"), std::string::npos) << log;
  std::vector<json::object> records = AuditRecords();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["action"], "migrate");
  EXPECT_EQ(records[0]["outcome"], "Unavailable");
  EXPECT_NE(records[0]["target"].as_string().find(
                "postgresql://admin:***@127.0.0.1:1/db"),
            std::string::npos)
      << records[0];
}

// Sessions written with a clock set back in time, then `chatstore sweep`
// at the real time: each rule takes exactly its sessions, the counts come
// out per rule, a second run finds nothing, and the run is audited.
TEST_F(CliTest, SweepAppliesEachRetentionRuleAndPrintsItsCounts) {
  const Timestamp now = SystemClock()->Now();
  auto clock = std::make_shared<ManualClock>(now - std::chrono::days(100));
  std::map<std::string, std::string> ids;
  {
    StoreOptions store_options;
    store_options.clock = clock;
    std::shared_ptr<Store> store = *OpenStore(store_uri_, store_options);
    ServiceOptions options;
    options.clock = clock;
    options.ephemeral_ttl = std::chrono::hours(1);
    SessionService service(store, store, options);
    auto create = [&](const std::string& name, bool persistent, int messages) {
      Result<Session> s = service.CreateSession(
          "carol", {.title = name, .persistent = persistent});
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      for (int i = 0; i < messages; ++i) {
        ASSERT_TRUE(service.AddMessage("carol", s->id, {.content = "x"}).ok());
      }
      ids[name] = s->id;
    };
    create("old_used", true, 2);    // inactive for 100 days
    create("old_unused", true, 0);  // inactive first, so counted there
    clock->Set(now - std::chrono::days(2));
    create("recent_used", true, 1);    // kept
    create("recent_unused", true, 0);  // never used past the 1-day grace
    create("ephemeral", false, 1);     // expired 2 days - 1 hour ago
    clock->Set(now);
    create("fresh_unused", true, 0);  // within the grace: kept
  }
  CliResult r = Run({"sweep", "--batch", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::object counts = json::parse(r.out).as_object();
  EXPECT_EQ(counts, json::parse(R"({
      "expired": {"sessions_deleted": 1, "messages_deleted": 1,
                  "events_deleted": 2},
      "inactive": {"sessions_deleted": 2, "messages_deleted": 2,
                   "events_deleted": 4},
      "never_used": {"sessions_deleted": 1, "messages_deleted": 0,
                     "events_deleted": 1}})")
                        .as_object())
      << r.out;
  {
    std::shared_ptr<Store> store = *OpenStore(store_uri_);
    for (const auto& [name, id] : ids) {
      const bool kept = name == "recent_used" || name == "fresh_unused";
      EXPECT_EQ(store->GetSession(id).ok(), kept) << name;
    }
  }
  CliResult again = Run(
      {"sweep", "--retention-days", "0", "--never-used-grace-seconds", "0"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find(R"("inactive":{"sessions_deleted":0)"),
            std::string::npos)
      << again.out;
  std::vector<json::object> records = AuditRecords();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["action"].as_string(), "sweep");
  EXPECT_EQ(records[0]["outcome"].as_string(), "ok");
  EXPECT_EQ(records[0]["inactive_sessions_deleted"], 2) << records[0];
  EXPECT_EQ(records[0]["never_used_sessions_deleted"], 1) << records[0];
  EXPECT_EQ(records[0]["expired_sessions_deleted"], 1) << records[0];
}

}  // namespace
}  // namespace chatstore::testing
