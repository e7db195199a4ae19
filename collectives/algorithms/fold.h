// Folding a group of p ranks onto a power of two, for the recursive halving and doubling
// algorithms (Thakur, Rabenseifner and Gropp 2005, sec. 4.4, as in MPICH): with p' the largest
// power of two <= p and r = p - p', each even rank among the first 2r hands its data to the
// odd rank after it and sits out; the remaining p' ranks are renumbered 0..p'-1 and run the
// power-of-two algorithm; afterwards the odd ranks hand the result back.
#pragma once

namespace spmd::collectives::algorithms {

class Fold {
 public:
  explicit Fold(int p);

  int active() const { return active_; }  // p'
  int extra() const { return extra_; }    // r
  // The rank among the p' active ones, or -1 for a rank that sits out.
  int folded_rank(int rank) const;
  // The group rank of active rank `folded`.
  int group_rank(int folded) const;
  // The first of the original blocks folded rank `folded` is responsible for (two blocks
  // for the first r folded ranks, one for the others).
  int first_block(int folded) const { return folded < extra_ ? 2 * folded : folded + extra_; }
  // Does `rank` take part in the pre/post steps, and as the one that sits out?
  bool in_pair(int rank) const { return rank < 2 * extra_; }
  bool sits_out(int rank) const { return in_pair(rank) && rank % 2 == 0; }

 private:
  int active_;
  int extra_;
};

}  // namespace spmd::collectives::algorithms
