// mpi recover: finishes an MDF recording left incomplete by a crash or kill, from its journal.
#include "command.hpp"

#include "mpi/host/mdf_recorder.hpp"

#include <iostream>
#include <memory>

namespace mpi::cli {

Command add_recover_command(CLI::App& mpi) {
  auto file = std::make_shared<std::string>();
  CLI::App* app = mpi.add_subcommand("recover", "finish an MDF recording left incomplete by a crash or kill from its journal");
  app->add_option("FILE", *file, "the incomplete recording (scan.mdf; its raw.mpilink next to it)")->required();
  return {app, [file] {
            return run_step("recover", [&] {
              host::RecordingSummary r;
              try {
                r = host::finish_recording(*file);
              } catch (const std::exception& e) {
                throw std::invalid_argument(e.what());  // a complete file, a missing or foreign journal
              }
              std::cout << "recovered " << r.frames << " frames (" << r.background_frames << " background, " << r.faults << " fault events) into "
                        << *file << '\n';
              if (r.journal_cut) std::cout << "the journal ends inside a record (" << r.journal_note << "); every complete frame before it is kept\n";
              return 0;
            });
          }};
}

}  // namespace mpi::cli
