// Protocol version of the link. The major version is the protobuf package (mpi.link.v1); peers with a
// different major version refuse each other in the handshake. Minor versions add fields compatibly.
#pragma once

#include <cstdint>

namespace mpi::protocol {

inline constexpr std::uint32_t kProtocolMajor = 1;
inline constexpr std::uint32_t kProtocolMinor = 0;
inline constexpr std::uint16_t kDefaultPort = 7600;

}  // namespace mpi::protocol
