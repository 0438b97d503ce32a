// Test helper: runs a reader and checks that it throws ConfigError whose message holds every given piece.
#pragma once

#include "mpi/config/config_error.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>

namespace mpi::config::testing {

template <typename F>
::testing::AssertionResult throws_config_error(F&& read, std::initializer_list<std::string_view> pieces) {
  try {
    read();
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    for (std::string_view piece : pieces) {
      if (message.find(piece) == std::string::npos) {
        return ::testing::AssertionFailure() << "message '" << message << "' lacks '" << piece << "'";
      }
    }
    return ::testing::AssertionSuccess() << message;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw another exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

// `text` with the first occurrence of `from` replaced by `to`; fails the test if `from` is absent.
inline std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "'" << from << "' is not in the base text";
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// A fresh directory under the system's temporary folder, removed on destruction.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("mpi-config-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" +
             std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(const std::string& name, std::string_view content) const {
    const auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace mpi::config::testing
