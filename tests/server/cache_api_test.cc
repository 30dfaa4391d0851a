// PUT/GET/DELETE /v1/cache/{namespace}/{key} against the real chatstored:
// bytes round trips, TTL, users' isolation, admin-only shared namespaces,
// erasure with the user, limits and problem+json answers, metrics.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "server/server_test_fixture.h"

namespace chatstore::testing {
namespace {

const Headers kOctets = {{"Content-Type", "application/octet-stream"}};

std::string Binary(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 + 3);
  return s;
}

std::string AdminToken(const std::string& user) {
  TokenSpec spec;
  spec.sub = user;
  spec.scope = "admin";
  return MintToken(spec);
}

Headers Auth(const std::string& token, Headers headers = kOctets) {
  headers.emplace_back("Authorization", "Bearer " + token);
  return headers;
}

class CacheApiTest : public ServerTest {
 protected:
  std::vector<std::string> ServerArgs() override {
    // Room for the 600 KB value below and little more, so the size limit
    // shows.
    return {"--cache-max-bytes", "1000000"};
  }
  HttpResult Put(const std::string& token, const std::string& path,
                 const std::string& body) {
    return client().Request("PUT", "/v1/cache/" + path, body, Auth(token));
  }
  HttpResult Get(const std::string& token, const std::string& path) {
    return client().Get("/v1/cache/" + path, token);
  }
  HttpResult Delete(const std::string& token, const std::string& path) {
    return client().Delete("/v1/cache/" + path, token);
  }

  const std::string alice_ = TokenFor("alice");
  const std::string bob_ = TokenFor("bob");
};

TEST_F(CacheApiTest, StoresBytesAndGivesThemBack) {
  const std::string small = Binary(1000);
  const std::string large = Binary(600000);  // kept in a value file
  HttpResult put = Put(alice_, "embeddings/doc-1", small);
  EXPECT_EQ(put.status, 204) << put.body;
  EXPECT_TRUE(put.body.empty());
  EXPECT_EQ(Put(alice_, "embeddings/doc%2F2", large).status, 204);

  HttpResult got = Get(alice_, "embeddings/doc-1");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.body, small);
  EXPECT_EQ(got.Header("content-type"), "application/octet-stream");
  EXPECT_EQ(got.Header("cache-control"), "private, no-store");
  got = Get(alice_, "embeddings/doc%2F2");  // the key is "doc/2"
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body, large);

  // Replace, then delete; a second delete finds nothing.
  EXPECT_EQ(Put(alice_, "embeddings/doc-1", "v2").status, 204);
  EXPECT_EQ(Get(alice_, "embeddings/doc-1").body, "v2");
  EXPECT_EQ(Delete(alice_, "embeddings/doc-1").status, 204);
  ExpectProblem(Get(alice_, "embeddings/doc-1"), 404);
  ExpectProblem(Delete(alice_, "embeddings/doc-1"), 404);
  // An empty value is a value.
  EXPECT_EQ(Put(alice_, "embeddings/empty", "").status, 204);
  got = Get(alice_, "embeddings/empty");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body, "");
}

TEST_F(CacheApiTest, UsersSeeOnlyTheirOwnNamespaces) {
  ASSERT_EQ(Put(alice_, "notes/k", "alice's").status, 204);
  ExpectProblem(Get(bob_, "notes/k"), 404);
  ExpectProblem(Delete(bob_, "notes/k"), 404);
  ASSERT_EQ(Put(bob_, "notes/k", "bob's").status, 204);
  EXPECT_EQ(Get(alice_, "notes/k").body, "alice's");
  EXPECT_EQ(Get(bob_, "notes/k").body, "bob's");
  // A user whose id extends another's owns nothing of theirs either.
  const std::string alice2 = TokenFor("alice:2");
  ExpectProblem(Get(alice2, "notes/k"), 404);

  // Erasing a user erases their cache, and only theirs.
  HttpResult erased = client().Delete("/v1/me", alice_);
  ASSERT_EQ(erased.status, 200) << erased.body;
  ExpectProblem(Get(alice_, "notes/k"), 404);
  EXPECT_EQ(Get(bob_, "notes/k").body, "bob's");
  // So does the admin erasure.
  ASSERT_EQ(client().Delete("/v1/admin/users/bob", AdminToken("root")).status,
            200);
  ExpectProblem(Get(bob_, "notes/k"), 404);
}

TEST_F(CacheApiTest, SharedNamespacesNeedTheAdminScope) {
  const std::string admin = AdminToken("ops");
  ExpectProblem(Put(alice_, "shared:models/m", "x"), 403);
  ExpectProblem(Get(alice_, "shared:models/m"), 403);
  ASSERT_EQ(Put(admin, "shared:models/m", "weights").status, 204);
  // Another admin sees the same entry; the name is not the admin's own
  // "models" namespace.
  EXPECT_EQ(Get(AdminToken("ops2"), "shared:models/m").body, "weights");
  ExpectProblem(Get(admin, "models/m"), 404);
  ExpectProblem(Delete(alice_, "shared:models/m"), 403);
  EXPECT_EQ(Delete(admin, "shared:models/m").status, 204);
  // A user's erasure leaves shared entries alone.
  ASSERT_EQ(Put(admin, "shared:models/m", "weights").status, 204);
  ASSERT_EQ(client().Delete("/v1/me", admin).status, 200);
  EXPECT_EQ(Get(admin, "shared:models/m").status, 200);
}

TEST_F(CacheApiTest, EntriesExpireAfterTheirTtl) {
  ASSERT_EQ(Put(alice_, "t/forever", "f").status, 204);
  HttpResult put =
      client().Request("PUT", "/v1/cache/t/brief?ttl=1", "b", Auth(alice_));
  ASSERT_EQ(put.status, 204) << put.body;
  EXPECT_EQ(Get(alice_, "t/brief").status, 200);
  // The server's clock is real: wait (with a deadline) for the second.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int status = 200;
  while (status == 200 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = Get(alice_, "t/brief").status;
  }
  EXPECT_EQ(status, 404);
  EXPECT_EQ(Get(alice_, "t/forever").status, 200);

  for (const char* bad : {"0", "-1", "1.5", "abc", "", "315360001"}) {
    ExpectProblem(
        client().Request("PUT", std::string("/v1/cache/t/k?ttl=") + bad, "v",
                         Auth(alice_)),
        400);
  }
  ExpectProblem(Get(alice_, "t/k"), 404);  // nothing was stored
}

TEST_F(CacheApiTest, RefusesBadNamesAndOversizedValues) {
  for (const char* path :
       {"bad%20ns/k", "..%2Fetc/k", "a%00b/k", "%2E%2E/k", "shared:/k",
        "shared:bad%2Fname/k", "ns/%0Akey", "ns/..", "ns/."}) {
    SCOPED_TRACE(path);
    ExpectProblem(Put(alice_, path, "v"), 400);
    ExpectProblem(Get(alice_, path), 400);
  }
  ExpectProblem(Put(alice_, std::string(65, 'n') + "/k", "v"), 400);
  ExpectProblem(Put(alice_, "ns/" + std::string(513, 'k'), "v"), 400);
  EXPECT_EQ(Put(alice_, std::string(64, 'n') + "/" + std::string(512, 'k'), "v")
                .status,
            204);
  // Keys may hold any other bytes, percent-encoded.
  EXPECT_EQ(Put(alice_, "ns/caf%C3%A9%20%E2%98%95", "utf8").status, 204);
  EXPECT_EQ(Get(alice_, "ns/caf%C3%A9%20%E2%98%95").body, "utf8");

  // Over the body limit (1 MiB by default): 413 before it is stored.
  ExpectProblem(Put(alice_, "ns/big", std::string((1 << 20) + 1, 'x')), 413);
  ExpectProblem(Get(alice_, "ns/big"), 404);
  // Methods the route does not have.
  HttpResult post = client().Post("/v1/cache/ns/k", alice_, "{}");
  ExpectProblem(post, 405);
  EXPECT_EQ(post.Header("allow"), "PUT, GET, DELETE");
  // No token, no cache.
  ExpectProblem(client().Request("GET", "/v1/cache/ns/k"), 401);
}

TEST_F(CacheApiTest, TheSizeLimitEvictsTheLeastRecentlyStored) {
  // --cache-max-bytes 1000000: two 400 KB values fit, a third evicts the
  // older one.
  ASSERT_EQ(Put(alice_, "big/a", std::string(400000, 'a')).status, 204);
  ASSERT_EQ(Put(alice_, "big/b", std::string(400000, 'b')).status, 204);
  ASSERT_EQ(Put(alice_, "big/c", std::string(400000, 'c')).status, 204);
  ExpectProblem(Get(alice_, "big/a"), 404);
  EXPECT_EQ(Get(alice_, "big/b").status, 200);
  EXPECT_EQ(Get(alice_, "big/c").status, 200);

  const HttpResult metrics = client().Get("/metrics", "");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("chatstore_cache_evictions_total 1\n"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("chatstore_cache_entries 2\n"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("chatstore_cache_hits_total 2\n"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("chatstore_cache_misses_total 1\n"),
            std::string::npos);

  const HttpResult stats = client().Get("/v1/admin/stats", AdminToken("ops"));
  ASSERT_EQ(stats.status, 200);
  const boost::json::value v = stats.Json();
  EXPECT_EQ(v.at("cache").at("entries").to_number<int>(), 2);
  EXPECT_EQ(v.at("cache").at("evictions").to_number<int>(), 1);
}

TEST_F(CacheApiTest, KeepsTheCacheInTheDataDirectoryAcrossRestarts) {
  ASSERT_EQ(Put(alice_, "p/k", Binary(50000)).status, 204);
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/cache/index.db"));
  StartServer();
  EXPECT_EQ(Get(alice_, "p/k").body, Binary(50000));
}

}  // namespace
}  // namespace chatstore::testing
