#include "mpi/hil/scenario.hpp"

#include "mpi/protocol/auth.hpp"

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <stdexcept>

namespace mpi::hil {

namespace {

std::string unique_shm_name() {
  static std::atomic<int> counter{0};
  return "/mpi-hil-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

}  // namespace

const std::filesystem::path& link_key_file() {
  static const std::filesystem::path file = [] {
    std::filesystem::path path = std::filesystem::temp_directory_path() / ("mpi-hil-" + std::to_string(::getpid()) + "-link.key");
    std::filesystem::remove(path);
    protocol::write_key_file(path);
    ::setenv("MPI_LINK_KEY", path.c_str(), 1);
    static const struct Remove {
      std::filesystem::path path;
      ~Remove() {
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
      }
    } remove{path};
    return path;
  }();
  return file;
}

int run_program(const std::vector<std::string>& argv, std::string* output, const std::string& stderr_file,
                std::chrono::milliseconds timeout) {
  ChildProcess child(argv, stderr_file);
  const std::optional<int> code = child.wait(timeout);
  if (output != nullptr) *output = child.output();
  if (!code) return child.terminate();
  return *code;
}

Scenario::Scenario(const ScenarioPrograms& programs, const ScenarioFiles& files)
    : programs_(programs), files_(files), shm_name_(unique_shm_name()) {
  std::filesystem::create_directories(files.work_dir);
  const auto log = [&](const char* name) { return (files.work_dir / (std::string(name) + ".log")).string(); };
  std::vector<std::string> plant_args{programs.plant.string(), "--shm",  shm_name_, "--scanner",
                                      (files.plant_scanner.empty() ? files.scanner : files.plant_scanner).string(), "--plan",
                                      files.plan.string(),     "--pace", std::to_string(files.plant_pace)};
  if (files.seed) plant_args.insert(plant_args.end(), {"--seed", std::to_string(*files.seed)});
  if (!files.faults.empty()) plant_args.insert(plant_args.end(), {"--faults", files.faults.string()});
  if (!files.control.empty()) plant_args.insert(plant_args.end(), {"--control", files.control.string()});
  if (!files.field_trace.empty()) plant_args.insert(plant_args.end(), {"--field-trace", files.field_trace.string()});
  plant_ = std::make_unique<ChildProcess>(plant_args, plant_log().string());
  plant_->wait_for_line("plant ready", std::chrono::seconds(30));
  std::vector<std::string> firmware_args{programs.firmware.string(), "--bus", "shm:" + shm_name_, "--scanner", files.scanner.string(),
                                         "--listen", files.firmware_listen, "--key", (files.key_file.empty() ? link_key_file() : files.key_file).string()};
  if (files.firmware_rt_priority > 0) firmware_args.insert(firmware_args.end(), {"--rt-priority", std::to_string(files.firmware_rt_priority)});
  firmware_ = std::make_unique<ChildProcess>(firmware_args, log("firmware"));
  const std::string line = firmware_->wait_for_line("firmware listening on", std::chrono::seconds(30));
  const auto colon = line.rfind(':');
  unsigned port = 0;
  if (colon == std::string::npos || std::from_chars(line.data() + colon + 1, line.data() + line.size(), port).ec != std::errc{} || port == 0) {
    throw std::runtime_error("cannot read the firmware's port from '" + line + "'");
  }
  port_ = static_cast<std::uint16_t>(port);
}

Scenario::~Scenario() { stop(); }

bool Scenario::stop() {
  bool clean = true;
  if (firmware_) clean = firmware_->terminate() == 0 && clean;
  if (plant_) clean = plant_->terminate() == 0 && clean;
  firmware_.reset();
  plant_.reset();
  return clean;
}

int Scenario::run_scan(const std::filesystem::path& out_dir, std::string* output) {
  return run_program({programs_.host.string(), "scan", "--connect", "127.0.0.1:" + std::to_string(port_), "--scanner",
                      files_.scanner.string(), "--plan", files_.plan.string(), "--out", out_dir.string()},
                     output, (files_.work_dir / "mpi.log").string());
}

}  // namespace mpi::hil
