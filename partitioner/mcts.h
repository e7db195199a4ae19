// Monte Carlo Tree Search over the search space's decision levels (Automap, Schaarschmidt
// et al. 2021), with the UCT rule for choosing a child (Kocsis and Szepesvari 2006, "Bandit
// based Monte-Carlo Planning"): each iteration descends by the upper confidence bound,
// expands one untried decision, completes the path at random, and backs the simulator's
// step time up the path. A subtree's reward is the shortest step known over the shortest
// step played in it (1 for the subtree holding the best plan so far; 0 while no plan in it
// fits the memory limit or lowers): the best playout, not the average, since one plan is
// wanted (single-player MCTS, Schadd et al. 2008).
// Deterministic for a seed; stops after `budget` simulations or when every leaf was played.
#pragma once

#include <cstdint>

#include "partitioner/search.h"

namespace spmd::partitioner {

// Stops after `budget` simulations, or at `deadline_s` seconds from now when above 0.
void run_mcts(Evaluator& evaluator, int budget, std::uint64_t seed, double deadline_s = 0);

}  // namespace spmd::partitioner
