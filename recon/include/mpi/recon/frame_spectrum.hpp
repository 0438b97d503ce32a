// Spectra of whole receive frames, all channels at once (REFERENCE 3.1, 3.3). A FrameSpectrum is made once
// per frame geometry: it checks that the frame holds a whole number of cycles of every drive frequency (so
// every harmonic and mixing frequency falls exactly on a bin: no leakage, no window needed), makes its
// FFTW plan once and then transforms frame after frame without allocating.
//
// Output: the complex amplitude spectrum, an Eigen::MatrixXcd of bins() rows x channels columns
// (std::complex<double>, column-major, so each channel's bins are contiguous). Bin k is the frequency
// k * sample_rate / samples_per_frame and is scaled so that a channel holding
//   x[j] = sum_k a_k cos(2 pi k j / N + phi_k)
// has spectrum(k, c) == a_k exp(i phi_k): |value| is the peak amplitude of that cosine (volts for ADC
// input) and arg is its phase at the frame's first sample. That is 2 X_k / N of the plain DFT X_k for
// 0 < k < N/2, and X_k / N for bin 0 (the mean) and, for even N, bin N/2.
#pragma once

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace mpi::recon {

// What a frame is: its length, the receive channels, the sample rate and the drive frequencies (one per
// driven axis; 1D has one).
struct FrameGeometry {
  std::size_t samples_per_frame = 0;
  std::size_t channels = 0;
  double sample_rate_hz = 0.0;
  std::vector<double> drive_frequencies_hz;

  // A 1D frame: `periods` drive periods of `samples_per_period` samples each.
  static FrameGeometry periodic(std::size_t samples_per_period, std::size_t periods, std::size_t channels,
                                double sample_rate_hz);
  // A Lissajous frame: drive d at base_clock_hz / dividers[d] (REFERENCE 2.1).
  static FrameGeometry lissajous(std::span<const std::uint32_t> dividers, double base_clock_hz, double sample_rate_hz,
                                 std::size_t samples_per_frame, std::size_t channels);

  // Seconds of acquisition in one frame.
  [[nodiscard]] double frame_duration_s() const { return static_cast<double>(samples_per_frame) / sample_rate_hz; }
  // Frequency spacing of the bins, sample_rate / samples_per_frame.
  [[nodiscard]] double bin_spacing_hz() const { return sample_rate_hz / static_cast<double>(samples_per_frame); }
  // Number of rFFT bins, samples_per_frame / 2 + 1.
  [[nodiscard]] std::size_t bins() const noexcept { return samples_per_frame / 2 + 1; }
};

// The bin of each drive frequency (cycles per frame), in the order of geometry.drive_frequencies_hz. Throws
// std::invalid_argument, naming the drive, when the geometry is empty or inconsistent (no samples, no
// channels, a non-positive or non-finite rate or frequency, no drive) or when a drive does not complete a
// whole number of cycles in the frame (within 1e-9 cycles) or lies above the Nyquist bin.
std::vector<std::size_t> drive_bins(const FrameGeometry& geometry);

// The sample index of a frame's centre, first_sample + (samples_per_frame - 1) / 2: the time stamp the
// background interpolation uses.
double frame_centre_sample(std::uint64_t first_sample, std::size_t samples_per_frame) noexcept;

enum class FftPlanning {
  estimate,  // plan instantly (FFTW_ESTIMATE)
  measure,   // time candidate algorithms once at construction (FFTW_MEASURE): faster to run, slow to build
             // for lengths with large prime factors unless the prime-factor split takes them (the 3D frame
             // of 53856 = 2^5 3^2 11 17 samples as one FFTW transform: tens of s; split: about a second)
  patient,   // a wider search (FFTW_PATIENT): slower still to build, sometimes faster to run
};

// Arithmetic of the transform. The output is complex<double> either way.
enum class FftPrecision {
  double_precision,  // double samples, double FFT
  single_precision,  // float samples and float FFT (FFTW's fftwf), widened to double on output. Relative
                     // error about 1e-7 of the channel's largest amplitude: far below the 16-bit ADC's
                     // quantisation (3e-5 of full scale), so it loses nothing for ADC frames; faster for
                     // the 2D, 3D and 1D frame sizes (see recon/README.md).
};

// How the transform is split.
enum class FftAlgorithm {
  automatic,  // a prime-factor split where it pays (see prime_factor_split), else one FFTW transform
  fftw,       // always one batched FFTW real-to-complex transform of the whole frame
};

// The prime p of the prime-factor split that FftAlgorithm::automatic uses for frames of n samples, or 0 for
// none: the largest prime factor of n when it lies in 17..61 (FFTW has no fast code for primes above 13),
// divides n once and leaves at least 8 samples for the other factor m = n / p. The frame is then
// transformed as p x m (mixed radix, samples in their natural order): p-point DFTs over all m columns at
// once in SIMD registers with the twiddle factors applied on the way out, then FFTW's m-point DFTs. Examples: the 2D frame of 1632 = 17 x 96 and the 3D
// frame of 53856 = 17 x 3168 samples (p = 17); 1D frames of periods of 102 = 2 x 3 x 17 samples.
std::size_t prime_factor_split(std::size_t n) noexcept;

class FrameSpectrum {
 public:
  using Matrix = Eigen::MatrixXcd;

  // Validates the geometry (see drive_bins) and plans one batched transform of all channels.
  explicit FrameSpectrum(FrameGeometry geometry, FftPlanning planning = FftPlanning::estimate,
                         FftPrecision precision = FftPrecision::double_precision,
                         FftAlgorithm algorithm = FftAlgorithm::automatic);
  ~FrameSpectrum();
  FrameSpectrum(FrameSpectrum&& other) noexcept;
  FrameSpectrum& operator=(FrameSpectrum&& other) noexcept;
  FrameSpectrum(const FrameSpectrum&) = delete;
  FrameSpectrum& operator=(const FrameSpectrum&) = delete;

  [[nodiscard]] const FrameGeometry& geometry() const noexcept { return geometry_; }
  [[nodiscard]] std::size_t bins() const noexcept { return geometry_.bins(); }
  [[nodiscard]] std::size_t channels() const noexcept { return geometry_.channels; }
  [[nodiscard]] const std::vector<std::size_t>& drive_bin_indices() const noexcept { return drive_bins_; }
  [[nodiscard]] FftPrecision precision() const noexcept { return precision_; }
  // The prime p of the prime-factor split in use, 0 when the whole frame goes to FFTW in one transform.
  [[nodiscard]] std::size_t split_prime() const noexcept;
  // Frequency of bin k in Hz.
  [[nodiscard]] double bin_frequency_hz(std::size_t k) const { return static_cast<double>(k) * geometry_.bin_spacing_hz(); }

  // The board's format: samples_per_frame x channels int16 ADC codes, channels interleaved
  // (codes[j * channels + c]), converted with one volts-per-code factor for all channels or one per channel.
  Matrix& transform(std::span<const std::int16_t> interleaved_codes, double volts_per_code);
  Matrix& transform(std::span<const std::int16_t> interleaved_codes, std::span<const double> volts_per_code);
  // Interleaved samples in volts, same layout.
  Matrix& transform(std::span<const double> interleaved_volts);
  // Samples in volts as samples_per_frame rows x channels columns.
  Matrix& transform_channels(const Eigen::Ref<const Eigen::MatrixXd>& samples);

  // The fused path (fused_harmonics.hpp): a reconstruction needs a few thousand of the bins, so the
  // transform can leave its result in its own buffers and only the bins of a BinSelection are read out.
  // A BinSelection is made once per table by select_bins() and belongs to the layout of the FrameSpectrum
  // that made it (frame length, channels, precision, split); read_bins() refuses one of another layout.
  class BinSelection {
   public:
    [[nodiscard]] const std::vector<std::size_t>& bins() const noexcept { return bins_; }
    [[nodiscard]] std::size_t size() const noexcept { return bins_.size(); }

   private:
    friend class FrameSpectrum;
    std::vector<std::size_t> bins_;
    std::vector<std::uint32_t> offset_;  // complex element within a channel's part of the result buffer
    std::vector<double> re_scale_;       // 0.5 for bin 0 and N/2 (see execute), else 1
    std::vector<double> im_scale_;       // the same times -1 where the split stores the conjugate
    std::size_t samples_ = 0;
    std::size_t channels_ = 0;
    std::size_t split_prime_ = 0;
    FftPrecision precision_ = FftPrecision::double_precision;
  };
  // Throws std::invalid_argument naming the first bin above N/2 (and its position in `bins`).
  [[nodiscard]] BinSelection select_bins(std::span<const std::size_t> bins) const;
  // transform(int16) without reading the spectrum out: spectrum() is left unspecified until the next
  // transform(); read_bins() reads the selected bins. Same checks and errors as transform(int16).
  void transform_unread(std::span<const std::int16_t> interleaved_codes, double volts_per_code);
  // Writes the selected bins of every channel of the last transform_unread() to out (selection.size() x
  // channels(); resized if it is not): the values transform() would have put in spectrum(). Throws
  // std::logic_error when the last transform was not transform_unread(), std::invalid_argument for a
  // selection made by a FrameSpectrum of another layout.
  void read_bins(const BinSelection& selection, Eigen::MatrixXcd& out) const;

  // The spectrum of the last transform (bins() x channels()); zero before the first. The transforms return
  // it mutable so that background subtraction and feedthrough suppression can work in place; the next
  // transform overwrites it.
  [[nodiscard]] const Matrix& spectrum() const noexcept { return spectrum_; }
  [[nodiscard]] Matrix& spectrum() noexcept { return spectrum_; }

 private:
  // Writes every channel into the input buffer of the precision in use, sample(channel, j) being sample j
  // of a channel already scaled, then transforms (and reads the spectrum out where read_out).
  template <class Sample>
  void fill_and_transform(Sample sample, bool read_out = true);
  void transform_int16(std::span<const std::int16_t> codes, double volts_per_code, bool read_out);
  // Runs the transform; with read_out the result goes to spectrum_ with the edge bins halved.
  void execute(bool read_out);
  void release() noexcept;

  FrameGeometry geometry_;
  std::vector<std::size_t> drive_bins_;
  FftPrecision precision_ = FftPrecision::double_precision;
  double* time_ = nullptr;   // double precision: fftw_malloc'd, channel-major: channels x samples_per_frame
  float* time_f_ = nullptr;  // single precision: the same layout, fftwf_malloc'd
  void* out_f_ = nullptr;    // single precision: fftwf_complex bins x channels
  Matrix spectrum_;          // double precision: FFTW writes here directly (bins x channels, column-major)
  void* plan_ = nullptr;
  struct PrimeSplit;                    // the prime-factor split's tables and buffers (null: none)
  std::unique_ptr<PrimeSplit> split_;
  bool unread_ = false;  // the last transform was transform_unread()
};

}  // namespace mpi::recon
