// Writes a reconstructed 1D profile for people and programs: a CSV table (x in mm, intensity, and the
// two scan directions) and a PNG plot with the position axis in millimetres.
#pragma once

#include "mpi/recon/xspace_1d.hpp"

#include <filesystem>
#include <string>

namespace mpi::host {

void write_profile_csv(const recon::Profile1D& profile, const std::filesystem::path& file);
void write_profile_png(const recon::Profile1D& profile, const std::filesystem::path& file, const std::string& title);
// Reads a CSV written by write_profile_csv (x_mm and intensity columns) back into a profile.
recon::Profile1D read_profile_csv(const std::filesystem::path& file);

}  // namespace mpi::host
