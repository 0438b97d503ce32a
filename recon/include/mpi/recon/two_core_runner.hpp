// Two pieces of work at once on the host's two cores: the calling thread runs one, a persistent worker
// thread (started once, never per frame) runs the other. Used to process frames in pairs (two frame
// spectra and harmonic tables at a time, each with its own FrameSpectrum and buffers), which doubles the
// throughput at the cost of one frame of latency. run() neither allocates nor creates threads; the worker
// spins briefly for the next request (frames come back to back under load) and then sleeps on an atomic
// wait, so it costs nothing while the stream is idle.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <thread>
#include <type_traits>
#include <utility>

namespace mpi::recon {

class TwoCoreRunner {
 public:
  // Starts the worker thread.
  TwoCoreRunner();
  // Stops and joins the worker.
  ~TwoCoreRunner();
  TwoCoreRunner(const TwoCoreRunner&) = delete;
  TwoCoreRunner& operator=(const TwoCoreRunner&) = delete;

  // Runs here() on the calling thread and there() on the worker; returns when both have finished. An
  // exception from either is rethrown here (here()'s first) after both have finished. Not reentrant: one
  // run at a time per runner.
  template <class Here, class There>
  void run(Here&& here, There&& there) {
    using T = std::remove_reference_t<There>;
    post([](void* f) { (*static_cast<T*>(f))(); }, static_cast<void*>(std::addressof(there)));
    std::exception_ptr error;
    try {
      here();
    } catch (...) {
      error = std::current_exception();
    }
    finish();
    if (error) std::rethrow_exception(error);
    if (worker_error_) std::rethrow_exception(std::exchange(worker_error_, nullptr));
  }

 private:
  void post(void (*fn)(void*), void* ctx) noexcept;
  void finish() noexcept;
  void loop() noexcept;

  void (*fn_)(void*) = nullptr;
  void* ctx_ = nullptr;
  std::exception_ptr worker_error_;
  std::atomic<std::uint32_t> requested_{0};  // generation of the last request
  std::atomic<std::uint32_t> done_{0};       // generation the worker finished last
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace mpi::recon
