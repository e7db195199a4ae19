#include "ir/verify.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/error.h"
#include "ir/ops.h"

namespace spmd::ir {
namespace {

[[noreturn]] void fail(const Graph& g, ValueId v, const std::string& what) {
  throw Error(value_label(g, v) + ": " + what);
}

void verify_node(const Graph& g, ValueId v, std::set<std::string>& names) {
  const Node& n = g.node(v);
  const OpDef* def = find_op(n.op);
  if (!def) fail(g, v, "unknown op '" + n.op + "'");
  if (def->arity >= 0 && static_cast<int>(n.inputs.size()) != def->arity) {
    fail(g, v, n.op + " takes " + std::to_string(def->arity) + " operands, got " + std::to_string(n.inputs.size()));
  }
  std::vector<TensorType> types;
  for (ValueId x : n.inputs) {
    if (x < 0 || x >= v) fail(g, v, "operand " + std::to_string(x) + " is not an earlier value");
    types.push_back(g.type(x));
  }
  if (!n.name.empty()) {
    bool numeric = std::all_of(n.name.begin(), n.name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    if (numeric) fail(g, v, "a name must not be a number");
    if (!names.insert(n.name).second) fail(g, v, "the name is used twice");
  }
  try {
    check_attr_values(n.attrs);
  } catch (const Error& e) {
    fail(g, v, e.what());
  }
  TensorType inferred;
  try {
    inferred = def->infer(types, n);
  } catch (const Error& e) {
    fail(g, v, e.what());
  }
  if (inferred != n.type) fail(g, v, "declared " + to_string(n.type) + " but " + n.op + " gives " + to_string(inferred));
}

}  // namespace

void verify(const Graph& g) {
  check_attr_values(g.meta);
  std::set<std::string> names;
  for (ValueId v = 0; v < g.size(); ++v) verify_node(g, v, names);
  auto valid = [&](ValueId v) { return v >= 0 && v < g.size(); };
  for (const auto& [name, v] : g.outputs) {
    if (!valid(v)) throw Error("output '" + name + "' names no value");
  }
  std::set<ValueId> updated;
  for (const auto& [target, next] : g.updates) {
    if (!valid(target) || !valid(next)) throw Error("an update names no value");
    const std::string& op = g.node(target).op;
    if (op_traits(op).source != Source::initialized) fail(g, target, "only a param or state can be updated, not a " + op);
    if (g.type(target) != g.type(next)) fail(g, target, "its update " + value_label(g, next) + " has another type");
    if (!updated.insert(target).second) fail(g, target, "is updated twice");
  }
}

}  // namespace spmd::ir
