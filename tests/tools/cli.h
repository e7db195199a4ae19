// Runs the spmd binary as a user would and captures what it prints.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace spmd::testing {

struct Result {
  int exit_code = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A directory for Open MPI's session directories of one run (see spmd_mpi_session in
// tests/CMakeLists.txt), new at each call: a singleton that exits at once leaves its daemon
// cleaning up for a moment, which must not meet the next run's. Short, since Open MPI's Unix
// sockets lie under it and their paths must fit in 108 bytes. Under one directory, spmd-mpi
// in the system's temporary one: removed when the process ends, and those of processes gone
// (whose daemons made them again after) when the next test process first asks.
inline std::string new_mpi_session_dir() {
  struct Sessions {
    std::filesystem::path root = std::filesystem::temp_directory_path() / "spmd-mpi";
    std::vector<std::string> paths;
    Sessions() {
      std::error_code ignored;
      std::filesystem::create_directories(root, ignored);
      for (const auto& entry : std::filesystem::directory_iterator(root, ignored)) {
        const pid_t pid = static_cast<pid_t>(std::atol(entry.path().filename().c_str()));
        if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) std::filesystem::remove_all(entry.path(), ignored);
      }
    }
    ~Sessions() {
      std::error_code ignored;
      for (const std::string& p : paths) std::filesystem::remove_all(p, ignored);
    }
  };
  static Sessions sessions;
  const std::string name = std::to_string(getpid()) + "." + std::to_string(sessions.paths.size());
  return sessions.paths.emplace_back((sessions.root / name).string());
}

// Runs `args` through the shell with the spmd binary's path in front (or, with `raw`, as
// given), with a time limit so that a hang fails the test instead of blocking it.
inline Result run(const std::string& args, bool raw = false, int timeout_s = 120) {
  // Per test and process: CTest runs the tests of this program in parallel processes.
  std::string dir = ::testing::TempDir() + ::testing::UnitTest::GetInstance()->current_test_info()->name() + "." +
                    std::to_string(getpid());
  std::string out = dir + ".out", err = dir + ".err";
  std::string cmd = "export OMPI_MCA_orte_tmpdir_base=" + new_mpi_session_dir() + "; timeout " + std::to_string(timeout_s) +
                    " " + (raw ? "" : std::string(SPMD_BINARY) + " ") + args + " >" + out + " 2>" + err;
  int status = std::system(cmd.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  return r;
}

// `args` for the spmd binary under mpirun on `ranks` ranks, one OpenMP thread each: run it
// with run(..., /*raw=*/true).
inline std::string mpirun(int ranks, const std::string& args) {
  return std::string(MPIEXEC) + " --oversubscribe --allow-run-as-root -x OMP_NUM_THREADS=1 -np " +
         std::to_string(ranks) + " " + SPMD_BINARY + " " + args;
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The "loss" of every record of a --metrics file, in order.
inline std::vector<double> metrics_losses(const std::string& path) {
  std::vector<double> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line).at("loss").get<double>());
  return out;
}

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace spmd::testing
