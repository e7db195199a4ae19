// The all-reduce schedules the synthesizer chooses on simulated clusters, for message sizes
// 4 KiB .. 1 GiB, against the flat ring (the baseline) in the same cost model: one table per
// cluster with the flat ring, the best flat and best nested schedules, the chosen one and
// the ratio flat ring / chosen, then the time synthesis takes. The known-good shapes to look
// for: nested (hierarchical) schedules beat the flat ring across nodes, by latency for small
// messages and by the network's share for large ones.
//
//   bench_synthesis [--dgx2 FILE] [--dgx2-nodes 4] [--cpu SPEC] [--cpu-nodes 16]
//                   [--cpu-devices package,core] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/units.h"
#include "collectives/synthesize.h"
#include "common/error.h"
#include "common/files.h"
#include "launcher/topology.h"

namespace {

using spmd::bytes_text;
using spmd::seconds_text;

using spmd::collectives::Schedule;
using spmd::launcher::Topology;

struct Cluster {
  std::string label;  // "DGX-2 x 4"
  spmd::launcher::TopologySource source;
};

// One message size on one cluster.
struct Row {
  double bytes = 0;
  Schedule flat_ring, best_flat, chosen;
  std::optional<Schedule> best_nested;
  int candidates = 0;
  double synthesis_us = 0;  // one synthesize call, best of several
};

bool is_nested(const Schedule& s) { return s.name.starts_with("nested"); }

// A schedule's name, short enough for a table: algorithms abbreviated (rhd: recursive
// halving-doubling, rd: recursive doubling), and for a nested one the levels of its steps.
std::string short_name(const Schedule& s, const Topology& topology) {
  std::string name = s.name;
  auto replace_all = [&name](const std::string& from, const std::string& to) {
    for (size_t at = name.find(from); at != std::string::npos; at = name.find(from, at + to.size()))
      name.replace(at, from.size(), to);
  };
  replace_all("recursive_halving_doubling", "rhd");
  replace_all("recursive_doubling", "rd");
  if (!is_nested(s)) return name;
  size_t colon = name.find(": ");
  return "nested " + spmd::collectives::level_segments(s, topology) + (colon == std::string::npos ? "" : " " + name.substr(colon + 2));
}

double best_synthesis_us(const Topology& topology, const spmd::collectives::CollectiveRequest& request) {
  double best = 1e300;
  for (int i = 0; i < 20; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto candidates = spmd::collectives::synthesize(topology, request);
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    if (!candidates.empty()) best = std::min(best, us);
  }
  return best;
}

Row measure(const Topology& topology, double bytes) {
  spmd::collectives::CollectiveRequest request{spmd::collectives::Primitive::all_reduce, {}, bytes};
  for (int d = 0; d < topology.num_devices(); ++d) request.devices.push_back(d);
  std::vector<Schedule> candidates = spmd::collectives::synthesize(topology, request);
  Row row;
  row.bytes = bytes;
  row.chosen = candidates.front();
  row.candidates = static_cast<int>(candidates.size());
  bool have_flat = false;
  for (const Schedule& s : candidates) {  // cheapest first
    if (s.name == "flat ring") row.flat_ring = s;
    if (!is_nested(s) && !have_flat) row.best_flat = s, have_flat = true;
    if (is_nested(s) && !row.best_nested) row.best_nested = s;
  }
  if (row.flat_ring.name.empty()) throw spmd::Error("no flat ring among the candidates for " + bytes_text(bytes));
  row.synthesis_us = best_synthesis_us(topology, request);
  return row;
}

std::vector<double> message_sizes() {
  std::vector<double> sizes;
  for (double bytes = 4096; bytes <= 1024.0 * 1024 * 1024; bytes *= 4) sizes.push_back(bytes);
  return sizes;
}

// "nested" or the flat schedule's short name: which kind the synthesizer chose.
std::string chosen_kind(const Schedule& s, const Topology& topology) {
  return is_nested(s) ? "nested" : short_name(s, topology);
}

// The sizes where the best nested schedule beats the flat ring: "4 KiB .. 1 MiB (6 of 10 sizes)".
std::string nested_wins(const std::vector<Row>& rows) {
  std::vector<double> sizes;
  for (const Row& r : rows) {
    if (r.best_nested && r.best_nested->predicted_s < r.flat_ring.predicted_s) sizes.push_back(r.bytes);
  }
  if (sizes.empty()) return "at no size";
  return bytes_text(sizes.front()) + " .. " + bytes_text(sizes.back()) + " (" + std::to_string(sizes.size()) + " of " +
         std::to_string(rows.size()) + " sizes)";
}

void print_table(const Cluster& cluster, const Topology& topology, const std::vector<Row>& rows) {
  std::printf("\n%s: %s x %d nodes, %d devices (%s), all-reduce over every device\n", cluster.label.c_str(),
              cluster.source.spec.c_str(), cluster.source.nodes, topology.num_devices(),
              spmd::launcher::to_string(topology.device(0).kind).c_str());
  for (const auto& level : topology.levels())
    std::printf("  level %-8s %2d x %-2d %-14s %7.4g GB/s %6.3g us\n", level.name.c_str(), level.groups,
                level.fanout, spmd::launcher::to_string(level.link_kind).c_str(), level.link.bandwidth_Bps / 1e9,
                level.link.latency_s * 1e6);
  std::printf("%9s  %11s  %-22s  %11s  %-22s  %11s  %s\n", "size", "flat ring", "best flat", "best nested", "chosen",
              "ring/chosen", "best nested schedule (rhd: recursive halving-doubling, rd: recursive doubling)");
  for (const Row& r : rows) {
    std::string flat = seconds_text(r.best_flat.predicted_s) + " " + short_name(r.best_flat, topology);
    std::string nested = r.best_nested ? seconds_text(r.best_nested->predicted_s) : "-";
    std::string chosen = seconds_text(r.chosen.predicted_s) + " " + chosen_kind(r.chosen, topology);
    std::printf("%9s  %11s  %-22s  %11s  %-22s  %10.2fx  %s\n", bytes_text(r.bytes).c_str(),
                seconds_text(r.flat_ring.predicted_s).c_str(), flat.c_str(), nested.c_str(), chosen.c_str(),
                r.flat_ring.predicted_s / r.chosen.predicted_s,
                r.best_nested ? short_name(*r.best_nested, topology).c_str() : "-");
  }
  double slowest_us = 0;
  for (const Row& r : rows) slowest_us = std::max(slowest_us, r.synthesis_us);
  std::printf("nested beats the flat ring: %s\n", nested_wins(rows).c_str());
  std::printf("synthesis: %d candidates, at most %.1f us per call\n", rows.front().candidates, slowest_us);
}

nlohmann::json schedule_json(const Schedule& s) { return {{"name", s.name}, {"predicted_s", s.predicted_s}}; }

nlohmann::json rows_json(const Cluster& cluster, const Topology& topology, const std::vector<Row>& rows) {
  nlohmann::json records = nlohmann::json::array();
  for (const Row& r : rows) {
    records.push_back({{"cluster", cluster.label},
                       {"topology", cluster.source.spec},
                       {"nodes", cluster.source.nodes},
                       {"devices", topology.num_devices()},
                       {"bytes", r.bytes},
                       {"flat_ring", schedule_json(r.flat_ring)},
                       {"best_flat", schedule_json(r.best_flat)},
                       {"best_nested", r.best_nested ? schedule_json(*r.best_nested) : nlohmann::json(nullptr)},
                       {"chosen", schedule_json(r.chosen)},
                       {"flat_ring_over_chosen", r.flat_ring.predicted_s / r.chosen.predicted_s},
                       {"candidates", r.candidates},
                       {"synthesis_us", r.synthesis_us}});
  }
  return records;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_synthesis: synthesized all-reduce schedules against a flat ring, by the cost model"};
  std::string dgx2 = SPMD_TOPOLOGIES_DIR "/nvidiaDGX2.xml";
  int dgx2_nodes = 4;
  std::string cpu = "synthetic:package:2 core:8";
  int cpu_nodes = 16;
  std::vector<std::string> cpu_devices = {"package", "core"};
  std::string json_path;
  app.add_option("--dgx2", dgx2, "The DGX-2 hwloc XML file")->capture_default_str();
  app.add_option("--dgx2-nodes", dgx2_nodes, "DGX-2 nodes")->check(CLI::Range(1, 1000000))->capture_default_str();
  app.add_option("--cpu", cpu, "The CPU node: an hwloc XML file or 'synthetic:...'")->capture_default_str();
  app.add_option("--cpu-nodes", cpu_nodes, "CPU nodes")->check(CLI::Range(1, 1000000))->capture_default_str();
  app.add_option("--cpu-devices", cpu_devices, "What one rank drives on the CPU node, one table each: package, numa, core")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--json", json_path, "Also write the rows as JSON records to FILE");
  CLI11_PARSE(app, argc, argv);
  try {
    using spmd::launcher::DeviceKind;
    std::vector<Cluster> clusters = {{"DGX-2 x " + std::to_string(dgx2_nodes), {dgx2, dgx2_nodes, DeviceKind::gpu}}};
    for (const std::string& device : cpu_devices) {
      clusters.push_back({"2-socket CPU x " + std::to_string(cpu_nodes) + ", one rank per " + device,
                          {cpu, cpu_nodes, spmd::launcher::parse_device_kind(device)}});
    }
    nlohmann::json records = nlohmann::json::array();
    for (const Cluster& cluster : clusters) {
      Topology topology = spmd::launcher::load_topology(cluster.source);
      std::vector<Row> rows;
      for (double bytes : message_sizes()) rows.push_back(measure(topology, bytes));
      print_table(cluster, topology, rows);
      for (auto& record : rows_json(cluster, topology, rows)) records.push_back(record);
    }
    if (!json_path.empty()) {
      spmd::write_file_atomically(json_path, records.dump(2) + "\n", "--json file");
    }
  } catch (const spmd::Error& e) {
    std::fprintf(stderr, "bench_synthesis: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
