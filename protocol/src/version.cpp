#include "mpi/protocol/version.hpp"

#include <algorithm>

namespace mpi::protocol {

namespace {

std::string text(std::uint32_t major, std::uint32_t minor, std::uint32_t patch) {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace

VersionCheck check_peer_version(std::uint32_t major, std::uint32_t minor, std::uint32_t patch) {
  const std::string versions = "peer speaks link protocol " + text(major, minor, patch) + ", this side " + version_text();
  if (major != kProtocolMajor) return VersionCheck{false, versions + ": major versions differ", 0};
  const std::uint32_t common = std::min(minor, kProtocolMinor);
  if (minor == kProtocolMinor) return VersionCheck{true, "", common};
  return VersionCheck{true, versions + ": compatible, the features of " + std::to_string(major) + "." + std::to_string(common) + " are used", common};
}

std::string version_text() { return text(kProtocolMajor, kProtocolMinor, kProtocolPatch); }

}  // namespace mpi::protocol
