// The search: MCTS reaching the exhaustive optimum deterministically, plans over the memory
// limit rejected (naming the smallest), baselines costed alongside, the winner costed with
// the schedule a job chooses, and a plan's JSON keeping its prediction.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "common/error.h"
#include "partitioner/cost_model.h"
#include "partitioner/mcts.h"
#include "partitioner/placement.h"
#include "partitioner/schedule.h"
#include "partitioner/search.h"
#include "partitioner/tactics.h"
#include "partitioner/tuning.h"
#include "tests/partitioner/search_fixtures.h"

namespace spmd::partitioner {
namespace {

using test::dgx2;
using test::kTinyGpt;
using test::step_of;

SearchOptions small_search() {
  SearchOptions o;
  o.exhaustive = true;
  return o;
}

TEST(Search, MctsReachesTheExhaustiveOptimumAndIsDeterministic) {
  ir::Graph g = step_of(kTinyGpt);
  launcher::Topology t = launcher::load_topology({"synthetic:package:2 core:4", 1, launcher::DeviceKind::core});
  SearchOptions untuned = small_search();
  untuned.tuned = 0;  // the oracle of the search space itself, as MCTS's Evaluator costs it
  SearchResult exhaustive = search_plan(g, t, untuned);
  ASSERT_GT(exhaustive.simulations, 10);
  const int budget = exhaustive.simulations * 3 / 4;  // MCTS must find it without playing everything
  for (std::uint64_t seed : {1, 2, 3, 4, 5}) {
    Evaluator a(g, t, {}), b(g, t, {});
    run_mcts(a, budget, seed);
    run_mcts(b, budget, seed);
    EXPECT_LE(a.simulations(), budget);
    EXPECT_EQ(a.explored().front().candidate, exhaustive.best().candidate)
        << "seed " << seed << ": " << a.explored().front().name << " " << a.explored().front().prediction.step_time_s
        << " s against " << exhaustive.best().name << " " << exhaustive.best().prediction.step_time_s << " s, "
        << a.simulations() << " of " << exhaustive.simulations;
    EXPECT_EQ(a.explored().front().candidate, b.explored().front().candidate);
    EXPECT_EQ(a.simulations(), b.simulations());
  }
}

TEST(Search, RejectsPlansOverTheLimitAndNamesTheSmallest) {
  ir::Graph g = step_of(kTinyGpt);
  SearchOptions o = small_search();
  o.memory_limit = 1024;
  try {
    search_plan(g, flat_topology(4), o).best();
    FAIL() << "expected no plan to fit";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no plan fits 1 KiB per device: the smallest peak is "), std::string::npos)
        << e.what();
  }
}

// A candidate whose params, state and inputs alone are over the limit is not lowered: its
// bound is over the limit and never above its peak costed in full. The baselines are
// costed in full all the same, and the least peak a search names where nothing fits is the
// least of every candidate costed in full.
TEST(Search, CandidatesOverTheLimitByTheirSourcesAloneAreBoundedNotLowered) {
  ir::Graph g = step_of(kTinyGpt);
  const launcher::Topology t = flat_topology(4);
  SearchOptions options;
  options.memory_limit = std::int64_t{1} << 40;
  Evaluator unlimited(g, t, options);
  size_t least = SIZE_MAX, most = 0;
  for (const Candidate& c : unlimited.space().all()) {
    least = std::min(least, unlimited.evaluate(c).prediction.peak_bytes);
    most = std::max(most, unlimited.evaluate(c).prediction.peak_bytes);
  }
  int over = 0;
  for (const size_t limit : {least / 4, least - 1, (least + most) / 2}) {
    options.memory_limit = static_cast<std::int64_t>(limit);
    Evaluator bounded(g, t, options);
    for (const Candidate& c : bounded.space().all()) {
      const Evaluated e = bounded.evaluate(c);
      if (!e.over_by_sources) {
        EXPECT_EQ(e.prediction.peak_bytes, unlimited.evaluate(c).prediction.peak_bytes) << e.name;
        continue;
      }
      ++over;
      EXPECT_FALSE(e.fits) << e.name;
      EXPECT_GT(e.prediction.peak_bytes, limit) << e.name;
      EXPECT_LE(e.prediction.peak_bytes, unlimited.evaluate(c).prediction.peak_bytes) << e.name;
      const Evaluated full = bounded.evaluate(c, true);
      EXPECT_FALSE(full.over_by_sources);
      EXPECT_EQ(full.prediction.peak_bytes, unlimited.evaluate(c).prediction.peak_bytes) << e.name;
    }
  }
  EXPECT_GT(over, 0);
  SearchOptions o = small_search();
  o.memory_limit = static_cast<std::int64_t>(least) - 1;
  SearchResult r = search_plan(g, t, o);
  for (const Evaluated& b : r.baselines) EXPECT_FALSE(b.over_by_sources) << b.name;
  ASSERT_FALSE(r.explored.front().over_by_sources);
  EXPECT_EQ(r.explored.front().prediction.peak_bytes, least);
  EXPECT_THROW(r.best(), Error);
}

TEST(Search, BaselinesAreCostedAlongside) {
  ir::Graph g = step_of(kTinyGpt);
  SearchResult r = search_plan(g, flat_topology(4), small_search());
  std::vector<std::string> names;
  for (const Evaluated& b : r.baselines) names.push_back(b.name);
  EXPECT_EQ(names, (std::vector<std::string>{"dp", "dp+megatron model=2", "megatron", "zero"}));
  for (const Evaluated& b : r.baselines) EXPECT_GE(b.prediction.step_time_s, r.best().prediction.step_time_s);
}

// The winner and the baselines are costed as a job runs them (tuning.h): the winner's
// prediction is tune_schedule's for its plan, and no faster than the plan as lowered.
TEST(Search, TheWinnerIsCostedWithTheScheduleAJobChooses) {
  ir::Graph g = step_of(kTinyGpt);
  const launcher::Topology t = dgx2(1);
  SearchResult r = search_plan(g, t, small_search());
  const Evaluated& best = r.best();
  ASSERT_TRUE(best.schedule.has_value());
  for (const Evaluated& b : r.baselines) EXPECT_EQ(b.schedule.has_value(), b.fits) << b.name;
  Plan plan = best.plan;
  EXPECT_EQ(plan.schedule, best.schedule) << "the plan carries the schedule it was costed with";
  ASSERT_TRUE(plan.predicted.has_value());
  EXPECT_DOUBLE_EQ(plan.predicted->step_time_s, best.prediction.step_time_s);
  CollectiveCosts costs(plan.mesh, t);
  const DeviceModel device = device_model(t);
  const TunedProgram job = tune_schedule(lower_ops(g, plan), plan.rematerialize, device, costs, r.memory_limit);
  EXPECT_EQ(job.schedule, *best.schedule);
  const TunedProgram planned = tune_schedule(lower_ops(g, plan), plan.rematerialize, device, costs, r.memory_limit,
                                             with_plan_schedule({}, plan));
  EXPECT_EQ(planned.schedule, *plan.schedule);
  EXPECT_DOUBLE_EQ(planned.prediction.step_time_s, best.prediction.step_time_s) << "running the plan's schedule";
  EXPECT_DOUBLE_EQ(job.prediction.step_time_s, best.prediction.step_time_s);
  EXPECT_LE(best.prediction.step_time_s, simulate(lower(g, plan), device, costs).step_time_s);
}

// A schedule hides communication, never compute: every candidate left as lowered has
// compute alone no faster than the winner's step, so no tuning could have made it win;
// and no more are tuned than `tuned_at_most` (besides the baselines).
TEST(Search, EveryCandidateThatCouldWinIsTuned) {
  ir::Graph g = step_of(kTinyGpt);
  SearchOptions o = small_search();
  o.tuned = 1;
  o.tuned_at_most = 1000;
  const SearchResult r = search_plan(g, dgx2(1), o);
  int tuned = 0;
  for (const Evaluated& e : r.explored) {
    tuned += e.schedule.has_value();
    if (e.fits && !e.schedule) {
      EXPECT_GE(e.prediction.compute_s, r.best().prediction.step_time_s) << e.name;
    }
  }
  EXPECT_GT(tuned, 1) << "beyond the one asked for, those that could still win";
  o.tuned_at_most = 3;
  const SearchResult capped = search_plan(g, dgx2(1), o);
  int capped_tuned = 0;
  for (const Evaluated& e : capped.explored) capped_tuned += e.schedule.has_value();
  EXPECT_LE(capped_tuned, o.tuned_at_most + static_cast<int>(capped.baselines.size()));
  EXPECT_LE(r.best().prediction.step_time_s, capped.best().prediction.step_time_s);
}

TEST(Plan, JsonKeepsThePredictionAndTheAxisLevels) {
  ir::Graph g = step_of(kTinyGpt);
  launcher::Topology t = dgx2(1);
  Plan plan = apply_tactics(g, builtin_strategy("dp+megatron", g, 16));
  Prediction p = predict_plan(plan, lower(g, plan), t, device_model(t));
  plan.schedule = PlanSchedule{8, 1 << 20, false};
  Plan back = plan_from_json(to_json(plan, g), g);
  EXPECT_EQ(back.schedule, plan.schedule);
  ASSERT_TRUE(back.predicted.has_value());
  EXPECT_EQ(back.predicted->peak_bytes, p.peak_bytes);
  EXPECT_DOUBLE_EQ(back.predicted->step_time_s, p.step_time_s);
  EXPECT_EQ(back.axis_levels, plan.axis_levels);
  EXPECT_EQ(back.axis_levels.size(), 2u);
  nlohmann::ordered_json bad = to_json(plan, g);
  bad["schedule"]["prefetch"] = -2;
  EXPECT_THROW(plan_from_json(bad, g), Error);
  bad["schedule"] = {{"prefetch", 1}, {"bucket_bytes", 0}, {"depth", 3}};
  EXPECT_THROW(plan_from_json(bad, g), Error);
  bad["schedule"] = {{"prefetch", 1}, {"bucket_bytes", 0}, {"overlap", "yes"}};
  EXPECT_THROW(plan_from_json(bad, g), Error);
  bad["schedule"] = {{"prefetch", 1}, {"bucket_bytes", 0}};  // written before overlap was chosen
  EXPECT_TRUE(plan_from_json(bad, g).schedule->overlap);
}

}  // namespace
}  // namespace spmd::partitioner
