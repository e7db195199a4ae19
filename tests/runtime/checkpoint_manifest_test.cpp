// What a checkpoint records of its model: a checksum of the forward pass, the same under
// any learning rate or optimizer, different for another model of the same params' shapes.
#include <gtest/gtest.h>

#include "ir/text.h"
#include "runtime/checkpoint_manifest.h"
#include "runtime/program.h"

namespace spmd::runtime {
namespace {

ir::Graph step_of(const std::string& spec, double lr = 1e-3, const std::string& kind = "adamw") {
  ProgramSource source;
  source.model = spec;
  source.optimizer.kind = kind;
  source.lr = lr;
  return load_training_step(source);
}

const char* kGpt = "gpt:layers=1,d_model=24,heads=12,seq=8,vocab=32,batch=12";

TEST(ModelChecksum, IsTheSameUnderAnotherLearningRateOrOptimizer) {
  const uint64_t base = model_checksum(step_of(kGpt));
  EXPECT_EQ(model_checksum(step_of(kGpt, 0.5)), base);
  EXPECT_EQ(model_checksum(step_of(kGpt, 1e-3, "sgd")), base);
}

TEST(ModelChecksum, TellsApartModelsOfTheSameParamShapes) {
  // Other heads split the same projections otherwise: every param keeps its shape.
  const ir::Graph twelve = step_of(kGpt), six = step_of("gpt:layers=1,d_model=24,heads=6,seq=8,vocab=32,batch=12");
  ASSERT_EQ(twelve.nodes_with_op("param").size(), six.nodes_with_op("param").size());
  for (ir::ValueId p : twelve.nodes_with_op("param")) {
    EXPECT_EQ(twelve.type(p), six.type(*six.find(twelve.node(p).name))) << twelve.node(p).name;
  }
  EXPECT_NE(model_checksum(twelve), model_checksum(six));
}

TEST(ForwardPass, KeepsWhatTheLossDependsOnAndNoUpdate) {
  const ir::Graph step = step_of("mlp:layers=2");
  const ir::Graph forward = forward_pass(step);
  EXPECT_TRUE(forward.updates.empty());
  EXPECT_LT(forward.size(), step.size());
  EXPECT_EQ(forward.nodes_with_op("param").size(), step.nodes_with_op("param").size());
  EXPECT_TRUE(forward.nodes_with_op("state").empty()) << "the optimizer's state is no part of the model";
  EXPECT_EQ(ir::parse(ir::print(forward)), forward) << "it prints as a graph of its own";
}

}  // namespace
}  // namespace spmd::runtime
