// The simulator: plays one training step of a per-device program on a device model and a
// topology, with one compute stream and one communication stream (as a GPU runs kernels on
// one CUDA stream and NCCL on another). Ops run in program order on the compute stream, each
// once its operands are ready; a collective starts on the communication stream once its
// operand is ready and the stream is free, and the op using its result waits for it. The
// reward of the search (Automap, Schaarschmidt et al. 2021) and what `spmd plan` predicts.
#pragma once

#include <cstddef>
#include <vector>

#include "launcher/topology.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_model.h"
#include "partitioner/lower.h"

namespace spmd::partitioner {

struct Prediction {
  double step_time_s = 0;       // when the last op or collective of the step ends
  double compute_s = 0;         // busy time of the compute stream
  double comm_s = 0;            // busy time of the communication stream
  double exposed_comm_s = 0;    // the step's time that compute does not cover
  size_t peak_bytes = 0;        // per device: plan_program_memory's peak, the executor's
};

// The step of `program` (lowered on `mesh`), with its collectives costed by `costs` (for
// that mesh). Cost: one pass over the program plus its memory plan. A collective starts
// once the ops before it in program order have run (the runtime's main thread issues it
// there), its operand is ready and the communication stream is free, so where the schedule
// puts it matters (schedule.h). Without `overlap`, it also holds the compute stream (the
// runtime's `--no-overlap`, and device backends): what overlapping saves. On a device whose
// communication thread shares the main thread's core (DeviceModel::comm_shares_core), a
// collective is played only where its result is first read (through any view), or at the
// step's end, and holds the core: the thread runs only while the main thread waits. Its
// wait for its peers (and their turns on shared PUs) is that of the stretch up to its issue.
// `launches`, when given, receives every op's and collective's start and duration (sources
// and views take no time and are left out), for a trace (runtime/predicted_timeline.h).
struct SimulatedLaunch {
  ir::ValueId node;
  bool communication = false;  // on the communication stream
  double start_s = 0, duration_s = 0;
};
Prediction simulate(const Program& program, const DeviceModel& device, CollectiveCosts& costs, bool overlap = true,
                    std::vector<SimulatedLaunch>* launches = nullptr);

// The same without the peak (peak_bytes left 0): one pass over the program. The memory
// plan is the larger part of a simulation's cost, and a tuner needs the peak only of a
// choice that would win; on a device whose memory rate depends on the data in play
// (DeviceModel::bytes_by_size, measured) it is planned still, for the distances at which
// each op finds its buffers (reuse_distance.h).
Prediction simulate_time(const Program& program, const DeviceModel& device, CollectiveCosts& costs,
                         bool overlap = true, std::vector<SimulatedLaunch>* launches = nullptr);

// The same with a fresh CollectiveCosts on `topology`.
Prediction simulate(const Program& program, const Mesh& mesh, const launcher::Topology& topology,
                    const DeviceModel& device);

}  // namespace spmd::partitioner
