// The primitives' entry points: check the buffers, then dispatch to the backend's own
// collective (Algorithm::native) or to one of the project's algorithms.
#include "collectives/primitives.h"

#include <algorithm>
#include <array>
#include <utility>

#include "collectives/algorithms/algorithms.h"
#include "collectives/algorithms/pieces.h"
#include "common/error.h"

namespace spmd::collectives {
namespace {

constexpr std::array<std::pair<Algorithm, const char*>, 10> kAlgorithmNames{{
    {Algorithm::native, "native"},
    {Algorithm::ring, "ring"},
    {Algorithm::recursive_halving_doubling, "recursive_halving_doubling"},
    {Algorithm::recursive_doubling, "recursive_doubling"},
    {Algorithm::binomial_tree, "binomial_tree"},
    {Algorithm::scatter_allgather, "scatter_allgather"},
    {Algorithm::pipelined_chain, "pipelined_chain"},
    {Algorithm::pairwise, "pairwise"},
    {Algorithm::scattered, "scattered"},
    {Algorithm::shared_memory, "shared_memory"},
}};

[[noreturn]] void unsupported(const char* primitive, Algorithm algo) {
  throw Error(std::string(primitive) + ": algorithm '" + to_string(algo) + "' is not implemented for " +
              primitive);
}

void expect_size(const char* primitive, const char* buffer, std::size_t given, int64_t expected,
                 const std::string& why) {
  if (static_cast<int64_t>(given) == expected) return;
  throw Error(std::string(primitive) + ": " + buffer + " has " + std::to_string(given) + " elements, expected " +
              std::to_string(expected) + " (" + why + ")");
}

// The block a rank holds in reduce_scatter / all_gather must match partition(n, p).
void expect_block(const char* primitive, const char* buffer, std::size_t given, int64_t n,
                  const Communicator& comm) {
  const int64_t expected = partition(n, comm.size()).count(comm.rank());
  expect_size(primitive, buffer, given, expected,
              "block " + std::to_string(comm.rank()) + " of " + std::to_string(n) + " elements over " +
                  std::to_string(comm.size()) + " ranks");
}

void expect_root(const char* primitive, int root, const Communicator& comm) {
  if (root >= 0 && root < comm.size()) return;
  throw Error(std::string(primitive) + ": root " + std::to_string(root) + " is not a rank of this group of " +
              std::to_string(comm.size()));
}

}  // namespace

std::string to_string(Algorithm a) {
  for (const auto& [algo, name] : kAlgorithmNames) {
    if (algo == a) return name;
  }
  return "algorithm(" + std::to_string(static_cast<int>(a)) + ")";
}

Algorithm algorithm_from_string(const std::string& name) {
  std::string known;
  for (const auto& [algo, algo_name] : kAlgorithmNames) {
    if (name == algo_name) return algo;
    known += known.empty() ? algo_name : std::string(", ") + algo_name;
  }
  throw Error("unknown collective algorithm '" + name + "' (known: " + known + ")");
}

int64_t Partition::offset(int i) const { return i * (n / p) + std::min<int64_t>(i, n % p); }
int64_t Partition::count(int i) const { return n / p + (i < n % p ? 1 : 0); }

std::vector<Algorithm> algorithms_of(const std::string& primitive) {
  using enum Algorithm;
  if (primitive == "all_reduce") {
    return {native, ring, recursive_halving_doubling, recursive_doubling, scattered, shared_memory};
  }
  if (primitive == "reduce_scatter") return {native, ring, recursive_halving_doubling, scattered, shared_memory};
  if (primitive == "all_gather") return {native, ring, recursive_doubling, scattered, shared_memory};
  if (primitive == "broadcast") {
    return {native, binomial_tree, scatter_allgather, pipelined_chain, scattered, shared_memory};
  }
  if (primitive == "reduce") return {native, binomial_tree};
  // Scattered before pairwise: where the model ties them, the one that does not wait for
  // each round's partner (a profile measures which is faster).
  if (primitive == "all_to_all") return {native, scattered, pairwise, shared_memory};
  throw Error("unknown collective primitive '" + primitive +
              "' (known: all_reduce, reduce_scatter, all_gather, broadcast, reduce, all_to_all)");
}

void all_reduce(Communicator& comm, std::span<float> data, ReduceOp op, Algorithm algo) {
  switch (algo) {
    case Algorithm::native: return comm.native_all_reduce(data, op);
    case Algorithm::ring: return algorithms::ring_all_reduce(comm, data, op);
    case Algorithm::recursive_halving_doubling: return algorithms::rabenseifner_all_reduce(comm, data, op);
    case Algorithm::recursive_doubling: return algorithms::recursive_doubling_all_reduce(comm, data, op);
    case Algorithm::scattered: return algorithms::scattered_all_reduce(comm, data, op);
    case Algorithm::shared_memory: return algorithms::shared_memory_all_reduce(comm, data, op);
    default: unsupported("all_reduce", algo);
  }
}

void reduce_scatter(Communicator& comm, std::span<float> data, std::span<float> out, ReduceOp op,
                    Algorithm algo) {
  expect_block("reduce_scatter", "out", out.size(), static_cast<int64_t>(data.size()), comm);
  switch (algo) {
    case Algorithm::native: return comm.native_reduce_scatter(data, out, op);
    case Algorithm::ring: return algorithms::ring_reduce_scatter(comm, data, out, op);
    case Algorithm::recursive_halving_doubling:
      return algorithms::recursive_halving_reduce_scatter(comm, data, out, op);
    case Algorithm::scattered: return algorithms::scattered_reduce_scatter(comm, data, out, op);
    case Algorithm::shared_memory: return algorithms::shared_memory_reduce_scatter(comm, data, out, op);
    default: unsupported("reduce_scatter", algo);
  }
}

void all_gather(Communicator& comm, std::span<const float> in, std::span<float> out, Algorithm algo) {
  expect_block("all_gather", "in", in.size(), static_cast<int64_t>(out.size()), comm);
  switch (algo) {
    case Algorithm::native: return comm.native_all_gather(in, out);
    case Algorithm::ring: return algorithms::ring_all_gather(comm, in, out);
    case Algorithm::recursive_doubling: return algorithms::recursive_doubling_all_gather(comm, in, out);
    case Algorithm::scattered: return algorithms::scattered_all_gather(comm, in, out);
    case Algorithm::shared_memory: return algorithms::shared_memory_all_gather(comm, in, out);
    default: unsupported("all_gather", algo);
  }
}

std::size_t floats_in(const Pieces& pieces) {
  std::size_t n = 0;
  for (std::span<float> piece : pieces) n += piece.size();
  return n;
}

namespace {

// Every block of `blocks` cut into pieces of the sizes of `shape`'s, and there are `count`.
void expect_pieces(const char* primitive, const char* buffer, std::span<const Pieces> blocks, std::size_t count,
                   const Pieces& shape) {
  if (blocks.size() != count) {
    throw Error(std::string(primitive) + ": " + buffer + " has " + std::to_string(blocks.size()) +
                " blocks, expected " + std::to_string(count) + " (one per rank)");
  }
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    bool same = blocks[b].size() == shape.size();
    for (std::size_t i = 0; same && i < shape.size(); ++i) same = blocks[b][i].size() == shape[i].size();
    if (!same) {
      throw Error(std::string(primitive) + ": block " + std::to_string(b) + " of " + buffer +
                  " is not cut into pieces of the sizes of the others");
    }
  }
}

// Pieces to one flat run and back.
float* pack(const Pieces& pieces, float* flat) {
  for (std::span<float> piece : pieces) flat = std::copy(piece.begin(), piece.end(), flat);
  return flat;
}
const float* unpack(const float* flat, const Pieces& pieces) {
  for (std::span<float> piece : pieces) {
    std::copy_n(flat, piece.size(), piece.begin());
    flat += piece.size();
  }
  return flat;
}

}  // namespace

bool packs_pieces(Algorithm algo, int ranks) {
  return algo != Algorithm::ring && algo != Algorithm::scattered && algo != Algorithm::shared_memory &&
         (ranks != 2 || algo == Algorithm::native);
}

void all_gather_pieces(Communicator& comm, const Pieces& in, std::span<const Pieces> out, Algorithm algo) {
  expect_pieces("all_gather", "out", out, static_cast<std::size_t>(comm.size()), in);
  if (comm.device_memory()) throw Error("all_gather: pieces are host memory; this communicator's is a device's");
  if (algo == Algorithm::scattered) return algorithms::scattered_all_gather_pieces(comm, in, out);
  if (algo == Algorithm::shared_memory) return algorithms::shared_memory_all_gather_pieces(comm, in, out);
  if (!packs_pieces(algo, comm.size())) return algorithms::ring_all_gather_pieces(comm, in, out);
  const std::size_t block = floats_in(in);
  CommBuffer flat_in = comm.allocate(block), flat_out = comm.allocate(block * out.size());
  pack(in, flat_in.get());
  all_gather(comm, {flat_in.get(), block}, {flat_out.get(), block * out.size()}, algo);
  const float* at = flat_out.get();
  for (const Pieces& b : out) at = unpack(at, b);
}

void reduce_scatter_pieces(Communicator& comm, std::span<const Pieces> data, const Pieces& out, ReduceOp op,
                           Algorithm algo) {
  expect_pieces("reduce_scatter", "data", data, static_cast<std::size_t>(comm.size()), out);
  if (comm.device_memory()) throw Error("reduce_scatter: pieces are host memory; this communicator's is a device's");
  if (algo == Algorithm::scattered) return algorithms::scattered_reduce_scatter_pieces(comm, data, out, op);
  if (algo == Algorithm::shared_memory) return algorithms::shared_memory_reduce_scatter_pieces(comm, data, out, op);
  if (!packs_pieces(algo, comm.size())) return algorithms::ring_reduce_scatter_pieces(comm, data, out, op);
  const std::size_t block = floats_in(out);
  CommBuffer flat_data = comm.allocate(block * data.size()), flat_out = comm.allocate(block);
  float* at = flat_data.get();
  for (const Pieces& b : data) at = pack(b, at);
  reduce_scatter(comm, {flat_data.get(), block * data.size()}, {flat_out.get(), block}, op, algo);
  unpack(flat_out.get(), out);
}

void broadcast(Communicator& comm, std::span<float> data, int root, Algorithm algo) {
  expect_root("broadcast", root, comm);
  switch (algo) {
    case Algorithm::native: return comm.native_broadcast(data, root);
    case Algorithm::binomial_tree: return algorithms::binomial_tree_broadcast(comm, data, root);
    case Algorithm::scatter_allgather: return algorithms::scatter_allgather_broadcast(comm, data, root);
    case Algorithm::pipelined_chain: return algorithms::pipelined_chain_broadcast(comm, data, root);
    case Algorithm::scattered: return algorithms::scattered_broadcast(comm, data, root);
    case Algorithm::shared_memory: return algorithms::shared_memory_broadcast(comm, data, root);
    default: unsupported("broadcast", algo);
  }
}

void reduce(Communicator& comm, std::span<float> data, int root, ReduceOp op, Algorithm algo) {
  expect_root("reduce", root, comm);
  switch (algo) {
    case Algorithm::native: return comm.native_reduce(data, root, op);
    case Algorithm::binomial_tree: return algorithms::binomial_tree_reduce(comm, data, root, op);
    default: unsupported("reduce", algo);
  }
}

void all_to_all(Communicator& comm, std::span<const float> in, std::span<float> out, Algorithm algo) {
  expect_size("all_to_all", "out", out.size(), static_cast<int64_t>(in.size()), "the size of in");
  if (in.size() % comm.size() != 0) {
    throw Error("all_to_all: in has " + std::to_string(in.size()) + " elements, not a multiple of the " +
                std::to_string(comm.size()) + " ranks");
  }
  switch (algo) {
    case Algorithm::native: return comm.native_all_to_all(in, out);
    case Algorithm::pairwise: return algorithms::pairwise_all_to_all(comm, in, out);
    case Algorithm::scattered: return algorithms::scattered_all_to_all(comm, in, out);
    case Algorithm::shared_memory: return algorithms::shared_memory_all_to_all(comm, in, out);
    default: unsupported("all_to_all", algo);
  }
}

}  // namespace spmd::collectives
