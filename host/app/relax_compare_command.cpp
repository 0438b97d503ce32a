// mpi relax-compare: several relaxometry results side by side (the first is the reference).
#include "command.hpp"
#include "command_options.hpp"

#include "mpi/host/relax_report.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

namespace mpi::cli {

namespace {

struct CompareOptions {
  std::vector<std::string> dirs;
  std::string out = "out";
};

}  // namespace

Command add_relax_compare_command(CLI::App& mpi) {
  auto o = std::make_shared<CompareOptions>();
  CLI::App* app = mpi.add_subcommand("relax-compare", "compare relaxometry results of several samples (the first is the reference)");
  app->add_option("DIR", o->dirs, "result folders of mpi relax")->required();
  add_out_option(*app, o->out);
  return {app, [o] {
            return run_step("relax-compare", [&] {
              std::vector<recon::RelaxometryResult> results;
              try {
                for (const std::string& d : o->dirs) results.push_back(host::read_relax_result(d));
              } catch (const std::exception& e) {
                throw std::invalid_argument(e.what());
              }
              prepare_output(o->out);
              const std::vector<std::string> written = host::write_relax_comparison(results, o->out);
              std::cout << std::ifstream(std::filesystem::path(o->out) / "comparison.csv").rdbuf() << "outputs in "
                        << std::filesystem::absolute(o->out).lexically_normal().string() << ": ";
              for (std::size_t i = 0; i < written.size(); ++i) std::cout << (i ? ", " : "") << written[i];
              std::cout << '\n';
              return 0;
            });
          }};
}

}  // namespace mpi::cli
