// Per-step metrics as JSON Lines, one object per step: step, loss, step_time_s,
// <item>_per_s (tokens_per_s or samples_per_s) and peak_bytes, and where the step has them
// predicted_step_time_s and exposed_comm_s (StepReport). Written under a temporary
// name and moved into place by close(), so a reader never sees a torn file.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/files.h"
#include "runtime/trainer.h"

namespace spmd::runtime {

// One step's record.
nlohmann::json metrics_record(const StepReport& r, const std::string& item);

class MetricsFile {
 public:
  // An empty path writes nothing. Throws spmd::Error when the file cannot be created.
  MetricsFile(const std::string& path, std::string item);
  // Appends a step's record. Throws spmd::JobFailure on a write error (a full disk).
  void write(const StepReport& r);
  // Moves the file into place. Throws spmd::JobFailure on failure.
  void close();

 private:
  std::unique_ptr<AtomicFile> file_;
  std::string item_;
};

}  // namespace spmd::runtime
