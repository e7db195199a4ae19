// What `spmd plan --auto` and `--predict` add to the plan report: the search (how many
// plans it simulated and how long it took), the chosen plan, the next best and every
// baseline with predicted step time, exposed communication and peak memory, and why the
// winner wins.
#pragma once

#include <string>

#include "partitioner/search.h"

namespace spmd::tools {

std::string search_report(const partitioner::SearchResult& result);

// One plan's prediction, for --predict, with the schedule it was costed with (its gathers'
// prefetch depth, its largest gradient bucket, 0 for none).
std::string prediction_report(const partitioner::Prediction& p, const partitioner::DeviceModel& device,
                              std::int64_t memory_limit, const partitioner::PlanSchedule& schedule,
                              bool gathers_params);

// "gathers 2 ahead, buckets up to 4 MiB" ("no param gathers, ..." for a program with none
// to prefetch): the schedule a plan is costed with.
std::string schedule_text(const partitioner::PlanSchedule& schedule, bool gathers_params);

}  // namespace spmd::tools
