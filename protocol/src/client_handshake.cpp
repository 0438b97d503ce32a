#include "mpi/protocol/client_handshake.hpp"

#include "mpi/protocol/version.hpp"

#include <span>
#include <string>

namespace mpi::protocol {

void ClientHandshake::prepare(link::v1::Hello& hello) {
  client_nonce_ = random_nonce();
  prepared_ = true;
  hello.set_protocol_major(kProtocolMajor);
  hello.set_protocol_minor(kProtocolMinor);
  hello.set_protocol_patch(kProtocolPatch);
  hello.set_client_nonce(reinterpret_cast<const char*>(client_nonce_.data()), client_nonce_.size());
}

link::v1::AuthResponse ClientHandshake::answer(const link::v1::AuthChallenge& challenge) const {
  if (!prepared_) throw HandshakeError("handshake: AuthChallenge before Hello");
  const VersionCheck version = check_peer_version(challenge.protocol_major(), challenge.protocol_minor(), challenge.protocol_patch());
  if (!version.compatible) throw HandshakeError("handshake: " + version.message);
  const std::string& nonce = challenge.server_nonce();
  const std::string& proof = challenge.server_proof();
  if (nonce.size() != kNonceBytes || proof.size() != kProofBytes) {
    throw HandshakeError("handshake: the board's challenge has a " + std::to_string(nonce.size()) + "-byte nonce and a " +
                         std::to_string(proof.size()) + "-byte proof (expected " + std::to_string(kNonceBytes) + " and " +
                         std::to_string(kProofBytes) + ")");
  }
  const auto server_nonce = as_byte_span(nonce);
  const auto expected = server_proof(*key_, client_nonce_, server_nonce);
  if (!proof_matches(expected, as_byte_span(proof))) {
    throw HandshakeError("handshake: the board's proof does not match the key: it holds another scanner's key (or is not the scanner)");
  }
  const auto mine = client_proof(*key_, server_nonce, client_nonce_);
  link::v1::AuthResponse response;
  response.set_client_proof(reinterpret_cast<const char*>(mine.data()), mine.size());
  return response;
}

}  // namespace mpi::protocol
