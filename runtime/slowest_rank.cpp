#include "runtime/slowest_rank.h"

#include <bit>
#include <cstdint>

#include "common/stats.h"

namespace spmd::runtime {

std::vector<double> slowest_of_ranks(const launcher::World& world, std::span<const double> figures,
                                     const std::function<bool(size_t)>& is_time, const std::string& what) {
  std::vector<uint64_t> mine(figures.size());
  for (size_t i = 0; i < figures.size(); ++i) mine[i] = std::bit_cast<uint64_t>(figures[i]);
  const std::vector<uint64_t> all = world.all_gather(mine, what);
  std::vector<double> out(figures.size()), each(static_cast<size_t>(world.size()));
  for (size_t i = 0; i < figures.size(); ++i) {
    for (size_t r = 0; r < each.size(); ++r) each[r] = std::bit_cast<double>(all[r * figures.size() + i]);
    out[i] = slowest_measured(each, is_time(i));
  }
  return out;
}

}  // namespace spmd::runtime
