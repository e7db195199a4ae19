// A one-line progress bar redrawn in place while stdout is a terminal; silent otherwise, so
// logs and pipes get only the regular lines.
#pragma once

#include <cstdint>
#include <string>

namespace spmd::tools {

class ProgressBar {
 public:
  explicit ProgressBar(int64_t total);  // enabled when stdout is a terminal and total > 0
  void update(int64_t done, const std::string& status);
  void clear();  // erases the bar before a regular line is printed
  bool enabled() const { return enabled_; }

 private:
  int64_t total_;
  bool enabled_;
};

}  // namespace spmd::tools
