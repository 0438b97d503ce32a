// The client's side of the link handshake (link.proto, Hello): completes a Hello with the protocol
// version and a fresh nonce, checks the board's AuthChallenge (the board must prove it holds the key
// too: a client never talks to an impostor) and makes the AuthResponse. Transport-free: the host's
// LinkClient, the firmware's tests and tools drive it over their own sockets.
#pragma once

#include "mpi/link/v1/link.pb.h"
#include "mpi/protocol/auth.hpp"

#include <array>
#include <stdexcept>

namespace mpi::protocol {

class HandshakeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ClientHandshake {
 public:
  explicit ClientHandshake(const Key& key) : key_(&key) {}

  // Sets the version fields and a fresh client nonce; name, role, capabilities and a reclaim token are
  // the caller's. Role unspecified means controller.
  void prepare(link::v1::Hello& hello);
  // Checks the challenge against the nonce of the last prepare(); returns the response. Throws
  // HandshakeError naming what failed (wrong key on the board, an incompatible version, a malformed
  // challenge).
  [[nodiscard]] link::v1::AuthResponse answer(const link::v1::AuthChallenge& challenge) const;

 private:
  const Key* key_;
  std::array<std::byte, kNonceBytes> client_nonce_{};
  bool prepared_ = false;
};

}  // namespace mpi::protocol
