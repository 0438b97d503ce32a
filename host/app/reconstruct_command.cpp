// mpi reconstruct: system-matrix reconstruction of MDF measurement and calibration files of any MPI software.
#include "command.hpp"
#include "command_options.hpp"

#include "mpi/host/image_output.hpp"
#include "mpi/host/mdf_reconstruction.hpp"
#include "mpi/host/progress.hpp"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <unistd.h>

namespace mpi::cli {

namespace {

struct ReconstructOptions {
  std::string measurement;
  std::string system_matrix;
  std::string solver = "tikhonov";
  std::string frames;
  std::string out = "out";
  host::MdfReconstructionOptions rec;
};

}  // namespace

Command add_reconstruct_command(CLI::App& mpi) {
  auto o = std::make_shared<ReconstructOptions>();
  CLI::App* app = mpi.add_subcommand("reconstruct", "system-matrix reconstruction of an MDF measurement with an MDF system matrix of any MPI tool");
  app->add_option("--measurement", o->measurement, "measurement (MDF)")->required();
  app->add_option("--system-matrix", o->system_matrix, "system matrix / calibration (MDF)")->required();
  add_out_option(*app, o->out);
  app->add_option("--solver", o->solver, "tikhonov | kaczmarz | kaczmarz-nonneg | cgnr")->capture_default_str();
  app->add_option("--lambda", o->rec.relative_lambda, "Tikhonov lambda relative to ||S||_F^2 / voxels")->capture_default_str();
  app->add_option("--iterations", o->rec.iterations, "Kaczmarz sweeps / CGNR iterations (0: 10 / 50)")->capture_default_str();
  app->add_option("--min-snr", o->rec.min_snr, "rows with calibration SNR at least this")->capture_default_str();
  app->add_option("--max-rows", o->rec.max_rows, "at most this many rows, highest SNR first (0: no cap)")->capture_default_str();
  app->add_option("--frames", o->frames, "foreground frames a:b (0-based, b excluded; default all)");
  app->add_flag("--average", o->rec.average, "average the frames before reconstructing (one solve)");
  return {app, [o] {
            return run_step("reconstruct", [&] {
              namespace fs = std::filesystem;
              o->rec.solver = host::parse_mdf_solver(o->solver);
              if (!o->frames.empty()) host::parse_frame_range(o->frames, o->rec);
              prepare_output(o->out);
              std::optional<host::Progress> progress;
              o->rec.on_frame = [&progress](std::size_t done, std::size_t total) {
                if (!progress) progress.emplace("reconstruct", total, "frames", std::cerr, host::Progress::is_terminal(STDERR_FILENO));
                progress->update(done);
              };
              const host::MdfReconstruction r = host::reconstruct_mdf(o->measurement, o->system_matrix, o->rec);
              if (progress) progress->finish();
              const fs::path out(o->out);
              const std::string title = "system matrix (" + fs::path(o->system_matrix).filename().string() + "), " +
                                        fs::path(o->measurement).filename().string();
              host::write_image_csv(r.mean, out / "image.csv");
              host::write_image_png(r.mean, out / "image.png", title + ", mean of " + std::to_string(r.frames) + " frames");
              host::write_image_csv(r.last, out / "last_image.csv");
              host::write_image_png(r.last, out / "last_image.png", title + (o->rec.average ? ", mean frame" : ", last frame"));
              std::ofstream(out / "report.txt") << r.report;
              std::cout << r.report << "outputs in " << fs::absolute(out).lexically_normal().string()
                        << ": image.png, image.csv, last_image.png, last_image.csv, report.txt\n";
              return 0;
            });
          }};
}

}  // namespace mpi::cli
