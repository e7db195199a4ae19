#include "runtime/text_gather.h"

#include <cstdint>
#include <cstring>

namespace spmd::runtime {
namespace {

// The communicator moves floats; text travels as their bytes (MPI copies the bits of a
// float buffer between ranks of one architecture as they are).
constexpr size_t kFloat = sizeof(float);

size_t floats_for(size_t bytes) { return (bytes + kFloat - 1) / kFloat; }

}  // namespace

std::vector<std::string> gather_text(collectives::Communicator& comm, const std::string& text, int root) {
  static_assert(sizeof(uint64_t) == 2 * kFloat);
  if (comm.rank() != root) {
    float header[2];
    const uint64_t length = text.size();
    std::memcpy(header, &length, sizeof length);
    comm.send(header, root);
    std::vector<float> body(floats_for(text.size()));
    if (!text.empty()) std::memcpy(body.data(), text.data(), text.size());
    comm.send(body, root);
    return {};
  }
  std::vector<std::string> all(static_cast<size_t>(comm.size()));
  for (int r = 0; r < comm.size(); ++r) {
    if (r == root) {
      all[r] = text;
      continue;
    }
    float header[2];
    comm.recv(header, r);
    uint64_t length = 0;
    std::memcpy(&length, header, sizeof length);
    std::vector<float> body(floats_for(length));
    comm.recv(body, r);
    all[r].assign(reinterpret_cast<const char*>(body.data()), length);
  }
  return all;
}

}  // namespace spmd::runtime
