#include "runtime/profile_rewrite.h"

#include <algorithm>
#include <map>

#include "common/stats.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "ir/ops.h"
#include "runtime/profile_kernels.h"
#include "runtime/profile_text.h"

namespace spmd::runtime {
namespace {

constexpr int64_t kFloats = 64 << 10;  // 256 KiB: single-copy size, within a core's caches
constexpr int kRounds = 11;

// The ranks after 0 on rank 0's node.
std::vector<int> node_peers(const launcher::Topology& topology) {
  const std::vector<launcher::Device>& devices = topology.devices();
  std::vector<int> out;
  for (size_t d = 1; d < devices.size(); ++d) {
    if (devices[d].node == devices[0].node) out.push_back(static_cast<int>(d));
  }
  return out;
}

// A kernel to time: `node` with its operand types, each operand shaped as the result
// (a parameter, its state, a gradient) taking the result's kFloats elements.
struct Kernel {
  ir::Node node;
  std::vector<ir::TensorType> operands;
};

Kernel sized(const ir::Graph& g, const ir::Node& n) {
  Kernel k{n, {}};
  const ir::TensorType whole{ir::DType::f32, {kFloats}};
  for (ir::ValueId x : n.inputs) k.operands.push_back(g.type(x).shape == n.type.shape ? whole : g.type(x));
  k.node.type = whole;
  return k;
}

// Each optimizer update of `program`, by op index; without one, of the steps
// ir::training_step makes of a tiny model with each optimizer (`spmd profile` measures
// before any program is known).
std::map<size_t, Kernel> kernels_to_time(const ir::Graph* program) {
  std::map<size_t, Kernel> out;
  std::vector<ir::Graph> steps;
  if (!program) {
    const ir::Graph model = ir::build_model("mlp:layers=1,hidden=4,batch=2,features=2,classes=2");
    for (const char* kind : {"adamw", "sgd"}) {
      ir::Optimizer opt;
      opt.kind = kind;
      steps.push_back(ir::training_step(model, opt));
    }
  }
  const auto scan = [&](const ir::Graph& g) {
    for (const ir::Node& n : g.nodes) {
      if (ir::op_traits(n.op).optimizer_update) out.try_emplace(ir::op_index(n.op), sized(g, n));
    }
  };
  if (program) scan(*program);
  for (const ir::Graph& g : steps) scan(g);
  return out;
}

// One kernel's operands and result in the backend's memory, runnable.
class Runs {
 public:
  Runs(kernels::Backend& backend, const Kernel& k) : backend_(backend), node_(k.node) {
    for (const ir::TensorType& t : k.operands) {
      memory_.emplace_back(backend, t.bytes());
      fill_backend_memory(backend, memory_.back().get(), t.bytes(), 0.5f);  // finite through every update
      in_.push_back({t, memory_.back().get()});
    }
    // An update writes in place, as the runtime runs it: it reads each line (a copy the
    // peer shares) before it writes it, and pays the most there (AdamW: 3 GB/s in place
    // against 45 GB/s into a buffer of its own, here).
    if (ir::op_traits(node_.op).optimizer_update) {
      out_ = {node_.type, in_.front().data};
      return;
    }
    memory_.emplace_back(backend, node_.type.bytes());
    fill_backend_memory(backend, memory_.back().get(), node_.type.bytes(), 0.5f);
    out_ = {node_.type, memory_.back().get()};
  }
  // Seconds of one run.
  double timed() {
    const auto start = profile_text::Clock::now();
    backend_.run(node_, in_, out_);
    backend_.synchronize();
    return profile_text::seconds_since(start);
  }
  std::span<const float> result() const { return {static_cast<const float*>(out_.data), static_cast<size_t>(kFloats)}; }

 private:
  kernels::Backend& backend_;
  ir::Node node_;
  std::vector<kernels::BackendBuffer> memory_;
  std::vector<kernels::TensorRef> in_;
  kernels::TensorRef out_;
};

// Rank 0's median extra seconds of a run after the peers read its result; 0 elsewhere.
double extra_after_peer_read(collectives::Communicator& comm, const std::vector<int>& peers, Runs& runs) {
  std::vector<float> received(static_cast<size_t>(kFloats));
  const bool reads = std::find(peers.begin(), peers.end(), comm.rank()) != peers.end();
  std::vector<double> extra;
  for (int round = 0; round < kRounds; ++round) {
    if (comm.rank() == 0) {
      runs.timed();
      const double alone = runs.timed();
      for (int peer : peers) comm.send(runs.result(), peer);
      extra.push_back(runs.timed() - alone);
    } else if (reads) {
      comm.recv(received, 0);
    }
  }
  return comm.rank() == 0 ? median(extra) : 0;
}

}  // namespace

PeerRewrite measure_peer_rewrite(collectives::Communicator& comm, const launcher::Topology& topology,
                                 kernels::Backend& backend, const ir::Graph* program) {
  PeerRewrite out;
  const std::vector<int> peers = comm.size() == topology.num_devices() ? node_peers(topology) : std::vector<int>{};
  if (peers.empty() || backend.device_memory() || comm.device_memory()) return out;
  const ir::TensorType whole{ir::DType::f32, {kFloats}};
  std::map<size_t, Kernel> kernels = kernels_to_time(program);
  const size_t add = ir::op_index("add");
  kernels.try_emplace(add, Kernel{ir::Node{"add", {0, 1}, {}, whole, "add"}, {whole, whole}});
  // Every rank computes the same list: rank 0's figures travel in its order.
  std::vector<float> rates;
  for (const auto& [op, kernel] : kernels) {
    Runs runs(backend, kernel);
    const double s = extra_after_peer_read(comm, peers, runs);
    rates.push_back(s > 0 ? static_cast<float>(static_cast<double>(whole.bytes()) / s / 1e9) : 0.0f);
  }
  comm.native_broadcast(rates, 0);
  out.by_op.assign(ir::all_ops().size(), 0.0);
  size_t i = 0;
  for (const auto& [op, kernel] : kernels) {
    const double rate = rates[i++] * 1e9;
    if (op == add) out.any_Bps = rate;
    else out.by_op[op] = rate;
  }
  return out;
}

}  // namespace spmd::runtime
