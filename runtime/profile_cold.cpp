#include "runtime/profile_cold.h"

#include <algorithm>
#include <vector>

#include "collectives/primitives.h"
#include "collectives/schedule.h"
#include "collectives/timing.h"
#include "common/stats.h"
#include "common/units.h"
#include "partitioner/device_model.h"
#include "runtime/profile_kernels.h"
#include "runtime/profile_text.h"

namespace spmd::runtime {
namespace {

constexpr int kRepeats = 9;  // of each run, lined up and after the writes, interleaved

// Writes one float of every cache line of `other`, as a step's kernels write over the caches.
void write_over(std::vector<float>& other) {
  for (size_t i = 0; i < other.size(); i += 16) other[i] += 1.0f;
}

// The cold median less the lined-up one of `primitive`'s ring at `bytes`, at least 0.
double extra_seconds(collectives::Communicator& comm, collectives::Primitive primitive, double bytes,
                     std::vector<float>& other) {
  const collectives::CollectiveRun hot = collectives::collective_run(comm, primitive, collectives::Algorithm::ring, bytes);
  const collectives::CollectiveRun cold{[&] {
                                          hot.prepare();
                                          write_over(other);
                                        },
                                        hot.run};
  hot.prepare();
  hot.run();
  std::vector<double> lined_up, after_writes;
  for (int r = 0; r < kRepeats; ++r) {
    lined_up.push_back(collectives::time_once(comm, hot));
    after_writes.push_back(collectives::time_once(comm, cold));
  }
  return std::max(0.0, median(after_writes) - median(lined_up));
}

}  // namespace

void measure_collectives_cold(collectives::Communicator& comm, double max_bytes, partitioner::Profile& p,
                              std::string& table) {
  using collectives::Primitive;
  const std::int64_t cache = private_cache_bytes() > 0 ? private_cache_bytes() : 2 * kPrivateCacheBytes;
  std::vector<float> other(static_cast<size_t>(partitioner::kCollectiveColdCaches * static_cast<double>(cache)) /
                           sizeof(float));
  write_over(other);  // its pages faulted in before any timing
  p.collective_cold_s.clear();
  std::string said;
  for (double bytes : {4.0 * 1024, 32.0 * 1024, 256.0 * 1024, 1024.0 * 1024, 4.0 * 1024 * 1024, 16.0 * 1024 * 1024}) {
    if (bytes > max_bytes) break;
    std::vector<double> extra;
    for (Primitive primitive : {Primitive::all_reduce, Primitive::all_gather, Primitive::reduce_scatter}) {
      extra.push_back(extra_seconds(comm, primitive, bytes, other));
    }
    p.collective_cold_s.emplace_back(bytes, median(extra));
    said += profile_text::line(" %s +%.1f us;", bytes_text(bytes).c_str(), p.collective_cold_s.back().second * 1e6);
  }
  table += profile_text::line("collectives after %s of other writes a rank (%.0fx a core's cache), beyond lined up "
                              "(ring all-reduce, all-gather, reduce-scatter, the median):",
                              bytes_text(static_cast<double>(other.size() * sizeof(float))).c_str(),
                              partitioner::kCollectiveColdCaches) +
           said + "\n";
}

}  // namespace spmd::runtime
