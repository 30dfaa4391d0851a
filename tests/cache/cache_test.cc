// The persistent cache (include/chatstore/cache.h) on real directories:
// values on both sides of the file threshold, TTLs on a ManualClock, the
// size limit's eviction order, damaged value files, erasure by namespace
// prefix, garbage collection, threads, and several processes at once.
#include "chatstore/cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cache/checked_value.h"
#include "store/sqlite/sqlite_db.h"
#include "support/child_process.h"
#include "support/temp_dir.h"

namespace chatstore {
namespace {

namespace fs = std::filesystem;
using ::chatstore::testing::CheckedValue;
using ::chatstore::testing::CheckValue;
using ::chatstore::testing::ChildProcess;
using ::chatstore::testing::TempDir;
using namespace std::chrono_literals;

const Timestamp kStart = FromMillis(1'800'000'000'000);

std::string Bytes(std::size_t n, char seed = 'a') {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>(seed + static_cast<char>(i % 23));
  }
  return s;
}

// The value files under a cache directory.
std::vector<fs::path> ValueFiles(const std::string& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/values")) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  return files;
}

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    cache_.reset();
    CacheOptions options = options_;
    options.clock = clock_;
    auto opened = OpenCache(dir_.path(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    cache_ = std::move(*opened);
  }

  std::string GetOrDie(std::string_view ns, std::string_view key) {
    std::string value;
    Status s = cache_->Get(ns, key, &value);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return value;
  }
  bool Has(std::string_view ns, std::string_view key) {
    std::string value;
    Status s = cache_->Get(ns, key, &value);
    EXPECT_TRUE(s.ok() || s.IsNotFound()) << s.ToString();
    return s.ok();
  }
  CacheStats Stats() {
    auto stats = cache_->Stats();
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return stats.ok() ? *stats : CacheStats{};
  }

  TempDir dir_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>(kStart);
  CacheOptions options_;
  std::unique_ptr<Cache> cache_;
};

TEST_F(CacheTest, StoresReplacesAndDeletesBytes) {
  const std::string binary("a\0b\xff\x80z", 6);
  ASSERT_TRUE(cache_->Set("ns", "key", binary).ok());
  EXPECT_EQ(GetOrDie("ns", "key"), binary);
  // Keys and namespaces are bytes too, and each pair is its own entry.
  const std::string odd_key("k\0/../x", 7);
  ASSERT_TRUE(cache_->Set("ns", odd_key, "other").ok());
  ASSERT_TRUE(cache_->Set("ns2", "key", "third").ok());
  EXPECT_EQ(GetOrDie("ns", odd_key), "other");
  EXPECT_EQ(GetOrDie("ns2", "key"), "third");
  EXPECT_EQ(GetOrDie("ns", "key"), binary);

  ASSERT_TRUE(cache_->Set("ns", "key", "").ok());
  EXPECT_EQ(GetOrDie("ns", "key"), "");

  auto deleted = cache_->Delete("ns", "key");
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  std::string value;
  EXPECT_TRUE(cache_->Get("ns", "key", &value).IsNotFound());
  deleted = cache_->Delete("ns", "key");
  ASSERT_TRUE(deleted.ok());
  EXPECT_FALSE(*deleted);

  const CacheStats stats = Stats();
  EXPECT_EQ(stats.entries, 2);
  EXPECT_EQ(stats.bytes, static_cast<std::int64_t>(2 + 7 + 5 + 3 + 3 + 5));
  EXPECT_EQ(stats.hits, 5u);
  EXPECT_EQ(stats.misses, 1u);
}

TEST_F(CacheTest, SurvivesReopening) {
  ASSERT_TRUE(cache_->Set("ns", "small", "v").ok());
  ASSERT_TRUE(cache_->Set("ns", "large", Bytes(100000)).ok());
  Reopen();
  EXPECT_EQ(GetOrDie("ns", "small"), "v");
  EXPECT_EQ(GetOrDie("ns", "large"), Bytes(100000));
  EXPECT_EQ(Stats().entries, 2);
}

TEST_F(CacheTest, ValuesOverThirtyTwoKibLiveInFiles) {
  // 32768 bytes is the threshold itself: still inline; one more goes to a
  // file.
  for (const std::size_t size : {32767u, 32768u, 32769u}) {
    const std::string key = "v" + std::to_string(size);
    ASSERT_TRUE(cache_->Set("ns", key, Bytes(size, 'A')).ok());
    EXPECT_EQ(GetOrDie("ns", key), Bytes(size, 'A')) << size;
  }
  std::vector<fs::path> files = ValueFiles(dir_.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::file_size(files[0]), 32769u);
  EXPECT_EQ(Stats().bytes,
            static_cast<std::int64_t>(3 * (2 + 6) + 32767 + 32768 + 32769));

  // Replacing a file value (with a file or an inline value) or deleting it
  // removes its file.
  ASSERT_TRUE(cache_->Set("ns", "v32769", Bytes(40000, 'B')).ok());
  files = ValueFiles(dir_.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(fs::file_size(files[0]), 40000u);
  EXPECT_EQ(GetOrDie("ns", "v32769"), Bytes(40000, 'B'));
  ASSERT_TRUE(cache_->Set("ns", "v32769", "now small").ok());
  EXPECT_TRUE(ValueFiles(dir_.path()).empty());
  ASSERT_TRUE(cache_->Set("ns", "v32768", Bytes(50000)).ok());
  EXPECT_EQ(ValueFiles(dir_.path()).size(), 1u);
  ASSERT_TRUE(cache_->Delete("ns", "v32768").ok());
  EXPECT_TRUE(ValueFiles(dir_.path()).empty());
}

TEST_F(CacheTest, EntriesExpireAfterTheirTtl) {
  ASSERT_TRUE(cache_->Set("ns", "short", "s", 10s).ok());
  ASSERT_TRUE(cache_->Set("ns", "long", Bytes(40000), 60s).ok());
  ASSERT_TRUE(cache_->Set("ns", "forever", "f").ok());

  clock_->Advance(9999ms);
  EXPECT_TRUE(Has("ns", "short"));
  clock_->Advance(1ms);  // exactly ttl later: expired
  EXPECT_FALSE(Has("ns", "short"));
  EXPECT_TRUE(Has("ns", "long"));

  // A Set renews the TTL (or drops it).
  ASSERT_TRUE(cache_->Set("ns", "short", "s2", 5s).ok());
  clock_->Advance(4s);
  EXPECT_EQ(GetOrDie("ns", "short"), "s2");
  ASSERT_TRUE(cache_->Set("ns", "short", "s3").ok());
  clock_->Advance(1h);
  EXPECT_EQ(GetOrDie("ns", "short"), "s3");
  EXPECT_FALSE(Has("ns", "long"));
  EXPECT_TRUE(Has("ns", "forever"));

  // Deleting an expired entry reports nothing was there; the sweep removes
  // expired entries and their files.
  EXPECT_EQ(Stats().entries, 3);
  auto swept = cache_->SweepExpired(100);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 1);
  EXPECT_TRUE(ValueFiles(dir_.path()).empty());
  const CacheStats stats = Stats();
  EXPECT_EQ(stats.entries, 2);
  EXPECT_EQ(stats.expired, 1u);
  EXPECT_EQ(stats.evictions, 0u);

  ASSERT_TRUE(cache_->Set("ns", "gone", "g", 1s).ok());
  clock_->Advance(1s);
  auto deleted = cache_->Delete("ns", "gone");
  ASSERT_TRUE(deleted.ok());
  EXPECT_FALSE(*deleted);
}

class SmallCacheTest : public CacheTest {
 protected:
  // Each entry below is 100 bytes (1 + 3 + 96; every key has 3 bytes): ten fit.
  void SetUp() override {
    options_.max_bytes = 1000;
    CacheTest::SetUp();
  }
  Status Put(const std::string& key,
             std::optional<std::chrono::milliseconds> ttl = std::nullopt) {
    return cache_->Set("n", key, Bytes(96), ttl);
  }
};

TEST_F(SmallCacheTest, EvictsTheLeastRecentlyStored) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(Put("k0" + std::to_string(i)).ok());
  EXPECT_EQ(Stats().bytes, 1000);
  // Reading does not count: k0 stays the least recently stored...
  EXPECT_TRUE(Has("n", "k00"));
  // ...but storing again does: k1 is now the oldest.
  ASSERT_TRUE(Put("k00").ok());
  ASSERT_TRUE(Put("k10").ok());
  EXPECT_FALSE(Has("n", "k01"));
  EXPECT_TRUE(Has("n", "k00"));
  ASSERT_TRUE(Put("k11").ok());
  EXPECT_FALSE(Has("n", "k02"));
  for (const char* key : {"k00", "k03", "k09", "k10", "k11"}) {
    EXPECT_TRUE(Has("n", key)) << key;
  }
  // A larger entry evicts as many as it needs, oldest first.
  ASSERT_TRUE(cache_->Set("n", "big", Bytes(296)).ok());  // 300 bytes
  EXPECT_FALSE(Has("n", "k03"));
  EXPECT_FALSE(Has("n", "k04"));
  EXPECT_FALSE(Has("n", "k05"));
  EXPECT_TRUE(Has("n", "k06"));
  const CacheStats stats = Stats();
  EXPECT_EQ(stats.evictions, 5u);
  EXPECT_EQ(stats.entries, 8);
  EXPECT_EQ(stats.bytes, 1000);
}

TEST_F(SmallCacheTest, DropsExpiredEntriesBeforeLiveOnes) {
  ASSERT_TRUE(Put("old").ok());
  ASSERT_TRUE(Put("mor", 5s).ok());
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(Put("k0" + std::to_string(i)).ok());
  clock_->Advance(5s);
  ASSERT_TRUE(Put("new").ok());
  // The expired entry made room; the least recently stored live one stays.
  EXPECT_TRUE(Has("n", "old"));
  const CacheStats stats = Stats();
  EXPECT_EQ(stats.expired, 1u);
  EXPECT_EQ(stats.evictions, 0u);
  EXPECT_EQ(stats.entries, 10);
}

TEST_F(SmallCacheTest, RefusesWhatCannotFit) {
  Status s = cache_->Set("n", "huge", Bytes(997));
  EXPECT_EQ(s.code(), Status::Code::kResourceExhausted) << s.ToString();
  ASSERT_TRUE(cache_->Set("n", "full", Bytes(995)).ok());  // exactly 1000
  EXPECT_EQ(Stats().bytes, 1000);
}

TEST_F(CacheTest, RefusesInvalidArguments) {
  const auto code = [](const Status& s) { return s.code(); };
  EXPECT_EQ(code(cache_->Set("", "k", "v")), Status::Code::kInvalidArgument);
  EXPECT_EQ(code(cache_->Set("n", "", "v")), Status::Code::kInvalidArgument);
  EXPECT_EQ(code(cache_->Set(std::string(Cache::kMaxNamespaceBytes + 1, 'n'),
                             "k", "v")),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(
      code(cache_->Set("n", std::string(Cache::kMaxKeyBytes + 1, 'k'), "v")),
      Status::Code::kInvalidArgument);
  EXPECT_TRUE(cache_
                  ->Set(std::string(Cache::kMaxNamespaceBytes, 'n'),
                        std::string(Cache::kMaxKeyBytes, 'k'), "v")
                  .ok());
  EXPECT_EQ(code(cache_->Set("n", "k", "v", 0ms)),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(code(cache_->Set("n", "k", "v", -5s)),
            Status::Code::kInvalidArgument);
  std::string value;
  EXPECT_EQ(code(cache_->Get("", "k", &value)), Status::Code::kInvalidArgument);
  EXPECT_EQ(code(cache_->Delete("n", "").status()),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(code(cache_->EraseNamespacePrefix("").status()),
            Status::Code::kInvalidArgument);

  options_.max_value_bytes = 1000;
  Reopen();
  EXPECT_EQ(code(cache_->Set("n", "k", Bytes(1001))),
            Status::Code::kResourceExhausted);
  EXPECT_TRUE(cache_->Set("n", "k", Bytes(1000)).ok());
  EXPECT_EQ(Stats().entries, 2);
}

TEST_F(CacheTest, DamagedOrMissingValueFilesAreMisses) {
  ASSERT_TRUE(cache_->Set("ns", "cut", Bytes(50000)).ok());
  ASSERT_TRUE(cache_->Set("ns", "lost", Bytes(60000)).ok());
  for (const fs::path& file : ValueFiles(dir_.path())) {
    if (fs::file_size(file) == 50000) {
      fs::resize_file(file, 1234);  // a value cut short by a power loss
    } else {
      fs::remove(file);
    }
  }
  std::string value;
  EXPECT_TRUE(cache_->Get("ns", "cut", &value).IsNotFound());
  EXPECT_TRUE(cache_->Get("ns", "lost", &value).IsNotFound());
  // The unusable entries are gone, with their files; the cache works on.
  CacheStats stats = Stats();
  EXPECT_EQ(stats.entries, 0);
  EXPECT_EQ(stats.bytes, 0);
  EXPECT_EQ(stats.misses, 2u);
  EXPECT_TRUE(ValueFiles(dir_.path()).empty());
  ASSERT_TRUE(cache_->Set("ns", "cut", Bytes(50000)).ok());
  EXPECT_EQ(GetOrDie("ns", "cut"), Bytes(50000));
}

TEST_F(CacheTest, ErasesNamespacesByPrefixOnly) {
  // "anon" must not own "anon:x"'s namespaces, whatever the separator.
  const std::string a = UserCacheNamespace("anon", "emb");
  const std::string b = UserCacheNamespace("anon:x", "emb");
  const std::string c = UserCacheNamespace("anon", "x:emb");
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  EXPECT_TRUE(a.starts_with(UserCacheNamespacePrefix("anon")));
  EXPECT_FALSE(b.starts_with(UserCacheNamespacePrefix("anon")));
  EXPECT_TRUE(c.starts_with(UserCacheNamespacePrefix("anon")));

  for (int i = 0; i < 1200; ++i) {  // more than one erasure batch
    ASSERT_TRUE(cache_->Set(a, "k" + std::to_string(i), "v").ok());
  }
  ASSERT_TRUE(cache_->Set(c, "big", Bytes(70000)).ok());
  ASSERT_TRUE(cache_->Set(b, "k0", "kept").ok());
  ASSERT_TRUE(cache_->Set("shared:emb", "k0", "kept").ok());

  auto erased = cache_->EraseNamespacePrefix(UserCacheNamespacePrefix("anon"));
  ASSERT_TRUE(erased.ok()) << erased.status().ToString();
  EXPECT_EQ(*erased, 1201);
  EXPECT_FALSE(Has(a, "k0"));
  EXPECT_FALSE(Has(c, "big"));
  EXPECT_EQ(GetOrDie(b, "k0"), "kept");
  EXPECT_EQ(GetOrDie("shared:emb", "k0"), "kept");
  EXPECT_TRUE(ValueFiles(dir_.path()).empty());
  EXPECT_EQ(Stats().entries, 2);

  // A prefix of 0xff bytes has no upper bound: everything from it on.
  const std::string ff(3, '\xff');
  ASSERT_TRUE(cache_->Set(ff + "z", "k", "v").ok());
  erased = cache_->EraseNamespacePrefix(ff);
  ASSERT_TRUE(erased.ok());
  EXPECT_EQ(*erased, 1);
}

TEST_F(CacheTest, CollectsOnlyOldUnreferencedFiles) {
  ASSERT_TRUE(cache_->Set("ns", "big", Bytes(40000)).ok());
  ASSERT_EQ(ValueFiles(dir_.path()).size(), 1u);
  // Leftovers of a crashed Set: an old orphan value file and an old
  // temporary file, and a fresh orphan (maybe another process's Set).
  const std::string sub = dir_.path() + "/values/ab/";
  const std::string old_orphan =
      sub + "01890000-0000-7000-8000-0000000000ab.val";
  const std::string old_temp = sub + "01890000-0000-7000-8000-0000000001ab.tmp";
  const std::string young = sub + "01890000-0000-7000-8000-0000000002ab.val";
  for (const std::string& path : {old_orphan, old_temp, young}) {
    std::ofstream(path) << "leftover";
  }
  const auto old = fs::file_time_type::clock::now() - 2h;
  fs::last_write_time(old_orphan, old);
  fs::last_write_time(old_temp, old);
  for (const fs::path& f : ValueFiles(dir_.path())) {
    if (fs::file_size(f) == 40000) fs::last_write_time(f, old);
  }

  auto collected = cache_->CollectGarbage(1h);
  ASSERT_TRUE(collected.ok()) << collected.status().ToString();
  EXPECT_EQ(*collected, 2);
  EXPECT_FALSE(fs::exists(old_orphan));
  EXPECT_FALSE(fs::exists(old_temp));
  EXPECT_TRUE(fs::exists(young));
  EXPECT_EQ(GetOrDie("ns", "big"), Bytes(40000));
}

TEST_F(CacheTest, RefusesAnIndexFromANewerChatstore) {
  cache_.reset();
  {
    // What a future schema would leave: a user_version this build lacks.
    auto db = sqlite::Db::Open(dir_.path() + "/index.db", false, 1s);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("PRAGMA user_version = 99").ok());
  }
  auto opened = OpenCache(dir_.path(), {});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Status::Code::kCorruption)
      << opened.status().ToString();
}

TEST_F(CacheTest, ThreadsShareOneCache) {
  constexpr int kThreads = 8;
  constexpr int kOps = 400;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      std::string value;
      const std::size_t sizes[] = {40, 5000, 32769, 70000};
      for (int i = 0; i < kOps; ++i) {
        const std::string key = "k" + std::to_string(rng() % 16);
        const unsigned op = rng() % 3;
        if (op == 0) {
          if (!cache_->Set("t", key, CheckedValue(key, sizes[rng() % 4], rng()))
                   .ok()) {
            ++failures;
          }
        } else if (op == 1) {
          Status s = cache_->Get("t", key, &value);
          if (s.ok() ? !CheckValue(key, value).empty() : !s.IsNotFound()) {
            ++failures;
          }
        } else if (!cache_->Delete("t", key).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  // The totals match what is actually stored, and no file is left over.
  std::int64_t entries = 0;
  std::int64_t bytes = 0;
  std::size_t large = 0;
  std::string value;
  for (int k = 0; k < 16; ++k) {
    const std::string key = "k" + std::to_string(k);
    if (!cache_->Get("t", key, &value).ok()) continue;
    EXPECT_EQ(CheckValue(key, value), "");
    ++entries;
    bytes += static_cast<std::int64_t>(1 + key.size() + value.size());
    if (value.size() > 32768) ++large;
  }
  const CacheStats stats = Stats();
  EXPECT_EQ(stats.entries, entries);
  EXPECT_EQ(stats.bytes, bytes);
  EXPECT_EQ(ValueFiles(dir_.path()).size(), large);
}

TEST(CacheProcessesTest, FourProcessesHammerOneDirectory) {
  TempDir dir;
  // Room for about 30 of the 48 keys' values: evictions happen across
  // processes too.
  const std::string max_bytes = std::to_string(1'000'000);
  std::vector<std::unique_ptr<ChildProcess>> workers;
  for (int w = 0; w < 4; ++w) {
    workers.push_back(std::make_unique<ChildProcess>(
        CACHE_HAMMER_WORKER,
        std::vector<std::string>{dir.path(), std::to_string(w), "1500",
                                 max_bytes}));
  }
  const auto deadline = ChildProcess::Clock::now() + 240s;
  for (auto& w : workers) {
    EXPECT_EQ(w->Finish(deadline), 0) << w->output();
  }

  CacheOptions options;
  options.max_bytes = 1'000'000;
  auto cache = OpenCache(dir.path(), options);
  ASSERT_TRUE(cache.ok());
  std::int64_t entries = 0;
  std::int64_t bytes = 0;
  std::size_t large = 0;
  std::string value;
  for (int k = 0; k < 48; ++k) {
    const std::string key = "k" + std::to_string(k);
    Status s = (*cache)->Get("hammer", key, &value);
    if (s.IsNotFound()) continue;
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(CheckValue(key, value), "");
    ++entries;
    bytes += static_cast<std::int64_t>(6 + key.size() + value.size());
    if (value.size() > 32768) ++large;
  }
  auto stats = (*cache)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(entries, 0);
  EXPECT_EQ(stats->entries, entries);
  EXPECT_EQ(stats->bytes, bytes);
  EXPECT_LE(stats->bytes, 1'000'000);
  // Every file belongs to an entry: replaced, evicted and deleted values'
  // files were removed by whichever process removed the entry.
  EXPECT_EQ(ValueFiles(dir.path()).size(), large);
}

}  // namespace
}  // namespace chatstore
