// The logic's ramp: linear at 1/RampSamples per sample from the sample at which a command applies, the
// event sample recorded, the factor reported in Q16, ramp-down to 0 that stays at 0.
#include <gtest/gtest.h>

#include <cmath>

#include "mpi/hil/ramp.hpp"

namespace mpi::hil::test {
namespace {

using namespace drivers::regmap;


TEST(Ramp, RisesLinearlyAndHoldsAtOne) {
  Ramp ramp;
  EXPECT_EQ(ramp.factor(100.0), 0.0);
  ramp.apply(RampCommand::up, 10, 100);
  EXPECT_EQ(ramp.factor(5.0), 0.0);
  EXPECT_EQ(ramp.factor(10.0), 0.0);
  EXPECT_DOUBLE_EQ(ramp.factor(35.0), 0.25);
  EXPECT_EQ(ramp.factor(110.0), 1.0);
  EXPECT_EQ(ramp.factor(1e9), 1.0);
  EXPECT_EQ(ramp.factor_q16(60), 32768U);
}

TEST(Ramp, DownStartsFromThePresentValue) {
  Ramp ramp;
  ramp.apply(RampCommand::up, 0, 100);
  ramp.apply(RampCommand::down, 40, 100);  // at 0.4
  EXPECT_DOUBLE_EQ(ramp.factor(40.0), 0.4);
  EXPECT_DOUBLE_EQ(ramp.factor(60.0), 0.2);
  EXPECT_EQ(ramp.factor(80.0), 0.0);
  EXPECT_EQ(ramp.factor(1e6), 0.0);
}

TEST(Ramp, HoldCommandAndZeroDurationAreSafe) {
  Ramp ramp;
  ramp.apply(RampCommand::hold, 0, 100);
  EXPECT_EQ(ramp.factor(50.0), 0.0);
  ramp.apply(RampCommand::up, 0, 0);  // taken as one sample
  EXPECT_EQ(ramp.factor(1.0), 1.0);
}

TEST(Ramp, StopFreezesAndTheNextAcquisitionContinues) {
  Ramp ramp;
  ramp.apply(RampCommand::up, 0, 100);
  ramp.stop_at(30);
  EXPECT_DOUBLE_EQ(ramp.factor(0.0), 0.3);
  EXPECT_DOUBLE_EQ(ramp.factor(10.0), 0.4);
}

}  // namespace
}  // namespace mpi::hil::test
