#include "runtime/job.h"

#include "collectives/mpi/mpi_communicator.h"
#include "common/error.h"
#include "runtime/threads.h"

namespace spmd::runtime {
namespace {

// The global batch rows of the program's data inputs (the first dimension of the first
// input with one), for a callback's throughput.
int64_t global_batch(const ir::Graph& g) {
  for (ir::ValueId v : g.nodes_with_op("input")) {
    const ir::Node& n = g.node(v);
    ir::Shape shape = n.attrs.has("global") ? n.attrs.ints("global") : n.type.shape;
    if (!shape.empty()) return shape[0];
  }
  return 1;
}

}  // namespace

Job::Job(JobDescription description)
    : description_(std::move(description)), graph_(load_training_step(description_.program)) {}

Job::~Job() = default;
Job::Job(Job&&) noexcept = default;
Job& Job::operator=(Job&&) noexcept = default;

void Job::bind(JobBinding binding) {
  if (bound()) throw Error("the job is bound already");
  world_ = binding.world;
  const int devices = world_ ? world_->size() : 1;
  partitioned_ = devices > 1 || description_.partitioning.any();
  if (binding.topology) {
    topology_ = std::make_unique<launcher::Topology>(std::move(*binding.topology));
  } else if (devices > 1) {
    topology_ = std::make_unique<launcher::Topology>(launcher::discover_job(world_->comm()));
  }
  plan_ = partitioner::choose_plan(description_.partitioning, graph_, devices, topology_.get());
  if (partitioned_) program_ = partitioner::lower(graph_, *plan_);
  if (world_) comm_ = std::make_unique<collectives::MpiCommunicator>(world_->comm());
  if (binding.threads > 0) {
    kernels::set_cpu_threads(binding.threads);
  } else if (topology_) {
    share_cores(*topology_, rank());
  }
  backend_ = kernels::make_cpu_backend();
  const ir::Graph& runs = program_ ? program_->graph : graph_;
  trainer_ = std::make_unique<Trainer>(runs, *backend_, description_.seed, description_.program.lr,
                                       partitioned_ ? comm_.get() : nullptr, topology_.get(),
                                       make_data());
}

std::unique_ptr<DataSource> Job::make_data() const {
  if (!description_.data) return nullptr;
  return make_callback_source(description_.data, global_batch(program_ ? program_->graph : graph_),
                              description_.data_item);
}

StepReport Job::step() { return trainer().step(); }

void Job::train(int64_t steps, const std::function<void(const StepReport&)>& on_step) {
  for (int64_t s = 0; s < steps; ++s) {
    StepReport r = step();
    if (on_step) on_step(r);
  }
}

const partitioner::Plan& Job::plan() const {
  if (!plan_) throw Error("the job has no plan before bind()");
  return *plan_;
}

const partitioner::Program& Job::program() const {
  if (!program_) throw Error("the job runs unpartitioned: it has no per-device program");
  return *program_;
}

std::string Job::plan_source() const { return description_.partitioning.describe(ranks()); }

int Job::rank() const { return world_ ? world_->rank() : 0; }
int Job::ranks() const { return world_ ? world_->size() : 1; }

Trainer& Job::trainer() {
  if (!trainer_) throw Error("the job is not bound: call bind() before running it");
  return *trainer_;
}

const Trainer& Job::trainer() const {
  if (!trainer_) throw Error("the job is not bound: call bind() before running it");
  return *trainer_;
}

std::vector<uint64_t> Job::peak_bytes_per_rank() const {
  uint64_t mine = trainer().executor().peak_bytes();
  return world_ ? world_->all_gather(mine) : std::vector<uint64_t>{mine};
}

std::vector<float> Job::value(const std::string& name) {
  Executor& ex = trainer().executor();
  auto v = ex.graph().find(name);
  if (!v || (ex.graph().node(*v).op != "param" && ex.graph().node(*v).op != "state")) {
    throw Error("the job has no param or state named '" + name + "'");
  }
  return ex.global_value(*v);
}

}  // namespace spmd::runtime
