// Reading and writing a profile database (profile.h): every figure checked against what a
// machine can give, named by its key and file where it is not; written whole or not at all.
#include "partitioner/profile.h"

#include <cmath>
#include <functional>
#include <string_view>
#include <nlohmann/json.hpp>

#include "collectives/primitives.h"
#include "collectives/schedule.h"
#include "common/error.h"
#include "common/files.h"
#include "common/units.h"
#include "ir/ops.h"
#include "partitioner/json_fields.h"

namespace spmd::partitioner {
namespace {

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
  // cores) spread a band by 120.
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

}  // namespace spmd::partitioner
