// Internal to the CPU backend: what its kernels share. The oneDNN engine and stream, the
// cache of primitives built so far (keyed by op, shapes and attributes, so a training step
// builds each primitive once), and a reusable scratch buffer.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <oneapi/dnnl/dnnl.hpp>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ir/types.h"
#include "kernels/backend.h"

namespace spmd::kernels::cpu {

// A oneDNN primitive ready to run, with the memory descriptor of each of its arguments.
struct Primitive {
  dnnl::primitive primitive;
  std::vector<std::pair<int, dnnl::memory::desc>> args;  // (DNNL_ARG_*, layout), run order
  std::string impl;  // oneDNN's implementation name, e.g. "jit:avx512_core" or "ref:any"

  // oneDNN has no implementation ("none"), or only its naive reference loops: our own
  // loop is the better choice.
  bool is_naive() const { return impl == "none" || impl.rfind("ref", 0) == 0; }
};

// The primitive made by `make()`, or a "none" placeholder when oneDNN rejects the problem,
// for kernels that have a loop to fall back on.
template <typename Make>
Primitive primitive_or_none(Make&& make) {
  try {
    return make();
  } catch (const dnnl::error&) {
    return Primitive{{}, {}, "none"};
  }
}

// Builds a Primitive of type P from its primitive descriptor; `args` lists the execution
// arguments in the order their buffers will be passed to CpuContext::run.
template <typename P, typename PD>
Primitive make_primitive(const PD& pd, std::initializer_list<int> args) {
  Primitive p{P(pd), {}, pd.impl_info_str()};
  for (int arg : args) p.args.emplace_back(arg, pd.query_md(dnnl::query::exec_arg_md, arg));
  return p;
}

// A cache key: the op name followed by numbers (shapes, flags), comma-separated.
class Key {
 public:
  explicit Key(std::string_view op) : text_(op) {}
  Key& add(int64_t value);
  Key& add(const ir::Shape& shape);
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

class CpuContext {
 public:
  CpuContext();

  // The cached primitive of `key`, built by `make()` on first use.
  template <typename Make>
  const Primitive& primitive(const Key& key, Make&& make) {
    auto it = cache_.find(key.str());
    if (it == cache_.end()) it = cache_.emplace(key.str(), make()).first;
    return it->second;
  }

  // Runs `p` over `buffers`, one per p.args in order, and waits for it.
  void run(const Primitive& p, std::initializer_list<const void*> buffers);

  // A float buffer of at least `n` elements, valid until the next call.
  float* scratch(int64_t n);

  const dnnl::engine& engine() const { return engine_; }

 private:
  dnnl::engine engine_;
  dnnl::stream stream_;
  std::unordered_map<std::string, Primitive> cache_;
  std::vector<float> scratch_;
};

// A plain f32 layout of `shape` (a scalar is one element).
dnnl::memory::desc plain_desc(const ir::Shape& shape);
dnnl::memory::desc strided_desc(const ir::Shape& dims, const ir::Shape& strides);

// The kernel of one op: computes `out` from `in` (one per node.inputs).
using CpuKernel = void (*)(CpuContext& ctx, const ir::Node& node, std::span<const TensorRef> in,
                           const TensorRef& out);
using KernelTable = std::unordered_map<std::string, CpuKernel>;

void add_matmul_kernels(KernelTable& table);
void add_eltwise_kernels(KernelTable& table);
void add_binary_kernels(KernelTable& table);
void add_softmax_kernels(KernelTable& table);
void add_normalization_kernels(KernelTable& table);
void add_reduce_kernels(KernelTable& table);
void add_shape_kernels(KernelTable& table);
void add_embedding_kernels(KernelTable& table);
void add_loss_kernels(KernelTable& table);
void add_optimizer_kernels(KernelTable& table);

}  // namespace spmd::kernels::cpu
