// Authentication: HMAC-SHA256 against RFC 4231, the handshake's proofs against values computed
// independently (Python's hmac module), constant-time comparison semantics, the key file's format and
// permissions, and the handshake limiter's back-off on a simulated clock.
#include "mpi/protocol/auth.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace mpi::protocol {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::vector<std::byte> bytes_of(std::string_view text) {
  const auto span = as_byte_span(text);
  return {span.begin(), span.end()};
}

std::vector<std::byte> repeated(unsigned char value, std::size_t count) { return std::vector<std::byte>(count, std::byte{value}); }

std::vector<std::byte> counting(unsigned first, std::size_t count) {
  std::vector<std::byte> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(static_cast<std::byte>(first + i));
  return out;
}

std::string hex(std::span<const std::byte> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const std::byte b : bytes) {
    out.push_back(kDigits[std::to_integer<unsigned>(b) >> 4]);
    out.push_back(kDigits[std::to_integer<unsigned>(b) & 0xFU]);
  }
  return out;
}

// RFC 4231, section 4: the HMAC-SHA-256 results of test cases 1-4, 6 and 7, and case 5's truncation.
TEST(Hmac, MatchesRfc4231TestVectors) {
  EXPECT_EQ(hex(hmac_sha256(repeated(0x0b, 20), bytes_of("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(hex(hmac_sha256(bytes_of("Jefe"), bytes_of("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hex(hmac_sha256(repeated(0xaa, 20), repeated(0xdd, 50))), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  EXPECT_EQ(hex(hmac_sha256(counting(1, 25), repeated(0xcd, 50))), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  EXPECT_EQ(hex(hmac_sha256(repeated(0x0c, 20), bytes_of("Test With Truncation"))).substr(0, 32), "a3b6167473100ee06e0c796c2955552b");
  EXPECT_EQ(hex(hmac_sha256(repeated(0xaa, 131), bytes_of("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(hex(hmac_sha256(repeated(0xaa, 131), bytes_of("This is a test using a larger than block-size key and a larger than block-size "
                                                          "data. The key needs to be hashed before being used by the HMAC algorithm."))),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

// key = 00 01 .. 1f, client nonce = 20 .. 3f, server nonce = 40 .. 5f; the expected values are
// HMAC-SHA256 over b"mpi-link server" + client + server and b"mpi-link client" + server + client.
TEST(Proof, MatchesIndependentlyComputedValues) {
  const Key key(counting(0x00, 32));
  const auto client = counting(0x20, 32);
  const auto server = counting(0x40, 32);
  EXPECT_EQ(hex(server_proof(key, client, server)), "5a60b7f53af89ec357eeb4054248b9ab2d3b24695d22ba9cff4b79336cd6d8f1");
  EXPECT_EQ(hex(client_proof(key, server, client)), "fe5357c2329139dd5fb311340ea5b4aa2dd788dba774be64befe6a3382707b68");
}

TEST(Proof, DiffersByDirectionNonceAndKey) {
  const Key key(counting(0x00, 32));
  const Key other(counting(0x01, 32));
  const auto client = counting(0x20, 32);
  const auto server = counting(0x40, 32);
  auto server_changed = server;
  server_changed[31] ^= std::byte{1};
  const Proof reference = server_proof(key, client, server);
  // The same nonces in the other direction (a reflected proof) differ.
  EXPECT_NE(reference, client_proof(key, client, server));
  EXPECT_NE(reference, client_proof(key, server, client));
  EXPECT_NE(reference, server_proof(key, server, client));
  EXPECT_NE(reference, server_proof(key, client, server_changed));
  EXPECT_NE(reference, server_proof(other, client, server));
  EXPECT_EQ(reference, server_proof(Key(counting(0x00, 32)), client, server));
}

TEST(Proof, RefusesShortNoncesAndKeys) {
  const Key key(counting(0x00, 32));
  const auto nonce = counting(0x20, 32);
  EXPECT_THROW((void)server_proof(key, counting(0, 31), nonce), std::invalid_argument);
  EXPECT_THROW((void)client_proof(key, nonce, counting(0, 33)), std::invalid_argument);
  EXPECT_THROW((void)server_proof(Key(counting(0, 31)), nonce, nonce), std::invalid_argument);
  EXPECT_THROW((void)server_proof(Key(), nonce, nonce), std::invalid_argument);
}

TEST(ProofMatches, ComparesWholeContentAndLength) {
  const auto expected = counting(0x10, 32);
  EXPECT_TRUE(proof_matches(expected, counting(0x10, 32)));
  auto first = expected;
  first[0] ^= std::byte{0x80};
  EXPECT_FALSE(proof_matches(expected, first));
  auto last = expected;
  last[31] ^= std::byte{0x01};
  EXPECT_FALSE(proof_matches(expected, last));
  EXPECT_FALSE(proof_matches(expected, std::span(expected).first(31)));  // a prefix is no match
  EXPECT_FALSE(proof_matches(std::span(expected).first(31), expected));
  EXPECT_FALSE(proof_matches(expected, {}));
  EXPECT_FALSE(proof_matches({}, {}));  // nothing expected matches nothing
}

TEST(Random, NoncesAndKeysAreFreshEachTime) {
  EXPECT_NE(random_nonce(), random_nonce());
  const std::string a = generate_key_hex();
  const std::string b = generate_key_hex();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 64U);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(Key, CopiesAndMovesKeepTheBytes) {
  const Key original(counting(0x30, 40));
  Key copy(original);
  EXPECT_TRUE(std::ranges::equal(copy.bytes(), counting(0x30, 40)));
  Key moved(std::move(copy));
  EXPECT_TRUE(std::ranges::equal(moved.bytes(), counting(0x30, 40)));
  Key assigned;
  assigned = moved;
  EXPECT_EQ(assigned.size(), 40U);
  assigned = Key(counting(0x50, 32));
  EXPECT_TRUE(std::ranges::equal(assigned.bytes(), counting(0x50, 32)));
}

class KeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mpi-key-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& content, fs::perms mode = fs::perms::owner_read | fs::perms::owner_write) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    fs::permissions(path, mode, fs::perm_options::replace);
    return path;
  }

  // The message of the runtime_error load_key_file throws ("" if it throws none).
  static std::string refusal(const fs::path& path, bool require_private = true) {
    try {
      (void)load_key_file(path, require_private);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

constexpr const char* kHex64 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST_F(KeyFile, ReadsHexWithSurroundingWhitespace) {
  const Key key = load_key_file(write("key", std::string("  ") + kHex64 + "\r\n\n"));
  EXPECT_TRUE(std::ranges::equal(key.bytes(), counting(0x00, 32)));
  const Key upper = load_key_file(write("upper", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F40"));
  auto expected = counting(0x00, 32);
  expected.push_back(std::byte{0x40});
  EXPECT_TRUE(std::ranges::equal(upper.bytes(), expected));
}

TEST_F(KeyFile, RefusesMalformedFilesNamingThemAndWhy) {
  const std::string missing = refusal(dir_ / "absent");
  EXPECT_NE(missing.find("absent"), std::string::npos) << missing;
  EXPECT_NE(missing.find("cannot open"), std::string::npos) << missing;

  const std::string not_hex = refusal(write("nothex", std::string(kHex64).replace(10, 1, "g")));
  EXPECT_NE(not_hex.find("nothex"), std::string::npos) << not_hex;
  EXPECT_NE(not_hex.find("not hexadecimal (character 11"), std::string::npos) << not_hex;

  const std::string split = refusal(write("split", std::string(kHex64).insert(32, "\n")));
  EXPECT_NE(split.find("not hexadecimal"), std::string::npos) << split;

  const std::string odd = refusal(write("odd", std::string(kHex64) + "a"));
  EXPECT_NE(odd.find("odd number of hex digits (65)"), std::string::npos) << odd;

  const std::string short_key = refusal(write("short", std::string(kHex64).substr(0, 62)));
  EXPECT_NE(short_key.find("short"), std::string::npos) << short_key;
  EXPECT_NE(short_key.find("31 bytes"), std::string::npos) << short_key;
  EXPECT_NE(short_key.find("at least 32 bytes"), std::string::npos) << short_key;

  const std::string empty = refusal(write("empty", "\n"));
  EXPECT_NE(empty.find("0 bytes"), std::string::npos) << empty;

  const std::string huge = refusal(write("huge", std::string(5000, 'a')));
  EXPECT_NE(huge.find("not a key file"), std::string::npos) << huge;

  const std::string directory = refusal(dir_);
  EXPECT_NE(directory.find("not a regular file"), std::string::npos) << directory;
}

TEST_F(KeyFile, KeyOthersCanReadIsRefusedWhenItMustBePrivate) {
  const fs::path readable = write("readable", kHex64, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  const std::string refused = refusal(readable);
  EXPECT_NE(refused.find("readable"), std::string::npos) << refused;
  EXPECT_NE(refused.find("mode 0644"), std::string::npos) << refused;
  EXPECT_NE(refused.find("chmod 600"), std::string::npos) << refused;
  EXPECT_EQ(refusal(readable, false), "");
  EXPECT_EQ(load_key_file(readable, false).size(), 32U);

  const fs::path group = write("group", kHex64, fs::perms::owner_read | fs::perms::group_read);
  EXPECT_NE(refusal(group).find("mode 0440"), std::string::npos);
  const fs::path executable = write("exec", kHex64, fs::perms::owner_read | fs::perms::others_exec);
  EXPECT_NE(refusal(executable).find("mode 0401"), std::string::npos);
  const fs::path owner_only = write("owner", kHex64, fs::perms::owner_read);
  EXPECT_EQ(refusal(owner_only), "");
}

TEST_F(KeyFile, WrittenKeyIsPrivateLoadsAndIsNeverOverwritten) {
  const mode_t saved = ::umask(0);  // the file must be 0600 whatever the umask lets through
  const fs::path path = dir_ / "new.key";
  write_key_file(path);
  ::umask(saved);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777U, 0600U);

  std::string content;
  std::getline(std::ifstream(path), content);
  EXPECT_EQ(content.size(), 64U);
  const Key key = load_key_file(path, true);
  EXPECT_EQ(key.size(), 32U);

  EXPECT_THROW(write_key_file(path), std::runtime_error);
  std::string after;
  std::getline(std::ifstream(path), after);
  EXPECT_EQ(after, content);

  EXPECT_THROW(write_key_file(dir_ / "no-such-dir" / "key"), std::runtime_error);
}

// The limiter on a simulated steady clock.
class Limiter : public ::testing::Test {
 protected:
  using Clock = HandshakeLimiter::Clock;
  Clock::time_point t0 = Clock::time_point{} + 1h;
};

TEST_F(Limiter, FreeFailuresThenDoublingBlocksUpToTheCap) {
  HandshakeLimiter limiter(3, 60s, 60s);
  std::chrono::milliseconds retry{-1};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter.allowed("10.0.0.1", t0, &retry));
    EXPECT_EQ(retry, 0ms);
    limiter.failed("10.0.0.1", t0);
  }
  EXPECT_TRUE(limiter.allowed("10.0.0.1", t0));  // three failures are free

  // Each further failure, made as soon as the previous block ends: 1, 2, 4, ..., 32, then 60 s (the cap).
  const std::chrono::seconds blocks[] = {1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s};
  Clock::time_point now = t0;
  for (const std::chrono::seconds block : blocks) {
    ASSERT_TRUE(limiter.allowed("10.0.0.1", now));
    limiter.failed("10.0.0.1", now);
    EXPECT_FALSE(limiter.allowed("10.0.0.1", now, &retry));
    EXPECT_EQ(retry, std::chrono::milliseconds(block)) << "block " << block.count() << " s";
    EXPECT_FALSE(limiter.allowed("10.0.0.1", now + block - 1ms, &retry));
    EXPECT_EQ(retry, 1ms);
    now += block;
  }
  EXPECT_TRUE(limiter.allowed("10.0.0.1", now, &retry));
  EXPECT_EQ(retry, 0ms);
  EXPECT_TRUE(limiter.allowed("10.0.0.2", t0 + 1s));  // other addresses are not affected
}

TEST_F(Limiter, RetryAfterRoundsUpToWholeMilliseconds) {
  HandshakeLimiter limiter(0, 60s, 60s);
  limiter.failed("a", t0);
  std::chrono::milliseconds retry{0};
  EXPECT_FALSE(limiter.allowed("a", t0 + 999'500us, &retry));
  EXPECT_EQ(retry, 1ms);
}

TEST_F(Limiter, SuccessForgetsTheFailures) {
  HandshakeLimiter limiter(2, 60s, 60s);
  limiter.failed("a", t0);
  limiter.failed("a", t0);
  limiter.succeeded("a");
  EXPECT_EQ(limiter.tracked(), 0U);
  limiter.failed("a", t0);
  limiter.failed("a", t0);
  EXPECT_TRUE(limiter.allowed("a", t0));  // two free failures again
  limiter.failed("a", t0);
  EXPECT_FALSE(limiter.allowed("a", t0));
}

TEST_F(Limiter, QuietWindowAfterTheBlockForgetsTheFailures) {
  HandshakeLimiter limiter(1, 60s, 60s);
  limiter.failed("a", t0);
  limiter.failed("a", t0);  // blocked 1 s
  limiter.failed("a", t0);  // blocked 2 s from t0 (failures while blocked still count)
  std::chrono::milliseconds retry{0};
  EXPECT_FALSE(limiter.allowed("a", t0, &retry));
  EXPECT_EQ(retry, 2000ms);
  // Within the window after the block's end the count stands: the next failure blocks 4 s.
  limiter.failed("a", t0 + 2s + 59s);
  EXPECT_FALSE(limiter.allowed("a", t0 + 2s + 59s, &retry));
  EXPECT_EQ(retry, 4000ms);
  // A whole window without failure after the block's end: one free failure again.
  const Clock::time_point later = t0 + 2s + 59s + 4s + 60s;
  limiter.failed("a", later);
  EXPECT_TRUE(limiter.allowed("a", later));
  limiter.failed("a", later);
  EXPECT_FALSE(limiter.allowed("a", later, &retry));
  EXPECT_EQ(retry, 1000ms);
}

TEST_F(Limiter, TracksABoundedNumberOfAddressesEvictingTheOldest) {
  HandshakeLimiter limiter(0, 60s, 60s);
  const std::size_t count = HandshakeLimiter::kMaxTracked + 44;
  for (std::size_t i = 0; i < count; ++i) limiter.failed("192.0.2." + std::to_string(i), t0 + std::chrono::milliseconds(i));
  EXPECT_EQ(limiter.tracked(), 256U);
  const Clock::time_point now = t0 + std::chrono::milliseconds(count);
  EXPECT_TRUE(limiter.allowed("192.0.2.0", now));    // evicted: forgotten
  EXPECT_TRUE(limiter.allowed("192.0.2.43", now));   // the 44 oldest are gone
  EXPECT_FALSE(limiter.allowed("192.0.2.44", now));  // still blocked
  EXPECT_FALSE(limiter.allowed("192.0.2." + std::to_string(count - 1), now));
}

}  // namespace
}  // namespace mpi::protocol
