// chatstored with --encryption-key-file over real sockets: writes, reads,
// streams and the context window work on plaintext while the SQLite files
// hold none; search answers its documented problem; a value that does not
// open is a 500 problem that says so; a wrong key, no key, or a key file
// others may read stop the server at start-up with a clear message.
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "chatstore/store.h"
#include "server/server_test_fixture.h"
#include "support/store_tampering.h"

namespace chatstore::testing {
namespace {

constexpr char kKeyA[] =
    "a 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
constexpr char kKeyB[] =
    "b f0e0d0c0b0a090807060504030201000ffeeddccbbaa99887766554433221100\n";

std::string WriteKeyFile(const TempDir& dir, const std::string& name,
                         const std::string& text, mode_t mode = 0600) {
  const std::string path = dir.File(name);
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
  return path;
}

std::string ReadLog(const ServerProcess& server) {
  std::ifstream in(server.log_path());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class EncryptionTest : public ServerTest {
 protected:
  std::vector<std::string> ServerArgs() override {
    return {"--encryption-key-file", key_file_};
  }
  // Starts a server on the same data directory with other flags; returns
  // its exit code and log (it is expected to refuse).
  std::pair<std::optional<int>, std::string> StartRefused(
      std::vector<std::string> args) {
    ServerOptions options;
    options.data_dir = dir_.path();
    options.args = std::move(args);
    options.expect_listening = false;
    ServerProcess refused(std::move(options));
    const std::optional<int> code = refused.WaitExit(std::chrono::seconds(60));
    return {code, ReadLog(refused)};
  }

  TempDir keys_dir_;
  const std::string key_file_ = WriteKeyFile(keys_dir_, "keys", kKeyA);
  const std::string token_ = TokenFor("alice");
};

TEST_F(EncryptionTest, ServesPlaintextStoresNone) {
  const std::string id = CreateSessionId(token_);
  HttpResult said =
      client().Post("/v1/sessions/" + id + "/messages", token_,
                    R"({"role":"user","content":"zebracornflake"})");
  ASSERT_EQ(said.status, 201) << said.body;
  HttpResult open = client().Post(
      "/v1/sessions/" + id + "/messages", token_,
      R"({"role":"assistant","content":"","status":"streaming"})");
  ASSERT_EQ(open.status, 201) << open.body;
  const std::string mid(open.Json().at("id").as_string());

  SseStream stream(server().host(), server().port(),
                   "/v1/sessions/" + id + "/stream", token_);
  ASSERT_EQ(stream.status(), 200);
  for (const std::string delta : {"quokka", "marmalade"}) {
    HttpResult r =
        client().Post("/v1/sessions/" + id + "/messages/" + mid + "/append",
                      token_, "{\"delta\":\"" + delta + "\"}");
    ASSERT_EQ(r.status, 200) << r.body;
  }
  HttpResult done = client().Post(
      "/v1/sessions/" + id + "/messages/" + mid + "/complete", token_, "{}");
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.Json().at("content").as_string(), "quokkamarmalade");

  // The stream replays and then carries live events, in plaintext.
  std::string streamed;
  for (int i = 0; i < 100; ++i) {
    std::optional<SseEvent> e = stream.Next();
    ASSERT_TRUE(e) << "stream ended early: " << streamed;
    streamed += e->event + " " + e->data + "\n";
    if (e->event == "message.completed") break;
  }
  EXPECT_NE(streamed.find("zebracornflake"), std::string::npos) << streamed;
  EXPECT_NE(streamed.find(R"("delta":"marmalade")"), std::string::npos)
      << streamed;
  EXPECT_NE(streamed.find("quokkamarmalade"), std::string::npos) << streamed;
  stream.Close();

  HttpResult messages =
      client().Get("/v1/sessions/" + id + "/messages", token_);
  ASSERT_EQ(messages.status, 200);
  const boost::json::value body = messages.Json();
  const boost::json::array& list = body.at("messages").as_array();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].at("content").as_string(), "zebracornflake");
  EXPECT_EQ(list[1].at("content").as_string(), "quokkamarmalade");
  // Token counts are those of the plaintext: "quokkamarmalade" is more
  // than one token, and the context window sums them.
  const std::int64_t tokens =
      list[0].at("tokens").as_int64() + list[1].at("tokens").as_int64();
  HttpResult context = client().Get("/v1/sessions/" + id + "/context", token_);
  ASSERT_EQ(context.status, 200);
  EXPECT_EQ(context.Json().at("token_count").as_int64(), tokens);
  EXPECT_GT(tokens, 2);

  HttpResult search = client().Get("/v1/search?q=zebracornflake", token_);
  ExpectProblem(search, 422);
  EXPECT_EQ(search.Json().at("title").as_string(),
            "search is disabled: the store is encrypted at rest");
  EXPECT_EQ(search.Json().at("type").as_string(),
            "urn:chatstore:problem:search-disabled");

  ASSERT_EQ(server().Stop(SIGTERM), 0);
  const std::string bytes = AllBytesUnder(dir_.path());
  EXPECT_NE(bytes.find("csenc:v1:a:"), std::string::npos);
  for (const char* marker : {"zebracornflake", "quokka", "marmalade"}) {
    EXPECT_EQ(bytes.find(marker), std::string::npos)
        << marker << " is stored in plaintext";
  }
}

TEST_F(EncryptionTest, AValueThatDoesNotOpenIsAProblemThatSaysSo) {
  const std::string a = CreateSessionId(token_);
  const std::string b = CreateSessionId(token_);
  for (const std::string& id : {a, b}) {
    ASSERT_EQ(client()
                  .Post("/v1/sessions/" + id + "/messages", token_,
                        R"({"role":"user","content":"text of )" + id + "\"}")
                  .status,
              201);
  }
  ASSERT_EQ(server().Stop(SIGTERM), 0);
  {
    // Move a's sealed message into b, behind the server's back.
    std::shared_ptr<Store> raw =
        *OpenStore("sqlite://" + dir_.path() + "/chatstore.db");
    const Message from = (*raw->ReadMessages(a, 0, 1)).front();
    const Message to = (*raw->ReadMessages(b, 0, 1)).front();
    ASSERT_TRUE(raw->ApplySync(std::make_shared<OverwriteContent>(b, to.id,
                                                                  from.content))
                    .ok());
  }
  StartServer();
  HttpResult ok = client().Get("/v1/sessions/" + a + "/messages", token_);
  EXPECT_EQ(ok.status, 200) << ok.body;
  HttpResult bad = client().Get("/v1/sessions/" + b + "/messages", token_);
  ExpectProblem(bad, 500);
  EXPECT_EQ(bad.Json().at("title").as_string(),
            "cannot decrypt: wrong encryption key or damaged data");
  EXPECT_NE(bad.Json().at("detail").as_string().find(b), std::string::npos)
      << bad.body;
  // The server keeps serving.
  EXPECT_EQ(client().Get("/v1/sessions/" + a, token_).status, 200);
}

TEST_F(EncryptionTest, RefusesToStartWithAWrongKeyNoKeyOrAnOpenKeyFile) {
  CreateSessionId(token_);
  ASSERT_EQ(server().Stop(SIGTERM), 0);

  const std::string wrong = WriteKeyFile(keys_dir_, "wrong", kKeyB);
  auto [code, log] = StartRefused({"--encryption-key-file", wrong});
  ASSERT_TRUE(code);
  EXPECT_NE(*code, 0);
  EXPECT_NE(log.find("does not fit"), std::string::npos) << log;

  std::tie(code, log) = StartRefused({});
  ASSERT_TRUE(code);
  EXPECT_NE(*code, 0);
  EXPECT_NE(log.find("encrypted at rest"), std::string::npos) << log;

  const std::string open = WriteKeyFile(keys_dir_, "open", kKeyA, 0644);
  std::tie(code, log) = StartRefused({"--encryption-key-file", open});
  ASSERT_TRUE(code);
  EXPECT_NE(*code, 0);
  EXPECT_NE(log.find("chmod 600"), std::string::npos) << log;

  // The environment variable names the key file as the flag does.
  ServerOptions options;
  options.data_dir = dir_.path();
  options.env["CHATSTORE_ENCRYPTION_KEY_FILE"] = key_file_;
  ServerProcess again(std::move(options));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.Stop(SIGTERM), 0);
  // So does the config file.
  const std::string config = keys_dir_.File("chatstored.conf");
  std::ofstream(config) << "encryption-key-file = " << key_file_ << "\n";
  ServerOptions from_file;
  from_file.data_dir = dir_.path();
  from_file.args = {"--config", config};
  ServerProcess configured(std::move(from_file));
  ASSERT_TRUE(configured.ok());
  EXPECT_EQ(configured.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace chatstore::testing
