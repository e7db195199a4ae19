#include "runtime/metrics_file.h"

namespace spmd::runtime {

nlohmann::json metrics_record(const StepReport& r, const std::string& item) {
  nlohmann::json j = {{"step", r.step},
                      {"loss", r.loss},
                      {"step_time_s", r.step_time_s},
                      {item + "_per_s", r.items_per_s},
                      {"peak_bytes", r.peak_bytes}};
  if (r.predicted_step_time_s) j["predicted_step_time_s"] = *r.predicted_step_time_s;
  if (r.exposed_comm_s) j["exposed_comm_s"] = *r.exposed_comm_s;
  return j;
}

MetricsFile::MetricsFile(const std::string& path, std::string item) : item_(std::move(item)) {
  if (!path.empty()) file_ = std::make_unique<AtomicFile>(path, "metrics file");
}

void MetricsFile::write(const StepReport& r) {
  if (file_) file_->write(metrics_record(r, item_).dump() + "\n");
}

void MetricsFile::close() {
  if (file_) file_->commit();
  file_.reset();
}

}  // namespace spmd::runtime
