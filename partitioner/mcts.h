// Monte Carlo Tree Search over the search space's decision levels (Automap, Schaarschmidt
// et al. 2021), with the UCT rule for choosing a child (Kocsis and Szepesvari 2006, "Bandit
// based Monte-Carlo Planning"): each iteration descends by the upper confidence bound,
// expands one untried decision, completes the path at random, and backs the simulator's
// reward up the path. The reward of a plan over the memory limit (or that does not lower) is
// 0; of one that fits, the shortest step seen so far over its step, so 1 for the best.
// Deterministic for a seed; stops after `budget` iterations or when every leaf was played.
#pragma once

#include <cstdint>

#include "partitioner/search.h"

namespace spmd::partitioner {

// Stops after `budget` simulations, or at `deadline_s` seconds from now when above 0.
void run_mcts(Evaluator& evaluator, int budget, std::uint64_t seed, double deadline_s = 0);

}  // namespace spmd::partitioner
