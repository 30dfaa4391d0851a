#include "chatstore/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace chatstore {
namespace {

const Timestamp kT = FromMillis(1'795'000'000'123);

TEST(IdsTest, NewIdIsCanonicalUuidV7) {
  const std::string id = NewId(kT);
  ASSERT_TRUE(IsValidId(id)) << id;
  EXPECT_EQ(id[14], '7');  // version nibble
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);  // variant
}

TEST(IdsTest, TimestampPrefixSortsByTime) {
  const std::string a = NewId(kT);
  const std::string b = NewId(kT + std::chrono::milliseconds(1));
  EXPECT_LT(a, b);
  // 48-bit big-endian milliseconds in the first 12 hex digits.
  char expect[16];
  std::snprintf(expect, sizeof expect, "%012llx",
                static_cast<unsigned long long>(ToMillis(kT)));
  EXPECT_EQ(a.substr(0, 8) + a.substr(9, 4), std::string(expect));
}

TEST(IdsTest, IdsAreUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(seen.insert(NewId(kT)).second);
}

TEST(IdsTest, SessionIdRecordsWhereTheSessionLives) {
  for (int i = 0; i < 200; ++i) {
    const std::string p = NewSessionId(kT, /*persistent=*/true);
    const std::string e = NewSessionId(kT, /*persistent=*/false);
    ASSERT_TRUE(IsValidId(p));
    ASSERT_TRUE(IsValidId(e));
    EXPECT_FALSE(IsEphemeralSessionId(p)) << p;
    EXPECT_TRUE(IsEphemeralSessionId(e)) << e;
  }
}

TEST(IdsTest, RejectsNonCanonicalIds) {
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId("not-an-id"));
  EXPECT_FALSE(IsValidId("0193ABCD-0000-7000-8000-000000000000"));  // upper
  EXPECT_FALSE(IsValidId("0193abcd00000-7000-8000-000000000000"));  // dash
  EXPECT_FALSE(IsValidId("0193abcd-0000-7000-8000-00000000000g"));
  EXPECT_FALSE(IsValidId("../../etc/passwd-0000-0000-0000000000"));
  EXPECT_TRUE(IsValidId("0193abcd-0000-7000-8000-000000000000"));
}

TEST(ClockTest, FormatsRfc3339WithMilliseconds) {
  EXPECT_EQ(FormatTimestamp(FromMillis(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTimestamp(FromMillis(1'795'309'323'456)),
            "2026-11-22T01:02:03.456Z");
  EXPECT_EQ(FormatTimestamp(FromMillis(-1)), "1969-12-31T23:59:59.999Z");
}

TEST(ClockTest, ManualClockMovesOnlyWhenTold) {
  ManualClock clock(kT);
  EXPECT_EQ(clock.Now(), kT);
  clock.Advance(std::chrono::seconds(5));
  EXPECT_EQ(clock.Now(), kT + std::chrono::seconds(5));
}

}  // namespace
}  // namespace chatstore
