// Against the real chatstored: `chatstore backup` taken while clients keep
// appending is a sound database holding every append acknowledged before
// the backup began; the server's audit log records exports, erasures and
// admin reads, and never message content.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chatstore/store.h"
#include "operations/cli_runner.h"
#include "server/http_test_client.h"
#include "server/server_process.h"
#include "support/temp_dir.h"

namespace chatstore::testing {
namespace {

namespace json = boost::json;

// One value of `sql` from the database file at `path` (opened read-only).
std::string QueryOne(const std::string& path, const std::string& sql,
                     const std::string& param = "") {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) !=
      SQLITE_OK) {
    sqlite3_close(db);
    ADD_FAILURE() << "cannot open " << path;
    return "";
  }
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
    if (!param.empty()) {
      sqlite3_bind_text(stmt, 1, param.c_str(), -1, SQLITE_TRANSIENT);
    }
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      out = text ? reinterpret_cast<const char*>(text) : "";
    }
  } else {
    ADD_FAILURE() << sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(BackupTest, BackupUnderWriteLoadHoldsEveryAcknowledgedAppend) {
  TempDir dir;
  ServerProcess server(ServerOptions{dir.path()});
  ASSERT_TRUE(server.ok());
  const std::string token = TokenFor("writer");
  HttpClient client(server.host(), server.port());
  HttpResult created = client.Post("/v1/sessions", token, "{}");
  ASSERT_EQ(created.status, 201);
  const std::string id(created.Json().as_object()["id"].as_string());

  std::mutex mu;
  std::condition_variable progressed;
  std::atomic<std::int64_t> max_acked{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&] {
      HttpClient c(server.host(), server.port());
      while (!stop) {
        HttpResult r = c.Post("/v1/sessions/" + id + "/events", token,
                              R"({"events":[{"type":"app.tick","data":{}}]})");
        if (r.status != 201) continue;
        const std::int64_t seq =
            r.Json().as_object()["last_seq"].to_number<std::int64_t>();
        std::int64_t seen = max_acked.load();
        while (seq > seen && !max_acked.compare_exchange_weak(seen, seq)) {
        }
        progressed.notify_all();
      }
    });
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(progressed.wait_for(lock, std::chrono::seconds(60),
                                    [&] { return max_acked.load() >= 50; }));
  }
  // Every append acknowledged up to here must be in the backup.
  const std::int64_t acked_before = max_acked.load();
  const std::string backup = dir.File("backup.db");
  CliResult r = RunCli({"--store", "sqlite://" + dir.File("chatstore.db"),
                        "backup", "--to", backup});
  const std::int64_t acked_after = max_acked.load();
  stop = true;
  for (std::thread& t : writers) t.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;

  EXPECT_EQ(QueryOne(backup, "PRAGMA integrity_check"), "ok");
  const std::int64_t last_seq = std::stoll(
      QueryOne(backup, "SELECT last_seq FROM sessions WHERE id = ?1", id));
  EXPECT_GE(last_seq, acked_before);
  // The copy is one snapshot: the log is whole up to its last_seq.
  EXPECT_EQ(
      QueryOne(backup, "SELECT count(*) FROM events WHERE session_id = ?1", id),
      std::to_string(last_seq));
  std::cout << "acknowledged before the backup: " << acked_before
            << ", in the backup: " << last_seq
            << ", acknowledged when it finished: " << acked_after << "\n";
  // And it opens as a store.
  Result<std::shared_ptr<Store>> restored = OpenStore("sqlite://" + backup);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ((*restored)->GetSession(id)->last_seq, last_seq);
  EXPECT_FALSE(std::ifstream(backup + ".partial").good());
}

TEST(ServerAuditTest, ExportsErasuresAndAdminReadsAreRecordedWithoutContent) {
  constexpr char kMarker[] = "okapi-marker-19c2";
  TempDir dir;
  ServerProcess server(ServerOptions{dir.path()});
  ASSERT_TRUE(server.ok());
  HttpClient client(server.host(), server.port());
  const std::string victim = TokenFor("victim");
  const std::string other = TokenFor("other");
  TokenSpec admin_spec;
  admin_spec.sub = "root";
  admin_spec.scope = "admin";
  const std::string admin = MintToken(admin_spec);
  for (const std::string* token : {&victim, &other}) {
    HttpResult s = client.Post("/v1/sessions", *token, "{}");
    ASSERT_EQ(s.status, 201);
    const std::string id(s.Json().as_object()["id"].as_string());
    ASSERT_EQ(client
                  .Post("/v1/sessions/" + id + "/messages", *token,
                        std::string(R"({"role":"user","content":")") + kMarker +
                            "\"}")
                  .status,
              201);
  }

  ASSERT_EQ(client.Get("/v1/me/export", victim).status, 200);
  ASSERT_EQ(client.Get("/v1/admin/stats", admin).status, 200);
  ASSERT_EQ(client.Get("/v1/admin/users/other/export", admin).status, 200);
  ASSERT_EQ(client.Delete("/v1/admin/users/other", admin).status, 200);
  ASSERT_EQ(client.Delete("/v1/me", victim).status, 200);

  const std::string log = ReadFile(dir.File("audit.log"));
  EXPECT_EQ(log.find(kMarker), std::string::npos) << log;
  struct Expected {
    std::string actor, action, target;
  };
  const std::vector<Expected> expected = {
      {"user:victim", "export", "victim"}, {"admin:root", "read.stats", "*"},
      {"admin:root", "export", "other"},   {"admin:root", "erase", "other"},
      {"user:victim", "erase", "victim"},
  };
  const std::vector<std::string> lines = Lines(log);
  ASSERT_EQ(lines.size(), expected.size()) << log;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    json::object r = json::parse(lines[i]).as_object();
    EXPECT_EQ(r["actor"].as_string(), expected[i].actor) << lines[i];
    EXPECT_EQ(r["action"].as_string(), expected[i].action) << lines[i];
    EXPECT_EQ(r["target"].as_string(), expected[i].target) << lines[i];
    EXPECT_EQ(r["outcome"], "ok") << lines[i];
    EXPECT_FALSE(r["time"].as_string().empty());
    if (expected[i].action == "erase") {
      EXPECT_EQ(r["sessions_deleted"], 1) << lines[i];
      EXPECT_EQ(r["messages_deleted"], 1) << lines[i];
    }
  }
}

}  // namespace
}  // namespace chatstore::testing
