// Internal to the profile's kernel measurements (profile_kernels.cpp, program_ops.cpp): how
// a kernel is timed. Briefly (time_in_rounds: rounds over several calls, the median kept)
// or sustained (sustained_in_rounds: stretches of a set wall time, the slowest left out), on
// operands in a core's cache or beyond the last-level cache (KernelRuns over ColdMemory's
// copies), each figure the time of the work beyond a kernel's fixed cost where asked (beyond).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "kernels/backend.h"
#include "runtime/profile_kernels.h"
#include "runtime/profile_text.h"

namespace spmd::runtime {

// Brief timing: the median of 7 runs after a warm-up, for a measurement of a few
// milliseconds in all that one slow run (a page fault, another thread's time slice) must
// not move. Each run is a batch of calls of about 20 us: a kernel of 1-2 us timed alone is
// mostly its fixed cost and the clock's jitter, and the rate beyond that cost of a 32^3
// matmul, timed so, varied 2x from one bind to the next.
constexpr double kBrief = 0, kBriefRunS = 20e-6;

// Seconds per call of each of `calls`, briefly: 7 rounds over all of them, the median
// round of each kept. Several are taken in turn, each batch after one untimed call (which
// brings its operands back into the caches the others' runs took them from): a burst of
// interference of a few ms then slows one round of every call, where timed one after the
// other it slowed most runs of one (at bind, a 128^3 matmul timed 2.3x its rate once in
// six binds on one of two ranks; its other runs and the other rank's, 18-21 us).
std::vector<double> time_in_rounds(const std::vector<std::function<void()>>& calls);

// Seconds per run of each of `calls` sustained over at least `at_least_s` of wall time (and
// 5 runs), in 5 stretches of a fifth of that each (a run at least), each after an untimed
// run and a call of `before` (where given), taken in rounds over the calls; the slowest
// stretch of each left out. A burst of interference shorter than a round slows one stretch
// of each call, where stretches of one call in a row took it whole: a profile timed gpt's
// [256,256]x[256,1024] at 0.55 of the next profile's rate, and another the k = 64 and 256
// rows of its matmul grid at half of them, its neighbours in the grid alike (gpt's 4-rank
// steps predicted 15-30% slower). The mean of the other four, not their median: a step
// meets the machine's steady noise too (the median had 2-rank mlp and gpt at 0.90-0.95 of
// measured, this 0.93-1.00). Ranks that share a core do not time at once
// (measures_kernels), so no stretch meets the others' turns.
constexpr int kSustainedStretches = 5;
std::vector<double> sustained_in_rounds(const std::vector<std::function<void()>>& calls, double at_least_s,
                                        const std::function<void()>& before = {});

// The same for one `fn`; brief (at_least_s = kBrief): time_in_rounds of `fn` alone.
template <class F>
double sustained(F&& fn, double at_least_s = 0.05) {
  if (at_least_s == kBrief) return time_in_rounds({[&fn] { fn(); }}).front();
  return sustained_in_rounds({[&fn] { fn(); }}, at_least_s).front();
}

// The time of a kernel's work: `s` less the fixed cost, at least a tenth of `s` (where the
// two are within noise of each other, the work still takes some time).
inline double beyond(double s, double latency_s) { return std::max(s - latency_s, 0.1 * s); }

// Where a kernel's operands are when it runs: `hot`, just computed and still in a core's
// cache (a small block); `cold`, as a step reads its weights (last touched a step ago) and
// activations of MiB (written among tens of MiB of others): beyond the last-level cache
// once they would not stay in a core's own. Timed on hot operands, large matmuls ran
// 15-25% faster than in a step, and so did the predictions.
enum class Operands { hot, cold };

inline uint64_t line_up(uint64_t bytes) { return (bytes + 63) / 64 * 64; }

// The copies of cold operands (halves) and their results, shared by the kernels one
// measurement times in turn, allocated and filled at the first that asks: each kernel
// filling 64 MiB of its own took about 15 ms, most of the time of timing gpt's ops at bind.
// Results are written once too: a page faults on first touch (a run of adamw on 64 fresh
// copies timed 10x its rate), and a step's buffers are not fresh.
class ColdMemory {
 public:
  explicit ColdMemory(kernels::Backend& backend) : backend_(backend) {}
  char* operands() { return fill().first; }
  char* results() { return fill().second; }
  // How long filling the copies took (0 until they are): page faults of 128 MiB, 20-300 ms
  // on a VM with another rank filling at once, which no op's time budget is charged.
  double fill_seconds() const { return fill_s_; }

 private:
  std::pair<char*, char*> fill() {
    if (!operands_.get()) {
      const auto start = profile_text::Clock::now();
      operands_ = kernels::BackendBuffer(backend_, kColdBytes);
      results_ = kernels::BackendBuffer(backend_, kColdBytes);
      fill_backend_memory(backend_, operands_.get(), kColdBytes, 0.5f);
      fill_backend_memory(backend_, results_.get(), kColdBytes, 0.0f);
      fill_s_ = profile_text::seconds_since(start);
    }
    return {static_cast<char*>(operands_.get()), static_cast<char*>(results_.get())};
  }

  kernels::Backend& backend_;
  kernels::BackendBuffer operands_, results_;
  double fill_s_ = 0;
};

// Runs of `node` on operands of `types` ready to time. Cold operands that outgrow a core's
// cache are copies filling 64 MiB, taken in turn; hot ones one copy. In `shared` where
// given and they fit.
class KernelRuns {
 public:
  KernelRuns(kernels::Backend& backend, const ir::Node& node, const std::vector<ir::TensorType>& types,
             Operands operands, ColdMemory* shared = nullptr)
      : backend_(backend), node_(node) {
    uint64_t bytes = node.type.bytes();
    for (const ir::TensorType& t : types) bytes += t.bytes();
    const bool cold = operands == Operands::cold && bytes >= kPrivateCacheBytes;
    const size_t copies = cold ? static_cast<size_t>(std::clamp<uint64_t>(kColdBytes / bytes, 1, 64)) : 1;
    // Every copy's operands in one buffer and their results in another, sliced on cache
    // lines: large buffers get huge pages (Backend::allocate), where a buffer per operand of
    // each copy faulted in 4 KiB at a time (180 ms for 64 MiB of matmul copies on a VM).
    uint64_t per_copy = 0;
    for (const ir::TensorType& t : types) per_copy += line_up(t.bytes());
    const uint64_t result_bytes = line_up(node.type.bytes());
    shared_ = shared && copies * per_copy <= kColdBytes && copies * result_bytes <= kColdBytes ? shared : nullptr;
    if (!shared_) {
      operand_memory_ = kernels::BackendBuffer(backend, copies * per_copy);
      result_memory_ = kernels::BackendBuffer(backend, copies * result_bytes);
    }
    char* next_operand = shared_ ? shared_->operands() : static_cast<char*>(operand_memory_.get());
    char* next_result = shared_ ? shared_->results() : static_cast<char*>(result_memory_.get());
    in_.resize(copies);
    for (size_t c = 0; c < copies; ++c) {
      for (const ir::TensorType& t : types) {
        // Halves for values, zeros for indices (row 0 of gather's table, class 0 of
        // cross_entropy), which go back to halves in shared memory when done.
        if (t.dtype == ir::DType::i32) {
          fill_backend_memory(backend, next_operand, t.bytes(), 0.0f);
          if (shared_) indices_.push_back({t, next_operand});
        } else if (!shared_) {
          fill_backend_memory(backend, next_operand, t.bytes(), 0.5f);
        }
        in_[c].push_back({t, next_operand});
        next_operand += line_up(t.bytes());
      }
      if (!shared_) fill_backend_memory(backend, next_result, node.type.bytes(), 0.0f);
      out_.push_back({node.type, next_result});
      next_result += result_bytes;
    }
  }

  ~KernelRuns() {
    for (const kernels::TensorRef& t : indices_) fill_backend_memory(backend_, t.data, t.type.bytes(), 0.5f);
  }
  KernelRuns(KernelRuns&&) = default;  // leaves the moved-from no indices to restore

  // One run on the next copy, waited for.
  void operator()() {
    backend_.run(node_, in_[next_], out_[next_]);
    backend_.synchronize();
    next_ = (next_ + 1) % in_.size();
  }

 private:
  kernels::Backend& backend_;
  const ir::Node node_;
  kernels::BackendBuffer operand_memory_, result_memory_;
  ColdMemory* shared_ = nullptr;
  std::vector<kernels::TensorRef> indices_;  // i32 operands in shared memory
  std::vector<std::vector<kernels::TensorRef>> in_;
  std::vector<kernels::TensorRef> out_;
  size_t next_ = 0;
};

// Seconds of one run of `node` on operands of `types`, sustained.
double time_kernel(kernels::Backend& backend, const ir::Node& node, const std::vector<ir::TensorType>& types,
                   Operands operands, double at_least_s = 0.05, ColdMemory* shared = nullptr);

}  // namespace spmd::runtime
