// The project's error types, and the exit codes the command gives each.
//
//   spmd::Error          a user's mistake: bad model text, impossible sharding, wrong rank
//                        count, a missing or malformed file, NaN where a number is needed.
//                        The message says what and where, and names no command-line flag
//                        (the command adds those). `spmd` exits 2.
//   spmd::JobFailure     the job itself failed: a peer rank died or stopped answering, MPI
//                        reported an error, a file could not be written. `spmd` exits 3.
//   spmd::InternalError  a bug of spmd's that must fail loudly in release builds too (a
//                        kernel table without an op it is asked for); like any other
//                        exception, `spmd` exits 4.
//
// Other internal invariants are asserts, not Errors.
#pragma once

#include <stdexcept>
#include <string>

namespace spmd {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A JobFailure is an Error too, so code that reports every Error keeps doing so; catch it
// first to tell the two apart.
class JobFailure : public Error {
 public:
  using Error::Error;
};

// A bug of the program, not a user's mistake: a message for its developers.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// The exit codes of the `spmd` command on every rank.
inline constexpr int kExitUserError = 2;
inline constexpr int kExitJobFailure = 3;
inline constexpr int kExitInternalError = 4;

}  // namespace spmd
