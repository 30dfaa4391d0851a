// Crash consistency of chatstored on SQLite (synchronous=FULL): the server is
// SIGKILLed again and again in the middle of a concurrent append load over
// HTTP and restarted on the same file. Afterwards every write that got a 2xx
// answer is in the log exactly once at the seqs it was answered with, no
// write appears twice, multi-event batches are all-or-nothing, seqs are
// gapless, and the file passes PRAGMA integrity_check after every crash.
//
// CHATSTORE_CRASH_CYCLES sets the number of kill cycles (default 20);
// bench/crash_cycles.sh runs the long variant.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/server_test_fixture.h"

namespace chatstore::testing {
namespace {

namespace json = boost::json;

constexpr int kBatchSize = 3;  // events in one multi-event write

int CrashCycles() {
  const char* text = std::getenv("CHATSTORE_CRASH_CYCLES");
  const int cycles = text != nullptr ? std::atoi(text) : 0;
  return cycles > 0 ? cycles : 20;
}

// What one write was answered, keyed by its unique tag.
struct Ack {
  std::string session_id;  // for session creations: the new session
  std::int64_t first_seq = 0;
  std::int64_t last_seq = 0;
};

// Every write the load made, as the clients saw them. Thread-safe.
class WriteLedger {
 public:
  void Acknowledged(const std::string& tag, Ack ack) {
    std::lock_guard lock(mu_);
    acked_[tag] = std::move(ack);
    ++acked_this_cycle_;
    cv_.notify_all();
  }
  // No 2xx: the write may or may not have committed before the crash.
  void Unanswered(const std::string& tag) {
    std::lock_guard lock(mu_);
    unanswered_.insert(tag);
  }
  void StartCycle() {
    std::lock_guard lock(mu_);
    acked_this_cycle_ = 0;
  }
  // Waits until `n` writes were acknowledged in this cycle.
  bool WaitForAcks(int n, std::chrono::seconds deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, deadline, [&] { return acked_this_cycle_ >= n; });
  }
  const std::map<std::string, Ack>& acked() const { return acked_; }
  const std::set<std::string>& unanswered() const { return unanswered_; }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Ack> acked_;
  std::set<std::string> unanswered_;
  int acked_this_cycle_ = 0;
};

// One load thread: appends to `session_id` until `stop` or the first write
// without an answer (the server was killed), cycling through a
// single event, a batch of kBatchSize events and a new message, each tagged
// "<writer>-<n>" so the log can be matched against the answers.
void AppendLoad(HttpClient client, std::string token, std::string session_id,
                int writer, int& counter, const std::atomic<bool>& stop,
                WriteLedger& ledger) {
  const std::string base = "/v1/sessions/" + session_id;
  while (!stop) {
    const int n = counter++;
    const std::string tag = std::to_string(writer) + "-" + std::to_string(n);
    HttpResult r;
    switch (n % 3) {
      case 0:
        r = client.Post(
            base + "/events", token,
            R"({"type":"crash.one","data":{"tag":")" + tag + R"("}})");
        break;
      case 1: {
        std::string body = R"({"events":[)";
        for (int k = 0; k < kBatchSize; ++k) {
          if (k > 0) body += ',';
          body += R"({"type":"crash.batch","data":{"tag":")" + tag +
                  R"(","k":)" + std::to_string(k) + "}}";
        }
        r = client.Post(base + "/events", token, body + "]}");
        break;
      }
      default:
        r = client.Post(base + "/messages", token,
                        R"({"role":"user","content":")" + tag + R"("})");
    }
    if (r.status == 201) {
      const json::object answer = r.Json().as_object();
      Ack ack{session_id, 0, 0};
      if (answer.contains("seq")) {  // a message
        ack.first_seq = ack.last_seq = answer.at("seq").to_number<int64_t>();
      } else {
        ack.first_seq = answer.at("first_seq").to_number<std::int64_t>();
        ack.last_seq = answer.at("last_seq").to_number<std::int64_t>();
      }
      ledger.Acknowledged(tag, ack);
    } else if (r.status == 0 || r.status >= 500) {
      ledger.Unanswered(tag);
      return;  // the server is gone for this cycle
    } else {
      ADD_FAILURE() << "write " << tag << " answered " << r.status << ": "
                    << r.body;
    }
  }
}

// How many events the appender's write `tag` makes (see AppendLoad).
std::size_t EventsOfWrite(const std::string& tag) {
  const int n = std::stoi(tag.substr(tag.find('-') + 1));
  return n % 3 == 1 ? kBatchSize : 1;
}

// Creates sessions titled with their tag, like AppendLoad.
void CreateLoad(HttpClient client, std::string token, int writer, int& counter,
                const std::atomic<bool>& stop, WriteLedger& ledger) {
  while (!stop) {
    const std::string tag =
        std::to_string(writer) + "-" + std::to_string(counter++);
    HttpResult r =
        client.Post("/v1/sessions", token, R"({"title":")" + tag + R"("})");
    if (r.status == 201) {
      ledger.Acknowledged(
          tag,
          Ack{std::string(r.Json().as_object().at("id").as_string()), 1, 1});
    } else if (r.status == 0 || r.status >= 500) {
      ledger.Unanswered(tag);
      return;  // the server is gone for this cycle
    } else {
      ADD_FAILURE() << "create " << tag << " answered " << r.status;
    }
  }
}

// PRAGMA integrity_check of the database file, as a fresh process would see
// it after the crash ("ok" when sound).
std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) ==
        SQLITE_OK) {
      result.clear();
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        if (!result.empty()) result += "; ";
        result += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      }
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return result;
}

// A session's whole log: tag -> the seqs carrying it, and checks on the seqs.
struct LogContents {
  std::map<std::string, std::vector<std::int64_t>> seqs_by_tag;
  std::int64_t last_seq = 0;
  int message_events = 0;
};

LogContents ReadLog(HttpClient& client, const std::string& token,
                    const std::string& id) {
  LogContents log;
  std::int64_t after = 0;
  while (true) {
    HttpResult r =
        client.Get("/v1/sessions/" + id +
                       "/events?limit=1000&after_seq=" + std::to_string(after),
                   token);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) break;
    const json::object page = r.Json().as_object();
    for (const json::value& v : page.at("events").as_array()) {
      const json::object& e = v.as_object();
      const std::int64_t seq = e.at("seq").to_number<std::int64_t>();
      EXPECT_EQ(seq, log.last_seq + 1) << "gap or disorder in session " << id;
      log.last_seq = seq;
      const std::string_view type = e.at("type").as_string();
      const json::object& data = e.at("data").as_object();
      if (type == "message.created") {
        ++log.message_events;
        log.seqs_by_tag[std::string(data.at("content").as_string())].push_back(
            seq);
      } else if (type.starts_with("crash.")) {
        log.seqs_by_tag[std::string(data.at("tag").as_string())].push_back(seq);
      }
    }
    if (page.at("next_after_seq").is_null()) break;
    after = page.at("next_after_seq").to_number<std::int64_t>();
  }
  return log;
}

TEST(CrashConsistencyTest, AcknowledgedWritesSurviveRepeatedSigkill) {
  TempDir dir;
  const std::string db_path = dir.path() + "/chatstore.db";
  ServerOptions options;
  options.data_dir = dir.path();
  options.store_uri = "sqlite://" + db_path + "?synchronous=full";
  options.args = {"--rate-limit", "0"};
  const std::string token = TokenFor("crash-user");

  WriteLedger ledger;
  std::vector<std::string> sessions;
  constexpr int kAppenders = 4;
  constexpr int kCreator = kAppenders;  // writer number of the creator
  std::vector<int> counters(kAppenders + 1, 0);
  std::mt19937 random(12345);
  const int cycles = CrashCycles();

  for (int cycle = 0; cycle < cycles; ++cycle) {
    ServerProcess server(options);
    ASSERT_TRUE(server.ok()) << "restart " << cycle;
    HttpClient client(server.host(), server.port());
    if (sessions.empty()) {
      for (int s = 0; s < 2; ++s) {
        HttpResult r = client.Post("/v1/sessions", token, "{}");
        ASSERT_EQ(r.status, 201);
        sessions.emplace_back(r.Json().as_object().at("id").as_string());
      }
    }
    ledger.StartCycle();
    std::atomic<bool> stop{false};
    std::vector<std::thread> load;
    for (int w = 0; w < kAppenders; ++w) {
      load.emplace_back(AppendLoad, client, token, sessions[w % 2], w,
                        std::ref(counters[w]), std::cref(stop),
                        std::ref(ledger));
    }
    load.emplace_back(CreateLoad, client, token, kCreator,
                      std::ref(counters[kCreator]), std::cref(stop),
                      std::ref(ledger));
    // Kill at a different point of the load each cycle.
    const int acks_before_kill = 10 + static_cast<int>(random() % 50);
    const bool loaded =
        ledger.WaitForAcks(acks_before_kill, std::chrono::seconds(60));
    ASSERT_EQ(server.Stop(SIGKILL), 128 + SIGKILL);
    stop = true;
    for (std::thread& t : load) t.join();
    ASSERT_TRUE(loaded) << "cycle " << cycle << ": no load before the kill";
    ASSERT_EQ(IntegrityCheck(db_path), "ok") << "after crash " << cycle;
  }

  ServerProcess server(options);
  ASSERT_TRUE(server.ok());
  HttpClient client(server.host(), server.port());
  std::map<std::string, std::vector<std::int64_t>> found;  // tag -> seqs
  for (const std::string& id : sessions) {
    const LogContents log = ReadLog(client, token, id);
    HttpResult session = client.Get("/v1/sessions/" + id, token);
    ASSERT_EQ(session.status, 200);
    const json::object s = session.Json().as_object();
    EXPECT_EQ(s.at("last_seq").to_number<std::int64_t>(), log.last_seq);
    EXPECT_EQ(s.at("message_count").to_number<int>(), log.message_events);
    for (const auto& [tag, seqs] : log.seqs_by_tag) {
      auto& all = found[tag];
      all.insert(all.end(), seqs.begin(), seqs.end());
    }
  }
  // Sessions made by the creator, by title.
  std::map<std::string, std::vector<std::string>> created;  // tag -> ids
  std::string cursor;
  while (true) {
    HttpResult r = client.Get(
        "/v1/sessions?limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor),
        token);
    ASSERT_EQ(r.status, 200) << r.body;
    const json::object page = r.Json().as_object();
    for (const json::value& v : page.at("sessions").as_array()) {
      const json::object& s = v.as_object();
      // The two sessions the appenders write to have no title.
      if (!s.at("title").is_string() || s.at("title").as_string().empty()) {
        continue;
      }
      created[std::string(s.at("title").as_string())].emplace_back(
          s.at("id").as_string());
    }
    if (page.at("next_cursor").is_null()) break;
    cursor = std::string(page.at("next_cursor").as_string());
  }

  int acked_appends = 0;
  int acked_creates = 0;
  for (const auto& [tag, ack] : ledger.acked()) {
    if (tag.starts_with(std::to_string(kCreator) + "-")) {
      ++acked_creates;
      EXPECT_EQ(created[tag], std::vector<std::string>{ack.session_id})
          << "acknowledged session " << tag;
      continue;
    }
    ++acked_appends;
    std::vector<std::int64_t> expected;
    for (std::int64_t seq = ack.first_seq; seq <= ack.last_seq; ++seq) {
      expected.push_back(seq);
    }
    EXPECT_EQ(found[tag], expected) << "acknowledged write " << tag;
  }
  int unanswered_but_committed = 0;
  for (const auto& [tag, seqs] : found) {
    if (ledger.acked().contains(tag)) continue;
    ++unanswered_but_committed;
    EXPECT_TRUE(ledger.unanswered().contains(tag)) << "phantom write " << tag;
    // An unanswered write committed or not, but never partly or twice.
    EXPECT_EQ(seqs.size(), EventsOfWrite(tag)) << "unanswered write " << tag;
  }
  for (const auto& [tag, ids] : created) {
    EXPECT_EQ(ids.size(), 1u) << "session " << tag << " created twice";
    if (!ledger.acked().contains(tag)) {
      EXPECT_TRUE(ledger.unanswered().contains(tag)) << "phantom " << tag;
    }
  }
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  EXPECT_EQ(IntegrityCheck(db_path), "ok");
  // The load really ran through every cycle.
  EXPECT_GE(acked_appends, cycles * 5);
  EXPECT_GT(acked_creates, 0);
  std::printf(
      "crash cycles: %d, acknowledged appends: %d, acknowledged sessions: "
      "%d, unanswered writes: %zu (%d of them committed)\n",
      cycles, acked_appends, acked_creates, ledger.unanswered().size(),
      unanswered_but_committed);
}

}  // namespace
}  // namespace chatstore::testing
