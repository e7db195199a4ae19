// The project's error type: a user's mistake (bad model text, impossible sharding, wrong
// rank count, missing file) raises spmd::Error with a message that says what and where.
// Internal invariants are asserts, not Errors.
#pragma once

#include <stdexcept>
#include <string>

namespace spmd {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace spmd
