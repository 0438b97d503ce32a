#include "mpi/host/console_auth.hpp"

#include <algorithm>

namespace mpi::host {

std::string to_hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::byte b : bytes) {
    const auto v = std::to_integer<unsigned>(b);
    out.push_back(kDigits[v >> 4]);
    out.push_back(kDigits[v & 15U]);
  }
  return out;
}

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::vector<std::byte>> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<std::byte> out(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_digit(text[2 * i]);
    const int lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<std::byte>(hi * 16 + lo);
  }
  return out;
}

protocol::Proof console_proof(const protocol::Key& key, std::span<const std::byte> nonce) {
  std::vector<std::byte> data(protocol::as_byte_span(kConsoleProofLabel).begin(), protocol::as_byte_span(kConsoleProofLabel).end());
  data.insert(data.end(), nonce.begin(), nonce.end());
  return protocol::hmac_sha256(key.bytes(), data);
}

ConsoleChallenge::ConsoleChallenge() : nonce_(protocol::random_nonce()) {}

bool ConsoleChallenge::accepts(const protocol::Key& key, std::string_view proof_hex) const {
  if (key.empty()) return false;
  const auto received = from_hex(proof_hex);
  if (!received) return false;
  const protocol::Proof expected = console_proof(key, nonce_);
  return protocol::proof_matches(expected, *received);
}

}  // namespace mpi::host
