// spmd checkpoint inspect DIR: prints a checkpoint's manifest (DIR itself, or the newest
// complete one inside it), verifies every shard file's size and checksum, and that every
// saved element is finite; a bad file or value is an error naming it (exit 2).
#include <cstdio>
#include <memory>
#include <optional>

#include "common/error.h"
#include "runtime/checkpoint_manifest.h"
#include "tools/commands.h"

namespace spmd::tools {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

void print_manifest(const std::string& path, const runtime::Manifest& m) {
  std::printf("checkpoint %s\n", path.c_str());
  std::printf("model: %s (from %s, optimizer %s)\n", m.model.c_str(), m.program.c_str(), m.optimizer.c_str());
  std::printf("step: %lld (the next batch is step %lld's), seed %llu\n", static_cast<long long>(m.step),
              static_cast<long long>(m.step + 1), static_cast<unsigned long long>(m.seed));
  std::printf("mesh: %s on %d %s, topology %s\n", m.mesh.names.empty() ? "none" : m.mesh.to_string().c_str(),
              m.mesh.size(), m.mesh.size() == 1 ? "rank" : "ranks",
              m.topology_fingerprint.empty() ? "unknown" : m.topology_fingerprint.c_str());
  std::printf("values: %zu\n", m.values.size());
  for (const runtime::SavedValue& v : m.values) {
    std::printf("  %-5s %-28s f32%-16s layout %s\n", v.kind.c_str(), v.name.c_str(), shape_text(v.shape).c_str(),
                collectives::encode(v.layout).empty() ? "replicated" : collectives::encode(v.layout).c_str());
  }
  std::printf("files: %zu\n", m.files.size());
  for (const runtime::SavedFile& f : m.files) {
    std::printf("  %s  %llu bytes, %zu shards, fnv64 %016llx\n", f.file.c_str(), static_cast<unsigned long long>(f.bytes),
                f.shards.size(), static_cast<unsigned long long>(f.fnv64));
  }
}

void inspect(const std::string& dir, const launcher::World* world) {
  runtime::Located at = runtime::locate_checkpoint(dir);
  runtime::Manifest m = runtime::read_manifest(at.path);
  const bool lead = !world || world->lead();
  if (lead) {
    for (const std::string& s : at.skipped) std::printf("incomplete (no manifest): %s\n", s.c_str());
    print_manifest(at.path, m);
  }
  runtime::verify_checkpoint(at.path, m);
  if (lead) std::printf("checksums: all %zu files match\n", m.files.size());
  // What resuming would refuse (runtime/job.h), found here first.
  if (const std::optional<runtime::NonFinite> bad = runtime::first_non_finite(at.path, m)) {
    const runtime::SavedValue* v = m.find(bad->value);
    throw Error("checkpoint '" + at.path + "' holds " + (v ? v->kind : std::string("value")) + " '" + bad->value +
                "' with " + std::to_string(bad->count) + " NaN or infinite of its " + std::to_string(bad->elements) +
                " elements in " + bad->file + ": a resume from it is refused");
  }
  if (lead) std::printf("values: every element finite\n");
}

}  // namespace

void add_checkpoint_command(CLI::App& app, const launcher::World* world) {
  auto* cmd = app.add_subcommand("checkpoint", "Work with checkpoints");
  cmd->require_subcommand(1);
  auto dir = std::make_shared<std::string>();
  auto* ins = cmd->add_subcommand("inspect", "Print a checkpoint's manifest and verify its checksums");
  ins->add_option("dir", *dir, "a checkpoint, or a directory of them (its newest complete one)")->required();
  ins->callback([dir, world] { inspect(*dir, world); });
}

}  // namespace spmd::tools
