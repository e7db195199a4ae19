// Files and directories a test writes, under gtest's TempDir and named by the process (ctest
// runs the tests of one program in parallel processes), removed when the process ends: a
// suite run leaves nothing behind it.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

namespace spmd::testing {

// TempDir()/NAME.PID, nothing there yet (an earlier run's removed), removed at exit with
// anything under it and every file beside it that it begins the name of (PATH.out,
// PATH.jsonl). O(1) beyond the removal.
inline std::string scratch_path(const std::string& name) {
  struct Paths {
    std::vector<std::string> paths;
    ~Paths() {
      std::error_code ignored;
      for (const std::string& p : paths) {
        const std::filesystem::path path(p);
        const std::string prefix = path.filename().string();
        for (const auto& entry : std::filesystem::directory_iterator(path.parent_path(), ignored)) {
          const std::string file = entry.path().filename().string();
          if (file == prefix || file.starts_with(prefix + ".")) std::filesystem::remove_all(entry.path(), ignored);
        }
      }
    }
  };
  static Paths made;
  std::string path = ::testing::TempDir() + name + "." + std::to_string(getpid());
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
  return made.paths.emplace_back(path);
}

}  // namespace spmd::testing
