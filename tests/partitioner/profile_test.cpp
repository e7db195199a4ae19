// Profiles: the JSON round trip, bad files named with their field, and what applying one
// changes: measured links on the levels it has, the device's figures, a profile of another
// topology used only where level names match (and said), one sharing nothing refused; the
// cost model's per-kernel latency and matmul curve.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "collectives/cost_fit.h"
#include "common/error.h"
#include "ir/autodiff.h"
#include "ir/models/zoo.h"
#include "partitioner/cost_model.h"
#include "partitioner/profile.h"
#include "partitioner/search.h"

namespace spmd::partitioner {
namespace {

launcher::Topology two_packages() {
  launcher::TopologySource source;
  source.spec = "synthetic:package:2 core:2";
  source.nodes = 2;
  source.device = launcher::DeviceKind::core;
  return launcher::load_topology(source);
}

Profile measured_on(const launcher::Topology& t) {
  Profile p;
  p.fingerprint = launcher::fingerprint(t);
  p.matmul_flops = 2e11;
  p.memory_Bps = 3e10;
  p.op_latency_s = 5e-6;
  p.handoff_s = 2e-5;
  p.sync_wait_s = 3e-6;
  p.sync_wait_fraction = 0.1;
  p.peer_rewrite_Bps = 7e9;
  p.matmul_by_size = {{1e3, 1e9}, {1e9, 1e11}};
  p.memory_by_size = {{4.8e4, 9e10}, {2e8, 3e10}};
  p.kernel_threads = 2;
  p.mpi_collectives = {{"coll", ""}, {"coll_han_priority", "0"}, {"coll_tuned_priority", "30"}};
  p.collective_cold_s = {{4096, 1e-6}, {262144, 1.2e-5}};
  p.turns_share = 0.5;
  p.turns_by_stretch = {{2.5e-5, 0.6}, {0.04, 0.97}};
  p.turns_by_stretch_filled = {{2.5e-5, 0.5}, {0.04, 0.9}};
  p.handoff_in_turns_s = 8e-6;
  p.matmul_by_shape = {{16, 16, 16, 1e9}, {16, 16, 1024, 4e9}};
  p.levels = {{"package", 1e-6, 2e10, 0.05, {{"all_reduce", "ring", 65536, 3e-6, 2e-10, 1e-10, 0.04, 0, 0.06},
                                            {"all_reduce", "ring", 0, 9e-6, 4e-10, 1e-10, 0.02, -4e-5}}}};
  return p;
}

std::string temp(const char* name) { return ::testing::TempDir() + name; }

TEST(Profile, RoundTripsThroughItsJson) {
  const Profile p = measured_on(two_packages());
  write_profile(temp("profile.json"), p);
  const Profile back = read_profile(temp("profile.json"));
  EXPECT_EQ(back.fingerprint, p.fingerprint);
  EXPECT_EQ(back.matmul_flops, p.matmul_flops);
  EXPECT_EQ(back.op_latency_s, p.op_latency_s);
  EXPECT_EQ(back.handoff_s, p.handoff_s);
  EXPECT_EQ(back.sync_wait_s, p.sync_wait_s);
  EXPECT_EQ(back.sync_wait_fraction, p.sync_wait_fraction);
  EXPECT_EQ(back.peer_rewrite_Bps, p.peer_rewrite_Bps);
  EXPECT_EQ(back.matmul_by_size, p.matmul_by_size);
  EXPECT_EQ(back.memory_by_size, p.memory_by_size);
  EXPECT_EQ(back.kernel_threads, 2);
  EXPECT_EQ(back.mpi_collectives, p.mpi_collectives);
  EXPECT_EQ(back.matmul_by_shape, p.matmul_by_shape);
  EXPECT_EQ(back.collective_cold_s, p.collective_cold_s);
  EXPECT_EQ(back.turns_share, p.turns_share);
  EXPECT_EQ(back.turns_by_stretch, p.turns_by_stretch);
  EXPECT_EQ(back.turns_by_stretch_filled, p.turns_by_stretch_filled);
  EXPECT_EQ(back.handoff_in_turns_s, p.handoff_in_turns_s);
  ASSERT_EQ(back.levels.size(), 1u);
  EXPECT_EQ(back.levels[0].bandwidth_Bps, 2e10);
  EXPECT_EQ(back.levels[0].algorithms, p.levels[0].algorithms);
}

TEST(Profile, ABadFileIsNamedWithItsField) {
  std::ofstream(temp("bad_profile.json")) << R"({"fingerprint": "x", "matmul_flops": -1, "memory_Bps": 1, "op_latency_s": 1})";
  try {
    read_profile(temp("bad_profile.json"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad_profile.json': 'matmul_flops' must be a positive number"), std::string::npos)
        << e.what();
  }
  std::ofstream(temp("not_json.json")) << "{";
  EXPECT_THROW(read_profile(temp("not_json.json")), Error);
  const std::string head = R"({"fingerprint": "x", "matmul_flops": 1, "memory_Bps": 1, "op_latency_s": 1, )";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("matmul_by_shape": [{"m": 16, "n": 16, "k": 16, "flops_per_s": 1}, {"m": 64, "n": 16, "k": 64, "flops_per_s": 1}]})",
       "bad_rates.json', matmul_by_shape: the matmul rates are no grid"},
      {R"("matmul_by_shape": [{"m": 16, "n": 16, "k": 0, "flops_per_s": 1}]})",
       "bad_rates.json', matmul_by_shape: 'k' must be a positive number"},
      {R"("kernel_threads": 0})", "bad_rates.json': 'kernel_threads' must be a whole number from 1 to 4096"},
      {R"("kernel_threads": 1.5})", "bad_rates.json': 'kernel_threads' must be a whole number from 1 to 4096"},
      {R"("mpi_collectives": {"coll_han_priority": 100}})", "bad_rates.json', mpi_collectives: 'coll_han_priority' is not text"},
      {R"("mpi_collectives": []})", "bad_rates.json', mpi_collectives: not an object"},
      // Finite but no machine's: the cost model would predict every plan at "inf s".
      {R"("handoff_s": 1e308})", "bad_rates.json': 'handoff_s' is 1e+308, beyond any machine's (at most 10000 s)"},
      {R"("sync_wait_fraction": 1e308})", "'sync_wait_fraction' is 1e+308, beyond any machine's (at most 100)"},
      {R"("peer_rewrite_Bps": 1e-300})", "'peer_rewrite_Bps' is 1e-300, below any machine's (at least 1 a second)"},
      {R"("peer_rewrite_by_op": {"adamw": 1e300}})", "peer_rewrite_by_op: 'adamw' is 1e+300, beyond any machine's"},
      {R"("matmul_by_size": [{"flops": 1e300, "flops_per_s": 1e9}]})", "'flops' is 1e+300, beyond any machine's"}};
  for (const auto& [rates, message] : cases) {
    std::ofstream(temp("bad_rates.json")) << head + rates;
    try {
      read_profile(temp("bad_rates.json"));
      ADD_FAILURE() << rates;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

// A measured algorithm is one synthesis knows, over sizes from 0 up: another would be kept
// and never chosen, or chosen for sizes that do not exist.
TEST(Profile, AnAlgorithmOfNoKnownNameOrSizeIsRefused) {
  const std::string head = R"({"fingerprint": "x", "matmul_flops": 1, "memory_Bps": 1, "op_latency_s": 1,
    "levels": [{"name": "node", "latency_s": 1e-6, "bandwidth_Bps": 1e9, "algorithms": [)";
  const std::string tail = R"(, "alpha_s": 1e-6, "beta_s_per_byte": 1e-9, "gamma_s_per_byte": 0}]}]})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"primitive": "all_reduce", "algorithm": "telepathy", "up_to_bytes": 1)", "'telepathy' is no algorithm of all_reduce"},
      {R"({"primitive": "gossip", "algorithm": "ring", "up_to_bytes": 1)", "unknown collective primitive 'gossip'"},
      {R"({"primitive": "all_reduce", "algorithm": "ring", "up_to_bytes": -1)", "'up_to_bytes' must be"},
      {R"({"primitive": "all_reduce", "algorithm": "ring", "up_to_bytes": 1, "alpha_s": -1e-6, "beta_s_per_byte": 1e-9, "gamma_s_per_byte": 0}, {"primitive": "all_reduce", "algorithm": "ring", "up_to_bytes": 4)",
       "'alpha_s' must be a number of 0 or more"},
      {R"({"primitive": "all_reduce", "algorithm": "ring", "up_to_bytes": 1, "spread": -0.1)", "'spread' must be"},
      {R"({"primitive": "all_reduce", "algorithm": "ring", "up_to_bytes": 1, "spread": 1e300)", "'spread' is 1e+300, beyond"}};
  for (const auto& [algorithm, message] : cases) {
    std::ofstream(temp("bad_algorithm.json")) << head + algorithm + tail;
    try {
      read_profile(temp("bad_algorithm.json"));
      ADD_FAILURE() << algorithm;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
  // A band above the first starts at a measured size: its alpha may be negative.
  std::ofstream(temp("later_band.json"))
      << head + R"({"primitive": "all_reduce", "algorithm": "ring", "up_to_bytes": 1, "alpha_s": 1e-6, "beta_s_per_byte": 1e-9, "gamma_s_per_byte": 0}, {"primitive": "all_reduce", "algorithm": "ring", "up_to_bytes": 0, "alpha_s": -1e-6, "beta_s_per_byte": 1e-9, "gamma_s_per_byte": 0}]}]})";
  EXPECT_EQ(read_profile(temp("later_band.json")).levels.at(0).algorithms.at(1).alpha_s, -1e-6);
  // A spread far past 100% is a profile's own (a round slowed 240x by a burst), not damage.
  std::ofstream(temp("wide_spread.json"))
      << head + R"({"primitive": "all_reduce", "algorithm": "ring", "up_to_bytes": 0, "spread": 120.3)" + tail;
  EXPECT_EQ(read_profile(temp("wide_spread.json")).levels.at(0).algorithms.at(0).spread, 120.3);
}

TEST(Profile, AppliedItReplacesTheLinksItMeasuredAndTheDevicesFigures) {
  const launcher::Topology t = two_packages();
  const Profiled p = apply_profile(measured_on(t), "p.json", t);
  for (size_t l = 0; l < t.levels().size(); ++l) {
    const launcher::Level& level = p.topology.levels()[l];
    if (level.name == "package") {
      EXPECT_EQ(level.link.bandwidth_Bps, 2e10);
      EXPECT_EQ(level.algorithms.size(), 2u);  // the measured collectives go with the level
    } else {
      EXPECT_EQ(level.link, t.levels()[l].link) << level.name;  // not measured: the default stays
      EXPECT_TRUE(level.algorithms.empty()) << level.name;
    }
  }
  const DeviceModel d = device_model(p.topology, p.device);
  EXPECT_EQ(d.peak_flops, 2e11);
  EXPECT_EQ(d.memory_Bps, 3e10);
  EXPECT_EQ(d.op_latency_s, 5e-6);
  EXPECT_EQ(d.handoff_s, 2e-5);
  EXPECT_EQ(d.sync_wait_s, 3e-6);
  EXPECT_EQ(d.sync_wait_fraction, 0.1);
  EXPECT_EQ(d.peer_rewrite_Bps, 7e9);
  EXPECT_EQ(d.flops_by_shape.points(), measured_on(t).matmul_by_shape);
  // Memory-bound ops by the bytes they move: 3x faster in the caches than beyond them.
  EXPECT_EQ(d.bytes_by_size, measured_on(t).memory_by_size);
  EXPECT_EQ(d.collective_cold_s, measured_on(t).collective_cold_s);
  bool said_default = false, said_cold = false;
  for (const std::string& s : p.said) {
    said_default = said_default || s.find("default link") != std::string::npos;
    said_cold = said_cold || s.find("collectives: up to 12.0 us longer in a step than lined up (at 256 KiB)") != std::string::npos;
  }
  EXPECT_TRUE(said_default);
  EXPECT_TRUE(said_cold);
}

// Kernels timed with 2 threads a rank say nothing of ranks of 1: the links, collectives and
// waits are taken, the kernel figures left to the job, and the reason said.
TEST(Profile, KernelsOfOtherThreadsAreNotTakenTheRestIs) {
  const launcher::Topology t = two_packages();
  const Profiled same = apply_profile(measured_on(t), "p.json", t, {}, 2);
  EXPECT_TRUE(same.kernels);
  EXPECT_EQ(device_model(same.topology, same.device).peak_flops, 2e11);
  const Profiled other = apply_profile(measured_on(t), "p.json", t, {}, 1);
  EXPECT_FALSE(other.kernels);
  const DeviceModel d = device_model(other.topology, other.device);
  EXPECT_NE(d.peak_flops, 2e11);
  EXPECT_TRUE(d.bytes_by_size.empty());
  EXPECT_EQ(d.handoff_s, 2e-5);
  EXPECT_EQ(d.sync_wait_fraction, 0.1);
  EXPECT_EQ(other.topology.levels(), same.topology.levels());
  bool said = false;
  for (const std::string& line : other.said) {
    said = said || line.find("the profile's kernels ran 2 threads a rank and this job's ranks run 1: its kernel "
                             "figures are not used") != std::string::npos;
  }
  EXPECT_TRUE(said);
}

// A profile timed MPI's own collectives under the MPI settings it ran with: a job under
// others (han chosen by `--mca coll_han_priority 100`) is told which differ, and the rest
// of the profile holds; a job under the same, or whose settings or the profile's are not
// known (an older profile), is told nothing.
TEST(Profile, AJobUnderOtherMpiCollectiveSettingsIsToldWhichDiffer) {
  const launcher::Topology t = two_packages();
  const Profile p = measured_on(t);
  std::map<std::string, std::string> han = p.mpi_collectives;
  han["coll_han_priority"] = "100";
  han.erase("coll_tuned_priority");
  han["coll_tuned_allreduce_algorithm"] = "4";
  EXPECT_EQ(mpi_settings_changed(han, p.mpi_collectives),
            "coll_han_priority '100' here, '0' when profiled, coll_tuned_allreduce_algorithm '4' here, 'unset' when "
            "profiled, coll_tuned_priority 'unset' here, '30' when profiled");
  const auto told = [](const Profiled& applied) {
    return std::count_if(applied.said.begin(), applied.said.end(), [](const std::string& line) {
      return line.find("MPI's own collectives were timed under other settings (coll_han_priority '100' here") == 0;
    });
  };
  const Profiled other = apply_profile(p, "p.json", t, {}, 2, han);
  EXPECT_EQ(told(other), 1);
  EXPECT_EQ(device_model(other.topology, other.device).peak_flops, 2e11) << "the rest holds";
  EXPECT_EQ(told(apply_profile(p, "p.json", t, {}, 2, p.mpi_collectives)), 0);
  EXPECT_EQ(told(apply_profile(p, "p.json", t, {}, 2, {})), 0);
  Profile older = p;
  older.mpi_collectives.clear();
  EXPECT_EQ(told(apply_profile(older, "p.json", t, {}, 2, han)), 0);
}

// `ranks` ranks bound to the same 2 PUs of one node.
launcher::Topology ranks_on_two_pus(int ranks) {
  launcher::Device two_pus;
  two_pus.kind = launcher::DeviceKind::core;
  two_pus.cpuset = "0-1";
  launcher::Level node;
  node.name = "node";
  node.groups = 1;
  node.link_kind = launcher::LinkKind::shared_cache;
  node.link = {1e-6, 1e10};
  return launcher::Topology(std::vector<launcher::Device>(static_cast<size_t>(ranks), two_pus), {"n"}, {node},
                            {std::vector<int>(static_cast<size_t>(ranks), 0)});
}

// Where ranks take turns on their PUs, MPI's own collectives are left out: timed lined up by
// the profile, in a step they wait for peers that are not running.
TEST(Profile, RanksTakingTurnsOnTheirPusLeaveMpisOwnCollectivesOut) {
  const launcher::Topology three_ranks = ranks_on_two_pus(3);
  const launcher::Topology two_ranks = ranks_on_two_pus(2);
  EXPECT_TRUE(ranks_take_turns(three_ranks));
  EXPECT_FALSE(ranks_take_turns(two_ranks));
  Profile p;
  p.fingerprint = "elsewhere";
  p.levels = {{"node", 1e-6, 1e10, 0, {{"all_reduce", "native", 0, 1e-6, 1e-10, 0, 0}, {"all_reduce", "ring", 0, 2e-6, 1e-10, 1e-10, 0}}}};
  const Profiled turns = apply_profile(p, "p.json", three_ranks);
  ASSERT_EQ(turns.topology.levels().at(0).algorithms.size(), 1u);
  EXPECT_EQ(turns.topology.levels()[0].algorithms[0].algorithm, "ring");
  EXPECT_TRUE(std::any_of(turns.said.begin(), turns.said.end(),
                          [](const std::string& s) { return s.find("MPI's own left out") != std::string::npos; }));
  EXPECT_EQ(apply_profile(p, "p.json", two_ranks).topology.levels().at(0).algorithms.size(), 2u);
}

// A profile that timed MPI's own collectives in a step, the ranks taking turns, keeps them
// for the primitives where they took under 0.9x ours there, and above the sizes it
// timed so, and says which.
TEST(Profile, RanksTakingTurnsKeepMpisOwnWhereTheProfileTimedItFasterInAStep) {
  const launcher::Topology three_ranks = ranks_on_two_pus(3);
  Profile p;
  p.fingerprint = "elsewhere";
  p.levels = {{"node", 1e-6, 1e10, 0,
               {{"all_reduce", "native", 1 << 20, 1e-6, 1e-10, 0, 0},
                {"all_reduce", "native", 16 << 20, 1e-6, 1e-10, 0, 0},  // from 1 MiB: below 4 MiB too
                {"all_reduce", "native", 0, 1e-6, 1e-10, 0, 0},         // from 16 MiB
                {"all_reduce", "ring", 0, 2e-6, 1e-10, 1e-10, 0},
                {"broadcast", "native", 0, 1e-6, 1e-10, 0, 0}, {"broadcast", "binomial_tree", 0, 2e-6, 1e-10, 0, 0},
                {"all_to_all", "native", 0, 1e-6, 1e-10, 0, 0}}}};
  p.matmul_flops = p.memory_Bps = p.op_latency_s = 1;
  p.native_in_turns = {{"all_reduce", {{1 << 20, 1.9}, {4 << 20, 1.9}}},
                       {"broadcast", {{0, 0.45}}}};  // all_to_all: not timed; broadcast: one ratio (older profiles)
  p.native_in_turns_bytes = 4 << 20;
  const std::string path = ::testing::TempDir() + "profile_native_in_turns.json";
  write_profile(path, p);
  const Profile read = read_profile(path);
  EXPECT_EQ(read.native_in_turns, p.native_in_turns);
  EXPECT_EQ(read.native_in_turns_bytes, p.native_in_turns_bytes);
  const Profiled turns = apply_profile(read, path, three_ranks);
  std::vector<std::string> kept;
  for (const launcher::MeasuredAlgorithm& a : turns.topology.levels().at(0).algorithms) {
    kept.push_back(a.primitive + " " + a.algorithm);
  }
  EXPECT_EQ(kept, (std::vector<std::string>{"all_reduce native", "all_reduce ring", "broadcast native",
                                            "broadcast binomial_tree"}));
  EXPECT_EQ(turns.topology.levels()[0].algorithms[0].up_to_bytes, 0);  // the band from 16 MiB
  // ... which costs no size below it: the first band that reaches a size would.
  const std::vector<launcher::MeasuredAlgorithm>& bands = turns.topology.levels()[0].algorithms;
  EXPECT_EQ(collectives::measured_band(bands, "all_reduce", collectives::Algorithm::native, 1 << 20), nullptr);
  EXPECT_EQ(collectives::measured_band(bands, "all_reduce", collectives::Algorithm::native, 8 << 20), nullptr);
  EXPECT_EQ(collectives::measured_band(bands, "all_reduce", collectives::Algorithm::native, 32 << 20), &bands[0]);
  EXPECT_TRUE(std::any_of(turns.said.begin(), turns.said.end(), [](const std::string& s) {
    return s.find("left out for all_reduce (1 MiB 1.90x, 4 MiB 1.90x); kept for broadcast 0.45x (left out up to 4 MiB") !=
           std::string::npos;
  })) << turns.said.back();
}

// Where MPI's own won in a step at some sizes and not at others, each of its bands is kept
// or left out by the ratio timed nearest its largest size: kept only where it won by the
// margin (not at 1.05x, where lined up it would be).
TEST(Profile, RanksTakingTurnsJudgeMpisOwnAtEachSizeBand) {
  Profile p;
  p.fingerprint = "elsewhere";
  p.levels = {{"node", 1e-6, 1e10, 0,
               {{"all_reduce", "native", 16 << 10, 1e-6, 1e-10, 0, 0},
                {"all_reduce", "native", 64 << 10, 1e-6, 1e-10, 0, 0},
                {"all_reduce", "native", 256 << 10, 1e-6, 1e-10, 0, 0},
                {"all_reduce", "native", 0, 1e-6, 1e-10, 0, 0},
                {"all_reduce", "ring", 0, 2e-6, 1e-10, 1e-10, 0}}}};
  p.matmul_flops = p.memory_Bps = p.op_latency_s = 1;
  p.native_in_turns = {{"all_reduce", {{16 << 10, 0.8}, {64 << 10, 1.5}, {256 << 10, 1.05}, {4 << 20, 0.7}}}};
  p.native_in_turns_bytes = 4 << 20;
  const Profiled turns = apply_profile(p, "p.json", ranks_on_two_pus(3));
  const std::vector<launcher::MeasuredAlgorithm>& bands = turns.topology.levels().at(0).algorithms;
  std::vector<double> kept;
  for (const launcher::MeasuredAlgorithm& a : bands) {
    if (a.algorithm == "native") kept.push_back(a.up_to_bytes);
  }
  EXPECT_EQ(kept, (std::vector<double>{16 << 10, 0}));  // not those up to 64 KiB and 256 KiB
  using collectives::Algorithm;
  EXPECT_EQ(collectives::measured_band(bands, "all_reduce", Algorithm::native, 8 << 10), &bands[0]);
  EXPECT_EQ(collectives::measured_band(bands, "all_reduce", Algorithm::native, 64 << 10), nullptr);
  EXPECT_EQ(collectives::measured_band(bands, "all_reduce", Algorithm::native, 128 << 10), nullptr);
  EXPECT_EQ(collectives::measured_band(bands, "all_reduce", Algorithm::native, 1 << 20), &bands[1]);
  EXPECT_TRUE(std::any_of(turns.said.begin(), turns.said.end(), [](const std::string& s) {
    return s.find("left out for all_reduce (64 KiB 1.50x, 256 KiB 1.05x); kept for all_reduce (16 KiB 0.80x, 4 MiB "
                  "0.70x)") != std::string::npos;
  })) << turns.said.back();
}

// The nearest size timed answers for a size between, the larger where two are as near.
TEST(Profile, ANativeRatioInTurnsIsThatOfTheNearestSizeTimed) {
  const RateCurve by_size = {{16 << 10, 0.9}, {64 << 10, 2.0}, {256 << 10, 1.0}};
  EXPECT_EQ(native_ratio_in_turns(by_size, 1 << 10), 0.9);
  EXPECT_EQ(native_ratio_in_turns(by_size, 48 << 10), 2.0);
  EXPECT_EQ(native_ratio_in_turns(by_size, 128 << 10), 1.0);  // as near 64 KiB as 256 KiB
  EXPECT_EQ(native_ratio_in_turns(by_size, 1e12), 1.0);
  EXPECT_EQ(native_ratio_in_turns({{0, 1.5}}, 1e6), 1.5);  // one ratio for every size
  EXPECT_EQ(native_ratio_in_turns({}, 1e6), 0);
}

// A profile of only the figures every one must have.
Profile least_profile() {
  Profile p;
  p.fingerprint = "f";
  p.matmul_flops = p.memory_Bps = p.op_latency_s = 1;
  return p;
}

// `p` written, then read back, is refused with a message that names `field` and says `says`.
void expect_refused(const Profile& p, const std::string& field, const std::string& says) {
  const std::string path = ::testing::TempDir() + "profile_bad_" + field + ".json";
  write_profile(path, p);
  try {
    read_profile(path);
    ADD_FAILURE() << "accepted " << says;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

// A primitive of native_in_turns must be one, its ratios positive figures, its sizes increasing.
TEST(Profile, ANativeInTurnsOfNoPrimitiveOrNoRatioIsRefused) {
  Profile p = least_profile();
  for (const auto& [bad, says] : std::vector<std::pair<std::map<std::string, RateCurve>, std::string>>{
           {{{"all_sum", {{0, 1.0}}}}, "'all_sum' is no collective primitive"},
           {{{"broadcast", {{4096, 0.0}}}}, "broadcast: 'ratio' must be a positive number"},
           {{{"broadcast", {{4096, 1.0}, {4096, 1.0}}}}, "broadcast: the sizes must increase"},
           {{{"broadcast", {}}}, "broadcast: not a ratio or a list of {bytes, ratio}"}}) {
    p.native_in_turns = bad;
    expect_refused(p, "native_in_turns", says);
  }
}

// The collectives' cold extra is by increasing size, and no extra is negative.
TEST(Profile, ACollectivesColdCurveOfFallingSizesOrNegativeSecondsIsRefused) {
  Profile p = least_profile();
  for (const auto& [bad, says] : std::vector<std::pair<RateCurve, std::string>>{
           {{{4096, 1e-6}, {4096, 2e-6}}, "the sizes must increase"}, {{{4096, -1e-6}}, "seconds"}}) {
    p.collective_cold_s = bad;
    expect_refused(p, "collective_cold_s", says);
  }
}

// The turns are a share under 1 and parts of it kept, by increasing stretch.
TEST(Profile, TurnsOfAWholeShareOrKeepingMoreThanItOrOfFallingStretchesAreRefused) {
  Profile p = least_profile();
  p.turns_share = 0.5;
  p.turns_by_stretch = {{1e-5, 1.2}};
  expect_refused(p, "turns", "a 'kept' is over 1");
  p.turns_by_stretch = {{1e-3, 0.9}, {1e-4, 0.95}};
  expect_refused(p, "turns", "the stretches must increase");
  p.turns_share = 1;
  p.turns_by_stretch = {{1e-5, 0.5}};
  expect_refused(p, "turns", "'share' must be under 1");
}

// Where the job's ranks get the share of their PUs the profile measured turns at, its curve
// and its hand-off in turns are the device's (bind then measures neither); at another
// share, neither, and it says so; ranks on PUs of their own take none.
TEST(Profile, ItsTurnsAreTakenWhereTheRanksGetTheShareTheyWereMeasuredAt) {
  const launcher::Topology three_ranks = ranks_on_two_pus(3);  // one thread each: 2/3 of a PU
  Profile p = least_profile();
  p.handoff_s = 2e-6;
  p.turns_share = 2.0 / 3;
  p.turns_by_stretch = {{2.5e-5, 0.6}, {0.04, 0.97}};
  p.turns_by_stretch_filled = {{2.5e-5, 0.5}, {2e-3, 0.88}, {0.04, 0.95}};
  p.handoff_in_turns_s = 8e-6;
  p.levels = {{"node", 1e-6, 1e10, 0, {}}};
  const Profiled same = apply_profile(p, "p.json", three_ranks, {}, 1);
  EXPECT_EQ(same.device.turns_by_stretch, p.turns_by_stretch);
  EXPECT_EQ(same.device.turns_by_stretch_filled, p.turns_by_stretch_filled);
  EXPECT_EQ(same.device.handoff_s, 8e-6);
  EXPECT_TRUE(std::any_of(same.said.begin(), same.said.end(), [](const std::string& s) {
    return s.find("turns: ranks sharing PUs keep 60% of their share over 25 us between collectives, 97% over 40 ms "
                  "(50% over 25 us and 88% over 2.0 ms, their kernels filling a core's cache), and a hand-off to "
                  "the communication thread 8.0 us then, measured") != std::string::npos;
  })) << same.said.back();
  const Profiled other = apply_profile(p, "p.json", ranks_on_two_pus(4), {}, 1);  // half a PU each
  EXPECT_TRUE(other.device.turns_by_stretch.empty());
  EXPECT_TRUE(other.device.turns_by_stretch_filled.empty());
  EXPECT_EQ(other.device.handoff_s, 2e-6);
  EXPECT_TRUE(std::any_of(other.said.begin(), other.said.end(), [](const std::string& s) {
    return s.find("each rank got 0.67 of its PUs, and this job's get 0.50: not used") != std::string::npos;
  }));
  const Profiled own = apply_profile(p, "p.json", ranks_on_two_pus(2), {}, 1);
  EXPECT_TRUE(own.device.turns_by_stretch.empty());
  EXPECT_FALSE(std::any_of(own.said.begin(), own.said.end(), [](const std::string& s) { return s.find("turns") != std::string::npos; }));
}

TEST(Profile, OfAnotherTopologyItIsUsedWhereLevelsMatchOrRefused) {
  const launcher::Topology t = two_packages();
  Profile other = measured_on(t);
  other.fingerprint = "0000000000000000";
  const Profiled p = apply_profile(other, "p.json", t);
  EXPECT_NE(p.said.front().find("was measured on another topology"), std::string::npos) << p.said.front();
  other.levels = {{"rack", 1e-6, 2e10, 0, {}}};
  EXPECT_THROW(apply_profile(other, "p.json", t), Error);
}

TEST(CostModel, AMeasuredKernelLatencyAndMatmulCurveCostEveryOp) {
  const ir::Graph g = ir::training_step(ir::build_model("mlp:layers=2,hidden=16,batch=8,features=8,classes=4"), {});
  DeviceModel fast;
  fast.name = "test", fast.peak_flops = 1e12, fast.memory_Bps = 1e12, fast.memory_bytes = 1 << 30;
  DeviceModel slow = fast;
  slow.op_latency_s = 1e-3;
  slow.flops_by_size = {{1.0, 1e6}, {1e12, 1e6}};  // a megaflop per second whatever the size
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    EXPECT_GE(op_seconds(g, v, slow), 1e-3);
    EXPECT_NEAR(op_seconds(g, v, slow), 1e-3 + std::max(op_flops(g, v) / 1e6, op_bytes(g, v) / 1e12), 1e-12);
    EXPECT_LT(op_seconds(g, v, fast), 1e-3);
  }
}

}  // namespace
}  // namespace spmd::partitioner
