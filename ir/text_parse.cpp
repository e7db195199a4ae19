// A line-oriented recursive-descent parser for the text form (ir/text.h). Each statement is
// one line; every error names the line and column.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "ir/ops.h"
#include "ir/text.h"

namespace spmd::ir {
namespace {

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

class LineParser {
 public:
  LineParser(std::string_view line, int number, const std::string& source)
      : s_(line), line_(number), source_(source) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(source_ + ":" + std::to_string(line_) + ":" + std::to_string(pos_ + 1) + ": " + what);
  }

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
  }
  bool at_end() {
    skip_space();
    return pos_ >= s_.size() || s_[pos_] == '#';
  }
  bool peek(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  bool accept(char c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }
  void expect(char c, const char* context) {
    if (!accept(c)) fail(std::string("expected '") + c + "' " + context + ", got " + rest());
  }
  std::string rest() {
    skip_space();
    if (pos_ >= s_.size()) return "end of line";
    std::string quoted = "'";
    quoted.append(s_.substr(pos_, 12));
    return quoted += "'";
  }
  void expect_end() {
    if (!at_end()) fail("unexpected " + rest() + " at end of statement");
  }

  std::string name(const char* what) {
    skip_space();
    size_t start = pos_;
    while (pos_ < s_.size() && (is_name_char(s_[pos_]) || s_[pos_] == '-')) ++pos_;
    if (start == pos_) fail(std::string("expected ") + what + ", got " + rest());
    return std::string(s_.substr(start, pos_ - start));
  }
  std::string value_ref() {
    skip_space();
    if (!accept('%')) fail("expected a value such as %x, got " + rest());
    size_t start = pos_;
    while (pos_ < s_.size() && is_name_char(s_[pos_])) ++pos_;
    if (start == pos_) fail("expected a value name after '%'");
    return std::string(s_.substr(start, pos_ - start));
  }
  size_t column() {
    skip_space();
    return pos_;
  }
  void rewind(size_t pos) { pos_ = pos; }

  int64_t integer() {
    skip_space();
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s_.data() + pos_, s_.data() + s_.size(), v);
    if (ec != std::errc()) fail("expected an integer, got " + rest());
    pos_ = static_cast<size_t>(p - s_.data());
    return v;
  }
  std::vector<int64_t> int_list() {
    expect('[', "to open a list");
    std::vector<int64_t> v;
    if (accept(']')) return v;
    do v.push_back(integer());
    while (accept(','));
    expect(']', "to close a list");
    return v;
  }
  std::string string_literal() {
    expect('"', "to open a string");
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c == '\\' && pos_ < s_.size()) {
        c = s_[pos_++];
        if (c == 'n') c = '\n';
      }
      out += c;
    }
    if (pos_ >= s_.size()) fail("unterminated string");
    ++pos_;
    return out;
  }
  AttrValue attr_value() {
    skip_space();
    if (peek('"')) return string_literal();
    if (peek('[')) return int_list();
    size_t end = pos_;
    while (end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || std::strchr("+-.", s_[end]))) ++end;
    std::string_view tok = s_.substr(pos_, end - pos_);
    bool is_real = tok.find_first_of(".eEni") != std::string_view::npos;
    if (is_real) {
      double d = 0;
      auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), d);
      if (ec != std::errc() || p != tok.data() + tok.size()) fail("expected a number, got " + rest());
      pos_ = end;
      return d;
    }
    int64_t i = integer();
    if (pos_ != end) fail("expected a number, got " + rest());
    return i;
  }
  Attrs attrs() {
    Attrs a;
    expect('{', "to open attributes");
    if (accept('}')) return a;
    do {
      std::string key = name("an attribute name");
      if (a.has(key)) fail("attribute '" + key + "' given twice");
      expect('=', "after the attribute name");
      a.set(key, attr_value());
    } while (accept(','));
    expect('}', "to close attributes");
    return a;
  }
  TensorType type() {
    size_t start = column();
    std::string dt = name("a type such as f32[8,16]");
    TensorType t;
    if (dt == "f32") t.dtype = DType::f32;
    else if (dt == "i32") t.dtype = DType::i32;
    else {
      pos_ = start;
      fail("unknown element type '" + dt + "' (expected f32 or i32)");
    }
    t.shape = int_list();
    return t;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  int line_;
  const std::string& source_;
};

class GraphParser {
 public:
  explicit GraphParser(const std::string& source) : source_(source) {}

  void statement(LineParser& p) {
    if (p.peek('%')) return node(p);
    size_t start = p.column();
    std::string word = p.name("a statement");
    if (word == "meta") {
      size_t at = p.column();
      g_.meta = p.attrs();
      checked(p, at, g_.meta);
    } else if (word == "output") {
      std::string out = p.name("an output name");
      p.expect('=', "after the output name");
      g_.outputs.emplace_back(out, lookup(p));
    } else if (word == "update") {
      ValueId target = lookup(p);
      p.expect('=', "after the updated value");
      ValueId next = lookup(p);
      check_update(p, target, next);
      g_.updates.emplace_back(target, next);
    } else {
      p.rewind(start);
      p.fail("expected a node (%x = ...), meta, output or update, got '" + word + "'");
    }
    p.expect_end();
  }

  Graph take() { return std::move(g_); }

 private:
  ValueId lookup(LineParser& p) {
    size_t at = p.column();
    std::string name = p.value_ref();
    auto it = ids_.find(name);
    if (it == ids_.end()) {
      p.rewind(at);
      p.fail("value %" + name + " is not defined before its use");
    }
    return it->second;
  }

  void node(LineParser& p) {
    size_t at = p.column();
    std::string label = p.value_ref();
    if (ids_.count(label)) {
      p.rewind(at);
      p.fail("value %" + label + " is defined twice");
    }
    p.expect('=', "after the value name");
    size_t op_at = p.column();
    Node n;
    n.op = p.name("an op name");
    const OpDef* def = find_op(n.op);
    if (!def) {
      p.rewind(op_at);
      p.fail("unknown op '" + n.op + "'");
    }
    if (p.peek('%')) {
      do n.inputs.push_back(lookup(p));
      while (p.accept(','));
    }
    if (size_t at = p.column(); p.peek('{')) {
      n.attrs = p.attrs();
      checked(p, at, n.attrs);
    }
    p.expect(':', "before the result type");
    size_t type_at = p.column();
    n.type = p.type();
    p.expect_end();
    bool numeric = std::all_of(label.begin(), label.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    n.name = numeric ? "" : label;
    check_type(p, n, *def, op_at, type_at);
    ids_[label] = static_cast<ValueId>(g_.nodes.size());
    g_.nodes.push_back(std::move(n));
  }

  void check_type(LineParser& p, const Node& n, const OpDef& def, size_t op_at, size_t type_at) {
    std::vector<TensorType> types;
    for (ValueId v : n.inputs) types.push_back(g_.type(v));
    if (def.arity >= 0 && static_cast<int>(types.size()) != def.arity) {
      p.rewind(op_at);
      p.fail(n.op + " takes " + std::to_string(def.arity) + " operands, got " + std::to_string(types.size()));
    }
    TensorType inferred;
    try {
      inferred = def.infer(types, n);
    } catch (const Error& e) {
      p.rewind(op_at);
      p.fail(e.what());
    }
    if (inferred != n.type) {
      p.rewind(type_at);
      p.fail("declared type " + to_string(n.type) + " but " + n.op + " of its operands gives " + to_string(inferred));
    }
  }

  // Attribute values out of range fail at the attribute list.
  void checked(LineParser& p, size_t at, const Attrs& attrs) {
    try {
      check_attr_values(attrs);
    } catch (const Error& e) {
      p.rewind(at);
      p.fail(e.what());
    }
  }

  void check_update(LineParser& p, ValueId target, ValueId next) {
    for (const auto& [updated, by] : g_.updates) {
      if (updated == target) p.fail(value_label(g_, target) + " is updated twice");
    }
    const std::string& op = g_.node(target).op;
    if (op_traits(op).source != Source::initialized) p.fail("only a param or state can be updated, not a " + op);
    if (g_.type(target) != g_.type(next)) p.fail("an update must keep the type " + to_string(g_.type(target)));
  }

  const std::string& source_;
  Graph g_;
  std::map<std::string, ValueId> ids_;
};

}  // namespace

Graph parse(std::string_view text, const std::string& source) {
  GraphParser graph(source);
  bool header = false;
  int number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    LineParser p(text.substr(start, end - start), ++number, source);
    start = end + 1;
    if (p.at_end()) continue;
    if (!header) {
      if (p.name("the header 'spmd-ir 1'") != "spmd-ir" || p.integer() != 1) p.fail("expected the header 'spmd-ir 1'");
      p.expect_end();
      header = true;
      continue;
    }
    graph.statement(p);
  }
  if (!header) throw Error(source + ": empty input, expected the header 'spmd-ir 1'");
  return graph.take();
}

Graph parse_file(const std::string& path) {
  return parse(read_text_file(path, "IR file"), path);
}

}  // namespace spmd::ir
