#include "tools/progress.h"

#include <unistd.h>

#include <cstdio>

namespace spmd::tools {

ProgressBar::ProgressBar(int64_t total) : total_(total), enabled_(total > 0 && isatty(STDOUT_FILENO) == 1) {}

void ProgressBar::update(int64_t done, const std::string& status) {
  if (!enabled_) return;
  constexpr int kWidth = 30;
  int filled = total_ > 0 ? static_cast<int>(kWidth * done / total_) : kWidth;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::printf("\r\033[K[%s] %lld/%lld %s", bar.c_str(), static_cast<long long>(done),
              static_cast<long long>(total_), status.c_str());
  std::fflush(stdout);
}

void ProgressBar::clear() {
  if (!enabled_) return;
  std::printf("\r\033[K");
  std::fflush(stdout);
}

}  // namespace spmd::tools
