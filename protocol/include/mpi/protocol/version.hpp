// Protocol version of the link, major.minor.patch. The major version is the protobuf package (mpi.link.v1);
// peers with a different major version refuse each other in the handshake. Minor versions add fields and
// messages compatibly: peers of different minor versions interoperate with the lower one's features.
// Patch versions change no message, only clarify behaviour.
//   1.0: Hello/HelloReply, Configure, Start/Stop, Status, the sample stream, safety faults, Resume
//   1.1: authentication (AuthChallenge/AuthResponse), roles (controller, observers), HandOver, reclaim
//        tokens, documented limits (mpi/protocol/limits.hpp, ERROR_LIMIT_EXCEEDED)
#pragma once

#include <cstdint>
#include <string>

namespace mpi::protocol {

inline constexpr std::uint32_t kProtocolMajor = 1;
inline constexpr std::uint32_t kProtocolMinor = 2;
inline constexpr std::uint32_t kProtocolPatch = 0;
inline constexpr std::uint16_t kDefaultPort = 7600;

struct VersionCheck {
  bool compatible = false;
  // Why not, naming both versions ("peer speaks link protocol 2.0.3, this side 1.1.0: major versions
  // differ"); for a compatible peer of another minor version, which features are used; else empty.
  std::string message;
  std::uint32_t minor = 0;  // compatible: the minor version both sides use (the lower one)
};

// Compares the peer's announced version with this side's (kProtocolMajor/Minor/Patch): compatible when
// the major versions are equal.
[[nodiscard]] VersionCheck check_peer_version(std::uint32_t major, std::uint32_t minor, std::uint32_t patch);

// This side's version as text: "1.1.0".
[[nodiscard]] std::string version_text();

}  // namespace mpi::protocol
