#include "partitioner/refit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace spmd::partitioner {
namespace {

double relative_rms(std::span<const TimedLaunch> launches, double scale, double offset) {
  double sum = 0;
  int n = 0;
  for (const TimedLaunch& l : launches) {
    if (!(l.predicted_s > 0) || !(l.measured_s > 0)) continue;
    const double e = (scale * l.predicted_s + offset - l.measured_s) / l.measured_s;
    sum += e * e;
    ++n;
  }
  return n ? std::sqrt(sum / n) : 0;
}

std::string fit_text(const TimeFit& f) {
  char text[96];
  if (f.launches == 0) return "not measured";
  std::string line;
  std::snprintf(text, sizeof text, "%.2fx", f.scale);
  line = text;
  if (f.offset_s != 0) {
    std::snprintf(text, sizeof text, " %s %.1f us", f.offset_s > 0 ? "+" : "-", std::abs(f.offset_s) * 1e6);
    line += text;
  }
  std::snprintf(text, sizeof text, " (fit error %.0f%% over %d launches)", f.error * 100, f.launches);
  return line + text;
}

}  // namespace

TimeFit fit_times(std::span<const TimedLaunch> launches, bool with_offset) {
  // Weighted by 1 / measured^2: the relative error is minimised, so that the many small
  // launches (whose time is mostly the fixed cost) count as much as the few large ones.
  TimeFit fit;
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  double least = 0;  // the smallest prediction fitted
  for (const TimedLaunch& l : launches) {
    if (!(l.predicted_s > 0) || !(l.measured_s > 0) || !std::isfinite(l.measured_s)) continue;
    least = least > 0 ? std::min(least, l.predicted_s) : l.predicted_s;
    const double w = 1 / (l.measured_s * l.measured_s);
    sw += w;
    sx += w * l.predicted_s;
    sy += w * l.measured_s;
    sxx += w * l.predicted_s * l.predicted_s;
    sxy += w * l.predicted_s * l.measured_s;
    ++fit.launches;
  }
  if (fit.launches == 0) return fit;
  const double det = sw * sxx - sx * sx;
  const bool line = with_offset && fit.launches > 1 && det > 1e-12 * sw * sxx;
  if (line) {
    fit.scale = (sw * sxy - sx * sy) / det;
    fit.offset_s = (sy - fit.scale * sx) / sw;
  }
  // A negative offset stands where the line keeps every launch it fitted above zero: the
  // model's fixed cost of a kernel was too high. Held at zero, the small launches that ran
  // under their prediction pulled the scale down for all: mlp's compute-bound kernels on 2
  // ranks, its matmuls within 5% of their prediction and its kernels of under a
  // microsecond at half of it, fitted 0.55x, and the refitted model predicted the plan it
  // switched to at 1.4x its step.
  if (!line || fit.scale <= 0 || !(fit.scale * least + fit.offset_s > 0)) {
    fit.scale = sxy / sxx;  // through the origin
    fit.offset_s = 0;
  }
  fit.error = relative_rms(launches, fit.scale, fit.offset_s);
  return fit;
}

TimeFit mean_fit(std::span<const TimeFit> fits) {
  TimeFit mean;
  double weight = 0, scale = 0, offset = 0, error = 0;
  for (const TimeFit& f : fits) {
    scale += f.launches * f.scale;
    offset += f.launches * f.offset_s;
    error += f.launches * f.error;
    weight += f.launches;
    mean.launches += f.launches;
  }
  if (weight == 0) return mean;
  mean.scale = scale / weight;
  mean.offset_s = offset / weight;
  mean.error = error / weight;
  return mean;
}

Refitted refit(const launcher::Topology& topology, const DeviceModel& device, const DeviceOverrides& overrides,
               const KernelFits& kernels, const TimeFit& collectives, bool keep_turns) {
  DeviceOverrides d = overrides;
  if (!keep_turns) {  // the measured times hold the turns, and the fit follows them
    d.turns_by_stretch.clear();
    d.turns_by_stretch_filled.clear();
  }
  const double compute = kernels.compute.scale, memory = kernels.memory.scale;
  const TimeFit both[] = {kernels.compute, kernels.memory};
  const TimeFit mean = mean_fit(both);
  d.peak_flops = device.peak_flops / compute;
  d.memory_Bps = device.memory_Bps / memory;
  d.bytes_by_size = device.bytes_by_size;
  for (auto& [bytes, rate] : d.bytes_by_size) rate /= memory;
  // A negative offset takes from every kernel's fixed cost, which keeps a tenth at least:
  // a launch is never free.
  const auto fixed = [&](double seconds) { return std::max(seconds / 10, seconds * mean.scale + mean.offset_s); };
  d.op_latency_s = fixed(device.op_latency_s);
  d.op_latency_by_op = device.op_latency_by_op;
  for (double& seconds : d.op_latency_by_op) seconds = seconds > 0 ? fixed(seconds) : 0;
  d.flops_by_size = device.flops_by_size;
  for (auto& [flop, rate] : d.flops_by_size) rate /= compute;
  d.flops_by_shape = device.flops_by_shape.scaled(1 / compute);
  d.flops_by_op = device.flops_by_op;
  for (double& rate : d.flops_by_op) rate /= compute;
  d.flops_by_op_in_cache = device.flops_by_op_in_cache;
  for (double& rate : d.flops_by_op_in_cache) rate /= compute;
  std::vector<launcher::LinkModel> links;
  const double c = collectives.scale;
  for (const launcher::Level& level : topology.levels()) {
    links.push_back({level.link.latency_s * c, level.link.bandwidth_Bps / c});
  }
  for (auto& [bytes, seconds] : d.collective_cold_s) seconds *= c;  // the fitted times held it
  return {topology.with_links(links), d,
          "compute-bound kernels " + fit_text(kernels.compute) + "; memory-bound kernels " + fit_text(kernels.memory) +
              "; collectives " + fit_text(collectives)};
}

}  // namespace spmd::partitioner
