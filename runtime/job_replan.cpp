// runtime::Job's re-planning while it trains (replan.h): sampling each step, the decision
// at the end of a plan's warm-up window, and the switch to a new plan.
#include <bit>
#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "partitioner/device_model.h"
#include "partitioner/profile.h"
#include "partitioner/search.h"
#include "partitioner/simulator.h"
#include "runtime/job.h"
#include "runtime/reshard.h"

namespace spmd::runtime {
namespace {

std::string ms(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f ms", seconds * 1e3);
  return text;
}

std::string us(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f us", seconds * 1e6);
  return text;
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.0f%%", fraction * 100);
  return text;
}

// The same figure on every rank: each rank's, gathered bit for bit, averaged in rank order.
double agreed_mean(const launcher::World* world, double mine) {
  if (!world || world->size() == 1) return mine;
  double sum = 0;
  for (uint64_t bits : world->all_gather(std::bit_cast<uint64_t>(mine), "a re-planning figure")) {
    sum += std::bit_cast<double>(bits);
  }
  return sum / world->size();
}

partitioner::TimeFit agreed_fit(const launcher::World* world, const partitioner::TimeFit& mine) {
  if (!world || world->size() == 1) return mine;
  std::vector<partitioner::TimeFit> fits(world->size());
  auto gather = [&](double partitioner::TimeFit::*field, double value) {
    const std::vector<uint64_t> all = world->all_gather(std::bit_cast<uint64_t>(value), "a re-planning figure");
    for (size_t r = 0; r < all.size(); ++r) fits[r].*field = std::bit_cast<double>(all[r]);
  };
  gather(&partitioner::TimeFit::scale, mine.scale);
  gather(&partitioner::TimeFit::offset_s, mine.offset_s);
  gather(&partitioner::TimeFit::error, mine.error);
  const std::vector<uint64_t> counts = world->all_gather(static_cast<uint64_t>(mine.launches), "a re-planning figure");
  for (size_t r = 0; r < counts.size(); ++r) fits[r].launches = static_cast<int>(counts[r]);
  return partitioner::mean_fit(fits);
}

bool same_plan(const partitioner::Plan& a, const partitioner::Plan& b) {
  return a.mesh.to_string() == b.mesh.to_string() && a.shardings == b.shardings && a.rematerialize == b.rematerialize;
}

}  // namespace

void Job::check_replan_policy(int devices) const {
  const ReplanPolicy& p = description_.replan;
  if (p.when == Replan::never) return;
  if (p.after <= kWarmUpSteps) {
    throw Error("re-planning after " + std::to_string(p.after) + " steps: at least " +
                std::to_string(kWarmUpSteps + 1) + " are needed (a plan's first " + std::to_string(kWarmUpSteps) +
                " warm up and are not measured)");
  }
  if (!(p.threshold >= 0) || !std::isfinite(p.threshold)) {
    throw Error("the re-planning threshold " + std::to_string(p.threshold) + " is not a fraction of 0 or more");
  }
  if (!description_.trace.empty()) {
    throw Error("a trace follows one program: it cannot be written by a job that re-plans (--replan " +
                std::string(to_string(p.when)) + ")");
  }
  if (devices > 1 && description_.partitioning.search.budget_seconds > 0) {
    throw Error("a search budget in seconds would let the ranks re-plan differently: give the search a number of "
                "simulations on several ranks");
  }
}

// The step the cost model predicts, and, when the job re-plans, a fresh window of samples
// paired with it.
void Job::set_prediction() {
  double program_s = 0;
  predicted_ = predicted_step(refit_ ? &refit_->topology : topology_.get(), description_.partitioning.search.device, &program_s);
  predicted_step_time_s_ = program_s + outside_program_seconds();
  plan_steps_ = 0;
  if (description_.replan.when == Replan::never) return;
  const launcher::Topology* base = base_topology_ ? &*base_topology_ : nullptr;
  // The kernels sorted by the roofline of the model the samples are paired with.
  const partitioner::DeviceOverrides& figures = refit_ ? base_device_ : description_.partitioning.search.device;
  std::optional<launcher::Topology> flat;
  const launcher::Topology& on = partitioner::topology_or_flat(refit_ ? base : topology_.get(), plan().mesh.size(), flat);
  samples_.emplace(trainer().executor().graph(), refit_ ? predicted_step(base, base_device_) : predicted_,
                   partitioner::device_model(on, figures));
}

// Feeding the batch and checking that the step's values are finite are the rank's own
// compute: where ranks take turns on shared PUs they run at the rank's share, as its kernels
// do. Timed at bind, they ran within a turn: mlp under megatron on 4 ranks over 2 cores fed
// 37 us a step at bind and in each step, and its step held both partners' feeds. The
// agreement on the check is a collective, charged once at its lined-up time, as the
// simulator charges every collective (the turns curve leaves line-ups out).
double Job::outside_program_seconds() const { return at_share(feed_s_ + finite_check_s_) + agreement_s_; }

double Job::at_share(double seconds) const {
  if (!topology_ || topology_->devices().empty() || backend_->device_memory()) return seconds;
  const double share = partitioner::cpu_share(*topology_, topology_->devices().front(), kernels::cpu_threads());
  return share > 0 && share < 1 ? seconds / share : seconds;
}

// A plan's first steps warm buffers, caches and kernels up: they are not samples.
void Job::sample(const StepReport& r, const std::vector<LaunchTime>& launches, bool timed) {
  if (!samples_ || ++plan_steps_ <= kWarmUpSteps) return;
  timed ? samples_->add(launches, r.step_time_s) : samples_->add_untimed(r.step_time_s);
}

void Job::end_of_window(StepReport& r) {
  if (!samples_ || plan_steps_ < description_.replan.after) return;
  const double measured = agreed_mean(world_, samples_->median_step_s());
  if (switched_) {
    ReplanReport done = *std::exchange(switched_, std::nullopt);
    done.kind = ReplanReport::Kind::realized;
    done.step = r.step;
    done.realized_s = measured;
    const double gain = 1 - measured / done.measured_s, promised = done.predicted_gain();
    done.why = "steps " + std::to_string(r.step - plan_steps_ + kWarmUpSteps + 1) + "-" + std::to_string(r.step) + " took " +
               ms(measured) + " (median) against " + ms(done.measured_s) + " before the switch: " +
               (gain >= 0 ? percent(gain) + " faster" : percent(-gain) + " slower") + ", " + percent(promised) +
               " predicted";
    replans_.push_back(done);
    r.replans.push_back(done);
  }
  if (description_.replan.when == Replan::always || !replanned_) {
    replanned_ = true;
    ReplanReport decided = replan(measured);
    decided.step = r.step;
    replans_.push_back(decided);
    r.replans.push_back(decided);
    if (decided.kind == ReplanReport::Kind::switched) switched_ = decided;
  }
  set_prediction();  // a new window, on the plan now running and the refitted model
  if (description_.replan.when == Replan::once && !switched_) samples_.reset();  // nothing left to measure
}

// The model refitted to this window's launches (every rank's, averaged, so that every rank
// searches the same model and finds the same plan; `report.measured_s` is the window's
// median step, agreed the same way), what they leave unexplained spread over the kernels;
// the running plan's step under it in `report.predicted_from_s`.
partitioner::Refitted Job::refit_to_window(ReplanReport& report) {
  std::optional<launcher::Topology> flat;
  const launcher::Topology& base =
      partitioner::topology_or_flat(base_topology_ ? &*base_topology_ : nullptr, ranks(), flat);
  const partitioner::DeviceModel device = partitioner::device_model(base, base_device_);
  std::optional<partitioner::Program> whole;  // an unpartitioned job's program: the step itself
  const partitioner::Program& running = program_ ? *program_ : whole.emplace(partitioner::Program{graph_, {}});
  const bool overlap = trainer().executor().overlaps_communication();
  // Every plan's step holds the same outside its program (as set_prediction adds it).
  const double outside = outside_program_seconds();
  const auto predict_program = [&](const launcher::Topology& topology, const partitioner::DeviceOverrides& figures) {
    partitioner::CollectiveCosts costs(plan().mesh, topology);
    return partitioner::simulate(running, partitioner::device_model(topology, figures), costs, overlap).step_time_s;
  };
  const auto predict_running = [&](const launcher::Topology& topology, const partitioner::DeviceOverrides& figures) {
    return predict_program(topology, figures) + outside;
  };
  partitioner::Refitted model =
      partitioner::ranks_take_turns(base)
          ? refit_as_a_whole(base, device, report.measured_s - outside, predict_program(base, base_device_))
          : refit_by_launch(base, device);
  report.predicted_from_s = predict_running(model.topology, model.device);
  // What the launches do not explain (the executor's own work between them) is spread over
  // the kernels as a fixed cost of each, so that the refitted model predicts the running
  // plan's step as measured; plans of fewer kernels then gain by it.
  int64_t kernels_per_step = 0;
  for (const PredictedLaunch& l : predicted_) kernels_per_step += l.stream == Stream::compute;
  const double residual = report.measured_s - report.predicted_from_s;
  if (residual > 0 && kernels_per_step > 0) {
    const partitioner::DeviceModel refitted = partitioner::device_model(model.topology, model.device);
    const double before = report.predicted_from_s;
    const auto spread = [&](double each) {
      model.device.op_latency_s = refitted.op_latency_s + each;
      model.device.op_latency_by_op = refitted.op_latency_by_op;
      for (double& seconds : model.device.op_latency_by_op) seconds = seconds > 0 ? seconds + each : 0;
      return predict_running(model.topology, model.device);
    };
    double each = residual / static_cast<double>(kernels_per_step);
    report.predicted_from_s = spread(each);
    // Where turns are charged on the stretches the kernels make, the step grows faster than
    // the fixed cost added (4 ranks over 2 cores: 1.3% over the measured step): one secant
    // step on the line through the two predictions.
    const double grown = report.predicted_from_s - before;
    if (grown > 0 && std::abs(grown - residual) > 1e-3 * residual) {
      each *= residual / grown;
      report.predicted_from_s = spread(each);
    }
    model.said += "; " + us(each) + " per kernel between launches";
  }
  return model;
}

// Refits the model to this window (refit_to_window), costs the running plan under it, and
// searches again. Switches when the best plan found beats the running one by the threshold.
ReplanReport Job::replan(double measured_s) {
  ReplanReport report;
  report.measured_s = measured_s;
  partitioner::Refitted model = refit_to_window(report);
  report.fit = model.said;
  partitioner::SearchOptions options = description_.partitioning.search;
  options.device = model.device;
  report.from = plan_source() + ", mesh " + plan().mesh.to_string();
  description_.partitioning.search.device = model.device;
  refit_ = model;
  partitioner::SearchResult found = partitioner::search_plan(graph_, model.topology, options);
  const partitioner::Evaluated* best = nullptr;
  for (const partitioner::Evaluated& e : found.explored) best = !best && e.fits ? &e : best;
  if (!best) {
    report.to = report.from;
    report.why = "kept: no searched plan fits the devices' memory";
    return report;
  }
  report.to = best->name + ", mesh " + best->plan.mesh.to_string();
  report.predicted_to_s = best->prediction.step_time_s + outside_program_seconds();  // as the running plan's
  const double gain = report.predicted_gain(), threshold = description_.replan.threshold;
  if (same_plan(best->plan, plan())) {
    report.why = "kept: the running plan is the best found";
  } else if (gain <= threshold) {
    report.why = "kept: the best plan found (" + report.to + ") is predicted " + percent(gain) +
                 " faster, not more than the threshold of " + percent(threshold);
  } else {
    report.kind = ReplanReport::Kind::switched;
    report.why = "switched: " + report.to + " is predicted " + percent(gain) + " faster than " + report.from +
                 " (" + ms(report.predicted_to_s) + " against " + ms(report.predicted_from_s) + ")";
    switch_plan(best->plan, model);
  }
  return report;
}

// The model refitted to this window's launches, each class of its own (every rank's fits
// averaged, so that every rank searches the same model).
partitioner::Refitted Job::refit_by_launch(const launcher::Topology& base, const partitioner::DeviceModel& device) {
  const partitioner::KernelFits kernels{agreed_fit(world_, partitioner::fit_times(samples_->compute_kernels())),
                                        agreed_fit(world_, partitioner::fit_times(samples_->memory_kernels()))};
  const partitioner::TimeFit collectives = agreed_fit(world_, partitioner::fit_times(samples_->collectives(), false));
  return partitioner::refit(base, device, base_device_, kernels, collectives);
}

// Where the ranks take turns on their PUs, a launch's time holds its partner's turns (a
// kernel descheduled halfway, a collective waiting for the partner's compute) and tells
// nothing of its class: mlp's on 4 ranks over 2 cores fitted kernels at 0.55x and
// collectives at 2.0-2.2x, and the refitted model predicted the plan it switched to at
// 1.3-1.9x its step. The model as bound, turns included, is scaled as a whole to the
// window's median step (`measured_s`, agreed, less what lies outside the program) against
// its prediction of the program (`predicted_s`).
partitioner::Refitted Job::refit_as_a_whole(const launcher::Topology& base, const partitioner::DeviceModel& device,
                                            double measured_s, double predicted_s) {
  const double scale = predicted_s > 0 && measured_s > 0 ? measured_s / predicted_s : 1.0;
  const partitioner::TimeFit whole{scale, 0, 0, 1};
  partitioner::Refitted model = partitioner::refit(base, device, base_device_, {whole, whole}, whole, /*keep_turns=*/true);
  char said[192];
  std::snprintf(said, sizeof said,
                "kernels and collectives %.2fx as the model had them, fitted to the step as a whole (the ranks take "
                "turns on their PUs: a launch's time holds its partner's)",
                scale);
  model.said = said;
  return model;
}

// Lowers the new plan, builds its executor beside the running one, moves params and state
// over, and drops the old one: for the time of the move a rank holds both programs' params
// and state. The new program runs on the refitted topology, so its collectives' schedules
// are synthesized for the links as measured.
void Job::switch_plan(partitioner::Plan next, const partitioner::Refitted& model) {
  auto topology = std::make_unique<launcher::Topology>(model.topology);
  partitioner::Program program = lowered(next, topology.get());
  auto trainer = std::make_unique<Trainer>(program.graph, *backend_, description_.seed, description_.program.lr,
                                           comm_.get(), topology.get(), make_data());
  trainer->executor().set_overlap(overlap_);
  reshard(trainer_->executor(), trainer->executor(), comm_.get(), topology.get());
  trainer->resume_at(trainer_->steps_done());
  plan_source_ = "the search, re-planned at step " + std::to_string(trainer_->steps_done());
  trainer_ = std::move(trainer);
  topology_ = std::move(topology);
  plan_ = std::move(next);
  program_ = std::move(program);
  partitioned_ = true;
}

}  // namespace spmd::runtime
