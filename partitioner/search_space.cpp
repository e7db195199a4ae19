#include "partitioner/search_space.h"

#include "common/error.h"

namespace spmd::partitioner {

std::string Candidate::describe() const {
  const char* splits[] = {"", "heads+mlp", "heads", "mlp"};
  std::string data_axis = "data=" + std::to_string(data), model_axis = "model=" + std::to_string(model);
  if (model > 1) model_axis += std::string(" (") + splits[static_cast<int>(split)] + ")";
  std::string out = model == 1 ? data_axis : data == 1 ? model_axis
                    : model_outer ? model_axis + " x " + data_axis : data_axis + " x " + model_axis;
  if (zero_group > 0) {
    std::string group = "replica=" + std::to_string(data / zero_group) + " x data=" + std::to_string(zero_group);
    out.replace(out.find(data_axis), data_axis.size(), group);
    out += ", zero within data";
  } else if (zero || zero_model) {
    out += zero_model ? (zero ? ", zero on data+model" : ", zero on model") : ", zero";
  }
  return recompute ? out + ", recompute" : out;
}

SearchSpace::SearchSpace(const ir::Graph& g, int devices) : graph_(g), analysis_(analyze_dimensions(g)), devices_(devices) {
  for (int c : analysis_.classes_with_role("heads")) megatron_.heads.push_back(c);
  for (const std::vector<int>& chain : analysis_.mlp_chains) {
    for (size_t i = 0; i < chain.size(); i += 2) megatron_.hidden.push_back(chain[i]);
  }
  std::vector<int> batch = analysis_.classes_with_role("batch");
  batch_ = batch.empty() ? 1 : analysis_.classes[batch[0]].size;
}

MegatronClasses SearchSpace::classes(ModelSplit split) const {
  MegatronClasses m = megatron_;
  if (split == ModelSplit::heads) m.hidden.clear();
  if (split == ModelSplit::hidden) m.heads.clear();
  return m;
}

bool SearchSpace::splits(ModelSplit split, int model) const {
  MegatronClasses m = classes(split);
  if (split == ModelSplit::megatron && (m.heads.empty() || m.hidden.empty())) return false;
  return !(m.heads.empty() && m.hidden.empty()) && divides_all(analysis_, m, model);
}

std::vector<Candidate> SearchSpace::options(const Candidate& partial, int level) const {
  std::vector<Candidate> out;
  Candidate c = partial;
  if (level == 0) {
    for (int model = 1; model <= devices_; ++model) {
      c.model = model, c.data = devices_ / model;
      bool model_ok = model == 1 || splits(ModelSplit::heads, model) || splits(ModelSplit::hidden, model);
      if (devices_ % model == 0 && batch_ % c.data == 0 && model_ok) out.push_back(c);
    }
  } else if (level == 1) {
    out.push_back(c);
    if (c.data > 1 && c.model > 1) out.push_back((c.model_outer = true, c));
  } else if (level == 2) {
    for (ModelSplit s : {ModelSplit::megatron, ModelSplit::heads, ModelSplit::hidden}) {
      if (c.model > 1 && splits(s, c.model)) out.push_back((c.split = s, c));
    }
    if (out.empty()) out.push_back(partial);
  } else if (level == 3) {
    out.push_back(c);
    if (c.data > 1) out.push_back((c.zero = true, c));
    for (int group = 2; group < c.data; ++group) {
      if (c.data % group == 0) out.push_back((c.zero = true, c.zero_group = group, c));
    }
    c.zero = false, c.zero_group = 0;
    if (c.model > 1) out.push_back((c.zero = c.data > 1, c.zero_model = true, c));
  } else {
    out.push_back(c);
    out.push_back((c.recompute = true, c));
  }
  return out;
}

std::vector<Candidate> SearchSpace::all() const {
  std::vector<Candidate> layer{Candidate{}};
  for (int level = 0; level < kLevels; ++level) {
    std::vector<Candidate> next;
    for (const Candidate& c : layer) {
      for (const Candidate& o : options(c, level)) next.push_back(o);
    }
    layer = std::move(next);
  }
  return layer;
}

Tactics SearchSpace::tactics(const Candidate& c) const {
  Tactics t;
  if (c.data * c.model != devices_) throw Error("candidate " + c.describe() + " is not for " + std::to_string(devices_) + " devices");
  auto axis = [&](const std::string& name, int size) {
    if (size > 1) t.mesh.names.push_back(name), t.mesh.sizes.push_back(size);
  };
  // The data axis is "replica" x "data" under hybrid sharding, the replicas outermost.
  const int inner = c.zero_group > 0 ? c.zero_group : c.data, replicas = c.data / inner;
  if (c.model_outer) axis("model", c.model), axis("replica", replicas), axis("data", inner);
  else axis("replica", replicas), axis("data", inner), axis("model", c.model);
  if (t.mesh.names.empty()) t.mesh = {{"data"}, {1}};
  if (replicas > 1) add_data_parallel(graph_, "replica", t.tactics);
  if (inner > 1) add_data_parallel(graph_, "data", t.tactics);
  if (c.model > 1) add_megatron(analysis_, classes(c.split), "model", c.model, t.tactics);
  for (const char* axis : {"data", "model"}) {
    if (!(axis[0] == 'd' ? c.zero : c.zero_model)) continue;
    t.tactics.push_back({"state:*", -1, axis, "optimizer"});
    t.tactics.push_back({"param:*", -1, axis, "optimizer"});
  }
  t.rematerialize = c.recompute;
  return t;
}

}  // namespace spmd::partitioner
