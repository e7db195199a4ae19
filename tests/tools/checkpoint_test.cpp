// Checkpoints end to end: a run saved on 4 ranks goes on, on 4, 3, 2 and 1 ranks and under
// other strategies, with the losses of an uninterrupted run; bad checkpoints fail on every
// rank naming the file, and write nothing. Faults: a non-finite loss, a stopped peer.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/tools/cli.h"
#include "tests/support/scratch.h"

namespace spmd::testing {
namespace {
namespace fs = std::filesystem;

const char* kGpt = "gpt:layers=1,d_model=24,heads=12,seq=8,vocab=32,batch=12";


std::string scratch(const std::string& name) {
  return scratch_path("ckpt." + name);
}

// Each rank's exit code, as `rank R exit C` lines in `codes`: the wrapper ignores mpirun's
// SIGTERM (spmd sets its own handler) so that it outlives spmd and says how it ended, and
// exits as spmd did.
std::string each_rank_exit_to(const std::string& codes) {
  return "bash -c \"trap \\\"\\\" TERM; \\\"\\$@\\\"; code=\\$?; echo rank \\$OMPI_COMM_WORLD_RANK exit \\$code >>" +
         codes + "; exit \\$code\" -- ";
}

// The uninterrupted run's 15 losses, and a checkpoint root after its first 10 steps on 4
// ranks (step-00000005 and step-00000010), made once for the whole program.
struct Saved {
  std::vector<double> straight;
  std::string root;
  std::string sharded_root;  // the same 10 steps under zero: every rank writes a quarter
};

const Saved& saved() {
  static Saved s = [] {
    Saved r;
    std::string dir = scratch("base");
    fs::create_directories(dir);
    EXPECT_EQ(run(std::string("run ") + kGpt + " --steps 15 --metrics " + dir + "/straight.jsonl").exit_code, 0);
    r.straight = metrics_losses(dir + "/straight.jsonl");
    r.root = dir + "/ckpt";
    // Data parallel named, not searched: the search's choice moves with the machine's figures.
    Result w = run(mpirun(4, std::string("run ") + kGpt + " --steps 10 --strategy dp --checkpoint " + r.root +
                                 " --checkpoint-every 5 --keep 3"), true, 120);
    EXPECT_EQ(w.exit_code, 0) << w.err;
    r.sharded_root = dir + "/sharded";
    Result z = run(mpirun(4, std::string("run ") + kGpt + " --steps 10 --strategy zero --checkpoint " + r.sharded_root), true, 120);
    EXPECT_EQ(z.exit_code, 0) << z.err;
    return r;
  }();
  return s;
}

// A copy of the saved checkpoints to damage.
std::string copy_of_saved(const std::string& name) {
  std::string dir = scratch(name);
  fs::copy(saved().root, dir, fs::copy_options::recursive);
  return dir;
}

void expect_resumes(int ranks, const std::string& strategy, bool sharded = false) {
  const Saved& s = saved();
  const std::string root = sharded ? s.sharded_root : s.root;
  std::string metrics = scratch("resume" + std::to_string(ranks) + strategy) + ".jsonl";
  std::string args = std::string("run ") + kGpt + " --steps 5 --resume " + root + " --metrics " + metrics;
  if (!strategy.empty()) args += " --strategy " + strategy;
  Result r = run(mpirun(ranks, args), true, 120);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("resumed from '" + root + "/step-00000010' at step 10"), std::string::npos) << r.out;
  std::vector<double> resumed = metrics_losses(metrics);
  ASSERT_EQ(resumed.size(), 5u);
  ASSERT_EQ(s.straight.size(), 15u);
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(resumed[i], s.straight[10 + i], 1e-4) << "step " << 11 + i;
}

TEST(Checkpoint, SavesEveryKStepsAndKeepsTheNewest) {
  const Saved& s = saved();
  EXPECT_TRUE(fs::exists(s.root + "/step-00000005/manifest.json"));
  EXPECT_TRUE(fs::exists(s.root + "/step-00000010/manifest.json"));
  EXPECT_TRUE(fs::exists(s.root + "/step-00000010/rank-00003.bin"));
  EXPECT_FALSE(fs::exists(s.root + "/step-00000010.tmp"));
  std::string root = scratch("keep");
  Result r = run(std::string("run ") + kGpt + " --steps 4 --checkpoint " + root + " --checkpoint-every 1 --keep 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("checkpoint written: " + root + "/step-00000004"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(root + "/step-00000002"));
  EXPECT_TRUE(fs::exists(root + "/step-00000003/manifest.json"));
  EXPECT_TRUE(fs::exists(root + "/step-00000004/manifest.json"));
}

// One test per plan would make the saved run once per test process: one test for all.
TEST(Checkpoint, ResumesOnAnyRankCountAndStrategy) {
  for (auto [ranks, strategy] : std::vector<std::pair<int, std::string>>{
           {4, ""}, {3, ""}, {2, "megatron"}, {1, ""}, {4, "zero"}, {4, "dp+megatron"}, {3, "megatron"}}) {
    SCOPED_TRACE(std::to_string(ranks) + " ranks " + strategy);
    expect_resumes(ranks, strategy);
  }
  // From blocks split over every rank to other splits.
  for (auto [ranks, strategy] : std::vector<std::pair<int, std::string>>{{3, "megatron"}, {2, "dp+megatron"}, {1, ""}}) {
    SCOPED_TRACE("from zero: " + std::to_string(ranks) + " ranks " + strategy);
    expect_resumes(ranks, strategy, /*sharded=*/true);
  }
}

TEST(Checkpoint, InspectPrintsTheManifestAndVerifies) {
  Result r = run("checkpoint inspect " + saved().root);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("step: 10"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mesh: {data: 4} on 4 ranks"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("checksums: all 4 files match"), std::string::npos) << r.out;
}

// The manifest says what the issue of checkpoints lists: the model and its checksum, the
// topology's fingerprint, the step, data position and seed, each value's dtype, shape and
// layout. Each rank writes only its own blocks: every element is in one file only, and
// under zero each of the 4 files holds a quarter.
TEST(Checkpoint, TheManifestSaysWhatIsSavedAndEachRankWritesOnlyItsBlocks) {
  for (const std::string& root : {saved().root, saved().sharded_root}) {
    SCOPED_TRACE(root);
    const nlohmann::json m = nlohmann::json::parse(slurp(root + "/step-00000010/manifest.json"));
    EXPECT_EQ(m.at("model").get<std::string>().rfind("gpt:", 0), 0u);
    EXPECT_EQ(m.at("model_fnv64").get<std::string>().size(), 16u);
    EXPECT_FALSE(m.at("topology_fingerprint").get<std::string>().empty());
    EXPECT_EQ(m.at("step"), 10);
    EXPECT_EQ(m.at("data_position"), 10);
    EXPECT_EQ(m.at("seed"), 0);
    EXPECT_EQ(m.at("ranks"), 4);
    uint64_t value_bytes = 0, file_bytes = 0, largest_file = 0;
    for (const auto& v : m.at("values")) {
      EXPECT_EQ(v.at("dtype"), "f32");
      uint64_t n = 4;
      for (int64_t d : v.at("shape").get<std::vector<int64_t>>()) n *= static_cast<uint64_t>(d);
      value_bytes += n;
    }
    for (const auto& f : m.at("files")) {
      file_bytes += f.at("bytes").get<uint64_t>();
      largest_file = std::max(largest_file, f.at("bytes").get<uint64_t>());
      EXPECT_EQ(fs::file_size(root + "/step-00000010/" + f.at("file").get<std::string>()), f.at("bytes").get<uint64_t>());
    }
    EXPECT_EQ(file_bytes, value_bytes) << "every element saved once";
    if (root == saved().sharded_root) {
      EXPECT_EQ(largest_file, value_bytes / 4) << "zero: each rank a quarter";
    }
  }
}

// A bad checkpoint fails on every rank with one line naming the file, exit 2, before
// anything is written.
void expect_bad(const std::string& resume, const std::string& message) {
  std::string out = scratch("untouched"), codes = out + ".codes";
  Result r = run(std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 -np 2 " +
                     each_rank_exit_to(codes) + SPMD_BINARY + " run " + kGpt + " --steps 2 --resume " + resume +
                     " --checkpoint " + out + " --checkpoint-every 1",
                 true, 60);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  for (const char* rank : {"0", "1"}) {
    EXPECT_NE(slurp(codes).find(std::string("rank ") + rank + " exit 2"), std::string::npos) << slurp(codes) << r.err;
  }
  EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out)) << "a failed resume wrote a checkpoint";
  Result inspect = run("checkpoint inspect " + resume);
  EXPECT_EQ(inspect.exit_code, 2);
}

void AMissingShardIsNamed() {
  std::string dir = copy_of_saved("missing");
  fs::remove(dir + "/step-00000010/rank-00001.bin");
  expect_bad(dir, "checkpoint shard file '" + dir + "/step-00000010/rank-00001.bin' does not exist");
}

void ATruncatedShardIsNamed() {
  std::string dir = copy_of_saved("truncated");
  fs::resize_file(dir + "/step-00000010/rank-00002.bin", 100);
  expect_bad(dir, "checkpoint shard file '" + dir + "/step-00000010/rank-00002.bin' has 100 bytes");
}

void ACorruptedShardIsNamed() {
  std::string dir = copy_of_saved("corrupted");
  std::fstream f(dir + "/step-00000010/rank-00000.bin", std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(17);
  f.put('\x7f');
  f.close();
  expect_bad(dir, "checkpoint shard file '" + dir + "/step-00000010/rank-00000.bin' is corrupted");
}

void AnotherModelsCheckpointIsRefused() {
  Result r = run(mpirun(2, "run gpt:layers=1,d_model=16,heads=4,seq=8,vocab=32,batch=12 --steps 1 --resume " +
                               saved().root), true, 60);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("checkpoint '" + saved().root + "/step-00000010/manifest.json' is of another model"),
            std::string::npos) << r.err;
}

// 6 heads instead of 12 split the same projections otherwise: every param has its shape.
void AnotherModelOfTheSameShapesIsRefused() {
  Result r = run(mpirun(2, "run gpt:layers=1,d_model=24,heads=6,seq=8,vocab=32,batch=12 --steps 1 --resume " +
                               saved().root), true, 60);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("checkpoint '" + saved().root + "/step-00000010/manifest.json' is of another model (gpt:"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("): its params have this program's shapes, but its forward pass differs"), std::string::npos) << r.err;
}

void AHalfWrittenCheckpointIsRefused() {
  std::string dir = copy_of_saved("half");
  fs::remove(dir + "/step-00000010/manifest.json");
  expect_bad(dir + "/step-00000010", "checkpoint '" + dir + "/step-00000010' is incomplete");
}

// Resuming from `dir` passes over the incomplete checkpoint `incomplete`, says so, and goes
// on from step `from` with the uninterrupted run's losses.
void expect_falls_back(const std::string& dir, const std::string& incomplete, int from) {
  std::string metrics = dir + ".jsonl";
  Result r = run(mpirun(2, std::string("run ") + kGpt + " --steps 5 --resume " + dir + " --metrics " + metrics), true, 120);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("checkpoint '" + dir + "/" + incomplete + "' is incomplete"), std::string::npos) << r.out;
  char step[16];
  std::snprintf(step, sizeof step, "%08d", from);
  EXPECT_NE(r.out.find("resumed from '" + dir + "/step-" + step + "' at step " + std::to_string(from)), std::string::npos)
      << r.out;
  std::vector<double> resumed = metrics_losses(metrics);
  ASSERT_EQ(resumed.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_NEAR(resumed[i], saved().straight[static_cast<size_t>(from) + i], 1e-4) << "step " << from + 1 + static_cast<int>(i);
  }
}

// A save cut short (the process killed while writing) leaves step-N.tmp with some shard
// files and no manifest: passed over, said, and the previous checkpoint resumed.
TEST(Checkpoint, ASaveCutShortFallsBackToThePreviousOne) {
  std::string dir = copy_of_saved("cut-short");
  fs::create_directories(dir + "/step-00000015.tmp");
  std::ofstream(dir + "/step-00000015.tmp/rank-00000.bin") << std::string(100, '\0');
  expect_falls_back(dir, "step-00000015.tmp", 10);
}

TEST(Checkpoint, AnIncompleteNewestFallsBackToThePreviousOne) {
  std::string dir = copy_of_saved("fallback");
  fs::remove(dir + "/step-00000010/manifest.json");
  expect_falls_back(dir, "step-00000010", 5);
}

// The newest manifest of a copy of the saved checkpoints, edited by `edit`.
std::string with_manifest(const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
  std::string dir = copy_of_saved(name);
  const std::string path = dir + "/step-00000010/manifest.json";
  nlohmann::json m = nlohmann::json::parse(std::ifstream(path));
  edit(m);
  std::ofstream(path) << m.dump(1);
  return dir;
}

// A manifest whose figures do not add up is refused before any shard is read: its checksums
// cover the shard files, not itself.
void AManifestThatDoesNotAddUpIsNamed() {
  const std::string where = "/step-00000010/manifest.json' is not a valid manifest: ";
  std::string dir = with_manifest("overlap", [](nlohmann::json& m) {
    m["files"][0]["shards"][2]["offset"] = m["files"][0]["shards"][1]["offset"];
  });
  expect_bad(dir, dir + where + "two shards of file 'rank-00000.bin' overlap at byte ");
  dir = with_manifest("step", [](nlohmann::json& m) { m["step"] = -5; });
  expect_bad(dir, dir + where + "step must be a whole number from 0 to 9223372036854775807, got -5");
  dir = with_manifest("checksum", [](nlohmann::json& m) { m["files"][1]["fnv64"] = "zz"; });
  expect_bad(dir, dir + where + "the fnv64 of file 'rank-00001.bin' is 'zz', not 16 hex digits");
  dir = with_manifest("outside", [](nlohmann::json& m) { m["files"][1]["file"] = "../rank-00001.bin"; });
  expect_bad(dir, dir + where + "file name '../rank-00001.bin' is not a name inside the checkpoint directory");
  dir = with_manifest("dtype", [](nlohmann::json& m) { m["values"][0]["dtype"] = "q7"; });
  expect_bad(dir, dir + where + "value 'wpe' is of dtype 'q7': a checkpoint holds f32 values");
  dir = with_manifest("files", [](nlohmann::json& m) { m["files"] = nlohmann::json::array(); });
  expect_bad(dir, dir + where + "param 'wpe' has 0 shards in the files, its layout ");
  dir = with_manifest("rank", [](nlohmann::json& m) { m["files"][1]["rank"] = 4294967296ull; });
  expect_bad(dir, dir + where + "file 'rank-00001.bin': rank must be a whole number from 0 to 2147483647, got 4294967296");
}

// --resume takes a directory: a file given instead is called what it is.
void AFileIsNoCheckpointDirectory() {
  std::string dir = copy_of_saved("file");
  expect_bad(dir + "/step-00000010/manifest.json",
             "checkpoint '" + dir + "/step-00000010/manifest.json' is a file, not a checkpoint directory");
}

TEST(Checkpoint, BadCheckpointsFailOnEveryRankNamingTheFile) {
  for (auto check : {AMissingShardIsNamed, ATruncatedShardIsNamed, ACorruptedShardIsNamed,
                     AnotherModelsCheckpointIsRefused, AnotherModelOfTheSameShapesIsRefused, AHalfWrittenCheckpointIsRefused,
                     AManifestThatDoesNotAddUpIsNamed, AFileIsNoCheckpointDirectory}) {
    check();
  }
}

// FNV-1a 64 of a whole file, as the manifest records it.
std::string fnv64_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint64_t hash = 14695981039346656037ull;
  for (char c; in.get(c);) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

// Checksums vouch for a shard's bytes, not its numbers: a NaN saved (with its checksum made
// to match) is refused on every rank at resume, naming the value, exit 2; inspect names it
// too, and says so of a checkpoint whose every element is finite.
TEST(Checkpoint, ANaNSavedIsRefusedAtResumeAndNamedByInspect) {
  std::string dir = copy_of_saved("nan");
  const std::string shard = dir + "/step-00000010/rank-00000.bin";
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    f.write(reinterpret_cast<const char*>(&nan), sizeof nan);  // wpe's first element
  }
  const std::string manifest = dir + "/step-00000010/manifest.json";
  nlohmann::json m = nlohmann::json::parse(std::ifstream(manifest));
  m["files"][0]["fnv64"] = fnv64_of(shard);
  std::ofstream(manifest) << m.dump(1);
  Result r = run(mpirun(2, std::string("run ") + kGpt + " --steps 1 --resume " + dir), true, 60);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("checkpoint '" + dir + "/step-00000010' holds param 'wpe' with a NaN or infinite value"),
            std::string::npos)
      << r.err;
  Result inspected = run("checkpoint inspect " + dir);
  EXPECT_EQ(inspected.exit_code, 2) << inspected.err;
  EXPECT_NE(inspected.out.find("checksums: all 4 files match"), std::string::npos) << inspected.out;
  EXPECT_NE(inspected.err.find("checkpoint '" + dir + "/step-00000010' holds param 'wpe' with 1 NaN or infinite of its " +
                               std::to_string(8 * 24) + " elements in rank-00000.bin"),
            std::string::npos)
      << inspected.err;
  EXPECT_NE(run("checkpoint inspect " + saved().root).out.find("values: every element finite"), std::string::npos);
}

// Keeping the newest N goes by step: a fresh run writing where another run's later steps
// lie would have its own checkpoints deleted as soon as written. It is refused, before any
// step, and the directory left as it was; a name that is no step this writes is passed over.
TEST(Checkpoint, AFreshRunIntoAnotherRunsDirectoryIsRefused) {
  std::string dir = copy_of_saved("reused");
  fs::create_directories(dir + "/step-99999999999999999999");
  Result r = run(mpirun(2, std::string("run ") + kGpt + " --steps 3 --checkpoint " + dir + " --checkpoint-every 1"),
                 true, 60);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("checkpoint directory '" + dir + "' holds a checkpoint of step 10, ahead of this run's step 0"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir + "/step-00000001"));
  Result inspect = run("checkpoint inspect " + dir);
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("step: 10"), std::string::npos) << inspect.out;
  Result resumed = run(std::string("run ") + kGpt + " --steps 1 --resume " + dir + " --checkpoint " + dir);
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(fs::exists(dir + "/step-00000011/manifest.json"));
}

// A run resumed at step 10 into a directory of another model's step 1: --keep 1 would
// delete that checkpoint as soon as this run's first was written.
TEST(Checkpoint, ADirectoryOfAnotherModelsCheckpointsIsRefused) {
  const std::string other = scratch("other-model");
  const std::string other_model = "gpt:layers=1,d_model=24,heads=6,seq=8,vocab=32,batch=12";
  ASSERT_EQ(run("run " + other_model + " --steps 1 --checkpoint " + other + " --checkpoint-every 1").exit_code, 0);
  Result r = run(std::string("run ") + kGpt + " --steps 1 --resume " + saved().root + " --checkpoint " + other +
                 " --checkpoint-every 1 --keep 1");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("checkpoint directory '" + other + "' holds 'step-00000001' of another model (gpt:batch=12,d_model=24,heads=6"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(fs::exists(other + "/step-00000001/manifest.json"));
  EXPECT_FALSE(fs::exists(other + "/step-00000011"));
}

}  // namespace
}  // namespace spmd::testing

namespace spmd::testing {
namespace {

// Found before the first step, on every rank, as the user's mistake (a save that fails
// mid-run, a full disk, is the job's failure: 3).
TEST(Checkpoint, ADirectoryThatCannotBeWrittenIsRefusedBeforeTraining) {
  Result r = run(mpirun(2, std::string("run ") + kGpt + " --steps 1 --checkpoint /proc/spmd-checkpoints"), true, 60);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("checkpoint directory '/proc/spmd-checkpoints' cannot be made: No such file or directory"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("step "), std::string::npos) << r.out;
}

// The pid of the spmd process of rank `rank` under mpirun $MP (its child, or its
// grandchild through a wrapper), as a shell assignment to V. Looked for again for up to
// 5 s where it is not found at once; not found, the job is ended and the script exits 99 at
// once, rather than leaving a job of a million steps running until the test's deadline.
std::string find_rank(int rank) {
  return "V=; for try in $(seq 100); do for c in $(pgrep -P $MP); do for p in $c $(pgrep -P $c); do "
         "[ \"$(cat /proc/$p/comm 2>/dev/null)\" = spmd ] && "
         "tr \"\\0\" \"\\n\" </proc/$p/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=" +
         std::to_string(rank) + " && V=$p; done; done; [ -n \"$V\" ] && break; sleep 0.05; done; " +
         "[ -n \"$V\" ] || { echo \"rank " + std::to_string(rank) + " not found under mpirun\"; kill $MP; exit 99; }; ";
}

// The line the survivor `rank` printed about how the job ended, from its own timeout or
// from mpirun's order to stop.
std::string survivor_line(const std::string& text, int rank) {
  for (const std::string& start : {"spmd: job failed on rank " + std::to_string(rank) + ": ",
                                   "spmd: rank " + std::to_string(rank) + " stopped by mpirun at step "}) {
    const size_t at = text.find(start);
    if (at != std::string::npos) return text.substr(at, text.find('\n', at) - at);
  }
  return "";
}

// A stopped rank (SIGSTOP: a hung peer) ends the job at the deadline --timeout sets: every
// surviving rank names it with its pid, each rank exits 3, within twice the deadline.
TEST(LostPeer, AStoppedRankFailsTheJobAtTheTimeoutNamedByEverySurvivor) {
  const std::string out = scratch("stopped") + ".out", codes = out + ".codes";
  const std::string line = std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 -np 3 " +
                           each_rank_exit_to(codes) + SPMD_BINARY + " run " + kGpt +
                           " --strategy dp --steps 1000000 --log-every 1000000 --timeout 2";
  const std::string script = line + " >" + out + " 2>&1 & MP=$!; until grep -q \"step \" " + out +
                             "; do sleep 0.1; done; " + find_rank(1) + "echo $V >" + out + ".pid; T0=$(date +%s%N); " +
                             "kill -STOP $V; wait $MP; rc=$?; echo $(( ($(date +%s%N) - T0) / 1000000 )) >" + out +
                             ".ms; kill -KILL $V 2>/dev/null; exit $rc";
  Result r = run("bash -c '" + script + "'", true, 60);
  const std::string text = slurp(out);
  EXPECT_EQ(r.exit_code, 3) << text;
  EXPECT_LT(std::stoi("0" + slurp(out + ".ms")), 4000 + 2000) << "ms from the stop to the job's end\n" << text;
  std::string pid = slurp(out + ".pid");
  pid = pid.substr(0, pid.find('\n'));
  ASSERT_FALSE(pid.empty()) << text;
  for (int survivor : {0, 2}) {
    const std::string said = survivor_line(text, survivor);
    EXPECT_NE(said.find("rank 1 (pid " + pid + ", on this host)"), std::string::npos) << survivor << "\n" << text;
    EXPECT_NE(slurp(codes).find("rank " + std::to_string(survivor) + " exit 3"), std::string::npos)
        << slurp(codes) << text;
  }
  // Whichever wait it was in (a collective, an agreement of the World's), at its deadline.
  EXPECT_TRUE(contains(text, "timed out after 2 s") || contains(text, "within 2 s")) << text;
}

// A killed rank (SIGKILL) ends the job at once (mpirun stops the others), and every
// surviving rank says which rank it is, at which step it was stopped, and which rank was
// lost (by its pid, the one the script killed), exit 3, within 10 s of the kill.
TEST(LostPeer, SurvivorsOfAKilledRankNameItAndTheStepTheyStoppedAt) {
  const std::string out = scratch("killed") + ".out", codes = out + ".codes";
  const std::string line = std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 -np 3 " +
                           each_rank_exit_to(codes) + SPMD_BINARY + " run " + kGpt +
                           " --strategy dp --steps 1000000 --log-every 1";
  const std::string script = line + " >" + out + " 2>&1 & MP=$!; until grep -q \"step     3\" " + out +
                             "; do sleep 0.05; done; " + find_rank(2) + "echo $V >" + out + ".pid" +
                             "; T0=$(date +%s%N); kill -KILL $V; wait $MP; rc=$?; echo $(( ($(date +%s%N) - T0) / 1000000 )) >" +
                             out + ".ms; exit $rc";
  Result r = run("bash -c '" + script + "'", true, 60);
  const std::string text = slurp(out);
  EXPECT_NE(r.exit_code, 0) << text;
  EXPECT_LT(std::stoi("0" + slurp(out + ".ms")), 10000) << "ms from the kill to the job's end\n" << text;
  std::string pid = slurp(out + ".pid");
  pid = pid.substr(0, pid.find('\n'));
  ASSERT_FALSE(pid.empty()) << text;
  for (const char* rank : {"0", "1"}) {
    const std::string said = std::string("spmd: rank ") + rank + " stopped by mpirun at step ";
    const size_t at = text.find(said);
    ASSERT_NE(at, std::string::npos) << said << "\n" << text;
    EXPECT_NE(text.substr(at, text.find('\n', at) - at).find(": rank 2 (pid " + pid + ", on this host) was lost"),
              std::string::npos)
        << text;
  }
  // Each survivor exits 3 from its handler; mpirun kills the wrappers a second after its
  // SIGTERM, so not every one may get to say so, but those that do say 3.
  const std::string said = slurp(codes);
  EXPECT_TRUE(contains(said, "rank 0 exit 3") || contains(said, "rank 1 exit 3")) << said << text;
  EXPECT_FALSE(contains(said, "rank 0 exit") && !contains(said, "rank 0 exit 3")) << said;
  EXPECT_FALSE(contains(said, "rank 1 exit") && !contains(said, "rank 1 exit 3")) << said;
}

// A rank of another host is named with that host: here rank 2 runs in its own UTS
// namespace under the host name "node-b", so it shares no host name with its peers, as on
// a second machine. Killed, it is named by both survivors with its pid and host. Skipped
// where this user cannot make a namespace.
TEST(LostPeer, SurvivorsNameAKilledRankOfAnotherHostWithThatHost) {
  if (std::system("unshare --uts true >/dev/null 2>&1") != 0) GTEST_SKIP() << "unshare --uts is not permitted here";
  const std::string dir = scratch("elsewhere");
  fs::create_directories(dir);
  const std::string wrapper = dir + "/as-node-b.sh", out = dir + "/out";
  std::ofstream(wrapper) << "#!/bin/bash\n"
                            "[ \"$OMPI_COMM_WORLD_RANK\" = 2 ] && exec unshare --uts sh -c 'hostname node-b && exec \"$0\" \"$@\"' \"$@\"\n"
                            "exec \"$@\"\n";
  fs::permissions(wrapper, fs::perms::owner_all);
  const std::string line = std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 -np 3 " + wrapper +
                           " " + SPMD_BINARY + " run " + kGpt + " --strategy dp --steps 1000000 --log-every 1";
  const std::string script = line + " >" + out + " 2>&1 & MP=$!; until grep -q \"step     3\" " + out +
                             "; do sleep 0.05; done; for p in $(pgrep -P $MP); do [ \"$(readlink /proc/$p/ns/uts)\" != " +
                             "\"$(readlink /proc/self/ns/uts)\" ] && V=$p; done; echo $V >" + out + ".pid; kill -KILL $V; wait $MP";
  Result r = run("bash -c '" + script + "'", true, 60);
  const std::string text = slurp(out);
  EXPECT_NE(r.exit_code, 0) << text;
  std::string pid = slurp(out + ".pid");
  pid = pid.substr(0, pid.find('\n'));
  ASSERT_FALSE(pid.empty()) << text;
  for (const char* rank : {"0", "1"}) {
    const std::string said = std::string("spmd: rank ") + rank + " stopped by mpirun at step ";
    const size_t at = text.find(said);
    ASSERT_NE(at, std::string::npos) << said << "\n" << text;
    EXPECT_NE(text.substr(at, text.find('\n', at) - at).find(": rank 2 (pid " + pid + ", on host node-b) was lost"),
              std::string::npos)
        << text;
  }
}

// A rank stopped while the job sets up (its header printed, the model's params being
// initialised) ends the job at the deadline too, exit 3, named by the survivor. Without a deadline on setup's
// agreements rank 0 waited for it forever. The job has steps enough that it cannot end
// before the stop lands (a job that had ended would leave mpirun waiting on the stopped
// rank); where the stop lands in the first steps instead, the survivor says the same.
TEST(LostPeer, ARankStoppedDuringSetupFailsTheJobAtTheTimeout) {
  const std::string out = scratch("stopped-in-setup") + ".out";
  const std::string script = mpirun(2, "run gpt:d_model=1024 --steps 1000000 --log-every 1000000 --timeout 2") + " >" + out +
                             " 2>&1 & MP=$!; until grep -q \"^data: \" " + out + "; do sleep 0.05; done; " + find_rank(1) +
                             "echo $V >" + out + ".pid; kill -STOP $V; wait $MP; rc=$?; kill -KILL $V 2>/dev/null; exit $rc";
  const auto start = std::chrono::steady_clock::now();
  Result r = run("bash -c '" + script + "'", true, 90);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 3) << slurp(out);
  EXPECT_LT(seconds, 30) << slurp(out);
  const std::string text = slurp(out);
  // Where the stop lands inside MPI_Comm_split (the communicators' split has no nonblocking
  // form), rank 0's watchdog ends it at the deadline instead, naming the call, not the peer.
  if (text.find("spmd: MPI_Comm_split (mpi communicator, rank 0 of 2) did not finish within 2 s") != std::string::npos) {
    return;
  }
  EXPECT_NE(text.find("spmd: job failed on rank 0"), std::string::npos) << text;
  EXPECT_TRUE(text.find("did not") != std::string::npos || text.find("timed out") != std::string::npos) << text;
  std::string pid = slurp(out + ".pid");
  pid = pid.substr(0, pid.find('\n'));
  EXPECT_NE(survivor_line(text, 0).find("; rank 1 (pid " + pid + ", on this host) does not answer: stopped or hung"),
            std::string::npos)
      << text;
}

// A rank that starts late (here 30 s after the others) holds the others in MPI_Init, which
// has no deadline of its own: the watchdog ends them at the job's deadline, exit 3, and
// mpirun then ends the late one.
// The deadline of joining comes from SPMD_COLLECTIVE_TIMEOUT_S or from `--timeout`, which
// the command line gives before MPI starts.
TEST(LostPeer, ARankThatNeverStartsFailsTheJobAtTheDeadlineOfMpiInit) {
  for (const char* deadline : {"-x SPMD_COLLECTIVE_TIMEOUT_S=2 -np 2 bash -c '", "-np 2 bash -c '"}) {
    const std::string flag = std::string(deadline).find("-x") == std::string::npos ? " --timeout 2" : "";
    const std::string late = "if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then sleep 30; fi; exec " +
                             std::string(SPMD_BINARY) + " run mlp --steps 2" + flag;
    const std::string command = std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root " + deadline + late + "'";
    const auto start = std::chrono::steady_clock::now();
    Result r = run(command, true, 90);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_NE(r.exit_code, 0) << r.out << r.err;
    EXPECT_LT(seconds, 20) << flag << r.out << r.err;
    EXPECT_NE(r.err.find("spmd: MPI_Init (joining the job) did not finish within 2 s"), std::string::npos)
        << flag << r.err;
  }
}

// The floats of every value of the checkpoint at `dir` that rank 0 wrote (all of them for a
// job whose params are replicated), by name.
std::map<std::string, std::vector<float>> rank0_values(const std::string& dir) {
  nlohmann::json manifest = nlohmann::json::parse(slurp(dir + "/manifest.json"));
  std::string bytes = slurp(dir + "/rank-00000.bin");
  std::map<std::string, std::vector<float>> values;
  for (const auto& shard : manifest.at("files").at(0).at("shards")) {
    std::vector<float> v(shard.at("bytes").get<size_t>() / sizeof(float));
    std::memcpy(v.data(), bytes.data() + shard.at("offset").get<size_t>(), v.size() * sizeof(float));
    values[shard.at("value").get<std::string>()] = std::move(v);
  }
  return values;
}

// torchelastic's loop for MPI jobs: rank 2 of 4 (found by its environment) killed once
// step 12 is printed, the job
// restarts from its newest checkpoint on 3 ranks and finishes all 400 steps with an
// uninterrupted run's params. (400 steps: the kill must land before the end. An mlp under
// SGD: a gradient of nothing but rounding, which 1, 3 and 4 ranks sum in different orders,
// AdamW scales up to whole steps of the learning rate; under CI's load, where the ranks'
// collectives are chosen by what they measure, mlp's losses after 400 AdamW steps once
// differed by 1.8e-3.)
TEST(Restarts, AKilledRankRestartsFromTheLastCheckpointOnFewerRanks) {
  const std::string dir = scratch("restarts");
  fs::create_directories(dir);
  const std::string common =
      " run mlp:batch=48 --strategy dp --optimizer sgd --steps 400 --log-every 1 --checkpoint ";
  ASSERT_EQ(run(common + dir + "/straight --metrics " + dir + "/straight.jsonl").exit_code, 0);
  std::ofstream(dir + "/job.sh") << SPMD_BINARY << " launch -np 4 --map-by numa --oversubscribe "
      << "-x OMP_NUM_THREADS=1 --restarts 2 --min-ranks 3 -- spmd" << common << dir
      << "/ckpt --checkpoint-every 10 --metrics " << dir << "/restarted.jsonl > " << dir << "/out 2>&1 &\n"
      << "LP=$!\nuntil grep -q 'step    12' " << dir << "/out; do sleep 0.05; done\n"
      << "MP=$(pgrep -P $LP)\n" << find_rank(2) << "\nkill -KILL $V\nwait $LP\n";
  Result r = run("bash " + dir + "/job.sh", true, 120);
  const std::string out = slurp(dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << out;
  const std::string from = "restart 1 of 2 on 3 ranks from " + dir + "/ckpt/step-";
  const size_t at = out.find(from);
  ASSERT_NE(at, std::string::npos) << out;
  EXPECT_GE(std::stoi(out.substr(at + from.size(), 8)), 10) << "restarted before the first checkpoint after step 12\n" << out;
  EXPECT_NE(out.find(" was lost on node "), std::string::npos) << out;  // as mpirun reported it
  std::vector<double> straight = metrics_losses(dir + "/straight.jsonl"), restarted = metrics_losses(dir + "/restarted.jsonl");
  ASSERT_EQ(straight.size(), 400u);
  ASSERT_GE(restarted.size(), 10u);
  for (size_t i = 1; i <= restarted.size(); ++i) EXPECT_NEAR(restarted[restarted.size() - i], straight[400 - i], 1e-4);
  auto expected = rank0_values(dir + "/straight/step-00000400"), got = rank0_values(dir + "/ckpt/step-00000400");
  ASSERT_EQ(expected.size(), got.size());
  for (const auto& [name, values] : expected) {
    ASSERT_EQ(got[name].size(), values.size()) << name;
    for (size_t i = 0; i < values.size(); ++i) ASSERT_NEAR(got[name][i], values[i], 1e-4) << name << " " << i;
  }
}

const char* kSteep = "gpt:layers=1,d_model=24,heads=12,seq=8,vocab=32,batch=12 --lr 1e3 --steps 20";

TEST(NonFiniteLoss, StopsTheJobAndKeepsTheLastCheckpoint) {
  std::string root = scratch("nan");
  Result r = run(std::string("run ") + kSteep + " --checkpoint " + root + " --checkpoint-every 1");
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  // The first thing not finite: a param spoiled by its gradient, or the loss.
  EXPECT_TRUE(r.err.find("is no longer finite (its gradient was NaN or infinite)") != std::string::npos ||
              r.err.find("the loss is NaN") != std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(", training stopped; the last checkpoint, '" + root + "/step-"), std::string::npos) << r.err;
  EXPECT_EQ(run("checkpoint inspect " + root).exit_code, 0);
  // The checkpoint kept holds the last good step's params and state: all finite.
  const std::vector<std::string> kept = [&] {
    std::vector<std::string> dirs;
    for (const auto& entry : fs::directory_iterator(root)) dirs.push_back(entry.path().string());
    std::sort(dirs.begin(), dirs.end());
    return dirs;
  }();
  ASSERT_FALSE(kept.empty());
  const auto values = rank0_values(kept.back());
  ASSERT_FALSE(values.empty());
  for (const auto& [name, floats] : values) {
    for (float v : floats) ASSERT_TRUE(std::isfinite(v)) << name << " in " << kept.back();
  }
}

TEST(NonFiniteLoss, SkipsTheStepWhenAsked) {
  Result r = run(std::string("run ") + kSteep + " --on-nonfinite skip");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("loss not finite: skipped"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace spmd::testing
