// `spmd collective PRIMITIVE --bytes SIZE`: the schedules synthesized for one collective on a
// topology (simulated with --topology, else the live job), cheapest first by the cost model,
// and the chosen one step by step. Prints once, from rank 0. --profile FILE costs them with a
// profile's measured figures; on the live job with --profile or --measure, each candidate is
// also run and its measured time printed beside the prediction.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "common/units.h"
#include "collectives/mpi/mpi_communicator.h"
#include "collectives/run_schedule.h"
#include "collectives/schedule.h"
#include "collectives/synthesize.h"
#include "collectives/timing.h"
#include "common/error.h"
#include "partitioner/profile.h"
#include "tools/commands.h"
#include "tools/sizes.h"
#include "tools/topology_options.h"
#include "tools/validators.h"

namespace spmd::tools {
namespace {

struct CollectiveOptions {
  std::string collective;  // allreduce, reducescatter, allgather, broadcast, reduce, alltoall
  std::string bytes;       // "64MiB", "4KiB", "1000000"
  std::string devices;     // "0-7,16-23"; empty: every device of the topology
  int k = 0;               // rows of the candidate table; 0: all
  TopologyOptions topology;
  std::string profile;     // a profile from spmd profile: its measured figures cost the schedules
  bool measure = false;    // run each candidate on the live job and print its time
};

int parse_device_id(const std::string& text, const std::string& list) {
  int id = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id < 0 || text.empty()) {
    throw Error("--devices '" + list + "': '" + text + "' is not a device id (expected a list like 0-7,16-23)");
  }
  return id;
}

// "0-3,8" -> {0, 1, 2, 3, 8}, each id below `num_devices` and listed once.
std::vector<int> parse_device_list(const std::string& list, int num_devices) {
  std::vector<int> ids;
  std::vector<bool> listed(num_devices);
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = std::min(list.find(',', start), list.size());
    std::string item = list.substr(start, comma - start);
    size_t dash = item.find('-');
    int first = parse_device_id(item.substr(0, dash), list);
    int last = dash == std::string::npos ? first : parse_device_id(item.substr(dash + 1), list);
    if (last < first) throw Error("--devices '" + list + "': range '" + item + "' runs backwards");
    for (int id = first; id <= last; ++id) {
      if (id >= num_devices)
        throw Error("--devices '" + list + "': device " + std::to_string(id) + " is not in the topology (" +
                    std::to_string(num_devices) + " devices, 0-" + std::to_string(num_devices - 1) + ")");
      if (listed[id]) throw Error("--devices '" + list + "': device " + std::to_string(id) + " is listed twice");
      listed[id] = true;
      ids.push_back(id);
    }
    start = comma + 1;
  }
  return ids;
}

std::vector<int> all_devices(int num_devices) {
  std::vector<int> ids(num_devices);
  for (int i = 0; i < num_devices; ++i) ids[i] = i;
  return ids;
}

// The candidates, cheapest first, `k` of them (all when k is 0), with their time against the
// best, and where given their measured time and the prediction's error against it.
std::string candidate_table(const std::vector<collectives::Schedule>& candidates, const launcher::Topology& topology,
                            int k, const std::vector<double>& measured) {
  size_t rows = k > 0 ? std::min<size_t>(k, candidates.size()) : candidates.size();
  std::vector<std::string> segments;
  size_t width = 6;
  for (size_t i = 0; i < rows; ++i) {
    segments.push_back(collectives::level_segments(candidates[i], topology));
    width = std::max(width, segments.back().size());
  }
  char line[512];
  const bool timed = !measured.empty();
  std::snprintf(line, sizeof line, "    #    predicted   vs best  %s%-*s  schedule\n",
                timed ? "   measured    error  " : "", static_cast<int>(width), "levels");
  std::string out = line;
  double best = candidates.front().predicted_s;
  for (size_t i = 0; i < rows; ++i) {
    const collectives::Schedule& s = candidates[i];
    double ratio = best > 0 ? s.predicted_s / best : 1.0;
    std::string time;
    if (timed) {
      char cell[64];
      std::snprintf(cell, sizeof cell, "%11s  %+6.0f%%  ", seconds_text(measured[i]).c_str(),
                    100 * (s.predicted_s - measured[i]) / measured[i]);
      time = cell;
    }
    std::snprintf(line, sizeof line, "  %3zu  %11s  %7.2fx  %s%-*s  %s\n", i + 1, seconds_text(s.predicted_s).c_str(),
                  ratio, time.c_str(), static_cast<int>(width), segments[i].c_str(), s.name.c_str());
    out += line;
  }
  if (rows < candidates.size()) out += "  (" + std::to_string(candidates.size() - rows) + " more; --k limits the table)\n";
  return out;
}

std::string counted(size_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

std::string explain(const launcher::Topology& topology, const collectives::CollectiveRequest& request,
                    const std::vector<collectives::Schedule>& candidates, const CollectiveOptions& options,
                    const std::vector<double>& measured) {
  std::string group = options.devices.empty() ? "every device" : "devices " + options.devices;
  std::string out = "Topology: " + topology_summary(topology) + "\n";
  out += collectives::to_string(request.primitive) + " of " + bytes_text(request.bytes) + " over " +
         counted(request.devices.size(), "rank") + " (" + group + "): " +
         counted(candidates.size(), "candidate schedule") + ", cheapest first\n";
  if (!measured.empty()) out += "measured on this job: the slowest rank's time, median of 5 runs\n";
  out += candidate_table(candidates, topology, options.k, measured);
  out += "Chosen: " + collectives::describe(candidates.front(), topology);
  return out;
}

// Each candidate of the table run on the live job (rank i drives device i of the group).
std::vector<double> measure(const launcher::World& world, const launcher::Topology& topology,
                            const collectives::CollectiveRequest& request,
                            const std::vector<collectives::Schedule>& candidates, int k) {
  if (static_cast<int>(request.devices.size()) != world.size()) {
    throw Error("measuring needs the whole job as the group: " + std::to_string(request.devices.size()) +
                " devices listed, " + std::to_string(world.size()) + " ranks");
  }
  collectives::MpiCommunicator comm(world.comm());
  collectives::ScheduleRunner runner(comm, topology, request.devices);
  std::vector<double> times;
  const size_t rows = k > 0 ? std::min<size_t>(k, candidates.size()) : candidates.size();
  for (size_t i = 0; i < rows; ++i) {
    times.push_back(collectives::time_collective(comm, collectives::schedule_run(runner, candidates[i], request.bytes)));
  }
  return times;
}

void run_collective(const CollectiveOptions& options, const launcher::World& world) {
  // Every rank checks the input and builds the topology, so that a mistake fails on all alike.
  collectives::CollectiveRequest request;
  request.primitive = collectives::primitive_from_string(options.collective);
  request.bytes = parse_size(options.bytes, "--bytes");
  launcher::Topology topology = topology_from(options.topology, world);
  std::vector<std::string> notes;
  if (!options.profile.empty()) {
    partitioner::Profiled p =
        partitioner::apply_profile(partitioner::read_profile(options.profile), options.profile, topology);
    topology = std::move(p.topology);
    notes = std::move(p.said);
  }
  request.devices = options.devices.empty() ? all_devices(topology.num_devices())
                                            : parse_device_list(options.devices, topology.num_devices());
  std::vector<collectives::Schedule> candidates = collectives::synthesize(topology, request);
  const bool live = options.topology.topology.empty();
  if (options.measure && !live) {
    throw Error("--measure runs the collective on the live job: it cannot measure a simulated --topology");
  }
  std::vector<double> measured;
  if (live && (options.measure || !options.profile.empty())) measured = measure(world, topology, request, candidates, options.k);
  if (!world.lead()) return;
  for (const std::string& note : notes) std::cout << "profile: " << note << "\n";
  std::cout << explain(topology, request, candidates, options, measured);
  std::cout.flush();
}

}  // namespace

void add_collective_command(CLI::App& app, const launcher::World* world) {
  auto* cmd = app.add_subcommand("collective",
                                 "Explain the schedules synthesized for a collective on a topology, cheapest first");
  auto options = std::make_shared<CollectiveOptions>();
  cmd->add_option("collective", options->collective,
                  "allreduce, reducescatter, allgather, broadcast, reduce or alltoall")
      ->required();
  cmd->add_option("--bytes", options->bytes, "The full buffer: 4KiB, 64MiB, 1GiB, 1000000 (KB, MB: powers of 1000)")
      ->required();
  cmd->add_option("--devices", options->devices, "The group: device ids like 0-7,16-23 (default: every device)");
  cmd->add_option("--k", options->k, "Show only the k cheapest candidates")->check(count_check(1, 1 << 20));
  cmd->add_option("--profile", options->profile,
                  "a profile from spmd profile: cost the schedules with its measured figures, and on the live job "
                  "run each one and print its measured time beside the prediction");
  cmd->add_flag("--measure", options->measure, "run each candidate on the live job and print its measured time");
  add_topology_options(*cmd, options->topology);
  cmd->callback([options, world] { run_collective(*options, *world); });
}

}  // namespace spmd::tools
