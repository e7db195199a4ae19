#include "tools/plan_search_report.h"

#include <cstdio>

#include "common/units.h"
#include "tools/plan_report.h"

namespace spmd::tools {
namespace {

using partitioner::Evaluated;

std::string percent(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%", 100 * x);
  return text;
}

std::string device_text(const partitioner::DeviceModel& d) {
  char text[160];
  std::snprintf(text, sizeof text, "%s (%.3g TFLOP/s f32, %.4g GB/s, %s)", d.name.c_str(), d.peak_flops / 1e12,
                d.memory_Bps / 1e9, bytes_text(static_cast<double>(d.memory_bytes)).c_str());
  return text;
}

void add_row(TextTable& table, const std::string& label, const Evaluated& e) {
  if (!e.error.empty()) {
    table.add({label, e.name, "-", "-", "-", "no", "does not lower (below)"});  // the reason is long
    return;
  }
  const auto& p = e.prediction;
  table.add({label, e.name, seconds_text(p.step_time_s), seconds_text(p.exposed_comm_s),
             bytes_text(static_cast<double>(p.peak_bytes)), e.fits ? "yes" : "no",
             e.schedule ? schedule_text(*e.schedule, e.gathers_params) : "as lowered"});
}

// "1.2 ms more compute", "3.4 us less exposed communication".
std::string more_or_less(double difference, const std::string& what) {
  return seconds_text(difference < 0 ? -difference : difference) + (difference < 0 ? " less " : " more ") + what;
}

// Why `winner` beats `other`, in one clause.
std::string why(const Evaluated& winner, const Evaluated& other) {
  if (!other.error.empty()) return other.name + " does not lower: " + other.error;
  if (!other.fits) return other.name + " needs " + bytes_text(static_cast<double>(other.prediction.peak_bytes)) +
                          " per device, over the limit";
  const auto &w = winner.prediction, &o = other.prediction;
  if (o.step_time_s <= w.step_time_s * (1 + 1e-9)) {
    return other.name + " ties (the same predicted step" +
           (o.peak_bytes > w.peak_bytes ? ", with " + bytes_text(static_cast<double>(o.peak_bytes)) + " of peak)"
                                        : "; either would do)");
  }
  std::string out = other.name + " is " + percent(o.step_time_s / w.step_time_s - 1) + " slower (";
  out += more_or_less(o.compute_s - w.compute_s, "compute") + ", " +
         more_or_less(o.exposed_comm_s - w.exposed_comm_s, "exposed communication");
  return out + ")";
}

}  // namespace

std::string search_report(const partitioner::SearchResult& r) {
  std::string out = "\nsearch (" + r.method + "): " + std::to_string(r.simulations) + " plans simulated in " +
                    seconds_text(r.seconds) + " on " + device_text(r.device) + ", memory limit " +
                    bytes_text(static_cast<double>(r.memory_limit)) + " per device\n";
  TextTable table({"", "plan", "step", "exposed comm", "peak/device", "fits", "schedule"});
  const Evaluated& best = r.best();
  add_row(table, "chosen", best);
  if (r.explored.size() > 1) add_row(table, "next best", r.explored[1]);
  for (const Evaluated& b : r.baselines) add_row(table, "baseline", b);
  out += table.text("  ");
  // One line per plan it beats: a reason why one does not lower can be long.
  out += "why: " + best.name + " is predicted fastest among the plans that fit:\n";
  if (r.explored.size() > 1) out += "  " + why(best, r.explored[1]) + "\n";
  for (const Evaluated& b : r.baselines) {
    if (b.candidate != best.candidate) out += "  " + why(best, b) + "\n";
  }
  return out;
}

std::string schedule_text(const partitioner::PlanSchedule& s, bool gathers_params) {
  std::string out = !gathers_params  ? "no param gathers"
                    : s.prefetch == 0 ? "gathers at first use"
                                      : "gathers " + std::to_string(s.prefetch) + " ahead";
  out += s.bucket_bytes > 0 ? ", buckets up to " + bytes_text(s.bucket_bytes) : ", no buckets";
  return out + (s.overlap ? "" : ", collectives blocking");
}

std::string prediction_report(const partitioner::Prediction& p, const partitioner::DeviceModel& device,
                              std::int64_t memory_limit, const partitioner::PlanSchedule& schedule,
                              bool gathers_params) {
  std::string out = "\npredicted on " + device_text(device) + ", " + schedule_text(schedule, gathers_params) + ":\n";
  out += "  step " + seconds_text(p.step_time_s) + ": compute " + seconds_text(p.compute_s) + ", communication " +
         seconds_text(p.comm_s) + ", exposed communication " + seconds_text(p.exposed_comm_s) + "\n";
  out += "  peak memory " + bytes_text(static_cast<double>(p.peak_bytes)) + " per device";
  if (memory_limit > 0) {
    out += p.peak_bytes <= static_cast<size_t>(memory_limit) ? " (fits " : " (over ";
    out += bytes_text(static_cast<double>(memory_limit)) + ")";
  }
  return out + "\n";
}

}  // namespace spmd::tools
