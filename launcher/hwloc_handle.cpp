#include "launcher/hwloc_handle.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "common/error.h"
#include "common/files.h"

namespace spmd::launcher {
namespace {

constexpr std::string_view kSyntheticPrefix = "synthetic:";

HwlocTopology new_topology() {
  hwloc_topology_t raw = nullptr;
  if (hwloc_topology_init(&raw) != 0) throw Error("hwloc: cannot initialise a topology");
  HwlocTopology topology(raw);
  // KEEP_IMPORTANT keeps GPUs, NICs and storage among PCI and OS devices, and drops
  // bridges that lead to nothing (hwloc docs, "I/O Devices").
  hwloc_topology_set_io_types_filter(raw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  return topology;
}

// hwloc wants the last level of a synthetic string to be PUs; "package:2 core:8" means one
// PU per core.
std::string with_pu_level(const std::string& description) {
  std::istringstream words(description);
  std::string word, last;
  while (words >> word) last = word;
  std::string type = last.substr(0, last.find(':'));
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type == "pu" || last.empty()) return description;
  return description + " pu:1";
}

// hwloc inserts each object of a synthetic topology by comparing its cpuset with its
// siblings', which takes time growing with the cube of the processing units (8,000 in a
// level take 40 s): refused above this, where a machine file and --nodes go further.
constexpr double kMostSyntheticPus = 4096;

// The processing units a synthetic description makes: the product of its levels' counts
// ("package:2 core:8" makes 16). 0 when a level's count is not read (hwloc then judges).
double synthetic_pus(const std::string& description) {
  std::istringstream words(description);
  std::string word;
  double pus = 1;
  while (words >> word) {
    const size_t colon = word.find(':');
    if (colon == std::string::npos) return 0;
    char* end = nullptr;
    const double count = std::strtod(word.c_str() + colon + 1, &end);
    if (end == word.c_str() + colon + 1 || !(count >= 1)) return 0;
    pus *= count;
  }
  return pus;
}

// hwloc turns the tiers of a NUMA latency matrix into Group objects when it reads the
// matrix from Linux, but not when it imports an XML export or a synthetic string: grouping
// is what HWLOC_DISTANCES_ADD_FLAG_GROUP asks of hwloc_distances_add_commit (hwloc docs,
// "Add distances between objects"). Adding the matrix again with that flag gives the same
// groups whatever the source; hwloc inserts no group that matches an existing object, so a
// machine already grouped stays as it is. The copy replaces the original matrix.
void group_by_numa_latency(hwloc_topology_t topology) {
  unsigned count = 1;
  hwloc_distances_s* matrix = nullptr;
  if (hwloc_distances_get_by_type(topology, HWLOC_OBJ_NUMANODE, &count, &matrix,
                                  HWLOC_DISTANCES_KIND_MEANS_LATENCY, 0) != 0 ||
      count == 0)
    return;
  const char* name = hwloc_distances_get_name(topology, matrix);
  hwloc_distances_add_handle_t copy =
      hwloc_distances_add_create(topology, name ? name : "NUMALatency", matrix->kind, 0);
  // On failure add_values and add_commit free the handle themselves.
  bool grouped = copy &&
                 hwloc_distances_add_values(topology, copy, matrix->nbobjs, matrix->objs, matrix->values, 0) == 0 &&
                 hwloc_distances_add_commit(topology, copy, HWLOC_DISTANCES_ADD_FLAG_GROUP) == 0;
  if (grouped) {
    hwloc_distances_release_remove(topology, matrix);
  } else {
    hwloc_distances_release(topology, matrix);
  }
}

void load_or_throw(hwloc_topology_t topology, const std::string& what) {
  if (hwloc_topology_load(topology) != 0) throw Error("hwloc cannot load " + what);
  group_by_numa_latency(topology);
}

}  // namespace

HwlocTopology load_hwloc_topology(const std::string& spec) {
  HwlocTopology topology = new_topology();
  if (spec == "local") {
    load_or_throw(topology.get(), "this machine's topology");
  } else if (spec.starts_with(kSyntheticPrefix)) {
    std::string description = spec.substr(kSyntheticPrefix.size());
    if (const double pus = synthetic_pus(description); pus > kMostSyntheticPus) {
      throw Error("synthetic topology '" + description + "' has " + std::to_string(static_cast<long long>(pus)) +
                  " processing units, over the " + std::to_string(static_cast<int>(kMostSyntheticPus)) +
                  " hwloc builds in reasonable time: describe one node and give --nodes");
    }
    if (hwloc_topology_set_synthetic(topology.get(), with_pu_level(description).c_str()) != 0)
      throw Error("bad synthetic topology '" + description +
                  "': hwloc cannot parse it (expected levels like 'package:2 numa:2 core:8')");
    load_or_throw(topology.get(), "synthetic topology '" + description + "'");
  } else {
    std::error_code ignored;
    if (!std::filesystem::exists(spec, ignored))
      throw Error("topology file '" + spec +
                  "' does not exist (expected an hwloc XML file, "
                  "'synthetic:...' or 'local')");
    require_regular_file(spec, "topology file");  // a directory or a FIFO is named as one
    // hwloc_topology_set_xml parses the file at once and fails on malformed XML.
    if (hwloc_topology_set_xml(topology.get(), spec.c_str()) != 0)
      throw Error("topology file '" + spec + "' is not a valid hwloc XML export");
    load_or_throw(topology.get(), "topology file '" + spec + "'");
  }
  return topology;
}

std::string to_list_string(hwloc_const_bitmap_t bitmap) {
  char* text = nullptr;
  if (hwloc_bitmap_list_asprintf(&text, bitmap) < 0) return {};
  std::string result(text);
  std::free(text);
  return result;
}

}  // namespace spmd::launcher
