// The executor's buckets (executor.h): several collectives of one step run as one over a
// flat buffer, laid side by side where the memory plan put them so, else packed and
// unpacked around it, and a gather bucket run over its pieces where it can.
#include <algorithm>
#include <span>
#include <vector>

#include "collectives/redistribute.h"
#include "runtime/executor.h"

namespace spmd::runtime {

void Executor::run_bucket(const Launch& first) {
  if (!redistributor_ || backend_.device_memory()) {
    run_one(first);
    for (size_t j : first.bucket_rest) run_one(launches_[j]);
    return;
  }
  // Block b of the flat buffer holds every member's b-th block of rows, side by side; the
  // flat collective leaves this device its block: each member's result, side by side. Where
  // the memory plan laid the operands out so (an all-reduce's, each result over its
  // operand) they are reduced where they lie, as DDP's bucket views are; where it laid the
  // results out so, the collective writes them at once; else an all-reduce (one block) is
  // reduced where it is packed and unpacked after. A bucket of gathers or reduce-scatters
  // runs over its members where they lie, where it can (run_in_pieces).
  const int64_t blocks = first.bucket_blocks;
  const size_t floats = static_cast<size_t>(first.bucket->global[0]), result_floats = floats / static_cast<size_t>(blocks);
  std::vector<const Launch*> members{&first};
  for (size_t j : first.bucket_rest) members.push_back(&launches_[j]);
  if (run_in_pieces(first, members)) return;
  if (first.bucket_gathers) return run_gather_bucket(first, members);
  if (std::span<float> view = side_by_side(members, floats, true); !view.empty()) {
    redistributor_->run_consuming(first.bucket->global, first.bucket->from, first.bucket->to, view, view);
    return;
  }
  std::span<float> reduced = side_by_side(members, result_floats, false);
  const bool unpack = reduced.empty();
  if (unpack) {
    if (!first.reduced) first.reduced = transfer_floats(result_floats);  // once: the first step's
    reduced = {first.reduced.get(), result_floats};
  }
  if (blocks > 1 && !first.packed) first.packed = transfer_floats(floats);
  std::span<float> packed = blocks > 1 ? std::span<float>(first.packed.get(), floats) : reduced;
  interleave(members, blocks, packed.data());
  redistributor_->run_consuming(first.bucket->global, first.bucket->from, first.bucket->to, packed, reduced);
  if (unpack) deinterleave(reduced.data(), 1, members);
}

// A bucket of gathers or reduce-scatters run over its members' buffers where they lie
// (collectives' Pieces): block b of the flat operand and result is each member's b-th block
// of rows. A reduce-scatter sums into its operands, so only where each is the collective's to
// lose. False where the redistribution is not one such collective: the caller packs.
bool Executor::run_in_pieces(const Launch& first, const std::vector<const Launch*>& members) {
  const int64_t blocks = first.bucket_blocks;
  if (blocks < 2) return false;  // an all-reduce's
  auto blocks_of = [&](bool operands, int64_t count) {
    std::vector<collectives::Pieces> cut(static_cast<size_t>(count));
    for (const Launch* m : members) {
      const kernels::TensorRef& t = operands ? m->operands[0] : m->out;
      const int64_t n = t.numel() / count;
      for (int64_t b = 0; b < count; ++b) cut[b].push_back({t.f32() + b * n, static_cast<size_t>(n)});
    }
    return cut;
  };
  if (!first.bucket_gathers) {
    for (const Launch* m : members) {
      if (!m->consumes_operand) return false;
    }
  }
  if (first.pieces_in.empty()) {  // the first step's: the buffers stay put
    first.pieces_in = blocks_of(true, first.bucket_gathers ? 1 : blocks);
    first.pieces_out = blocks_of(false, first.bucket_gathers ? blocks : 1);
  }
  const Redistribution& b = *first.bucket;
  return redistributor_->run_pieces(b.global, b.from, b.to, first.pieces_in, first.pieces_out);
}

// An all-gather bucket: the members' operands (this device's block) packed side by side,
// gathered flat, and each member's block of rows unpacked from every block of the result,
// as FSDP unpacks a flat parameter's views.
void Executor::run_gather_bucket(const Launch& first, const std::vector<const Launch*>& members) {
  const int64_t blocks = first.bucket_blocks;
  const size_t floats = static_cast<size_t>(first.bucket->global[0]), block_floats = floats / static_cast<size_t>(blocks);
  if (!first.packed) first.packed = transfer_floats(block_floats);  // once: the first step's
  if (!first.reduced) first.reduced = transfer_floats(floats);
  interleave(members, 1, first.packed.get());
  redistributor_->run_consuming(first.bucket->global, first.bucket->from, first.bucket->to,
                                {first.packed.get(), block_floats}, {first.reduced.get(), floats});
  deinterleave(first.reduced.get(), blocks, members);
}

// Block b of `flat` gets every member's operand's b-th block of rows, side by side (one
// block: the operands one after another).
void Executor::interleave(const std::vector<const Launch*>& members, int64_t blocks, float* flat) {
  for (int64_t block = 0; block < blocks; ++block) {
    for (const Launch* m : members) {
      const int64_t n = m->operands[0].numel() / blocks;
      flat = std::copy_n(m->operands[0].f32() + block * n, n, flat);
    }
  }
}

// The reverse into the members' results: each member's b-th block of rows from block b.
void Executor::deinterleave(const float* flat, int64_t blocks, const std::vector<const Launch*>& members) {
  for (int64_t block = 0; block < blocks; ++block) {
    for (const Launch* m : members) {
      const int64_t n = m->out.numel() / blocks;
      std::copy_n(flat, n, m->out.f32() + block * n);
      flat += n;
    }
  }
}

// The members' operands (`operands`, each result over its own) or results as one flat
// buffer of `floats`, where the memory plan laid them out so (partitioner/memory_plan.h's
// bucket_views); empty where it did not.
std::span<float> Executor::side_by_side(const std::vector<const Launch*>& members, size_t floats, bool operands) {
  float* start = operands ? members.front()->operands[0].f32() : members.front()->out.f32();
  float* next = start;
  for (const Launch* m : members) {
    if (m->out.f32() != next || (operands && m->operands[0].f32() != next)) return {};
    next += m->out.numel();
  }
  return next == start + floats ? std::span<float>(start, floats) : std::span<float>();
}

}  // namespace spmd::runtime
