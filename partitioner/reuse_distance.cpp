#include "partitioner/reuse_distance.h"

#include <algorithm>
#include <limits>

#include "ir/ops.h"

namespace spmd::partitioner {
namespace {

constexpr size_t kNever = std::numeric_limits<size_t>::max();

// The bytes of each buffer block at the time of its latest touch, summed over a range of
// times by a Fenwick tree (Fenwick, "A new data structure for cumulative frequency tables",
// 1994): the bytes touched after time t are then those of distinct blocks.
class LatestTouches {
 public:
  void reserve(size_t times) { tree_.assign(times + 1, 0); }
  void add(size_t time, double bytes) {
    for (size_t i = time + 1; i < tree_.size(); i += i & (~i + 1)) tree_[i] += bytes;
    total_ += bytes;
  }
  // The bytes at times after `time`.
  double after(size_t time) const {
    double upto = 0;
    for (size_t i = time + 1; i > 0; i -= i & (~i + 1)) upto += tree_[i];
    return total_ - upto;
  }

 private:
  std::vector<double> tree_;
  double total_ = 0;
};

// The blocks a value's bytes lie in: [first, first + count), each of `bytes`.
struct Blocks {
  size_t first = 0, count = 0;
  double bytes = 0;
};

// Blocks 0..n-1 are the values with buffers of their own (one each, by value id); the
// arena's follow, `block` bytes each.
class BufferBlocks {
 public:
  BufferBlocks(const ir::Graph& g, const ProgramMemory& memory)
      : g_(g), memory_(memory), block_(std::max<size_t>(4096, memory.arena.arena_bytes / 2048)) {}
  size_t size() const { return g_.nodes.size() + memory_.arena.arena_bytes / block_ + 1; }
  Blocks of(ir::ValueId v) const {
    const ir::ValueId root = memory_.buffer_of(v);
    const size_t bytes = g_.type(root).bytes();
    const ptrdiff_t offset = memory_.arena.offset.at(static_cast<size_t>(root));
    if (memory_.owned.at(static_cast<size_t>(root)) || offset < 0 || bytes == 0) {
      return {static_cast<size_t>(root), 1, static_cast<double>(bytes)};
    }
    const size_t begin = static_cast<size_t>(offset) / block_, end = (static_cast<size_t>(offset) + bytes - 1) / block_;
    return {g_.nodes.size() + begin, end - begin + 1, static_cast<double>(block_)};
  }

 private:
  const ir::Graph& g_;
  const ProgramMemory& memory_;
  const size_t block_;
};

// Plays the touches of steps in order, one block after another.
class Touches {
 public:
  // Of `blocks` blocks, touched `times` times in all; `unseen`: the distance of a first touch.
  Touches(size_t blocks, size_t times, double unseen)
      : latest_(blocks, kNever), peers_read_(blocks, 0), unseen_(unseen) {
    touched_.reserve(times);
  }
  // Marks the blocks as read by peers where they lie, until this process writes them.
  void read_by_peers(const Blocks& b) { std::fill_n(peers_read_.begin() + static_cast<ptrdiff_t>(b.first), b.count, 1); }
  // The bytes of the blocks peers read since they were last written; clears them (a write).
  double written(const Blocks& b) {
    const auto begin = peers_read_.begin() + static_cast<ptrdiff_t>(b.first);
    const auto read = std::count(begin, begin + static_cast<ptrdiff_t>(b.count), 1);
    std::fill_n(begin, b.count, 0);
    return static_cast<double>(read) * b.bytes;
  }
  // Touches the blocks now; their mean distance before.
  double touch(const Blocks& b) {
    double sum = 0;
    for (size_t i = b.first; i < b.first + b.count; ++i) {
      sum += latest_[i] == kNever ? unseen_ : touched_.after(latest_[i]);
    }
    for (size_t i = b.first; i < b.first + b.count; ++i) {
      if (latest_[i] != kNever) touched_.add(latest_[i], -b.bytes);
      latest_[i] = now_;
      touched_.add(now_++, b.bytes);
    }
    return sum / static_cast<double>(b.count);
  }

 private:
  std::vector<size_t> latest_;
  std::vector<char> peers_read_;  // per block
  LatestTouches touched_;
  size_t now_ = 0;
  const double unseen_;
};

}  // namespace

ReuseDistances::ReuseDistances(const ir::Graph& g, const ProgramMemory& memory, const std::vector<bool>& read_by_peers)
    : first_(g.nodes.size() + 1, 0) {
  const BufferBlocks blocks(g, memory);
  std::vector<ir::ValueId> fed;
  std::vector<Blocks> of(g.nodes.size());
  std::vector<bool> touches(g.nodes.size(), false);
  size_t per_step = 0;
  const double all_bytes = static_cast<double>(memory.peak_bytes());
  // A bucket of gathers sits before the params it reads (bucket.h): blocks first, for all.
  for (ir::ValueId v = 0; v < g.size(); ++v) of[static_cast<size_t>(v)] = blocks.of(v);
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    const ir::OpTraits& t = ir::op_traits(n.op);
    const size_t i = static_cast<size_t>(v);
    touches[i] = !t.view && t.source != ir::Source::fed && t.source != ir::Source::initialized;
    first_[i + 1] = first_[i] + (touches[i] ? n.inputs.size() + 1 : 0);
    if (t.source == ir::Source::fed) fed.push_back(v), per_step += of[i].count;
    if (!touches[i]) continue;
    per_step += of[i].count;
    for (ir::ValueId x : n.inputs) per_step += of[static_cast<size_t>(x)].count;
  }
  distances_.assign(first_.back(), all_bytes);
  if (!read_by_peers.empty()) peer_bytes_.assign(g.nodes.size(), 0);
  Touches touched(blocks.size(), 2 * per_step, all_bytes);
  // Two steps: the second's distances are those of every step after the first.
  for (int step = 0; step < 2; ++step) {
    for (ir::ValueId v : fed) {  // written by the runtime
      touched.touch(of[static_cast<size_t>(v)]);
      touched.written(of[static_cast<size_t>(v)]);
    }
    for (ir::ValueId v = 0; v < g.size(); ++v) {
      const size_t i = static_cast<size_t>(v);
      if (!touches[i]) continue;
      const std::vector<ir::ValueId>& inputs = g.node(v).inputs;
      // Written over before its operands are read: an update in place rewrites its operand.
      const double rewritten = touched.written(of[i]);
      if (step == 1 && !peer_bytes_.empty()) peer_bytes_[i] = rewritten;
      for (size_t k = 0; k <= inputs.size(); ++k) {
        const Blocks& b = of[static_cast<size_t>(k < inputs.size() ? inputs[k] : v)];
        const double distance = touched.touch(b);
        if (step == 1) distances_[first_[i] + k] = distance;
        if (k < inputs.size() && i < read_by_peers.size() && read_by_peers[i]) touched.read_by_peers(b);
      }
      // A collective in place writes its result after the peers read it.
      if (i < read_by_peers.size() && read_by_peers[i]) touched.written(of[i]);
    }
  }
}

}  // namespace spmd::partitioner
