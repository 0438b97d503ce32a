// The `mpi` command line: every subcommand answers --help with its usage and its options (exit 0), and bad
// command lines (unknown subcommand or option, a missing or out-of-range value, a missing required option)
// end with one error naming the option and exit 2. The test runs the built binary.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace {

struct CommandRun {
  int code = -1;
  std::string output;  // stdout and stderr
};

CommandRun run(const std::string& args) {
  CommandRun r;
  const std::string command = std::string(MPI_HOST_EXE) + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) r.output += buffer.data();
  const int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

struct HelpCase {
  const char* subcommand;
  std::vector<const char*> options;  // each must be listed in its help
};

// The options each subcommand documents (a subcommand that loses one, or whose help breaks, fails here).
const std::vector<HelpCase> kHelp = {
    {"demo", {"--scanner", "--plan", "--out", "--pace"}},
    {"sim", {"--scanner", "--plan", "--listen", "--key", "--robot-listen"}},
    {"scan", {"--connect", "--timeout", "--scanner", "--plan", "--out"}},
    {"console", {"--connect", "--scanner", "--plan", "--out", "--listen"}},
    {"status", {"--connect", "--timeout", "--watch"}},
    {"relax", {"--plan", "--out", "--connect", "--scanner", "--no-wait"}},
    {"relax-compare", {"DIR", "--out"}},
    {"harmonics", {"--mh", "--tracer", "--drive", "--bias", "--max-harmonic", "--quantity", "--out"}},
    {"calibrate", {"--connect", "--robot", "--scanner", "--plan", "--out"}},
    {"replay", {"--capture", "--mdf", "--scanner", "--plan", "--out"}},
    {"reconstruct", {"--measurement", "--system-matrix", "--out", "--solver", "--lambda", "--iterations", "--min-snr", "--max-rows", "--frames", "--average"}},
    {"analyze", {"--profile", "--through", "--rois", "--out"}},
    {"inspect", {"FILE"}},
    {"recover", {"FILE"}},
    {"clear-faults", {"--connect", "--timeout"}},
    {"keygen", {"FILE"}},
};

}  // namespace

TEST(MpiCli, TheTopLevelHelpListsEverySubcommand) {
  const CommandRun r = run("--help");
  EXPECT_EQ(r.code, 0) << r.output;
  for (const HelpCase& c : kHelp) EXPECT_NE(r.output.find(std::string("  ") + c.subcommand + " "), std::string::npos) << c.subcommand << '\n' << r.output;
  EXPECT_NE(r.output.find("--key"), std::string::npos) << r.output;
}

TEST(MpiCli, EverySubcommandAnswersHelpWithItsOptions) {
  for (const HelpCase& c : kHelp) {
    SCOPED_TRACE(c.subcommand);
    const CommandRun r = run(std::string(c.subcommand) + " --help");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << r.output;
    for (const char* option : c.options) EXPECT_NE(r.output.find(option), std::string::npos) << option << " missing from:\n" << r.output;
  }
}

TEST(MpiCli, BadCommandLinesAreBadInputNamingWhatIsWrong) {
  struct Case {
    const char* args;
    const char* names;
  };
  const std::vector<Case> cases = {
      {"", "subcommand is required"},                                      // nothing to do
      {"frobnicate", "frobnicate"},                                         // unknown subcommand
      {"scan --plan p.toml --colour red", "--colour"},                      // unknown option
      {"scan", "--plan"},                                                   // required option missing
      {"scan --plan p.toml --timeout 0", "--timeout"},                      // out of range
      {"harmonics --max-harmonic two", "--max-harmonic"},                   // not a number
      {"replay --capture a --mdf b", "--mdf"},                              // excluded together
      {"status --connect nowhere", "nowhere"},                              // not HOST:PORT
      {"scan --plan /nonexistent/plan.toml", "/nonexistent/plan.toml"},    // missing file
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    const CommandRun r = run(c.args);
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find(c.names), std::string::npos) << r.output;
  }
}
