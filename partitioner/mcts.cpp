#include "partitioner/mcts.h"

#include <algorithm>
#include <chrono>

#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <vector>

namespace spmd::partitioner {
namespace {

struct TreeNode {
  Candidate partial;
  int level = 0;  // decisions taken; SearchSpace::kLevels at a leaf
  std::vector<Candidate> untried;
  std::vector<std::unique_ptr<TreeNode>> children;
  int visits = 0;
  // The shortest step of a fitting plan played below; infinite while none fits.
  double best_s = std::numeric_limits<double>::infinity();
  bool done = false;  // every leaf below was played
};

std::unique_ptr<TreeNode> make_node(const SearchSpace& space, const Candidate& c, int level) {
  auto node = std::make_unique<TreeNode>();
  node->partial = c;
  node->level = level;
  if (level < SearchSpace::kLevels) node->untried = space.options(c, level);
  return node;
}

// UCT for a single player who wants the best leaf, not the best average (single-player MCTS,
// Schadd et al. 2008, values a subtree by its best playout): the child maximising
// shortest step overall / shortest step below it + c sqrt(ln N / n), first of equals; done
// ones skipped. The reward is taken against the best step known now, not when it was played.
TreeNode* select_child(TreeNode& node, double best_s) {
  constexpr double kExploration = 0.5;
  TreeNode* best = nullptr;
  double best_score = -std::numeric_limits<double>::infinity();
  for (auto& child : node.children) {
    if (child->done) continue;
    double reward = std::isfinite(child->best_s) && child->best_s > 0 ? best_s / child->best_s : 0;
    double score = reward + kExploration * std::sqrt(std::log(node.visits) / child->visits);
    if (score > best_score) best_score = score, best = child.get();
  }
  return best;
}

class Mcts {
 public:
  Mcts(Evaluator& evaluator, std::uint64_t seed) : evaluator_(evaluator), rng_(seed) {
    root_ = make_node(evaluator.space(), Candidate{}, 0);
  }
  bool finished() const { return root_->done; }

  void iterate() {
    std::vector<TreeNode*> path{root_.get()};
    while (path.back()->level < SearchSpace::kLevels && path.back()->untried.empty()) {
      path.push_back(select_child(*path.back(), best_s_));
    }
    TreeNode* node = path.back();
    if (!node->untried.empty()) {
      size_t pick = std::uniform_int_distribution<size_t>(0, node->untried.size() - 1)(rng_);
      Candidate c = node->untried[pick];
      node->untried.erase(node->untried.begin() + static_cast<ptrdiff_t>(pick));
      node->children.push_back(make_node(evaluator_.space(), c, node->level + 1));
      path.push_back(node->children.back().get());
    }
    const Evaluated& e = evaluator_.evaluate(rollout(*path.back()));
    double step_s = e.fits ? e.prediction.step_time_s : std::numeric_limits<double>::infinity();
    best_s_ = std::min(best_s_, step_s);
    for (TreeNode* n : path) ++n->visits, n->best_s = std::min(n->best_s, step_s);
    mark_done(path);
  }

 private:
  Candidate rollout(const TreeNode& from) {
    Candidate c = from.partial;
    for (int level = from.level; level < SearchSpace::kLevels; ++level) {
      std::vector<Candidate> options = evaluator_.space().options(c, level);
      c = options[std::uniform_int_distribution<size_t>(0, options.size() - 1)(rng_)];
    }
    return c;
  }

  static void mark_done(const std::vector<TreeNode*>& path) {
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      TreeNode& n = **it;
      bool all = n.untried.empty();
      for (auto& child : n.children) all = all && child->done;
      n.done = n.level == SearchSpace::kLevels || all;
    }
  }

  Evaluator& evaluator_;
  std::mt19937_64 rng_;
  std::unique_ptr<TreeNode> root_;
  double best_s_ = std::numeric_limits<double>::infinity();
};

}  // namespace

void run_mcts(Evaluator& evaluator, int budget, std::uint64_t seed, double deadline_s) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration<double>(deadline_s);
  Mcts mcts(evaluator, seed);
  // An iteration that ends on a leaf played before costs no simulation; the cap on
  // iterations only guards against a tree that keeps choosing those.
  const int until = evaluator.simulations() + budget;
  for (int i = 0; i < 20 * budget && evaluator.simulations() < until && !mcts.finished(); ++i) {
    if (deadline_s > 0 && Clock::now() > deadline) break;
    mcts.iterate();
  }
}

}  // namespace spmd::partitioner
