// What a benchmark does with bad input (an unknown model, a shape the library refuses): the
// library's one-line error after the benchmark's name, and exit status 1, not an abort.
#pragma once

#include <cstdio>

#include "common/error.h"

namespace spmd::bench {

// body()'s status, or 1 where it throws spmd::Error, which goes to stderr as "bench: what".
template <class Body>
int reporting_errors(const char* bench, Body&& body) {
  try {
    return body();
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: %s\n", bench, e.what());
    return 1;
  }
}

}  // namespace spmd::bench
