#include "kernels/onednn/context.h"

#include <unordered_map>

namespace spmd::kernels::cpu {

Key& Key::add(int64_t value) {
  text_ += ',';
  text_ += std::to_string(value);
  return *this;
}

Key& Key::add(const ir::Shape& shape) {
  text_ += ",[";
  for (int64_t d : shape) {
    text_ += std::to_string(d);
    text_ += ' ';
  }
  text_ += ']';
  return *this;
}

CpuContext::CpuContext() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {}

void CpuContext::run(const Primitive& p, std::initializer_list<const void*> buffers) {
  std::unordered_map<int, dnnl::memory> args;
  auto buffer = buffers.begin();
  for (const auto& [arg, desc] : p.args) {
    // oneDNN takes non-const handles; inputs are only read.
    args.emplace(arg, dnnl::memory(desc, engine_, const_cast<void*>(*buffer++)));
  }
  p.primitive.execute(stream_, args);
  stream_.wait();
}

float* CpuContext::scratch(int64_t n) {
  if (static_cast<int64_t>(scratch_.size()) < n) scratch_.resize(static_cast<size_t>(n));
  return scratch_.data();
}

dnnl::memory::desc plain_desc(const ir::Shape& shape) {
  dnnl::memory::dims dims(shape.begin(), shape.end());
  if (dims.empty()) dims.push_back(1);
  dnnl::memory::dims strides(dims.size(), 1);
  for (int d = static_cast<int>(dims.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * dims[d + 1];
  return {dims, dnnl::memory::data_type::f32, strides};
}

dnnl::memory::desc strided_desc(const ir::Shape& dims, const ir::Shape& strides) {
  return {dnnl::memory::dims(dims.begin(), dims.end()), dnnl::memory::data_type::f32,
          dnnl::memory::dims(strides.begin(), strides.end())};
}

}  // namespace spmd::kernels::cpu
