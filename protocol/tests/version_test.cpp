// The link's version negotiation: equal majors interoperate whatever the minor and patch, with the lower
// minor's features; different majors refuse each other, naming both versions.
#include "mpi/protocol/version.hpp"

#include <gtest/gtest.h>

namespace mpi::protocol {
namespace {

TEST(Version, TextIsMajorMinorPatch) {
  EXPECT_EQ(version_text(), "1.2.0");
  EXPECT_EQ(kProtocolMajor, 1U);
  EXPECT_EQ(kProtocolMinor, 2U);
  EXPECT_EQ(kProtocolPatch, 0U);
}

TEST(Version, SameMajorIsCompatibleUsingTheLowerMinor) {
  const VersionCheck same = check_peer_version(1, 2, 0);
  EXPECT_TRUE(same.compatible);
  EXPECT_EQ(same.message, "");
  EXPECT_EQ(same.minor, 2U);

  const VersionCheck patched = check_peer_version(1, 2, 9);
  EXPECT_TRUE(patched.compatible);
  EXPECT_EQ(patched.minor, 2U);

  const VersionCheck previous = check_peer_version(1, 1, 0);
  EXPECT_TRUE(previous.compatible);
  EXPECT_EQ(previous.minor, 1U);

  const VersionCheck older = check_peer_version(1, 0, 4);
  EXPECT_TRUE(older.compatible);
  EXPECT_EQ(older.minor, 0U);
  EXPECT_EQ(older.message, "peer speaks link protocol 1.0.4, this side 1.2.0: compatible, the features of 1.0 are used");

  const VersionCheck newer = check_peer_version(1, 7, 2);
  EXPECT_TRUE(newer.compatible);
  EXPECT_EQ(newer.minor, 2U);
  EXPECT_EQ(newer.message, "peer speaks link protocol 1.7.2, this side 1.2.0: compatible, the features of 1.2 are used");
}

TEST(Version, OtherMajorIsRefusedNamingBothVersions) {
  const VersionCheck newer = check_peer_version(2, 0, 3);
  EXPECT_FALSE(newer.compatible);
  EXPECT_EQ(newer.message, "peer speaks link protocol 2.0.3, this side 1.2.0: major versions differ");

  const VersionCheck unset = check_peer_version(0, 0, 0);  // a Hello without a version
  EXPECT_FALSE(unset.compatible);
  EXPECT_EQ(unset.message, "peer speaks link protocol 0.0.0, this side 1.2.0: major versions differ");
}

}  // namespace
}  // namespace mpi::protocol
