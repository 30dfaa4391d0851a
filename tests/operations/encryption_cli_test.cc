// The chatstore CLI on stores encrypted at rest: migrate encrypts a plain
// store, re-seals it under a rotated key and decrypts it back, each copy
// verified; export and sessions need the key (flag or environment) and
// refuse clearly without it; backup and stats work without it.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "chatstore/service.h"
#include "chatstore/store.h"
#include "operations/cli_runner.h"
#include "support/temp_dir.h"

namespace chatstore::testing {
namespace {

constexpr char kMarker[] = "pangolin-marker-51c9";
constexpr char kKeyOld[] =
    "old 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
constexpr char kKeyNew[] =
    "new f0e0d0c0b0a090807060504030201000ffeeddccbbaa99887766554433221100\n";

// An export without its exported_at (the one field two exports of the same
// data differ in).
std::string Content(const std::string& exported) {
  return std::regex_replace(exported, std::regex("\"exported_at\":\"[^\"]*\""),
                            "");
}

class EncryptionCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* d : {"plain", "enc", "rotated", "back"}) {
      std::filesystem::create_directory(dir_.File(d));
    }
    std::shared_ptr<Store> store = *OpenStore(Uri("plain"));
    SessionService service(store, nullptr, {});
    for (int i = 0; i < 3; ++i) {
      Result<Session> s = service.CreateSession("alice", {.title = "chat"});
      ASSERT_TRUE(s.ok());
      ASSERT_TRUE(service
                      .AddMessage("alice", s->id,
                                  {.content = std::string("hello ") + kMarker})
                      .ok());
    }
  }

  std::string Uri(const std::string& name) {
    return "sqlite://" + dir_.File(name) + "/chatstore.db";
  }
  std::string KeyFile(const std::string& name, const std::string& text) {
    const std::string path = dir_.File(name);
    std::ofstream(path) << text;
    ::chmod(path.c_str(), 0600);
    return path;
  }
  CliResult Run(std::vector<std::string> args,
                const std::map<std::string, std::string>& env = {}) {
    args.insert(args.begin(), {"--audit-log", dir_.File("audit.log")});
    return RunCli(args, env);
  }

  TempDir dir_;
};

TEST_F(EncryptionCliTest, MigrateEncryptsRotatesAndDecrypts) {
  const std::string old_keys = KeyFile("old.keys", kKeyOld);
  const std::string rotated_keys =
      KeyFile("rotated.keys", std::string(kKeyNew) + kKeyOld);
  const std::string new_keys = KeyFile("new.keys", kKeyNew);

  // Plain -> encrypted, verified (checksums over the plaintext).
  CliResult enc = Run({"migrate", "--from", Uri("plain"), "--to", Uri("enc"),
                       "--to-encryption-key-file", old_keys, "--verify"});
  ASSERT_EQ(enc.exit_code, 0) << enc.err << enc.out;
  EXPECT_NE(enc.out.find("copied 3 sessions"), std::string::npos) << enc.out;
  EXPECT_NE(enc.out.find(": 0 differences"), std::string::npos) << enc.out;
  EXPECT_EQ(AllBytesUnder(dir_.File("enc")).find(kMarker), std::string::npos);

  // Reading it needs the key; without it the refusal says what to do.
  CliResult refused = Run({"--store", Uri("enc"), "export", "--user", "alice"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("--encryption-key-file"), std::string::npos)
      << refused.err;
  CliResult no_file =
      Run({"--store", Uri("enc"), "--encryption-key-file",
           dir_.File("missing.keys"), "export", "--user", "alice"});
  EXPECT_EQ(no_file.exit_code, 2);
  EXPECT_NE(no_file.err.find("no encryption key file at"), std::string::npos)
      << no_file.err;
  CliResult exported = Run({"--store", Uri("enc"), "--encryption-key-file",
                            old_keys, "export", "--user", "alice"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.out.find(kMarker), std::string::npos);
  // The environment variable works as the flag does.
  CliResult shown = Run({"--store", Uri("enc"), "export", "--user", "alice"},
                        {{"CHATSTORE_ENCRYPTION_KEY_FILE", old_keys}});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(Content(shown.out), Content(exported.out));

  // Rotation: re-seal into a new store with the new key first...
  CliResult rotated =
      Run({"--encryption-key-file", rotated_keys, "migrate", "--from",
           Uri("enc"), "--to", Uri("rotated"), "--verify"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err << rotated.out;
  // ... after which the new key alone opens the copy, not the original.
  CliResult new_only = Run({"--store", Uri("rotated"), "--encryption-key-file",
                            new_keys, "export", "--user", "alice"});
  ASSERT_EQ(new_only.exit_code, 0) << new_only.err;
  EXPECT_EQ(Content(new_only.out), Content(exported.out));
  CliResult old_store = Run({"--store", Uri("enc"), "--encryption-key-file",
                             new_keys, "export", "--user", "alice"});
  EXPECT_NE(old_store.exit_code, 0);
  EXPECT_NE(old_store.err.find("does not fit"), std::string::npos)
      << old_store.err;

  // Encrypted -> plain again ("" turns the common key off for --to).
  CliResult back = Run({"--encryption-key-file", new_keys, "migrate", "--from",
                        Uri("rotated"), "--to", Uri("back"),
                        "--to-encryption-key-file", "", "--verify"});
  ASSERT_EQ(back.exit_code, 0) << back.err << back.out;
  CliResult plain_export =
      Run({"--store", Uri("back"), "export", "--user", "alice"});
  ASSERT_EQ(plain_export.exit_code, 0) << plain_export.err;
  EXPECT_EQ(Content(plain_export.out), Content(exported.out));
}

TEST_F(EncryptionCliTest, BackupAndStatsNeedNoKey) {
  const std::string keys = KeyFile("old.keys", kKeyOld);
  ASSERT_EQ(Run({"migrate", "--from", Uri("plain"), "--to", Uri("enc"),
                 "--to-encryption-key-file", keys})
                .exit_code,
            0);
  CliResult stats = Run({"--store", Uri("enc"), "stats"});
  EXPECT_EQ(stats.exit_code, 0) << stats.err;
  const std::string backup = dir_.File("backup.db");
  CliResult backed = Run({"--store", Uri("enc"), "backup", "--to", backup});
  ASSERT_EQ(backed.exit_code, 0) << backed.err;
  // The backup holds the sealed store: readable with the key only.
  CliResult exported =
      Run({"--store", "sqlite://" + backup, "--encryption-key-file", keys,
           "export", "--user", "alice"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.out.find(kMarker), std::string::npos);
  std::ifstream in(backup, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  EXPECT_EQ(bytes.str().find(kMarker), std::string::npos);
}

}  // namespace
}  // namespace chatstore::testing
