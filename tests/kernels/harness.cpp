#include "tests/kernels/harness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <sstream>

#include "ir/ops.h"

namespace spmd::kernels::testing {

ir::TensorType f32(ir::Shape shape) { return {ir::DType::f32, std::move(shape)}; }
ir::TensorType i32(ir::Shape shape) { return {ir::DType::i32, std::move(shape)}; }

HostTensor uniform(std::mt19937& rng, ir::Shape shape, float lo, float hi) {
  HostTensor t(f32(std::move(shape)));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& x : t.words) x = dist(rng);
  return t;
}

HostTensor ids(std::mt19937& rng, ir::Shape shape, int32_t bound) {
  HostTensor t(i32(std::move(shape)));
  std::uniform_int_distribution<int32_t> dist(0, bound - 1);
  for (int64_t i = 0; i < t.type.numel(); ++i) t.i32()[i] = dist(rng);
  return t;
}

HostTensor scalar(float value) {
  HostTensor t(f32({}));
  t.words[0] = value;
  return t;
}

ir::Node make_node(const std::string& op, const std::vector<ir::TensorType>& operand_types,
                   ir::Attrs attrs, const ir::TensorType* declared) {
  ir::Node node;
  node.op = op;
  node.attrs = std::move(attrs);
  for (size_t i = 0; i < operand_types.size(); ++i) {
    node.inputs.push_back(static_cast<ir::ValueId>(i));
  }
  if (declared) node.type = *declared;
  node.type = ir::op_def(op).infer(operand_types, node);
  return node;
}

ir::Node make_node(const std::string& op, const std::vector<HostTensor>& operands, ir::Attrs attrs,
                   const ir::TensorType* declared) {
  std::vector<ir::TensorType> types;
  for (const HostTensor& t : operands) types.push_back(t.type);
  return make_node(op, types, std::move(attrs), declared);
}

// Operands and result go through the backend's own memory (the GPU's for the CUDA backend).
HostTensor run(Backend& backend, const ir::Node& node, const std::vector<HostTensor>& operands) {
  std::vector<BackendBuffer> buffers;
  std::vector<TensorRef> refs;
  for (const HostTensor& t : operands) {
    buffers.emplace_back(backend, t.type.bytes());
    backend.copy_in(buffers.back().get(), t.words.data(), t.type.bytes());
    refs.push_back({t.type, buffers.back().get()});
  }
  HostTensor out(node.type);
  BackendBuffer result(backend, node.type.bytes());
  backend.run(node, refs, {node.type, result.get()});
  backend.copy_out(out.words.data(), result.get(), node.type.bytes());
  return out;
}

::testing::AssertionResult all_close(const HostTensor& actual, const HostTensor& expected,
                                     Tolerance tol) {
  if (actual.type != expected.type) {
    return ::testing::AssertionFailure() << "types differ: " << ir::to_string(actual.type) << " vs "
                                         << ir::to_string(expected.type);
  }
  for (int64_t i = 0; i < actual.type.numel(); ++i) {
    const bool is_f32 = actual.type.dtype == ir::DType::f32;
    const double a = is_f32 ? actual.words[i] : actual.i32()[i];
    const double e = is_f32 ? expected.words[i] : expected.i32()[i];
    const bool same_special = (std::isnan(a) && std::isnan(e)) || a == e;
    if (!same_special && !(std::abs(a - e) <= tol.absolute + tol.relative * std::abs(e))) {
      return ::testing::AssertionFailure()
             << "element " << i << " of " << ir::to_string(actual.type) << ": got " << a
             << ", expected " << e << " (difference " << std::abs(a - e) << ")";
    }
  }
  return ::testing::AssertionSuccess();
}

void PrintTo(const BackendUnderTest& b, std::ostream* os) { *os << b.name; }

namespace {
bool always(std::string*) { return true; }
bool has_gpu(std::string* why) { return cuda_device_count(why) > 0; }
std::unique_ptr<Backend> first_gpu() { return make_cuda_backend(0); }
}  // namespace

const std::vector<BackendUnderTest>& backends_under_test() {
  static const std::vector<BackendUnderTest> backends = {
#ifdef SPMD_HAVE_CPU_BACKEND
      {"cpu", make_cpu_backend, always},
#endif
#ifdef SPMD_HAVE_CUDA
      {"cuda", first_gpu, has_gpu},
#endif
  };
  (void)always;
  (void)has_gpu;
  (void)first_gpu;
  return backends;
}

#ifdef SPMD_HAVE_CPU_BACKEND
::testing::AssertionResult cpu_matches_reference(const ir::Node& node,
                                                 const std::vector<HostTensor>& operands,
                                                 Tolerance tol) {
  auto cpu = make_cpu_backend();
  auto reference = make_reference_backend();
  const HostTensor expected = run(*reference, node, operands);
  const HostTensor actual = run(*cpu, node, operands);
  auto result = all_close(actual, expected, tol);
  if (!result) {
    std::ostringstream operand_types;
    for (const HostTensor& t : operands) operand_types << " " << ir::to_string(t.type);
    result << " [" << node.op << " on" << operand_types.str() << "]";
  }
  return result;
}

#endif

ir::Attrs attrs(std::initializer_list<std::pair<const char*, ir::AttrValue>> values) {
  ir::Attrs a;
  for (const auto& [key, value] : values) a.set(key, value);
  return a;
}

}  // namespace spmd::kernels::testing
