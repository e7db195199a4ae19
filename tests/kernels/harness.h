// Test support for the kernels: host tensors, random operands, running a node through a
// backend, and comparing a backend's results with the float64 reference.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "ir/graph.h"
#include "kernels/backend.h"

namespace spmd::kernels::testing {

// A tensor owning its buffer (4-byte words: f32, or i32 read through TensorRef::i32()).
struct HostTensor {
  ir::TensorType type;
  std::vector<float> words;

  explicit HostTensor(ir::TensorType t)
      : type(std::move(t)), words(static_cast<size_t>(type.numel())) {}
  TensorRef ref() const { return {type, const_cast<float*>(words.data())}; }
  float* f32() { return words.data(); }
  int32_t* i32() { return reinterpret_cast<int32_t*>(words.data()); }
  const int32_t* i32() const { return reinterpret_cast<const int32_t*>(words.data()); }
};

ir::TensorType f32(ir::Shape shape);
ir::TensorType i32(ir::Shape shape);

// f32 values uniform in [lo, hi]; i32 values uniform in [0, bound).
HostTensor uniform(std::mt19937& rng, ir::Shape shape, float lo = -1.f, float hi = 1.f);
HostTensor ids(std::mt19937& rng, ir::Shape shape, int32_t bound);
HostTensor scalar(float value);

// A node of op `op` on operands of these types, its result type from the op's shape rule
// (for ops whose type is declared, such as pad and constant, pass `declared`).
ir::Node make_node(const std::string& op, const std::vector<HostTensor>& operands,
                   ir::Attrs attrs = {}, const ir::TensorType* declared = nullptr);

ir::Node make_node(const std::string& op, const std::vector<ir::TensorType>& operand_types,
                   ir::Attrs attrs = {}, const ir::TensorType* declared = nullptr);

// The result of `node` on `operands` computed by `backend`.
HostTensor run(Backend& backend, const ir::Node& node, const std::vector<HostTensor>& operands);

// Whether `actual` is within tolerance of `expected` everywhere: |a - e| <= absolute +
// relative * |e|. The message names the first element that is not.
//
// The defaults compare the f32 CPU backend with the float64 reference. f32 rounds at 6e-8
// relative; a sum of K terms in f32 (matmul, softmax, layernorm; K is at most a few hundred
// here) drifts by at most ~K * 6e-8 of the terms' magnitude and typically by sqrt(K) times
// that, and oneDNN's vectorised exp, log and tanh are accurate to a few ulps. 1e-4 relative
// leaves a wide margin over both; 1e-5 absolute covers results that cancel to near zero
// (gradients, centred values) where a relative bound means nothing.
struct Tolerance {
  double relative = 1e-4, absolute = 1e-5;
};
::testing::AssertionResult all_close(const HostTensor& actual, const HostTensor& expected,
                                     Tolerance tol = {});

// A backend every backend-wide test (parity, training step) runs: those this build has.
struct BackendUnderTest {
  const char* name;
  std::unique_ptr<Backend> (*make)();
  // Whether it can run here; a test of one that cannot is skipped with `why`.
  bool (*available)(std::string* why);
};
void PrintTo(const BackendUnderTest& b, std::ostream* os);
const std::vector<BackendUnderTest>& backends_under_test();
// Skips the current test, saying why, when `b` cannot run on this machine (no GPU).
#define SPMD_SKIP_IF_UNAVAILABLE(b)                                                         \
  do {                                                                                     \
    std::string why_unavailable;                                                           \
    if (!(b).available(&why_unavailable)) GTEST_SKIP() << (b).name << ": " << why_unavailable; \
  } while (false)

#ifdef SPMD_HAVE_CPU_BACKEND
// Runs `node` through the CPU and the reference backends and compares them.
::testing::AssertionResult cpu_matches_reference(const ir::Node& node,
                                                 const std::vector<HostTensor>& operands,
                                                 Tolerance tol = {});

#endif

// Shorthands for attributes.
ir::Attrs attrs(std::initializer_list<std::pair<const char*, ir::AttrValue>> values);

}  // namespace spmd::kernels::testing
