// Authentication of the link: a pre-shared key on the board and on each host allowed to use it, and a
// mutual HMAC-SHA256 challenge-response over fresh nonces (the handshake in link.proto, protocol/README.md):
//   client: Hello(client_nonce)
//   server: AuthChallenge(server_nonce, server_proof(key, client_nonce, server_nonce))
//   client: checks server_proof, then AuthResponse(client_proof(key, server_nonce, client_nonce))
//   server: checks client_proof, then HelloReply
// Each side proves it holds the key without sending it; the proofs of the two directions use different
// labels, so a peer cannot reflect one as the other, and the nonces make every proof good for one
// connection only. The link is not encrypted: the key guards who may command the scanner.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mpi::protocol {

inline constexpr std::size_t kNonceBytes = 32;   // Hello.client_nonce, AuthChallenge.server_nonce
inline constexpr std::size_t kKeyMinBytes = 32;  // shortest key accepted (256 bits)
inline constexpr std::size_t kProofBytes = 32;   // AuthChallenge.server_proof, AuthResponse.client_proof (HMAC-SHA256)

using Nonce = std::array<std::byte, kNonceBytes>;
using Proof = std::array<std::byte, kProofBytes>;

// The bytes of a protobuf `bytes`/`string` field (or any string) as a byte span.
[[nodiscard]] inline std::span<const std::byte> as_byte_span(std::string_view text) noexcept {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

// A shared key. Its bytes are wiped (OPENSSL_cleanse) when the key is destroyed or assigned over.
class Key {
 public:
  Key() = default;
  explicit Key(std::span<const std::byte> bytes);
  Key(const Key& other);
  Key& operator=(const Key& other);
  Key(Key&& other) noexcept;
  Key& operator=(Key&& other) noexcept;
  ~Key();

  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
  [[nodiscard]] bool empty() const noexcept { return bytes_.empty(); }

 private:
  void wipe() noexcept;
  std::vector<std::byte> bytes_;
};

// Key file format: the key as hexadecimal text (upper or lower case), at least 2 * kKeyMinBytes = 64 hex
// digits and an even count, on one line; whitespace around it (the trailing newline) is ignored, nothing
// else may be in the file. write_key_file() creates one; so does `(umask 077; openssl rand -hex 32 > key)`.
//
// Reads `path`. Throws std::runtime_error naming the file and the reason: it is missing or unreadable,
// larger than a key file can be, not hexadecimal (the offending character's position), an odd number of
// digits, or a key shorter than kKeyMinBytes. With `require_private` (the board: a key others can read
// is no secret) a file whose mode grants any group or other permission is refused as well, saying the
// mode in octal and to `chmod 600` it.
[[nodiscard]] Key load_key_file(const std::filesystem::path& path, bool require_private = true);

// A fresh random key of kKeyMinBytes bytes as lower-case hex (64 digits), from OpenSSL's CSPRNG.
// Throws std::runtime_error if the generator fails.
[[nodiscard]] std::string generate_key_hex();

// Creates `path` with mode 0600 holding a fresh key (generate_key_hex() and a newline). Never overwrites:
// throws std::runtime_error naming the file if it exists or cannot be created or written (a partly
// written file is removed).
void write_key_file(const std::filesystem::path& path);

// kNonceBytes random bytes from OpenSSL's CSPRNG. Throws std::runtime_error if the generator fails.
[[nodiscard]] Nonce random_nonce();

// HMAC-SHA256 (RFC 2104 with SHA-256) of `data` under `key`.
[[nodiscard]] std::array<std::byte, 32> hmac_sha256(std::span<const std::byte> key, std::span<const std::byte> data);

// The proofs of the handshake:
//   server_proof = HMAC-SHA256(key, "mpi-link server" || client_nonce || server_nonce)
//   client_proof = HMAC-SHA256(key, "mpi-link client" || server_nonce || client_nonce)
// (the labels' 15 ASCII bytes, no terminator). Both nonces must be kNonceBytes long and the key at least
// kKeyMinBytes: throws std::invalid_argument otherwise (check received nonces first, e.g. check_limits()).
[[nodiscard]] Proof server_proof(const Key& key, std::span<const std::byte> client_nonce, std::span<const std::byte> server_nonce);
[[nodiscard]] Proof client_proof(const Key& key, std::span<const std::byte> server_nonce, std::span<const std::byte> client_nonce);

// Whether `received` equals `expected`, in time independent of where they differ (CRYPTO_memcmp). False
// when the lengths differ or `expected` is empty (an expectation never computed matches nothing).
[[nodiscard]] bool proof_matches(std::span<const std::byte> expected, std::span<const std::byte> received) noexcept;

// Slows down guessing: counts failed handshakes per peer address and blocks an address that keeps
// failing. The first `free_failures` failures cost nothing; each further one blocks the address for
// 1 s, 2 s, 4 s, ... up to `max_block`. Failures are forgotten once the address has made none for
// `window` after its last failure or the end of its block, whichever is later; a successful handshake
// forgets them at once. Pass the peer's IP address without the port (a new connection gets a new port).
// At most kMaxTracked addresses are tracked; a new one evicts the one whose last failure is oldest.
// The time is passed in (steady clock). Not thread-safe: one I/O thread owns it.
class HandshakeLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxTracked = 256;

  explicit HandshakeLimiter(unsigned free_failures = 3, std::chrono::seconds window = std::chrono::seconds(60),
                            std::chrono::seconds max_block = std::chrono::seconds(60));

  // Whether `address` may attempt a handshake at `now`; if not and `retry_after` is given, how long until
  // it may (rounded up to whole milliseconds; 0 when allowed).
  [[nodiscard]] bool allowed(std::string_view address, Clock::time_point now, std::chrono::milliseconds* retry_after = nullptr);
  // A handshake from `address` failed at `now` (wrong proof, no AuthResponse, ...).
  void failed(std::string_view address, Clock::time_point now);
  // A handshake from `address` succeeded: its failures are forgotten.
  void succeeded(std::string_view address);

  // Addresses tracked now (at most kMaxTracked).
  [[nodiscard]] std::size_t tracked() const noexcept { return entries_.size(); }

 private:
  struct Entry {
    std::string address;
    unsigned failures = 0;
    Clock::time_point last_failure{};
    Clock::time_point blocked_until{};
  };
  Entry* find(std::string_view address) noexcept;
  void forget_if_quiet(Entry& entry, Clock::time_point now) const noexcept;

  unsigned free_failures_;
  std::chrono::seconds window_;
  std::chrono::seconds max_block_;
  std::vector<Entry> entries_;
};

}  // namespace mpi::protocol
