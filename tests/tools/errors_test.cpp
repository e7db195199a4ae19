// Bad input as a hostile user gives it: each case one line on stderr that says what and
// where, the documented exit code (2 a user's mistake, 3 a failure of the job), never an
// internal error, a crash or a hang, and no file left half-written.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/tools/cli.h"
#include "tests/support/scratch.h"

namespace spmd::testing {
namespace {

const std::string kTiny = "mlp:layers=1,hidden=8,batch=4,features=4,classes=3";

void expect_exit(const std::string& args, int code, const std::string& message) {
  Result r = run(args);
  EXPECT_EQ(r.exit_code, code) << args << "\n" << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << args << "\n" << r.err;
  EXPECT_NE(r.err.find(message), std::string::npos) << args << "\n" << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << args << "\n" << r.err;
}

std::string temp_path(const std::string& name) { return scratch_path(name); }

std::string write_temp(const std::string& name, const std::string& text) {
  std::string path = temp_path(name);
  std::ofstream(path) << text;
  return path;
}

TEST(BadInput, BadInputOnOneRankAloneEndsTheJobWithTheUsersCode) {
  // Only the second rank is given a missing profile. It waits a moment at parting for the
  // others, gives up, and aborts with 2: the barrier it left pending is not freed (Open MPI
  // fails MPI_Request_free on a nonblocking collective's request, fatally, with exit 7).
  const std::string args = "run " + kTiny + " --steps 2 --strategy dp --timeout 10";
  const std::string job = std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 -np 1 " +
                          SPMD_BINARY + " " + args + " : -np 1 " + SPMD_BINARY + " " + args +
                          " --profile /nonexistent/profile.json";
  Result r = run(job, /*raw=*/true);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "profile '/nonexistent/profile.json' does not exist")) << r.err;
  EXPECT_FALSE(contains(r.err, "MPI_ERR_REQUEST")) << r.err;
}

// Bad input every rank finds (a flag, a file) is said once, by rank 0, and the ranks leave
// MPI as a job that ends does: no MPI_Abort, whose banner from Open MPI ran over ten lines.
TEST(BadInput, BadInputEveryRankFindsIsSaidOnceWithoutAnAbort) {
  const auto times = [](const std::string& text, const std::string& part) {
    int n = 0;
    for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
  };
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"run " + kTiny + " --steps 2 --tactics /nonexistent/tactics.json",
            "spmd: error: /nonexistent/tactics.json: tactics file '/nonexistent/tactics.json' does not exist"},
           {"run " + kTiny + " --steps two", "spmd: error: --steps: must be a whole number from 1 to 9007199254740992, got 'two'"}}) {
    Result r = run(mpirun(3, args), /*raw=*/true);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_EQ(times(r.err, says), 1) << args << "\n" << r.err;
    EXPECT_FALSE(contains(r.err, "MPI_ABORT")) << args << "\n" << r.err;
  }
}

// An MPMD launch that gives one rank other flags: each difference is named at bind, on
// every rank, before any collective of the job (another optimizer hung in the first
// broadcast of parameters until the deadline).
TEST(BadInput, RanksAskedToRunDifferentJobsAreRefused) {
  const std::string args = "run " + kTiny + " --steps 2 --strategy dp --timeout 10";
  const auto launch = [&](const std::string& first, const std::string& second) {
    return run(std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 -np 1 " +
                   SPMD_BINARY + " " + first + " : -np 1 " + SPMD_BINARY + " " + second,
               /*raw=*/true);
  };
  for (const auto& [extra, what] : std::vector<std::pair<std::string, std::string>>{
           {" --optimizer sgd", "training step (model, optimizer)"}, {" --seed 7", "seed"}, {" --lr 0.01", "learning rate"}}) {
    Result r = launch(args, args + extra);
    EXPECT_EQ(r.exit_code, 2) << extra << "\n" << r.err;
    EXPECT_TRUE(contains(r.err, "rank 1 was asked to run another job than rank 0: its " + what + " differs")) << r.err;
  }
  Result r = launch(args, "run " + kTiny + " --steps 2 --strategy megatron --timeout 10");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "its partitioning differs")) << r.err;
  EXPECT_EQ(launch(args, args).exit_code, 0);
}

// A --data file whose contents differ between ranks (a stale copy on one host) would train
// on other tokens there with no error: refused at bind, on every rank.
TEST(BadInput, RanksGivenDifferentDataAreRefused) {
  const std::string text(4096, 'a');
  const std::string one = write_temp("data-one.txt", text), other = write_temp("data-other.txt", text + "b");
  const std::string same = write_temp("data-same.txt", text);
  const std::string args = "run gpt:layers=1,d_model=16,heads=2,seq=8,vocab=256,batch=4 --steps 2 --strategy dp "
                           "--timeout 10 --data ";
  const auto launch = [&](const std::string& first, const std::string& second) {
    return run(std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 -np 1 " +
                   SPMD_BINARY + " " + args + first + " : -np 1 " + SPMD_BINARY + " " + args + second,
               /*raw=*/true);
  };
  Result r = launch(one, other);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "rank 1 was asked to run another job than rank 0: its data (the corpus's checksum) differs"))
      << r.err;
  // The contents decide, not the path.
  Result ok = launch(one, same);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST(BadInput, APlanTheTopologyCannotHoldWritesNoFile) {
  const std::string path = temp_path("unplaced.json");
  std::filesystem::remove(path);
  const std::string args = "plan " + kTiny + " --ranks 4 --topology 'synthetic:package:2 core:2' --strategy dp --json " + path;
  Result r = run(args);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "the mesh {data: 4} has 4 devices, the topology 1")) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(BadInput, AProfileThatCannotBeWrittenFailsBeforeMeasuring) {
  expect_exit("profile --max-bytes 16KiB --out /proc/spmd/profile.json", 2,
              "cannot write profile file '/proc/spmd/profile.json': No such file or directory");
  expect_exit("profile --max-bytes 16KiB --out " + ::testing::TempDir(), 2, "is a directory");
  expect_exit("profile --max-bytes 16KiB --out ''", 2, "--out: the profile's path is empty");
}

TEST(BadInput, NotANumberLearningRateIsRejected) {
  expect_exit("run " + kTiny + " --steps 1 --lr nan", 2, "--lr: learning rate nan is not a positive finite number");
  expect_exit("run " + kTiny + " --steps 1 --lr -0.1", 2, "--lr: learning rate");
}

TEST(BadInput, IrAttributesOutOfRangeAreRejectedWhereTheyAre) {
  std::string nan_std = write_temp("nan_std.ir", "spmd-ir 1\n%w = param {init=\"normal\", std=nan} : f32[2,3]\n");
  expect_exit("run " + nan_std, 2, nan_std + ":2:12: attribute std = nan");
  std::string negative = write_temp("neg_std.ir", "spmd-ir 1\n%w = param {init=\"normal\", std=-1} : f32[2,3]\n");
  expect_exit("run " + negative, 2, "attribute std = -1: must be a finite number >= 0");
  std::string meta = write_temp("meta_lr.ir", "spmd-ir 1\nmeta {lr=nan}\n");
  expect_exit("run " + meta, 2, "attribute lr = nan");
}

TEST(BadInput, AProgramThatCannotTrainIsNamed) {
  std::string no_loss = write_temp("no_loss.ir", "spmd-ir 1\n%w = param {init=\"zeros\"} : f32[2]\n");
  expect_exit("run " + no_loss + " --steps 1", 2, no_loss + ": graph has no output named 'loss'");
  // A training step from elsewhere (with its updates) is held to the same: plan refuses it
  // as run does. Each case is the tiny model's own step with one line changed.
  Result ir = run("ir " + kTiny);
  ASSERT_EQ(ir.exit_code, 0) << ir.err;
  const auto changed = [&](const std::string& name, const std::string& from, const std::string& to) {
    std::string text = ir.out;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return write_temp(name, text.replace(at, from.size(), to));
  };
  const std::string bogus = changed("bogus_init.ir", "init=\"zeros\"", "init=\"bogus\"");
  expect_exit("plan " + bogus, 2, bogus + ": %layer0.b: unknown init 'bogus' (expected normal, zeros or ones)");
  const std::string huge = changed("huge_std.ir", "std=0.5", "std=1e300");
  expect_exit("plan " + huge, 2, "attribute std = 1.0000000000000001e+300: beyond the largest f32");
  const std::string no_number = changed("lr_text.ir", "lr=0.001", "lr=\"x\"");
  expect_exit("plan " + no_number, 2, no_number + ": attribute 'lr' must be a number");
}

// A loss of a whole batch (the cross-entropy before its mean) is no loss to report.
TEST(BadInput, ALossThatIsNotOneNumberIsRefused) {
  Result ir = run("ir " + kTiny);
  ASSERT_EQ(ir.exit_code, 0) << ir.err;
  std::string text = ir.out;
  const size_t at = text.find("output loss = ");
  ASSERT_NE(at, std::string::npos) << text;
  const size_t end = text.find('\n', at);
  // The loss is the mean of the cross-entropy defined just before it.
  const size_t ce = text.find(" = cross_entropy ");
  ASSERT_NE(ce, std::string::npos) << text;
  const std::string ce_value = text.substr(text.rfind('%', ce), ce - text.rfind('%', ce));
  const std::string path = write_temp("batch_loss.ir", text.replace(at, end - at, "output loss = " + ce_value));
  expect_exit("plan " + path, 2, path + ": the output 'loss' is f32[4]: a training step's loss is one f32");
  expect_exit("run " + path + " --steps 1", 2, "a training step's loss is one f32");
}

// An IR file from elsewhere whose inputs are not those its task feeds: the file is named.
TEST(BadInput, AnInputTheDataCannotFeedNamesTheFile) {
  Result ir = run("ir " + kTiny);
  ASSERT_EQ(ir.exit_code, 0) << ir.err;
  std::string text = ir.out;
  const std::string features = "feed=\"features\"";
  text.replace(text.find(features), features.size(), "feed=\"pixels\"");
  std::string path = write_temp("pixels.ir", text);
  expect_exit("run " + path + " --steps 1", 2, path + ": the model has no input fed 'features'");
}

TEST(BadInput, AnUpdateGivenTwiceIsRejected) {
  std::string twice = write_temp("twice.ir",
                                 "spmd-ir 1\n%w = param {init=\"zeros\"} : f32[2]\n%v = neg %w : f32[2]\n"
                                 "update %w = %v\nupdate %w = %v\n");
  expect_exit("run " + twice, 2, "is updated twice");
}

TEST(BadInput, SeedOutsideSixtyFourBitsIsRejected) {
  expect_exit("run " + kTiny + " --steps 1 --seed -1", 2, "--seed: '-1' is not an integer from 0 to 18446744073709551615");
  expect_exit("run " + kTiny + " --steps 1 --seed 18446744073709551616", 2, "--seed:");
  EXPECT_EQ(run("run " + kTiny + " --steps 1 --seed 18446744073709551615").exit_code, 0);
  // The search's seed alike: it was wrapped (-1) or clamped (2^64) without a word.
  expect_exit("plan " + kTiny + " --auto --ranks 2 --seed-search -1", 2,
              "--seed-search: '-1' is not an integer from 0 to 18446744073709551615");
  expect_exit("plan " + kTiny + " --auto --ranks 2 --seed-search 18446744073709551616", 2, "--seed-search:");
  expect_exit("plan " + kTiny + " --auto --ranks 2 --seed-search ''", 2, "--seed-search:");
}

TEST(BadInput, ModelTooLargeForMemorySaysTheBytesNeeded) {
  expect_exit("run gpt:vocab=99999999999 --steps 1", 2, "the program needs");
  expect_exit("run gpt:d_model=99999996,heads=4 --steps 1", 2, "the program needs");
}

TEST(BadInput, TooManyNodesIsAnErrorNotAnAllocationFailure) {
  expect_exit("topo --topology synthetic:core:2 --nodes 16777216", 2, "devices a topology may have");
}

TEST(BadInput, DirectoriesAndFifosGivenAsFilesAreNamed) {
  std::string dir = ::testing::TempDir();
  expect_exit("run " + kTiny + " --steps 1 --plan " + dir, 2, "plan file '" + dir + "' is a directory");
  expect_exit("run " + kTiny + " --steps 1 --tactics " + dir, 2, "tactics file '" + dir + "' is a directory");
  expect_exit("run gpt --steps 1 --data " + dir, 2, "--data: data file '" + dir + "' is a directory");
  std::string fifo = temp_path("fifo");
  unlink(fifo.c_str());  // left by an earlier process of the same pid
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_exit("run gpt --steps 1 --data " + fifo, 2, "is not a regular file");
  expect_exit("topo --topology " + dir, 2, "topology file '" + dir + "' is a directory");
  expect_exit("topo --topology " + fifo, 2, "topology file '" + fifo + "' is not a regular file");
  unlink(fifo.c_str());
}

// A read that fails midway (EIO: /proc/self/mem has nothing at offset 0) is the file's
// fault, named, not an internal error (libstdc++'s filebuf throws its own exception).
TEST(BadInput, AFileWhoseReadFailsIsNamed) {
  expect_exit("plan " + kTiny + " --profile /proc/self/mem", 2, "profile '/proc/self/mem' cannot be read: Input/output error");
  expect_exit("run /proc/self/mem --steps 1", 2, "IR file '/proc/self/mem' cannot be read: Input/output error");
  expect_exit("run gpt --steps 1 --data /proc/self/mem", 2, "data file '/proc/self/mem' cannot be read");
}

TEST(BadInput, MetricsThatCannotBeWrittenFailTheJob) {
  expect_exit("run " + kTiny + " --steps 2 --metrics /dev/full", 3, "writing metrics file '/dev/full' failed");
  expect_exit("run " + kTiny + " --steps 1 --metrics /nonexistent/dir/m.jsonl", 2, "cannot write metrics file '/nonexistent/dir/m.jsonl'");
}

TEST(BadInput, AFailedRunLeavesThePreviousMetricsWhole) {
  std::string path = write_temp("kept.jsonl", "previous\n");
  Result r = run("run " + kTiny + " --steps 1 --lr 0.1 --seed 1 --metrics " + path + " --plan /nonexistent.json");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(slurp(path), "previous\n");
}

TEST(BadInput, RangeErrorsAreOneShortLine) {
  Result r = run("run " + kTiny + " --steps 0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("must be a whole number from 1 to 9007199254740992, got '0'"), std::string::npos) << r.err;
  EXPECT_LT(r.err.size(), 200u) << r.err;
}

// A link's figures past any machine's predicted 1 MiB all-reduces at 31-digit numbers.
TEST(BadInput, NetworkFiguresPastAnyMachinesAreRefused) {
  const std::string collective = "collective all_reduce --bytes 1MiB --topology 'synthetic:package:2 core:2' --nodes 2 ";
  expect_exit(collective + "--network-gbps 1e-300", 2, "--network-gbps: must be a number from 1e-06 to 1e+09, got '1e-300'");
  expect_exit(collective + "--network-latency-us 1e300", 2, "--network-latency-us: must be a number from 0 to 1e+09");
  EXPECT_EQ(run(collective + "--network-latency-us 0").exit_code, 0);
}

// A count is a decimal whole number: CLI11 alone would read 010 as octal 8 and clamp a count
// past int64 to its largest value.
TEST(BadInput, CountsAreDecimalWholeNumbersThatFit) {
  for (const char* steps : {"010", "0x10", "99999999999999999999", "1.5", "1e3", " 3"}) {
    expect_exit("run " + kTiny + " --steps '" + steps + "'", 2,
                std::string("--steps: must be a whole number from 1 to 9007199254740992, got '") + steps + "'");
  }
  expect_exit("plan " + kTiny + " --ranks 0", 2, "--ranks: must be a whole number from 1 to 16777216, got '0'");
  expect_exit("topo --topology 'synthetic:core:2' --nodes 08", 2, "--nodes: must be a whole number from 1 to 16777216");
}

// What the parser refuses reads like every other error: one line, "spmd: error:", and
// where to read more.
TEST(BadInput, ParserErrorsAreOneLineSayingWhereToReadMore) {
  expect_exit("run " + kTiny + " --steps -3", 2, "spmd: error: --steps: must be a whole number from 1 to 9007199254740992, got '-3'");
  expect_exit("run " + kTiny + " --steps -3", 2, "(spmd run --help)");
  expect_exit("run " + kTiny + " --stesp 3", 2, "spmd: error: The following arguments were not expected: 3 --stesp");
  expect_exit("bogus", 2, "spmd: error: unknown command 'bogus' (spmd --help lists them)");
  expect_exit("launch -np 2 --restarts -1 -- spmd run mlp", 2, "must be a whole number from 0 to 1048576, got '-1'");
  EXPECT_EQ(run("run --help").exit_code, 0);
}

// A deadline past what the clock can add (or an infinite one) would end every wait at once.
TEST(BadInput, ATimeoutBeyondTheClocksReachIsRefused) {
  for (const char* timeout : {"inf", "1e10", "nan", "0", "1e-9"}) {  // 1e-9: shorter than MPI_Init
    expect_exit("run " + kTiny + " --steps 1 --timeout " + timeout, 2, "--timeout: must be a number of seconds from 0.1 to 1000000");
  }
  expect_exit("ir " + kTiny + " --timeout 10", 2, "spmd: error: The following argument");
}

// Sizes are whole bytes, from one to an exbibyte: 0.5 is no memory limit, 1e300TiB no size.
TEST(BadInput, SizesBelowAByteOrBeyondAnyMemoryAreRefused) {
  expect_exit("plan " + kTiny + " --ranks 2 --auto --memory-limit 0.5", 2, "--memory-limit '0.5' is less than a byte");
  expect_exit("plan " + kTiny + " --ranks 2 --auto --memory-limit 1e20", 2, "--memory-limit '1e20' is more than an exbibyte");
  expect_exit("collective allreduce --bytes 1e300TiB --topology synthetic:core:2", 2, "--bytes '1e300TiB' is more than an exbibyte");
}

// A learning rate that f32 cannot hold would make the first update infinite.
TEST(BadInput, ALearningRateBeyondFloat32IsRefused) {
  expect_exit("run " + kTiny + " --steps 1 --lr 1e39", 2, "--lr: learning rate 1e+39 is beyond the largest f32");
  expect_exit("run " + kTiny + " --steps 1 --lr 1e39", 2, "is beyond the largest f32");
}

// hwloc builds a synthetic topology in time growing with the cube of its processing units.
TEST(BadInput, AHugeSyntheticTopologyIsRefusedAtOnce) {
  expect_exit("topo --topology synthetic:core:100000", 2,
              "synthetic topology 'core:100000' has 100000 processing units, over the 4096");
  expect_exit("plan " + kTiny + " --ranks 100000 --strategy dp", 2, "has 100000 processing units");
}

// Where no plan lowers at all (a batch of 4 rows over 3 ranks), the reason is given.
TEST(BadInput, ASearchWhereNothingLowersSaysWhy) {
  expect_exit("plan " + kTiny + " --ranks 3 --auto", 2,
              "no plan of the search space lowers for this model (data=3: tactic 1 (input:features dim 0 -> data): "
              "axis 'data' of size 3 cannot split dimension 0 of %features f32[4,4])");
}

// A plan file is checked against what it can mean: a param is initialised whole, so it is no
// partial sum, and a mesh size is a whole number that fits.
TEST(BadInput, PlanFilesThatCannotHoldAreRefused) {
  std::string plan = temp_path("partial_plan.json");
  ASSERT_EQ(run("plan " + kTiny + " --ranks 1 --strategy dp --json " + plan).exit_code, 0);
  nlohmann::json j = nlohmann::json::parse(slurp(plan));
  j["values"][2]["partial"] = {"data"};
  std::ofstream(plan) << j.dump();
  expect_exit("run " + kTiny + " --steps 1 --plan " + plan, 2, "%layer0.w is a param: it cannot be partial over 'data'");
  j["values"][2]["partial"] = nlohmann::json::array();
  j["mesh"][0]["size"] = 4294967298;
  std::ofstream(plan) << j.dump();
  expect_exit("run " + kTiny + " --steps 1 --plan " + plan, 2, "the size of mesh axis 'data' must be a whole number from 1 to 16777216, got 4294967298");
}

// A count in a tactics file is read whole: 4294967296 is not dimension 0.
TEST(BadInput, WholeNumbersInTacticsAreNotWrapped) {
  std::string tactics = write_temp("wrap.json",
                                   R"({"mesh": {"data": 1}, "tactics": [{"values": "param:*", "dim": 4294967296, "axis": "data"}]})");
  expect_exit("run " + kTiny + " --steps 1 --tactics " + tactics, 2,
              "dim must be a whole number from 0 to 2147483647, got 4294967296");
}

TEST(BadInput, UnknownKeysInTacticsAndPlansAreNamed) {
  std::string tactics = write_temp("typo.json",
                                   R"({"mesh": {"data": 1}, "tactics": [{"values": "param:*", "dim": 0, "axis": "data", "scop": "optimizer"}]})");
  expect_exit("run " + kTiny + " --steps 1 --tactics " + tactics, 2, "unknown key 'scop'");
  std::string plan = temp_path("plan.json");
  ASSERT_EQ(run("plan " + kTiny + " --ranks 1 --strategy dp --json " + plan).exit_code, 0);
  std::string text = slurp(plan);
  text.insert(text.find('{') + 1, "\"predicted_typo\": 1,");
  std::ofstream(plan) << text;
  expect_exit("run " + kTiny + " --steps 1 --plan " + plan, 2, "unknown key 'predicted_typo'");
}

}  // namespace
}  // namespace spmd::testing
