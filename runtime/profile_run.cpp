#include "common/stats.h"
#include "runtime/profile_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "collectives/primitives.h"
#include "ir/ops.h"

namespace spmd::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Median of 5 timed runs of `fn` after one warm-up.
template <class F>
double timed(F&& fn) {
  fn();
  std::vector<double> t;
  for (int r = 0; r < 5; ++r) {
    const auto start = Clock::now();
    fn();
    t.push_back(seconds_since(start));
  }
  return median(t);
}

std::string line(const char* format, auto... values) {
  char text[256];
  std::snprintf(text, sizeof text, format, values...);
  return text;
}

// The best matmul FLOP/s over square problems, and an elementwise add's bytes/s.
void measure_kernels(kernels::Backend& backend, partitioner::Profile& p, std::string& table) {
  table += "kernels (this rank's backend, " + std::string(backend.name()) + ")\n";
  for (int64_t n : {16, 32, 64, 128, 256, 512, 1024}) {
    const ir::TensorType t{ir::DType::f32, {n, n}};
    ir::Node node{"matmul", {0, 1}, {}, t, "mm"};
    kernels::BackendBuffer a(backend, t.bytes()), b(backend, t.bytes()), c(backend, t.bytes());
    std::vector<float> ones(static_cast<size_t>(n * n), 0.5f);
    backend.copy_in(a.get(), ones.data(), t.bytes());
    backend.copy_in(b.get(), ones.data(), t.bytes());
    const kernels::TensorRef in[] = {{t, a.get()}, {t, b.get()}};
    const double s = timed([&] {
      backend.run(node, in, {t, c.get()});
      backend.synchronize();
    });
    const double flops = 2.0 * n * n * n / s;
    p.matmul_flops = std::max(p.matmul_flops, flops);
    p.matmul_by_size.emplace_back(2.0 * n * n * n, flops);
    table += line("  matmul %5lld^3   %9.3f ms  %8.1f GFLOP/s\n", static_cast<long long>(n), s * 1e3, flops / 1e9);
  }
  const int64_t count = int64_t{16} << 20;  // 64 MiB per operand: beyond any cache
  const ir::TensorType t{ir::DType::f32, {count}};
  ir::Node add{"add", {0, 1}, {}, t, "add"};
  kernels::BackendBuffer x(backend, t.bytes()), y(backend, t.bytes()), z(backend, t.bytes());
  std::vector<float> zeros(static_cast<size_t>(count), 0.f);
  backend.copy_in(x.get(), zeros.data(), t.bytes());
  backend.copy_in(y.get(), zeros.data(), t.bytes());
  const kernels::TensorRef in[] = {{t, x.get()}, {t, y.get()}};
  const double s = timed([&] {
    backend.run(add, in, {t, z.get()});
    backend.synchronize();
  });
  p.memory_Bps = 3.0 * static_cast<double>(t.bytes()) / s;
  table += line("  add 64 MiB       %9.3f ms  %8.1f GB/s\n", s * 1e3, p.memory_Bps / 1e9);
  const ir::TensorType one{ir::DType::f32, {1}};
  ir::Node tiny{"add", {0, 1}, {}, one, "tiny"};
  const kernels::TensorRef tiny_in[] = {{one, x.get()}, {one, y.get()}};
  p.op_latency_s = timed([&] {
    for (int i = 0; i < 100; ++i) backend.run(tiny, tiny_in, {one, z.get()});
    backend.synchronize();
  }) / 100;
  table += line("  add 1 element    %9.3f us  (the fixed cost of a kernel)\n", p.op_latency_s * 1e6);
}

std::vector<double> sizes_up_to(double max_bytes) {
  std::vector<double> sizes;
  for (double b = 4096; b <= max_bytes; b *= 4) sizes.push_back(b);
  return sizes;
}

// Least squares of t = alpha + beta * bytes, each point weighted by 1 / t^2 so that the
// relative error counts (small messages would otherwise not weigh at all against 16 MiB
// ones); the relative RMS error of the fit.
partitioner::LevelProfile fit(const std::string& name, const std::vector<double>& bytes, const std::vector<double>& t) {
  const double n = static_cast<double>(bytes.size());
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const double w = 1.0 / (t[i] * t[i]);
    sw += w, sx += w * bytes[i], sy += w * t[i], sxx += w * bytes[i] * bytes[i], sxy += w * bytes[i] * t[i];
  }
  double beta = (sw * sxy - sx * sy) / (sw * sxx - sx * sx);
  double alpha = (sy - beta * sx) / sw;
  beta = std::max(beta, 1e-15);
  alpha = std::max(alpha, 1e-8);
  double err = 0;
  for (size_t i = 0; i < bytes.size(); ++i) err += std::pow((alpha + beta * bytes[i] - t[i]) / t[i], 2);
  return {name, alpha, 1.0 / beta, std::sqrt(err / n)};
}

// Rank 0 and `peer` ping-pong; the others wait at the end. One-way time = round trip / 2.
partitioner::LevelProfile measure_level(collectives::Communicator& comm, const std::string& name, int peer,
                                        double max_bytes, std::string& table) {
  std::vector<double> sizes = sizes_up_to(max_bytes), times;
  std::vector<float> buffer(static_cast<size_t>(max_bytes / 4));
  table += "level " + name + ": rank 0 <-> rank " + std::to_string(peer) + "\n" +
           line("  %12s %12s %12s\n", "size (B)", "time (us)", "algbw (GB/s)");
  for (double bytes : sizes) {
    std::span<float> msg(buffer.data(), static_cast<size_t>(bytes / 4));
    const double round_trip = timed([&] {
      if (comm.rank() == 0) {
        comm.send(msg, peer);
        comm.recv(msg, peer);
      } else if (comm.rank() == peer) {
        comm.recv(msg, 0);
        comm.send(msg, 0);
      }
    });
    times.push_back(round_trip / 2);
    table += line("  %12.0f %12.2f %12.2f\n", bytes, round_trip / 2 * 1e6, bytes / (round_trip / 2) / 1e9);
  }
  partitioner::LevelProfile l = fit(name, sizes, times);
  table += line("  fit: latency %.2f us, bandwidth %.2f GB/s, rms error %.1f%%\n", l.latency_s * 1e6,
                l.bandwidth_Bps / 1e9, l.fit_error * 100);
  return l;
}

// nccl-tests style: time, algorithm and bus bandwidth of every algorithm per size.
void collective_tables(collectives::Communicator& comm, double max_bytes, std::string& table) {
  const int p = comm.size();
  for (const char* primitive : {"all_reduce", "all_gather"}) {
    table += std::string(primitive) + " over " + std::to_string(p) + " ranks\n" +
             line("  %-22s %12s %12s %12s %12s\n", "algorithm", "size (B)", "time (us)", "algbw (GB/s)", "busbw (GB/s)");
    for (collectives::Algorithm a : collectives::algorithms_of(primitive)) {
      for (double bytes : sizes_up_to(max_bytes)) {
        const size_t n = static_cast<size_t>(bytes / 4);
        std::vector<float> data(n, 1.f), out(n);
        const size_t block = (n + p - 1) / p;
        std::vector<float> mine(std::min(n, block * (comm.rank() + 1)) - std::min(n, block * comm.rank()));
        const double s = timed([&] {
          if (std::string(primitive) == "all_reduce") {
            collectives::all_reduce(comm, data, collectives::ReduceOp::sum, a);
          } else {
            collectives::all_gather(comm, mine, out, a);
          }
        });
        const double factor = std::string(primitive) == "all_reduce" ? 2.0 * (p - 1) / p : (p - 1.0) / p;
        table += line("  %-22s %12.0f %12.2f %12.2f %12.2f\n", collectives::to_string(a).c_str(), bytes, s * 1e6,
                      bytes / s / 1e9, bytes / s / 1e9 * factor);
      }
    }
  }
}

}  // namespace

ProfileRun measure_profile(collectives::Communicator& comm, const launcher::Topology& topology,
                           kernels::Backend& backend, double max_bytes) {
  ProfileRun run;
  run.profile.fingerprint = launcher::fingerprint(topology);
  measure_kernels(backend, run.profile, run.table);
  for (int l = 0; l < static_cast<int>(topology.levels().size()); ++l) {
    int peer = -1;
    for (int d = 1; d < topology.num_devices() && peer < 0; ++d) peer = topology.common_level(0, d) == l ? d : -1;
    if (peer < 0) continue;
    const std::string& name = topology.levels()[l].name;
    run.profile.levels.push_back(measure_level(comm, name, peer, max_bytes, run.table));
  }
  if (comm.size() > 1) collective_tables(comm, max_bytes, run.table);
  // Every rank holds rank 0's kernel figures and the fits (only rank 0 and each peer timed
  // the levels): one broadcast of the numbers.
  std::vector<float> figures = {static_cast<float>(run.profile.matmul_flops / 1e9),
                                static_cast<float>(run.profile.memory_Bps / 1e9),
                                static_cast<float>(run.profile.op_latency_s * 1e9)};
  for (const auto& [flops, rate] : run.profile.matmul_by_size) figures.push_back(static_cast<float>(rate / 1e9));
  for (const partitioner::LevelProfile& l : run.profile.levels) {
    figures.insert(figures.end(), {static_cast<float>(l.latency_s * 1e9), static_cast<float>(l.bandwidth_Bps / 1e9),
                                   static_cast<float>(l.fit_error)});
  }
  comm.native_broadcast(figures, 0);
  run.profile.matmul_flops = figures[0] * 1e9;
  run.profile.memory_Bps = figures[1] * 1e9;
  run.profile.op_latency_s = figures[2] / 1e9;
  size_t at = 3;
  for (auto& point : run.profile.matmul_by_size) point.second = figures[at++] * 1e9;
  for (partitioner::LevelProfile& l : run.profile.levels) {
    l.latency_s = figures[at++] / 1e9;
    l.bandwidth_Bps = figures[at++] * 1e9;
    l.fit_error = figures[at++];
  }
  return run;
}

}  // namespace spmd::runtime
