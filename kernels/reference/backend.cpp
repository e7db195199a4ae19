// The reference Backend: widens f32/i32 buffers to double, evaluates in float64, and rounds
// the result back to the output's dtype.
#include "kernels/backend.h"

#include <cmath>

#include "kernels/reference/reference.h"

namespace spmd::kernels {
namespace {

RefTensor widen(const TensorRef& t) {
  RefTensor r{t.type, std::vector<double>(static_cast<size_t>(t.numel()))};
  for (int64_t i = 0; i < t.numel(); ++i) {
    r.data[i] = t.type.dtype == ir::DType::f32 ? static_cast<double>(t.f32()[i])
                                               : static_cast<double>(t.i32()[i]);
  }
  return r;
}

void narrow(const RefTensor& r, const TensorRef& out) {
  for (int64_t i = 0; i < out.numel(); ++i) {
    if (out.type.dtype == ir::DType::f32) {
      out.f32()[i] = static_cast<float>(r.data[i]);
    } else {
      out.i32()[i] = static_cast<int32_t>(std::lround(r.data[i]));
    }
  }
}

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }

  // Operands are widened to double whatever their dtype.
  bool supports(std::string_view op, std::span<const ir::TensorType>) const override {
    return has_reference_kernel(op);
  }

  void run(const ir::Node& node, std::span<const TensorRef> operands,
           const TensorRef& out) override {
    std::vector<RefTensor> wide;
    wide.reserve(operands.size());
    for (const TensorRef& t : operands) wide.push_back(widen(t));
    std::vector<const RefTensor*> pointers;
    for (const RefTensor& t : wide) pointers.push_back(&t);
    narrow(eval_reference(node, pointers), out);
  }
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace spmd::kernels
