#include "partitioner/profile.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "common/units.h"
#include "ir/ops.h"

namespace spmd::partitioner {

bool ranks_take_turns(const launcher::Topology& topology) {
  for (const launcher::Device& d : topology.devices()) {
    if (d.kind != launcher::DeviceKind::gpu && cpu_share(topology, d, 1) < 1) return true;
  }
  return false;
}

bool native_left_out_in_turns(double ratio) { return ratio > 1 - kNativeInTurnsMargin; }

double native_ratio_in_turns(const RateCurve& in_turns, double bytes) {
  double ratio = 0, nearest = 0;
  for (const auto& [timed, r] : in_turns) {
    const double apart = std::abs(std::log2(std::max(timed, 1.0) / std::max(bytes, 1.0)));
    if (ratio == 0 || apart <= nearest) ratio = r, nearest = apart;
  }
  return ratio;
}

std::vector<launcher::MeasuredAlgorithm> native_kept_in_turns(const std::vector<launcher::MeasuredAlgorithm>& measured,
                                                              const Profile& profile) {
  std::vector<launcher::MeasuredAlgorithm> out;
  std::map<std::string, double> band_starts;   // by primitive: where its next native band starts
  std::map<std::string, bool> some_left_out;   // by primitive: a native band before was left out
  const double largest_timed = profile.native_in_turns_bytes > 0 ? profile.native_in_turns_bytes : 1e300;
  for (const launcher::MeasuredAlgorithm& a : measured) {
    if (a.algorithm != "native") {
      out.push_back(a);
      continue;
    }
    double& from = band_starts[a.primitive];
    const double start = from;
    from = a.up_to_bytes;
    const bool above = profile.native_in_turns_bytes > 0 && start >= profile.native_in_turns_bytes;
    const auto timed = profile.native_in_turns.find(a.primitive);
    const double top = a.up_to_bytes > 0 ? std::min(a.up_to_bytes, largest_timed) : largest_timed;
    const bool left_out = timed == profile.native_in_turns.end() ||
                          native_left_out_in_turns(native_ratio_in_turns(timed->second, top));
    if (left_out && !above) {
      some_left_out[a.primitive] = true;
      continue;
    }
    out.push_back(a);
    // The first band kept must not stand for the smaller sizes left out (measured_band
    // takes the first band that reaches a size).
    if (some_left_out[a.primitive]) out.back().from_bytes = start;
  }
  return out;
}

namespace {

// What a step's writes over the caches add to its collectives, in one line.
std::string said_cold(const RateCurve& cold) {
  const auto most = std::max_element(cold.begin(), cold.end(), [](const auto& x, const auto& y) { return x.second < y.second; });
  return "collectives: up to " + figure("%.1f us", most->second * 1e6) + " longer in a step than lined up (at " +
         bytes_text(most->first) + "), once its kernels wrote over a core's cache since the last, measured";
}

// What ranks taking turns leave out of MPI's own, and why, in one line.
std::string said_in_turns(const Profile& profile) {
  if (profile.native_in_turns.empty()) {
    return "collectives: MPI's own left out, the ranks taking turns on their PUs (timed lined up, they wait in a step "
           "for peers that are not running; this profile did not time them in a step)";
  }
  std::string left_out, kept;
  for (const auto& [primitive, by_size] : profile.native_in_turns) {
    std::string out_here, kept_here;
    for (const auto& [bytes, ratio] : by_size) {
      std::string& list = native_left_out_in_turns(ratio) ? out_here : kept_here;
      list += (list.empty() ? "" : ", ") + (bytes > 0 ? bytes_text(bytes) + " " : "") + figure("%.2fx", ratio);
    }
    const auto add = [&](std::string& list, const std::string& sizes) {
      if (sizes.empty()) return;
      list += (list.empty() ? "" : ", ") + primitive + " " + (by_size.size() > 1 ? "(" + sizes + ")" : sizes);
    };
    add(left_out, out_here);
    add(kept, kept_here);
  }
  std::string said = "collectives: the ranks take turns on their PUs; MPI's own, timed in a step against the fastest "
                     "of ours,";
  if (!left_out.empty()) said += " left out for " + left_out;
  if (!left_out.empty() && !kept.empty()) said += ";";
  if (!kept.empty()) said += " kept for " + kept;
  if (!left_out.empty() && profile.native_in_turns_bytes > 0) {
    said += " (left out up to " + bytes_text(profile.native_in_turns_bytes) + ", the largest size timed so)";
  }
  return said;
}

// The profile's turns curves and hand-off in turns, where the job's ranks get the share the
// profile measured them at (elsewhere a job measures its own at bind); said either way.
void apply_turns(const Profile& profile, const launcher::Topology& topology, int threads, Profiled& out) {
  if (profile.turns_by_stretch.empty()) return;
  const double share = cpu_share(topology, topology.devices().front(), threads);
  if (std::abs(share - profile.turns_share) > 1e-6) {
    out.said.push_back("turns: the profile measured them where each rank got " + figure("%.2f", profile.turns_share) +
                       " of its PUs, and this job's get " + figure("%.2f", share) + ": not used");
    return;
  }
  out.device.turns_by_stretch = profile.turns_by_stretch;
  out.device.turns_by_stretch_filled = profile.turns_by_stretch_filled;
  out.device.handoff_s = std::max(out.device.handoff_s, profile.handoff_in_turns_s);
  out.said.push_back("turns: " + turns_said(profile.turns_by_stretch, profile.turns_by_stretch_filled) +
                     ", and a hand-off to the communication thread " +
                     figure("%.1f us", profile.handoff_in_turns_s * 1e6) + " then, measured");
}

}  // namespace

std::string turns_said(const RateCurve& turns_by_stretch, const RateCurve& turns_by_stretch_filled) {
  if (turns_by_stretch.empty()) return "";
  const auto& shortest = turns_by_stretch.front();
  const auto& longest = turns_by_stretch.back();
  std::string said = "ranks sharing PUs keep " + figure("%.0f%%", shortest.second * 100) + " of their share over " +
                     figure("%.0f us", shortest.first * 1e6) + " between collectives, " +
                     figure("%.0f%%", longest.second * 100) + " over " + figure("%.0f ms", longest.first * 1e3);
  if (turns_by_stretch_filled.size() < 2) return said;
  const auto& mid = turns_by_stretch_filled.end()[-2];  // ms apart, as gpt's collectives
  const auto& first = turns_by_stretch_filled.front();
  return said + " (" + figure("%.0f%%", first.second * 100) + " over " + figure("%.0f us", first.first * 1e6) +
         " and " + figure("%.0f%%", mid.second * 100) + " over " + figure("%.1f ms", mid.first * 1e3) +
         ", their kernels filling a core's cache)";
}

std::string mpi_settings_changed(const std::map<std::string, std::string>& now,
                                 const std::map<std::string, std::string>& then) {
  if (now.empty() || then.empty()) return "";
  std::map<std::string, std::pair<std::string, std::string>> both;
  for (const auto& [name, value] : now) both[name] = {value, "unset"};
  for (const auto& [name, value] : then) {
    const auto [it, added] = both.try_emplace(name, "unset", value);
    if (!added) it->second.second = value;
  }
  std::string changed;
  for (const auto& [name, values] : both) {
    if (values.first == values.second) continue;
    changed += (changed.empty() ? "" : ", ") + name + " '" + values.first + "' here, '" + values.second + "' when profiled";
  }
  return changed;
}

Profiled apply_profile(const Profile& profile, const std::string& path, const launcher::Topology& topology,
                       DeviceOverrides base, int threads, const std::map<std::string, std::string>& mpi_settings) {
  Profiled out{topology, base, {}};
  const std::string changed = mpi_settings_changed(mpi_settings, profile.mpi_collectives);
  if (!changed.empty()) {
    out.said.push_back("MPI's own collectives were timed under other settings (" + changed +
                       "): their times, and the choice between them and ours, may not hold; run spmd profile under "
                       "these settings");
  }
  const std::string mine = launcher::fingerprint(topology);
  const bool same = mine == profile.fingerprint;
  std::vector<launcher::LinkModel> links;
  int matched = 0;
  for (const launcher::Level& level : topology.levels()) {
    links.push_back(level.link);
    const LevelProfile* measured = nullptr;
    for (const LevelProfile& l : profile.levels) measured = l.name == level.name ? &l : measured;
    if (!measured) {
      out.said.push_back("level " + level.name + ": default link (not in the profile)");
      continue;
    }
    links.back() = {measured->latency_s, measured->bandwidth_Bps};
    ++matched;
    out.said.push_back("level " + level.name + ": " + figure("%.2f us", measured->latency_s * 1e6) + ", " +
                       figure("%.2f GB/s", measured->bandwidth_Bps / 1e9) + " measured" +
                       (measured->algorithms.empty()
                            ? std::string()
                            : ", and collective algorithms with their own fitted figures (" +
                                  std::to_string(measured->algorithms.size()) + " size bands)"));
  }
  if (!same && matched == 0 && !links.empty()) {
    throw Error("profile '" + path + "' was measured on another topology (fingerprint " + profile.fingerprint +
                ", this job's is " + mine + ") and shares none of its levels: run spmd profile on this job");
  }
  if (!same) {
    out.said.insert(out.said.begin(), "profile '" + path + "' was measured on another topology (fingerprint " +
                                          profile.fingerprint + ", this job's is " + mine +
                                          "): its figures are used where the level names match");
  }
  out.topology = topology.with_links(links);
  const bool turns = ranks_take_turns(topology);
  for (size_t l = 0; l < topology.levels().size(); ++l) {
    for (const LevelProfile& measured : profile.levels) {
      if (measured.name == topology.levels()[l].name && !measured.algorithms.empty()) {
        out.topology = out.topology.with_algorithms(
            static_cast<int>(l),
            turns ? native_kept_in_turns(measured.algorithms, profile) : measured.algorithms);
      }
    }
  }
  if (turns) out.said.push_back(said_in_turns(profile));
  out.device.collective_cold_s = profile.collective_cold_s;
  if (!profile.collective_cold_s.empty()) out.said.push_back(said_cold(profile.collective_cold_s));
  out.device.handoff_s = profile.handoff_s;
  if (turns) apply_turns(profile, topology, threads, out);
  out.device.sync_wait_s = profile.sync_wait_s;
  out.device.sync_wait_fraction = profile.sync_wait_fraction;
  out.device.peer_rewrite_Bps = profile.peer_rewrite_Bps;
  if (!profile.peer_rewrite_by_op.empty()) out.device.peer_rewrite_by_op.assign(ir::all_ops().size(), 0.0);
  for (const auto& [op, rate] : profile.peer_rewrite_by_op) out.device.peer_rewrite_by_op[ir::op_index(op)] = rate;
  const std::string waits = figure("%.1f us", out.device.handoff_s * 1e6) + " per hand-off to the communication thread, " +
                            figure("%.1f us", out.device.sync_wait_s * 1e6) + " + " +
                            figure("%.1f%%", out.device.sync_wait_fraction * 100) +
                            " of the compute since the last for a collective to wait for the slowest rank";
  out.kernels = threads <= 0 || profile.kernel_threads <= 0 || profile.kernel_threads == threads;
  if (!out.kernels) {
    out.said.push_back("device: the profile's kernels ran " + std::to_string(profile.kernel_threads) +
                       " threads a rank and this job's ranks run " + std::to_string(threads) +
                       ": its kernel figures are not used; " + waits + " measured");
    return out;
  }
  if (base.peak_flops <= 0) out.device.peak_flops = profile.matmul_flops;
  if (base.memory_Bps <= 0) out.device.memory_Bps = profile.memory_Bps;
  if (base.memory_Bps <= 0) out.device.bytes_by_size = profile.memory_by_size;
  if (base.peak_flops <= 0) out.device.flops_by_size = profile.matmul_by_size;
  if (base.peak_flops <= 0) out.device.flops_by_shape = GemmRates(profile.matmul_by_shape);
  out.device.op_latency_s = profile.op_latency_s;
  const std::string by_shape = out.device.flops_by_shape.empty()
                                   ? ""
                                   : " (by m, n and k over " + std::to_string(profile.matmul_by_shape.size()) + " shapes)";
  out.said.push_back("device: matmul " + figure("%.1f GFLOP/s", out.device.peak_flops / 1e9) + " at best" + by_shape +
                     ", memory " + figure("%.1f GB/s", out.device.memory_Bps / 1e9) + " beyond the caches, " +
                     figure("%.1f us", out.device.op_latency_s * 1e6) + " per kernel, " + waits +
                     (base.peak_flops > 0 || base.memory_Bps > 0 ? " (the user's figures win)" : " measured"));
  return out;
}

}  // namespace spmd::partitioner
