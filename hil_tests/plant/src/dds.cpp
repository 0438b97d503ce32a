#include "mpi/hil/dds.hpp"

#include <cmath>

namespace mpi::hil {

SineTable::SineTable() : sin_(std::size_t{1} << kIndexBits) {
  const double step = 2.0 * std::numbers::pi / static_cast<double>(sin_.size());
  for (std::size_t i = 0; i < sin_.size(); ++i) sin_[i] = std::sin(step * static_cast<double>(i));
}

}  // namespace mpi::hil
