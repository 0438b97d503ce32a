#include "mpi/host/scan_outputs.hpp"

#include "mpi/host/background_stage.hpp"
#include "mpi/host/drive_plan.hpp"
#include "mpi/host/image_output.hpp"
#include "mpi/host/pipeline_system_matrix.hpp"
#include "mpi/host/profile_output.hpp"
#include "mpi/recon/profile_analysis.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace mpi::host {

namespace fs = std::filesystem;

std::string scan_report(const ScanOutcome& outcome, const ScanPlan& plan, const ScannerDescription& scanner) {
  std::ostringstream r;
  r.setf(std::ios::fixed);
  r.precision(4);
  r << "frames reconstructed: " << outcome.frames << " (dropped from display: " << outcome.dropped
    << ", discarded incomplete: " << outcome.counters.frames_discarded << ", gaps: " << outcome.counters.gaps
    << ", samples lost: " << outcome.counters.samples_lost << ")\n";
  {
    std::ostringstream l;
    l.setf(std::ios::fixed);
    l.precision(3);
    l << "latency from a frame's last sample to its image (" << outcome.latency.count << " frames): median "
      << outcome.latency.median_s * 1e3 << " ms, p95 " << outcome.latency.p95_s * 1e3 << " ms, max " << outcome.latency.max_s * 1e3 << " ms\n";
    r << l.str();
  }
  r << "background: " << (outcome.background.empty() ? "none subtracted" : outcome.background + ", subtracted from every frame") << "\n";
  if (outcome.mean_image) {
    r << "sequence " << plan.sequence.name << "; sampling " << outcome.sample_rate_hz / 1e6 << " MS/s\n";
    for (const auto& d : outcome.drives) {
      r << "drive along (" << d.direction.x() << ", " << d.direction.y() << ", " << d.direction.z() << "): " << d.frequency_hz << " Hz, "
        << d.amplitude_t * 1e3 << " mT, phase " << d.phase_rad << " rad\n";
    }
    const GridImage& image = *outcome.mean_image;
    const auto& g = image.grid;
    r << outcome.reconstruction_summary;
    r << "image grid: " << g.counts[0] << " x " << g.counts[1] << " x " << g.counts[2] << " pixels of " << g.pixel_m.x() * 1e3 << " mm\n";
    if (!image.values.empty()) {
      const auto peak = static_cast<std::size_t>(std::max_element(image.values.begin(), image.values.end()) - image.values.begin());
      const Eigen::Vector3d c = g.centre_m(peak) * 1e3;
      r << "peak at (" << c.x() << ", " << c.y() << ", " << c.z() << ") mm, value " << image.values[peak] << "\n";
    }
    return r.str();
  }
  r << "drive: " << outcome.drive_frequency_hz << " Hz, " << outcome.drive_amplitude_t * 1e3 << " mT; sampling "
    << outcome.sample_rate_hz / 1e6 << " MS/s\n";
  r << "analytic PSF FWHM: " << recon::psf_fwhm_m(plan.tracer, scanner.gradient_t_per_m) * 1e3 << " mm\n";
  const auto peaks = recon::find_peaks(outcome.image);
  for (const auto& peak : peaks) {
    r << "peak at x = " << peak.position_m * 1e3 << " mm, FWHM " << recon::fwhm_m(outcome.image, peak) * 1e3 << " mm\n";
  }
  for (std::size_t i = 1; i < peaks.size(); ++i) {
    r << "dip between peaks " << i << " and " << i + 1 << ": " << 100.0 * recon::dip_ratio(outcome.image, peaks[i - 1], peaks[i])
      << " % of the lower peak\n";
  }
  return r.str();
}

std::string method_title(const ScanPlan& plan) {
  if (!plan.multi_dimensional()) return "1D x-space";
  const bool sm = plan.reconstruction.method == ReconstructionMethod::system_matrix;
  return (sm ? "system matrix (" : "x-space (") + plan.sequence.name + ")";
}

std::string write_scan_outputs(const ScanOutcome& outcome, const ScanPlan& plan, const ScannerDescription& scanner, const fs::path& out,
                               const std::string& title, std::ostream* report_to) {
  std::string files;
  if (outcome.mean_image) {
    write_image_csv(*outcome.mean_image, out / "image.csv");
    write_image_png(*outcome.mean_image, out / "image.png", title + ", mean of " + std::to_string(outcome.frames) + " frames");
    write_image_csv(*outcome.last_image, out / "last_image.csv");
    write_image_png(*outcome.last_image, out / "last_image.png", title + ", last frame");
    files = "image.png, image.csv, last_image.png, last_image.csv";
  } else {
    write_profile_csv(outcome.image, out / "profile.csv");
    write_profile_png(outcome.image, out / "profile.png", title);
    files = "profile.png, profile.csv";
  }
  const std::string report = scan_report(outcome, plan, scanner);
  std::ofstream(out / "report.txt") << report;
  if (report_to != nullptr) *report_to << report;
  return files + ", report.txt";
}

void check_plan_with_scanner(const ScanPlan& plan, const ScannerDescription& scanner) {
  const DrivePlan drive = plan_drive(plan, scanner, scanner.sample_rate_hz);
  if (plan.multi_dimensional()) {
    std::vector<recon::DriveComponent> components;
    for (const PlannedDrive& d : drive.drives) {
      components.push_back({scanner.drives[d.channel].axis, d.amplitude_t, d.frequency_hz, d.phase_rad});
    }
    const recon::ImageGrid grid = plan_image_grid(plan, scanner.gradient_matrix_t_per_m, components);
    if (plan.reconstruction.method == ReconstructionMethod::system_matrix) {
      check_system_matrix_size(plan, scanner, grid, drive.samples_per_frame(), scanner.sample_rate_hz);
    }
  }
  if (!plan.background.recording.empty()) (void)BackgroundFrame::load(plan, scanner);
}

}  // namespace mpi::host
