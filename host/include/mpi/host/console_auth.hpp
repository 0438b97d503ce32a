// Who may command the scanner from the web console: a browser session proves it holds the scanner's link
// key without sending it. The server sends a fresh nonce per session; the page answers
//   proof = HMAC-SHA256(key, "mpi-console" || nonce)
// (the label's 11 ASCII bytes, then the nonce's 32 bytes), computed in the browser (WebCrypto), as hex.
// The label differs from the link's, so a console proof is never a link proof and the other way round.
#pragma once

#include "mpi/protocol/auth.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::host {

inline constexpr std::string_view kConsoleProofLabel = "mpi-console";

// Lower-case hex of bytes, and back (std::nullopt for an odd length or a non-hex character).
std::string to_hex(std::span<const std::byte> bytes);
std::optional<std::vector<std::byte>> from_hex(std::string_view text);

// HMAC-SHA256(key, kConsoleProofLabel || nonce).
protocol::Proof console_proof(const protocol::Key& key, std::span<const std::byte> nonce);

// One browser session's challenge.
class ConsoleChallenge {
 public:
  ConsoleChallenge();  // a fresh random nonce
  [[nodiscard]] std::string nonce_hex() const { return to_hex(nonce_); }
  // Whether `proof_hex` is the proof for this nonce under `key` (constant time; false for malformed hex,
  // a wrong length, or an empty key).
  [[nodiscard]] bool accepts(const protocol::Key& key, std::string_view proof_hex) const;

 private:
  protocol::Nonce nonce_;
};

}  // namespace mpi::host
