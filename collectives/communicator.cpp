// The host-memory defaults of Communicator's memory calls.
#include "collectives/communicator.h"

#include <algorithm>
#include <limits>

#include "collectives/algorithms/combine.h"
#include "common/error.h"

namespace spmd::collectives {

void Communicator::combine(std::span<float> acc, std::span<const float> in, ReduceOp op) {
  algorithms::combine(acc, in, op);
}

void Communicator::sendrecv_while(std::span<const float> send, int dest, std::span<float> recv, int source,
                                  const std::function<void()>& meanwhile) {
  sendrecv(send, dest, recv, source);
  meanwhile();
}

void Communicator::exchange_all(std::span<const SendTo> sends, std::span<const RecvFrom> recvs) {
  for (std::size_t i = 0; i < std::max(sends.size(), recvs.size()); ++i) {
    if (i >= recvs.size()) {
      send(sends[i].data, sends[i].peer);
    } else if (i >= sends.size()) {
      recv(recvs[i].data, recvs[i].peer);
    } else {
      sendrecv(sends[i].data, sends[i].peer, recvs[i].data, recvs[i].peer);
    }
  }
}

void Communicator::copy(std::span<const float> from, std::span<float> to) { std::ranges::copy(from, to.begin()); }

CommBuffer private_comm_buffer(std::size_t n, HugePages huge) {
  return CommBuffer(host_floats(std::max<std::size_t>(n, 1), huge).release(),
                    {[](void*, float* p) { HostFree{}(p); }, nullptr});
}

CommBuffer Communicator::allocate_node_shared(std::size_t n) {
  return n == 0 ? CommBuffer() : private_comm_buffer(n, HugePages::rounded);
}

std::vector<float*> Communicator::peer_addresses(std::span<const std::span<const float>>) { return {}; }

std::span<float> Communicator::staging() { return {}; }

std::vector<const float*> Communicator::arrive_staged(int) {
  throw Error("arrive_staged: the " + backend() + " communicator has no staging in node-shared memory");
}

// A dissemination barrier (Hensgen, Finkel and Manber 1988): ceil(lg p) rounds of empty
// messages, after which every rank has heard, directly or not, from every other.
void Communicator::barrier() {
  const int p = size(), r = rank();
  for (int k = 1; k < p; k *= 2) sendrecv({}, (r + k) % p, {}, (r - k + p) % p);
}

namespace {
// Spare buffers a pool keeps: a collective takes at most three at once (a reduce-scatter
// over pieces: its packed messages each way and its scratch).
constexpr std::size_t kSpareBuffers = 4;
}  // namespace

CommBuffer Communicator::allocate(std::size_t n) {
  if (n == 0) return {};  // a spare lent for nothing would be missed by the next call
  std::lock_guard<std::mutex> lock(pool_mutex_);
  auto fits = std::ranges::min_element(spare_, {}, [n](const Spare& s) {  // the smallest that holds n
    return s.floats >= n ? s.floats : std::numeric_limits<std::size_t>::max();
  });
  Spare taken;
  if (fits != spare_.end() && fits->floats >= n) {
    taken = std::move(*fits);
    spare_.erase(fits);
  } else {
    taken = {host_floats(n, HugePages::rounded), n};
  }
  float* p = taken.data.get();
  lent_.push_back(std::move(taken));
  return CommBuffer(p, {[](void* self, float* q) { static_cast<Communicator*>(self)->give_back(q); }, this});
}

std::size_t Communicator::pooled_floats() const {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  std::size_t n = 0;
  for (const Spare& s : spare_) n += s.floats;
  return n;
}

void Communicator::give_back(float* p) {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  auto it = std::ranges::find_if(lent_, [p](const Spare& s) { return s.data.get() == p; });
  if (it == lent_.end()) return;
  spare_.push_back(std::move(*it));
  lent_.erase(it);
  if (spare_.size() > kSpareBuffers) {  // keep the largest
    spare_.erase(std::ranges::min_element(spare_, {}, &Spare::floats));
  }
}

}  // namespace spmd::collectives
