// What a finished scan leaves in its output folder (the same for `mpi scan`, `mpi replay` and the web
// console's scans): the image (image.csv/png and last_image.csv/png for plans naming a sequence,
// profile.csv/png for 1D plans) and report.txt, and the checks of a plan against a scanner that can only be
// made with both.
#pragma once

#include "mpi/host/scan_controller.hpp"
#include "mpi/host/scan_plan.hpp"

#include <filesystem>
#include <iostream>
#include <string>

namespace mpi::host {

// The text of report.txt: frames, drops, latency, background, drives, image grid and peaks.
std::string scan_report(const ScanOutcome& outcome, const ScanPlan& plan, const ScannerDescription& scanner);

// The reconstruction method of a plan for image titles: "1D x-space", "x-space (lissajous_2d)",
// "system matrix (lissajous_2d)".
std::string method_title(const ScanPlan& plan);

// Writes the images and report.txt into `out` (which must exist; `title` heads the images) and prints the
// report on `report_to` (standard output by default; null: nowhere). Returns the names of the files
// written: "image.png, image.csv, last_image.png, last_image.csv, report.txt" or "profile.png, profile.csv,
// report.txt".
std::string write_scan_outputs(const ScanOutcome& outcome, const ScanPlan& plan, const ScannerDescription& scanner,
                               const std::filesystem::path& out, const std::string& title, std::ostream* report_to = &std::cout);

// Errors of a plan that only show with the scanner (a sequence it does not have, a grid that does not fit,
// a system matrix too large) and a background recording that cannot be read: throws PlanError.
void check_plan_with_scanner(const ScanPlan& plan, const ScannerDescription& scanner);

}  // namespace mpi::host
