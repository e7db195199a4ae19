// The search on a model too large for one GPU, on real machines' topologies: seconds of
// search each, so these run in their own program, labelled `scale`, which the sanitizer
// stage (unit tests only) leaves out.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "partitioner/placement.h"
#include "partitioner/search.h"

namespace spmd::partitioner {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;

ir::Graph step_of(const char* model) { return ir::training_step(ir::build_model(model), {}); }

launcher::Topology dgx2(int nodes) {
  return launcher::load_topology({SPMD_TOPOLOGIES_DIR "/nvidiaDGX2.xml", nodes, std::nullopt});
}

// The search's result for `model` on `t` (the device's memory its limit), its winner
// within 32 GiB per GPU and printed.
SearchResult searched_within_32_GiB(const char* model, const launcher::Topology& t) {
  SearchResult r = search_plan(step_of(model), t, {});
  const Evaluated& best = r.best();
  EXPECT_LE(best.prediction.peak_bytes, static_cast<size_t>(32 * kGiB));
  std::printf("chosen %s: step %.3f s, peak %.2f GiB, %d plans in %.2f s\n", best.name.c_str(),
              best.prediction.step_time_s, best.prediction.peak_bytes / kGiB, r.simulations, r.seconds);
  return r;
}

// A GPT that no single V100 holds (4.8 G parameters: 77 GiB with gradients and AdamW's
// state) on 4 DGX-2 nodes (64 GPUs of 32 GiB). Without recomputation no plan fits: the
// activations kept for backward of 24 layers at batch 64 need 37 GiB or more per device
// whatever the mesh. Recomputing them brings the winner under 10 GiB.
TEST(Search, BigGptOnFourDgxTwoNodesFitsWithTheModelAxisInsideANode) {
  launcher::Topology t = dgx2(4);
  SearchResult r = searched_within_32_GiB("gpt:layers=24,d_model=4096,heads=32,seq=2048,batch=64", t);
  const Evaluated& best = r.best();
  EXPECT_TRUE(best.candidate.recompute) << best.name;
  EXPECT_TRUE(best.plan.rematerialize) << best.name;
  for (const Evaluated& e : r.explored) {
    if (!e.candidate.recompute && e.error.empty()) {
      EXPECT_GT(e.prediction.peak_bytes, static_cast<size_t>(32 * kGiB)) << e.name;
    }
  }
  bool has_model_axis = false;
  for (const AxisPlacement& axis : place_mesh(best.plan.mesh, t)) {
    if (axis.axis != "model") continue;
    has_model_axis = true;
    for (int level : axis.levels) EXPECT_NE(t.levels()[level].name, "cluster") << best.name;
  }
  EXPECT_TRUE(has_model_axis) << best.name;
}

// GPT-3's shape (175 G parameters) at seq 2048 and batch 64 on 64 DGX-2 nodes (1,024 GPUs):
// the search finds a plan within 32 GiB per GPU, the expert layout (the model axis within a
// node, the data axis across nodes). It fits only because a layer's whole gradient is freed
// once its reduction has gone (schedule.h's in-flight limit): kept to the step's end, every
// plan needed 39 GiB or more.
TEST(Search, GptThreeOnSixtyFourDgxTwoNodesFitsWithTheModelAxisInsideANodeAndDataAcross) {
  launcher::Topology t = dgx2(64);
  SearchResult r = searched_within_32_GiB("gpt:layers=96,d_model=12288,heads=96,seq=2048,batch=64", t);
  const Evaluated& best = r.best();
  std::set<std::string> axes;
  for (const AxisPlacement& axis : place_mesh(best.plan.mesh, t)) {
    std::set<std::string> levels;
    for (int level : axis.levels) levels.insert(t.levels()[level].name);
    if (axis.axis == "model") {
      EXPECT_FALSE(levels.count("cluster")) << best.name;
    }
    if (axis.axis == "data") {
      EXPECT_TRUE(levels.count("cluster")) << best.name;
    }
    axes.insert(axis.axis);
  }
  EXPECT_TRUE(axes.count("model") && axes.count("data")) << best.name;
}

}  // namespace
}  // namespace spmd::partitioner
