#include "partitioner/profile.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string_view>
#include <nlohmann/json.hpp>

#include "collectives/primitives.h"
#include "collectives/schedule.h"
#include "collectives/synthesize.h"
#include "partitioner/json_fields.h"
#include "common/error.h"
#include "common/files.h"
#include "common/units.h"
#include "ir/ops.h"

namespace spmd::partitioner {
namespace {

std::string figure(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

// The figures no machine gives, by the kind of figure a key names: past them the cost model
// predicts infinite steps (a kernel's latency of 1e308 s tied every plan at "inf s"), so
// an edited or damaged profile is refused rather than used.
struct Bounds {
  double least_positive, most;  // least_positive: for rates, the least above 0
  const char* unit;
};

constexpr Bounds kRate{1, 1e21, "a second"};

Bounds bounds_of(std::string_view key) {
  const auto ends = [&](std::string_view tail) { return key.size() >= tail.size() && key.substr(key.size() - tail.size()) == tail; };
  if (ends("_per_byte")) return {0, 1, "s a byte"};
  if (ends("Bps") || ends("_per_s") || key.find("flops") != std::string_view::npos) return kRate;
  if (ends("_s") || key == "seconds") return {0, 1e4, "s"};
  if (ends("bytes") || key == "m" || key == "n" || key == "k") return {0, 0x1p60, "bytes or elements"};
  // How far runs spread over their median: a round that a burst slowed by 240x (3 ranks on 2
  // cores) spread a band by 120, and the choice of MPI's own caps what it makes of it.
  if (key == "spread") return {0, 1e6, ""};
  return {0, 100, ""};  // fractions and shares
}

double number(const nlohmann::json& j, const char* key, const std::string& where, const Bounds& b) {
  if (!j.contains(key) || !j.at(key).is_number()) throw Error(where + ": '" + key + "' is missing or not a number");
  const double v = j.at(key).get<double>();
  if (std::isfinite(v) && std::abs(v) > b.most) {
    throw Error(where + ": '" + key + "' is " + figure("%g", v) + ", beyond any machine's (at most " +
                figure("%g", b.most) + (*b.unit ? " " : "") + b.unit + ")");
  }
  if (v > 0 && v < b.least_positive) {
    throw Error(where + ": '" + key + "' is " + figure("%g", v) + ", below any machine's (at least " +
                figure("%g", b.least_positive) + " " + b.unit + ")");
  }
  return v;
}

double positive(const nlohmann::json& j, const char* key, const std::string& where) {
  const double v = number(j, key, where, bounds_of(key));
  if (!(v > 0) || !std::isfinite(v)) throw Error(where + ": '" + key + "' must be a positive number");
  return v;
}

double non_negative(const nlohmann::json& j, const char* key, const std::string& where, const Bounds& b) {
  const double v = number(j, key, where, b);
  if (!(v >= 0) || !std::isfinite(v)) throw Error(where + ": '" + key + "' must be a number of 0 or more");
  return v;
}

double non_negative(const nlohmann::json& j, const char* key, const std::string& where) {
  return non_negative(j, key, where, bounds_of(key));
}

double finite(const nlohmann::json& j, const char* key, const std::string& where) {
  const double v = number(j, key, where, bounds_of(key));
  if (!std::isfinite(v)) throw Error(where + ": '" + key + "' must be a finite number");
  return v;
}

std::string text(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j.at(key).is_string()) throw Error(where + ": '" + key + "' is missing or not a string");
  return j.at(key).get<std::string>();
}

// A level's measured collective algorithms (optional: older profiles have none).
std::vector<launcher::MeasuredAlgorithm> read_algorithms(const nlohmann::json& level, const std::string& where) {
  std::vector<launcher::MeasuredAlgorithm> out;
  if (!level.contains("algorithms")) return out;
  for (const auto& a : level.at("algorithms")) {
    const std::string at = where + ", an algorithm";
    const std::string primitive = text(a, "primitive", at), algorithm = text(a, "algorithm", at);
    std::vector<std::string> known;
    try {
      for (collectives::Algorithm k : collectives::algorithms_of(primitive)) known.push_back(collectives::to_string(k));
    } catch (const Error& e) {  // a primitive of no known name
      throw Error(at + ": " + e.what());
    }
    if (std::find(known.begin(), known.end(), algorithm) == known.end()) {
      throw Error(at + ": '" + algorithm + "' is no algorithm of " + primitive);
    }
    // A band above an algorithm's first starts at a measured size, so its alpha may be
    // negative (collectives/cost_fit.h, fit_cost_bands); the first's extends to size 0.
    const bool above_first = !out.empty() && out.back().primitive == primitive && out.back().algorithm == algorithm &&
                             out.back().up_to_bytes > 0;
    out.push_back({primitive, algorithm, a.contains("up_to_bytes") ? non_negative(a, "up_to_bytes", at) : 0.0,
                   above_first ? finite(a, "alpha_s", at) : non_negative(a, "alpha_s", at),
                   non_negative(a, "beta_s_per_byte", at), non_negative(a, "gamma_s_per_byte", at),
                   a.value("fit_error", 0.0), a.contains("offset_s") ? finite(a, "offset_s", at) : 0.0,
                   a.contains("spread") ? non_negative(a, "spread", at) : 0.0});
  }
  return out;
}

// A turns curve's points, {"stretch_s", "kept"} each, kept in (0, 1], stretches increasing.
void read_turns_curve(const nlohmann::json& points, const std::string& at, RateCurve& curve) {
  for (const auto& point : points) {
    curve.emplace_back(positive(point, "stretch_s", at), positive(point, "kept", at));
    if (curve.back().second > 1) throw Error(at + ": a 'kept' is over 1 (a part of the share)");
    if (curve.size() > 1 && !(curve.back().first > curve.end()[-2].first)) {
      throw Error(at + ": the stretches must increase");
    }
  }
}

// One primitive's MPI's own over ours in turns: [{"bytes", "ratio"}] by increasing bytes,
// or a ratio alone (older profiles), which holds at every size.
RateCurve read_ratios_by_size(const nlohmann::json& all, const std::string& primitive, const std::string& where) {
  const std::string at = where + ", " + primitive;
  if (all.at(primitive).is_number()) return {{0.0, positive(all, primitive.c_str(), where)}};
  if (!all.at(primitive).is_array() || all.at(primitive).empty()) {
    throw Error(at + ": not a ratio or a list of {bytes, ratio}");
  }
  RateCurve curve;
  for (const auto& point : all.at(primitive)) {
    curve.emplace_back(non_negative(point, "bytes", at), positive(point, "ratio", at));
    if (curve.size() > 1 && !(curve.back().first > curve.end()[-2].first)) throw Error(at + ": the sizes must increase");
  }
  return curve;
}

// The "turns" object: {"share", "handoff_s", "by_stretch": [{"stretch_s", "kept"}],
// "by_stretch_filled": likewise (optional)}, a share below 1.
void read_turns(const nlohmann::json& t, const std::string& at, Profile& p) {
  p.turns_share = positive(t, "share", at);
  if (p.turns_share >= 1) throw Error(at + ": 'share' must be under 1 (ranks on PUs of their own take no turns)");
  p.handoff_in_turns_s = non_negative(t, "handoff_s", at);
  if (!t.contains("by_stretch") || !t.at("by_stretch").is_array() || t.at("by_stretch").empty()) {
    throw Error(at + ": 'by_stretch' is missing or not a list of points");
  }
  read_turns_curve(t.at("by_stretch"), at, p.turns_by_stretch);
  if (t.contains("by_stretch_filled")) read_turns_curve(t.at("by_stretch_filled"), at, p.turns_by_stretch_filled);
}

// Profile::peer_rewrite_by_op, where `j` has it.
void read_rewrites_by_op(const nlohmann::json& j, const std::string& where, Profile& p) {
  if (j.contains("peer_rewrite_by_op")) {
    const std::string at = where + ", peer_rewrite_by_op";
    if (!j.at("peer_rewrite_by_op").is_object()) throw Error(at + ": not an object of op names and bytes/s");
    for (const auto& [op, rate] : j.at("peer_rewrite_by_op").items()) {
      if (!ir::find_op(op)) throw Error(at + ": '" + op + "' is no op");
      p.peer_rewrite_by_op[op] = non_negative(j.at("peer_rewrite_by_op"), op.c_str(), at, kRate);
    }
  }
}

// Profile::native_in_turns and its largest size, where `j` has them.
void read_native_in_turns(const nlohmann::json& j, const std::string& where, Profile& p) {
  if (j.contains("native_in_turns")) {
    const std::string at = where + ", native_in_turns";
    if (!j.at("native_in_turns").is_object()) throw Error(at + ": not an object of primitives and ratios by size");
    for (const auto& [primitive, by_size] : j.at("native_in_turns").items()) {
      try {
        collectives::primitive_from_string(primitive);
      } catch (const Error&) {
        throw Error(at + ": '" + primitive + "' is no collective primitive");
      }
      p.native_in_turns[primitive] = read_ratios_by_size(j.at("native_in_turns"), primitive, at);
    }
  }
  if (j.contains("native_in_turns_bytes")) p.native_in_turns_bytes = non_negative(j, "native_in_turns_bytes", where);
}

// The settings the profile ran under: its kernel threads and MPI's collective settings.
void read_settings(const nlohmann::json& j, const std::string& where, Profile& p) {
  if (j.contains("kernel_threads")) {
    if (!j.at("kernel_threads").is_number_integer() || j.at("kernel_threads").get<int64_t>() < 1 ||
        j.at("kernel_threads").get<int64_t>() > 4096) {
      throw Error(where + ": 'kernel_threads' must be a whole number from 1 to 4096");
    }
    p.kernel_threads = j.at("kernel_threads").get<int>();
  }
  if (j.contains("mpi_collectives")) {
    const nlohmann::json& settings = j.at("mpi_collectives");
    const std::string at = where + ", mpi_collectives";
    if (!settings.is_object()) throw Error(at + ": not an object of MPI settings and their values");
    for (const auto& [name, value] : settings.items()) {
      if (!value.is_string()) throw Error(at + ": '" + name + "' is not text");
      p.mpi_collectives[name] = value.get<std::string>();
    }
  }
}

// The kernels' curves (matmul by FLOP and by shape, memory by bytes) and the collectives'
// extra seconds on cold caches, where `j` has them.
void read_curves(const nlohmann::json& j, const std::string& where, Profile& p) {
  if (j.contains("matmul_by_size")) {
    for (const auto& point : j.at("matmul_by_size")) {
      const std::string at = where + ", matmul_by_size";
      p.matmul_by_size.emplace_back(positive(point, "flops", at), positive(point, "flops_per_s", at));
    }
  }
  if (j.contains("memory_by_size")) {
    for (const auto& point : j.at("memory_by_size")) {
      const std::string at = where + ", memory_by_size";
      p.memory_by_size.emplace_back(positive(point, "bytes", at), positive(point, "bytes_per_s", at));
    }
  }
  if (j.contains("collective_cold_s")) {
    const std::string at = where + ", collective_cold_s";
    for (const auto& point : j.at("collective_cold_s")) {
      p.collective_cold_s.emplace_back(positive(point, "bytes", at), non_negative(point, "seconds", at));
      if (p.collective_cold_s.size() > 1 && !(p.collective_cold_s.back().first > p.collective_cold_s.end()[-2].first)) {
        throw Error(at + ": the sizes must increase");
      }
    }
  }
  if (j.contains("matmul_by_shape")) {
    const std::string at = where + ", matmul_by_shape";
    for (const auto& point : j.at("matmul_by_shape")) {
      p.matmul_by_shape.push_back({positive(point, "m", at), positive(point, "n", at), positive(point, "k", at),
                                   positive(point, "flops_per_s", at)});
    }
    try {
      GemmRates{p.matmul_by_shape};
    } catch (const Error& e) {
      throw Error(at + ": " + e.what());
    }
  }
}

// The levels of the hierarchy, each with its fitted link and its algorithms' bands.
void read_levels(const nlohmann::json& j, const std::string& where, Profile& p) {
  if (j.contains("levels")) {
    for (const auto& l : j.at("levels")) {
      if (!l.contains("name") || !l.at("name").is_string()) throw Error(where + ": a level has no 'name'");
      const std::string at = where + ", level '" + l.at("name").get<std::string>() + "'";
      p.levels.push_back({l.at("name").get<std::string>(), positive(l, "latency_s", at), positive(l, "bandwidth_Bps", at),
                          l.value("fit_error", 0.0), read_algorithms(l, at)});
    }
  }
}

}  // namespace

Profile read_profile(const std::string& path) {
  const std::string text = read_text_file(path, "profile");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error("profile '" + path + "' is not JSON: " + json_error_text(e, text));
  }
  const std::string where = "profile '" + path + "'";
  if (!j.is_object() || !j.contains("fingerprint") || !j.at("fingerprint").is_string()) {
    throw Error(where + ": 'fingerprint' is missing or not a string");
  }
  Profile p;
  p.fingerprint = j.at("fingerprint").get<std::string>();
  p.matmul_flops = positive(j, "matmul_flops", where);
  p.memory_Bps = positive(j, "memory_Bps", where);
  p.op_latency_s = positive(j, "op_latency_s", where);
  if (j.contains("handoff_s")) p.handoff_s = non_negative(j, "handoff_s", where);  // older profiles have none
  if (j.contains("peer_rewrite_Bps")) p.peer_rewrite_Bps = non_negative(j, "peer_rewrite_Bps", where);
  read_rewrites_by_op(j, where, p);
  read_native_in_turns(j, where, p);
  read_settings(j, where, p);
  if (j.contains("sync_wait_s")) p.sync_wait_s = non_negative(j, "sync_wait_s", where);
  if (j.contains("sync_wait_fraction")) p.sync_wait_fraction = non_negative(j, "sync_wait_fraction", where);
  if (j.contains("turns")) read_turns(j.at("turns"), where + ", turns", p);
  read_curves(j, where, p);
  read_levels(j, where, p);
  return p;
}

void write_profile(const std::string& path, const Profile& p) {
  nlohmann::ordered_json levels = nlohmann::ordered_json::array();
  for (const LevelProfile& l : p.levels) {
    nlohmann::ordered_json algorithms = nlohmann::ordered_json::array();
    for (const launcher::MeasuredAlgorithm& a : l.algorithms) {
      nlohmann::ordered_json band = {{"primitive", a.primitive}, {"algorithm", a.algorithm},
                                     {"up_to_bytes", a.up_to_bytes}, {"alpha_s", a.alpha_s},
                                     {"beta_s_per_byte", a.beta_s_per_byte}, {"gamma_s_per_byte", a.gamma_s_per_byte},
                                     {"fit_error", a.fit_error}};
      if (a.offset_s != 0) band["offset_s"] = a.offset_s;  // only bands of proportional terms have one
      band["spread"] = a.spread;
      algorithms.push_back(band);
    }
    levels.push_back({{"name", l.name}, {"latency_s", l.latency_s}, {"bandwidth_Bps", l.bandwidth_Bps},
                      {"fit_error", l.fit_error}, {"algorithms", algorithms}});
  }
  nlohmann::ordered_json curve = nlohmann::ordered_json::array();
  for (const auto& [flops, rate] : p.matmul_by_size) curve.push_back({{"flops", flops}, {"flops_per_s", rate}});
  nlohmann::ordered_json memory = nlohmann::ordered_json::array();
  for (const auto& [bytes, rate] : p.memory_by_size) memory.push_back({{"bytes", bytes}, {"bytes_per_s", rate}});
  nlohmann::ordered_json cold = nlohmann::ordered_json::array();
  for (const auto& [bytes, seconds] : p.collective_cold_s) cold.push_back({{"bytes", bytes}, {"seconds", seconds}});
  nlohmann::ordered_json in_turns = nlohmann::ordered_json::object();
  for (const auto& [primitive, by_size] : p.native_in_turns) {
    in_turns[primitive] = nlohmann::ordered_json::array();
    for (const auto& [bytes, ratio] : by_size) in_turns[primitive].push_back({{"bytes", bytes}, {"ratio", ratio}});
  }
  nlohmann::ordered_json grid = nlohmann::ordered_json::array();
  for (const GemmPoint& g : p.matmul_by_shape) {
    grid.push_back({{"m", g.m}, {"n", g.n}, {"k", g.k}, {"flops_per_s", g.flops_per_s}});
  }
  nlohmann::ordered_json j = {{"fingerprint", p.fingerprint},   {"matmul_flops", p.matmul_flops},
                              {"memory_Bps", p.memory_Bps},     {"op_latency_s", p.op_latency_s},
                              {"handoff_s", p.handoff_s},       {"sync_wait_s", p.sync_wait_s},
                              {"sync_wait_fraction", p.sync_wait_fraction},
                              {"peer_rewrite_Bps", p.peer_rewrite_Bps},
                              {"peer_rewrite_by_op", p.peer_rewrite_by_op},
                              {"native_in_turns", in_turns},
                              {"native_in_turns_bytes", p.native_in_turns_bytes},
                              {"collective_cold_s", cold},
                              {"matmul_by_size", curve},        {"memory_by_size", memory},
                              {"matmul_by_shape", grid},
                              {"levels", levels}};
  if (p.kernel_threads > 0) j["kernel_threads"] = p.kernel_threads;
  if (!p.mpi_collectives.empty()) j["mpi_collectives"] = p.mpi_collectives;
  if (p.turns_share > 0) {
    nlohmann::ordered_json by_stretch = nlohmann::ordered_json::array();
    for (const auto& [stretch, kept] : p.turns_by_stretch) by_stretch.push_back({{"stretch_s", stretch}, {"kept", kept}});
    j["turns"] = {{"share", p.turns_share}, {"handoff_s", p.handoff_in_turns_s}, {"by_stretch", by_stretch}};
    if (!p.turns_by_stretch_filled.empty()) {
      nlohmann::ordered_json filled = nlohmann::ordered_json::array();
      for (const auto& [stretch, kept] : p.turns_by_stretch_filled) filled.push_back({{"stretch_s", stretch}, {"kept", kept}});
      j["turns"]["by_stretch_filled"] = filled;
    }
  }
  // A figure that is not a number would be written as null, and the profile read back
  // refused: refused now instead, with the file it would replace left as it is.
  std::function<void(const nlohmann::ordered_json&, const std::string&)> finite = [&](const auto& v, const std::string& at) {
    if (v.is_number_float() && !std::isfinite(v.template get<double>())) {
      throw Error("profile for '" + path + "': " + at + " is " + std::to_string(v.template get<double>()) + ", not a finite figure (a fit of too few sizes?)");
    }
    if (v.is_object()) {
      for (const auto& [key, item] : v.items()) finite(item, at.empty() ? key : at + "." + key);
    }
    if (v.is_array()) {
      for (size_t i = 0; i < v.size(); ++i) finite(v[i], at + "[" + std::to_string(i) + "]");
    }
  };
  finite(j, "");
  write_file_atomically(path, j.dump(1) + "\n", "profile");
}

bool ranks_take_turns(const launcher::Topology& topology) {
  for (const launcher::Device& d : topology.devices()) {
    if (d.kind != launcher::DeviceKind::gpu && cpu_share(topology, d, 1) < 1) return true;
  }
  return false;
}

bool native_left_out_in_turns(double ratio) { return ratio > 1 - collectives::kNativeMargin; }

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
