#include "mpi/protocol/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace mpi::protocol {

namespace {

constexpr std::size_t kMaxKeyFileBytes = 4096;
constexpr std::string_view kServerLabel = "mpi-link server";
constexpr std::string_view kClientLabel = "mpi-link client";

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  if (code == 0) return "no OpenSSL error recorded";
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

void random_bytes(std::span<std::byte> out) {
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) != 1) {  // NOLINT: byte view
    throw std::runtime_error("the random number generator failed: " + openssl_error());
  }
}

std::string quoted(const std::filesystem::path& path) { return "key file '" + path.string() + "'"; }

std::string mode_text(mode_t mode) {
  std::array<char, 8> text{};
  std::snprintf(text.data(), text.size(), "%04o", static_cast<unsigned>(mode & 07777U));
  return text.data();
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Closes the descriptor and wipes the buffer whichever way load_key_file leaves.
struct ReadState {
  int fd = -1;
  std::array<char, kMaxKeyFileBytes + 1> buffer{};
  ReadState() = default;
  ReadState(const ReadState&) = delete;
  ReadState& operator=(const ReadState&) = delete;
  ~ReadState() {
    if (fd >= 0) ::close(fd);
    OPENSSL_cleanse(buffer.data(), buffer.size());
  }
};

Proof proof(const Key& key, std::string_view label, std::span<const std::byte> first, std::span<const std::byte> second) {
  if (key.size() < kKeyMinBytes) {
    throw std::invalid_argument("link key of " + std::to_string(key.size()) + " bytes: at least " + std::to_string(kKeyMinBytes) + " required");
  }
  if (first.size() != kNonceBytes || second.size() != kNonceBytes) {
    throw std::invalid_argument("nonces of " + std::to_string(first.size()) + " and " + std::to_string(second.size()) + " bytes: " +
                                std::to_string(kNonceBytes) + " each required");
  }
  std::array<std::byte, 15 + 2 * kNonceBytes> message{};
  static_assert(kServerLabel.size() == 15 && kClientLabel.size() == 15);
  const auto label_bytes = as_byte_span(label);
  auto out = std::copy(label_bytes.begin(), label_bytes.end(), message.begin());
  out = std::copy(first.begin(), first.end(), out);
  std::copy(second.begin(), second.end(), out);
  return hmac_sha256(key.bytes(), message);
}

}  // namespace

Key::Key(std::span<const std::byte> bytes) : bytes_(bytes.begin(), bytes.end()) {}

Key::Key(const Key& other) : bytes_(other.bytes_) {}

Key& Key::operator=(const Key& other) {
  if (this != &other) {
    wipe();
    bytes_ = other.bytes_;
  }
  return *this;
}

Key::Key(Key&& other) noexcept : bytes_(std::move(other.bytes_)) { other.bytes_.clear(); }

Key& Key::operator=(Key&& other) noexcept {
  if (this != &other) {
    wipe();
    bytes_ = std::move(other.bytes_);
    other.bytes_.clear();
  }
  return *this;
}

Key::~Key() { wipe(); }

void Key::wipe() noexcept {
  if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
  bytes_.clear();
}

Key load_key_file(const std::filesystem::path& path, bool require_private) {
  ReadState state;
  state.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (state.fd < 0) throw std::runtime_error(quoted(path) + ": cannot open: " + std::strerror(errno));
  struct stat info {};
  if (::fstat(state.fd, &info) != 0) throw std::runtime_error(quoted(path) + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) throw std::runtime_error(quoted(path) + ": not a regular file");
  if (require_private && (info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    throw std::runtime_error(quoted(path) + ": mode " + mode_text(info.st_mode) +
                             " lets other users access the key; run 'chmod 600 " + path.string() + "' (and consider a new key)");
  }
  std::size_t size = 0;
  while (size < state.buffer.size()) {
    const ssize_t got = ::read(state.fd, state.buffer.data() + size, state.buffer.size() - size);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw std::runtime_error(quoted(path) + ": cannot read: " + std::strerror(errno));
    if (got == 0) break;
    size += static_cast<std::size_t>(got);
  }
  if (size > kMaxKeyFileBytes) {
    throw std::runtime_error(quoted(path) + ": larger than " + std::to_string(kMaxKeyFileBytes) + " bytes, not a key file");
  }
  std::size_t begin = 0;
  std::size_t end = size;
  while (begin < end && is_space(state.buffer[begin])) ++begin;
  while (end > begin && is_space(state.buffer[end - 1])) --end;
  for (std::size_t i = begin; i < end; ++i) {
    if (hex_value(state.buffer[i]) < 0) {
      throw std::runtime_error(quoted(path) + ": not hexadecimal (character " + std::to_string(i + 1) +
                               " of the file); the key is one line of hex digits");
    }
  }
  const std::size_t digits = end - begin;
  if (digits % 2 != 0) throw std::runtime_error(quoted(path) + ": an odd number of hex digits (" + std::to_string(digits) + ")");
  if (digits / 2 < kKeyMinBytes) {
    throw std::runtime_error(quoted(path) + ": a key of " + std::to_string(digits / 2) + " bytes (" + std::to_string(digits) +
                             " hex digits), at least " + std::to_string(kKeyMinBytes) + " bytes (" + std::to_string(2 * kKeyMinBytes) +
                             " digits) required");
  }
  std::vector<std::byte> bytes(digits / 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const int high = hex_value(state.buffer[begin + 2 * i]);
    const int low = hex_value(state.buffer[begin + 2 * i + 1]);
    bytes[i] = static_cast<std::byte>((high << 4) | low);
  }
  Key key(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return key;
}

std::string generate_key_hex() {
  std::array<std::byte, kKeyMinBytes> bytes{};
  random_bytes(bytes);
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * bytes.size());
  for (const std::byte b : bytes) {
    const auto v = std::to_integer<unsigned>(b);
    hex.push_back(kDigits[v >> 4]);
    hex.push_back(kDigits[v & 0xFU]);
  }
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return hex;
}

void write_key_file(const std::filesystem::path& path) {
  std::string text = generate_key_hex() + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, S_IRUSR | S_IWUSR);
  if (fd < 0) {
    const int error = errno;
    OPENSSL_cleanse(text.data(), text.size());
    if (error == EEXIST) throw std::runtime_error(quoted(path) + ": exists already; a key file is never overwritten");
    throw std::runtime_error(quoted(path) + ": cannot create: " + std::strerror(error));
  }
  std::string failure;
  if (::fchmod(fd, S_IRUSR | S_IWUSR) != 0) failure = std::string("cannot set mode 0600: ") + std::strerror(errno);
  std::size_t written = 0;
  while (failure.empty() && written < text.size()) {
    const ssize_t put = ::write(fd, text.data() + written, text.size() - written);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) failure = std::string("cannot write: ") + std::strerror(errno);
    else written += static_cast<std::size_t>(put);
  }
  if (failure.empty() && ::fsync(fd) != 0) failure = std::string("cannot sync: ") + std::strerror(errno);
  if (::close(fd) != 0 && failure.empty()) failure = std::string("cannot close: ") + std::strerror(errno);
  OPENSSL_cleanse(text.data(), text.size());
  if (!failure.empty()) {
    ::unlink(path.c_str());
    throw std::runtime_error(quoted(path) + ": " + failure);
  }
}

Nonce random_nonce() {
  Nonce nonce{};
  random_bytes(nonce);
  return nonce;
}

std::array<std::byte, 32> hmac_sha256(std::span<const std::byte> key, std::span<const std::byte> data) {
  static constexpr unsigned char kNothing = 0;
  std::array<std::byte, 32> mac{};
  unsigned int length = 0;
  const auto* key_bytes = key.empty() ? &kNothing : reinterpret_cast<const unsigned char*>(key.data());      // NOLINT: byte view
  const auto* data_bytes = data.empty() ? &kNothing : reinterpret_cast<const unsigned char*>(data.data());  // NOLINT: byte view
  if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size()), data_bytes, data.size(), reinterpret_cast<unsigned char*>(mac.data()),  // NOLINT
           &length) == nullptr ||
      length != mac.size()) {
    throw std::runtime_error("HMAC-SHA256 failed: " + openssl_error());
  }
  return mac;
}

Proof server_proof(const Key& key, std::span<const std::byte> client_nonce, std::span<const std::byte> server_nonce) {
  return proof(key, kServerLabel, client_nonce, server_nonce);
}

Proof client_proof(const Key& key, std::span<const std::byte> server_nonce, std::span<const std::byte> client_nonce) {
  return proof(key, kClientLabel, server_nonce, client_nonce);
}

bool proof_matches(std::span<const std::byte> expected, std::span<const std::byte> received) noexcept {
  if (expected.empty() || expected.size() != received.size()) return false;
  return CRYPTO_memcmp(expected.data(), received.data(), expected.size()) == 0;
}

HandshakeLimiter::HandshakeLimiter(unsigned free_failures, std::chrono::seconds window, std::chrono::seconds max_block)
    : free_failures_(free_failures), window_(window), max_block_(max_block) {
  entries_.reserve(kMaxTracked);
}

HandshakeLimiter::Entry* HandshakeLimiter::find(std::string_view address) noexcept {
  for (Entry& entry : entries_) {
    if (entry.address == address) return &entry;
  }
  return nullptr;
}

void HandshakeLimiter::forget_if_quiet(Entry& entry, Clock::time_point now) const noexcept {
  if (now >= std::max(entry.last_failure, entry.blocked_until) + window_) {
    entry.failures = 0;
    entry.blocked_until = Clock::time_point{};
  }
}

bool HandshakeLimiter::allowed(std::string_view address, Clock::time_point now, std::chrono::milliseconds* retry_after) {
  if (retry_after != nullptr) *retry_after = std::chrono::milliseconds(0);
  Entry* entry = find(address);
  if (entry == nullptr || now >= entry->blocked_until) return true;
  if (retry_after != nullptr) *retry_after = std::chrono::ceil<std::chrono::milliseconds>(entry->blocked_until - now);
  return false;
}

void HandshakeLimiter::failed(std::string_view address, Clock::time_point now) {
  Entry* entry = find(address);
  if (entry == nullptr) {
    if (entries_.size() == kMaxTracked) {
      const auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                           [](const Entry& a, const Entry& b) { return a.last_failure < b.last_failure; });
      entries_.erase(oldest);
    }
    entry = &entries_.emplace_back();
    entry->address = address;
  } else {
    forget_if_quiet(*entry, now);
  }
  entry->last_failure = now;
  if (entry->failures < 64) ++entry->failures;
  if (entry->failures > free_failures_) {
    const unsigned doublings = std::min(entry->failures - free_failures_ - 1, 30U);
    const auto block = std::min<std::chrono::seconds>(std::chrono::seconds(std::int64_t{1} << doublings), max_block_);
    entry->blocked_until = now + block;
  }
}

void HandshakeLimiter::succeeded(std::string_view address) {
  const auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& entry) { return entry.address == address; });
  if (it != entries_.end()) entries_.erase(it);
}

}  // namespace mpi::protocol
