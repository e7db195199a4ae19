// A communicator's host scratch is kept and handed out again: once warm, a collective
// allocates nothing (fresh pages fault in one by one and cost more than the transfer).
#include <gtest/gtest.h>

#include "mpi_fixture.h"

namespace spmd::collectives::testing {
namespace {

using ScratchPoolTest = MpiTest;

TEST_F(ScratchPoolTest, ABufferGivenBackIsHandedOutAgain) {
  float* first = nullptr;
  {
    CommBuffer a = comm().allocate(100000);
    first = a.get();
    a[99999] = 1.0f;  // usable to its last float
  }
  CommBuffer again = comm().allocate(50000);  // the spare holds it
  EXPECT_EQ(again.get(), first);
  CommBuffer larger = comm().allocate(200000);  // none holds it: a new one
  EXPECT_NE(larger.get(), first);
}

TEST_F(ScratchPoolTest, BuffersLentAtOnceAreDistinct) {
  CommBuffer a = comm().allocate(1000), b = comm().allocate(1000);
  EXPECT_NE(a.get(), b.get());
  float* pa = a.get();
  a.reset();
  CommBuffer c = comm().allocate(10);  // the smallest spare that holds it
  EXPECT_EQ(c.get(), pa);
}

}  // namespace
}  // namespace spmd::collectives::testing
