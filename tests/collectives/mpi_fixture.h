// A fresh communicator (a duplicate of MPI_COMM_WORLD) per test, so a test that fails or
// leaves a message behind cannot disturb the next; a deadline so a bug fails instead of hangs.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "collectives/mpi/mpi_communicator.h"

namespace spmd::collectives::testing {

class MpiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    comm_ = MpiCommunicator::world();
    comm_->set_timeout(std::chrono::seconds(30));
  }
  void TearDown() override { MPI_Barrier(comm_->handle()); }

  MpiCommunicator& comm() { return *comm_; }
  int rank() const { return comm_->rank(); }
  int size() const { return comm_->size(); }

 private:
  std::unique_ptr<MpiCommunicator> comm_;
};

template <class Param>
class MpiParamTest : public MpiTest, public ::testing::WithParamInterface<Param> {};

}  // namespace spmd::collectives::testing
