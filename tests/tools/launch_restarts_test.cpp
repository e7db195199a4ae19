// `spmd launch --restarts` counts the steps a restarted job has left from the step its
// command ends at: for a command that itself resumes, the checkpoint it resumed from plus
// its --steps. A stand-in job (a script failing once, then printing its arguments) shows
// the restarted command without killing anything.
#include <filesystem>
#include <fstream>

#include "tests/tools/cli.h"
#include "tests/support/scratch.h"

namespace spmd::testing {
namespace {
namespace fs = std::filesystem;

const char* kGpt = "gpt:layers=1,d_model=24,heads=12,seq=8,vocab=32,batch=12";

std::string scratch(const std::string& name) {
  std::string dir = scratch_path("restarts." + name);
  fs::create_directories(dir);
  return dir;
}

// A job run with `--steps 5 --resume FIRST` (FIRST at step 10) that saved step 12 into
// SAVED before failing goes on from step 12 for 3 steps, to end at step 15.
TEST(Restarts, AResumingJobRestartsForTheStepsItHasLeft) {
  const std::string dir = scratch("resuming");
  ASSERT_EQ(run(std::string("run ") + kGpt + " --steps 10 --checkpoint " + dir + "/first").exit_code, 0);
  ASSERT_EQ(run(std::string("run ") + kGpt + " --steps 2 --resume " + dir + "/first --checkpoint " + dir +
                "/saved --checkpoint-every 2")
                .exit_code,
            0);
  std::ofstream(dir + "/job.sh") << "if [ -e " << dir << "/failed ]; then echo \"job: $*\"; else touch "
                                 << dir << "/failed; exit 1; fi\n";
  Result r = run("launch -np 1 --oversubscribe --restarts 1 -- bash " + dir + "/job.sh --steps 5 --resume " +
                 dir + "/first --checkpoint " + dir + "/saved");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("restart 1 of 1 on 1 ranks from " + dir + "/saved/step-00000012"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("job: --checkpoint " + dir + "/saved --steps 3 --resume " + dir + "/saved"),
            std::string::npos)
      << r.out;
}

// Without --resume the count starts at 0: --steps 20 with step 12 saved leaves 8.
TEST(Restarts, AFreshJobRestartsForTheStepsItHasLeft) {
  const std::string dir = scratch("fresh");
  ASSERT_EQ(run(std::string("run ") + kGpt + " --steps 12 --checkpoint " + dir + "/saved").exit_code, 0);
  std::ofstream(dir + "/job.sh") << "if [ -e " << dir << "/failed ]; then echo \"job: $*\"; else touch "
                                 << dir << "/failed; exit 1; fi\n";
  Result r = run("launch -np 1 --oversubscribe --restarts 1 -- bash " + dir +
                 "/job.sh --steps 20 --checkpoint " + dir + "/saved");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("job: --checkpoint " + dir + "/saved --steps 8 --resume " + dir + "/saved"),
            std::string::npos)
      << r.out;
}

// A rank killed by a signal: mpirun reports it, and the restart line names the rank, its
// node and the signal (mpirun's own report still reaches standard error).
TEST(Restarts, TheRestartNamesTheRankMpirunReportsLost) {
  const std::string dir = scratch("lost");
  std::ofstream(dir + "/job.sh") << "if [ -e " << dir << "/failed ]; then echo \"job: $*\"; else touch "
                                 << dir << "/failed; sleep 0.5; kill -KILL $$; fi\n";  // killed while running, as a lost rank is
  Result r = run("launch -np 1 --oversubscribe --restarts 1 -- bash " + dir + "/job.sh");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("): rank 0 was lost on node "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" (signal 9 (Killed)); restart 1 of 1"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("noticed that process rank 0 with PID"), std::string::npos) << r.err;
}

// A user's mistake (exit 2) fails every attempt the same way: it is not restarted.
TEST(Restarts, AUsersMistakeIsNotRestarted) {
  const std::string dir = scratch("mistake");
  std::ofstream(dir + "/job.sh") << "echo attempt >> " << dir << "/attempts; exit 2\n";
  Result r = run("launch -np 1 --oversubscribe --restarts 3 -- bash " + dir + "/job.sh");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out.find("restart 1 of 3"), std::string::npos) << r.out;
  std::ifstream attempts(dir + "/attempts");
  std::string line;
  int count = 0;
  while (std::getline(attempts, line)) ++count;
  EXPECT_EQ(count, 1);
}

// The job's step count is read to count the steps a restart has left: one that is no
// number is named before anything runs.
TEST(Restarts, AJobsStepCountThatIsNoNumberIsNamed) {
  Result r = run("launch -np 1 --oversubscribe --restarts 1 -- spmd run mlp --steps abc --checkpoint " +
                 scratch("nonumber") + "/saved");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("spmd launch: the job's --steps 'abc' is not a whole number of steps"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace spmd::testing
