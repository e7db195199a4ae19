// The project's error type: a user's mistake (bad model text, impossible sharding, wrong
// rank count, missing file) raises spmd::Error with a message that says what and where.
// Internal invariants are asserts, not Errors, except where a missing piece of the program
// itself must fail loudly in release builds too (a kernel table without an op it is asked
// for): spmd::InternalError.
#pragma once

#include <stdexcept>
#include <string>

namespace spmd {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bug of the program, not a user's mistake: a message for its developers.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace spmd
