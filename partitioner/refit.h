// Refitting the cost model to what a running job measured: the runtime times every kernel
// and collective of its steps, pairs each with the simulator's prediction of it, and fits
//   measured = scale x predicted + offset
// by least squares, once per class of launch: kernels the roofline finds compute-bound,
// kernels it finds memory-bound, and collectives. The fitted lines become a
// device model and link figures that predict what was measured, for every plan, so the
// search can re-plan against the hardware as it really runs (hardware in the loop).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "launcher/topology.h"
#include "partitioner/device_model.h"

namespace spmd::partitioner {

// One launch: what the simulator predicted for it and what it took, in seconds.
struct TimedLaunch {
  double predicted_s = 0;
  double measured_s = 0;
};

// measured = scale x predicted + offset_s. `error` is the relative RMS error of the fit over
// its launches; `launches` how many it saw. Scale 1 and offset 0 when it saw none.
struct TimeFit {
  double scale = 1;
  double offset_s = 0;
  double error = 0;
  int launches = 0;
};

// Least squares of the relative error over `launches`; a negative offset only where the
// line stays above zero at every launch fitted (else it would predict negative times for
// small launches: then the line through the origin is fitted); without `with_offset`, the
// line through the origin (a scale alone). Launches predicted to take no time are left
// out. Cost: O(launches).
TimeFit fit_times(std::span<const TimedLaunch> launches, bool with_offset = true);

// The mean of several ranks' fits, each weighted by its launches: what every rank of a job
// agrees on when each fitted its own launches.
TimeFit mean_fit(std::span<const TimeFit> fits);

// The two fits of kernels: compute-bound ones (cost_model.h's compute_bound) and the rest.
struct KernelFits {
  TimeFit compute, memory;
};

// The device model and links that predict the fitted times.
//  - Kernels: peak FLOP/s and the measured matmul curve divided by the compute-bound
//    kernels' scale, memory bandwidth by the memory-bound ones'; the fixed cost of a
//    kernel becomes the two fits' mean scale x the old one + their mean offset, a tenth
//    of the old one at least.
//  - Collectives: each level's link latency times the collectives' scale, its bandwidth
//    divided by it; their fit should have no offset (a collective sends several messages:
//    an offset per collective has no place in the per-message latency), any is ignored.
// `overrides` are the figures the job ran with; the result replaces them.
struct Refitted {
  launcher::Topology topology;
  DeviceOverrides device;
  std::string said;  // "compute-bound kernels 1.32x + 4.1 us (...); memory-bound kernels ...; collectives 2.50x"
};
// The turns of ranks sharing PUs (DeviceModel::turns_by_stretch) go, as the measured times
// hold them, unless `keep_turns` (fits of the step as a whole, which scale them with it).
Refitted refit(const launcher::Topology& topology, const DeviceModel& device, const DeviceOverrides& overrides,
               const KernelFits& kernels, const TimeFit& collectives, bool keep_turns = false);

}  // namespace spmd::partitioner
