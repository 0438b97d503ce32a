#include "tool_command.hpp"

#include "command.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

namespace mpi::cli {

namespace fs = std::filesystem;

int exec_tool(const std::string& name, const std::vector<std::string>& args) {
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(self.parent_path() / name);
#ifdef MPI_BUILD_TOOLS_DIR
  candidates.push_back(fs::path(MPI_BUILD_TOOLS_DIR) / name);
  candidates.push_back(fs::path(MPI_BUILD_TOOLS_DIR) / "demo" / name);
  candidates.push_back(fs::path(MPI_BUILD_TOOLS_DIR) / "sim" / name);
#endif
  std::string program = name;  // PATH
  std::string looked;
  for (const fs::path& c : candidates) {
    looked += c.string() + ", ";
    if (::access(c.c_str(), X_OK) == 0) {
      program = c.string();
      break;
    }
  }
  std::vector<char*> argv;
  argv.push_back(program.data());
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execvp(program.c_str(), argv.data());
  std::cerr << "mpi: cannot run " << name << " (looked in " << looked << "and on PATH): " << std::strerror(errno) << '\n';
  return kExitBadInput;
}

namespace {

struct ToolSubcommand {
  const char* subcommand;
  const char* program;
};
constexpr ToolSubcommand kTools[] = {{"demo", "mpi-demo"}, {"sim", "mpi-sim"}};

}  // namespace

int run_tool_subcommand(int argc, char** argv) {
  int i = 1;
  while (i < argc) {
    const std::string a = argv[i];
    if (a == "--key" && i + 1 < argc) {
      ::setenv("MPI_LINK_KEY", argv[i + 1], 1);
      i += 2;
    } else if (a.rfind("--key=", 0) == 0) {
      ::setenv("MPI_LINK_KEY", a.substr(6).c_str(), 1);
      ++i;
    } else {
      break;
    }
  }
  if (i >= argc) return -1;
  for (const ToolSubcommand& t : kTools) {
    if (argv[i] == std::string(t.subcommand)) return exec_tool(t.program, std::vector<std::string>(argv + i + 1, argv + argc));
  }
  return -1;
}

namespace {

Command tool_command(CLI::App& mpi, const std::string& subcommand, const std::string& program, const std::string& what) {
  CLI::App* app = mpi.add_subcommand(subcommand, what + " (runs " + program + "; `mpi " + subcommand + " --help` lists its options)");
  // run_tool_subcommand() hands the command line to the program before it is parsed here; this entry lists
  // the subcommand in `mpi --help`.
  app->prefix_command();
  app->allow_extras();
  return {app, [app, program] { return exec_tool(program, app->remaining()); }};
}

}  // namespace

Command add_demo_command(CLI::App& mpi) {
  return tool_command(mpi, "demo", "mpi-demo", "a simulated scan end to end: plant, firmware and mpi scan on loopback");
}

Command add_sim_command(CLI::App& mpi) {
  return tool_command(mpi, "sim", "mpi-sim", "start the simulated scanner (plant + firmware, and its calibration robot) until Ctrl-C");
}

}  // namespace mpi::cli
