#include "runtime/data.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "common/hash.h"

namespace spmd::runtime {
namespace {

// One random stream per (seed, step, row), so that any row can be drawn alone.
uint64_t row_seed(uint64_t seed, int64_t step, int64_t row) {
  return (seed * 1000003u + static_cast<uint64_t>(step)) * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(row);
}

// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
// OOPSLA 2014) as a standard random bit generator: a row's stream costs one word of state,
// where a Mersenne Twister seeded per row regenerates 312 words before its first number.
class RowRandom {
 public:
  using result_type = uint64_t;
  explicit RowRandom(uint64_t seed) : state_(seed) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// A source's whole shape: its own, or in a per-device program the `global` one it is a
// shard of.
ir::Shape global_shape(const ir::Node& n) { return n.attrs.has("global") ? n.attrs.ints("global") : n.type.shape; }

ir::Shape feed_shape(const ir::Graph& g, const std::string& feed) {
  for (ir::ValueId v : g.nodes_with_op("input")) {
    if (g.node(v).attrs.s("feed", "") == feed) return global_shape(g.node(v));
  }
  throw Error("the model has no input fed '" + feed + "'");
}

// The rows of the table the tokens index (the embedding a gather reads them into): token
// ids must stay below it. 0 when no gather reads the tokens.
int64_t token_table_rows(const ir::Graph& g) {
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    if (n.op != "gather" || n.inputs.size() != 2) continue;
    const ir::Node& ids = g.node(n.inputs[1]);
    if (ids.op == "input" && ids.attrs.s("feed", "") == "tokens") return global_shape(g.node(n.inputs[0])).at(0);
  }
  return 0;
}

// The classes the labels take: the last dimension of the scores an op reads beside them
// (an operand one dimension longer than the labels, whole along it); 2 when none does.
int64_t class_count(const ir::Graph& g) {
  for (ir::ValueId labels : g.nodes_with_op("input")) {
    if (g.node(labels).attrs.s("feed", "") != "labels") continue;
    for (const ir::Node& reader : g.nodes) {
      if (std::find(reader.inputs.begin(), reader.inputs.end(), labels) == reader.inputs.end()) continue;
      for (ir::ValueId x : reader.inputs) {
        if (g.type(x).rank() == g.type(labels).rank() + 1) return g.type(x).shape.back();
      }
    }
  }
  return 2;
}

// Next-token prediction on a byte string: each row is a random window of the corpus,
// targets are the same window shifted by one byte.
class LanguageModelData : public DataSource {
 public:
  LanguageModelData(std::string corpus, std::string origin, const ir::Graph& g, uint64_t seed)
      : corpus_(std::move(corpus)), origin_(std::move(origin)), seed_(seed) {
    ir::Shape shape = feed_shape(g, "tokens");
    batch_ = shape.at(0);
    seq_ = shape.at(1);
    if (int64_t rows = token_table_rows(g); rows > 0) vocab_ = rows;
    if (static_cast<int64_t>(corpus_.size()) < seq_ + 1) {
      throw Error("data '" + origin_ + "' has " + std::to_string(corpus_.size()) +
                  " bytes, fewer than seq+1 = " + std::to_string(seq_ + 1));
    }
  }

  uint64_t fingerprint() const override { return fnv64(corpus_.data(), corpus_.size()); }

  void fill(int64_t step, const Feeds& feeds) override {
    for (auto [feed, shift] : {std::pair{"tokens", 0}, std::pair{"targets", 1}}) {
      auto it = feeds.find(feed);
      if (it == feeds.end()) continue;
      const FeedSlice& f = it->second;
      for (int64_t r = 0; r < f.rows; ++r) {
        int64_t at = window(step, f.row_begin + r) + shift;
        for (int64_t s = 0; s < seq_; ++s) f.buffer.i32()[r * seq_ + s] = token(at + s);
      }
    }
  }
  int64_t items_per_step() const override { return batch_ * seq_; }
  std::string item_name() const override { return "tokens"; }
  std::string describe() const override {
    return origin_ + " (" + std::to_string(corpus_.size()) + " bytes, byte tokens)";
  }

 private:
  // Where row `row` of step `step`'s batch starts in the corpus.
  int64_t window(int64_t step, int64_t row) const {
    RowRandom rng(row_seed(seed_, step, row));
    return std::uniform_int_distribution<int64_t>(0, static_cast<int64_t>(corpus_.size()) - seq_ - 1)(rng);
  }
  // Bytes fold into the vocabulary so that a model with fewer than 256 tokens still runs.
  int32_t token(int64_t i) const { return static_cast<unsigned char>(corpus_[i]) % vocab_; }

  std::string corpus_, origin_;
  uint64_t seed_;
  int64_t batch_ = 0, seq_ = 0, vocab_ = 256;
};

// Points drawn from N(0, I), labelled by a fixed random linear teacher: argmax(x T).
class ClassificationData : public DataSource {
 public:
  ClassificationData(const ir::Graph& g, uint64_t seed) : seed_(seed) {
    ir::Shape shape = feed_shape(g, "features");
    batch_ = shape.at(0);
    features_ = shape.at(1);
    classes_ = class_count(g);
    std::mt19937_64 rng(7);  // the task is the same for every seed
    std::normal_distribution<float> normal;
    teacher_.resize(static_cast<size_t>(features_ * classes_));
    for (float& t : teacher_) t = normal(rng);
  }

  // A row both feeds hold is drawn once: the draw, not the copy, is most of a step's feeding.
  void fill(int64_t step, const Feeds& feeds) override {
    std::vector<float> x(static_cast<size_t>(features_));
    auto features = feeds.find("features");
    auto labels = feeds.find("labels");
    const FeedSlice* f = features == feeds.end() ? nullptr : &features->second;
    const FeedSlice* l = labels == feeds.end() ? nullptr : &labels->second;
    auto holds = [](const FeedSlice* s, int64_t row) { return s && row >= s->row_begin && row < s->row_begin + s->rows; };
    for (int64_t r = 0; f && r < f->rows; ++r) {
      const int64_t row = f->row_begin + r;
      point(step, row, x);
      std::copy(x.begin(), x.end(), f->buffer.f32() + r * features_);
      if (holds(l, row)) l->buffer.i32()[row - l->row_begin] = label(x.data());
    }
    for (int64_t r = 0; l && r < l->rows; ++r) {
      const int64_t row = l->row_begin + r;
      if (holds(f, row)) continue;
      point(step, row, x);
      l->buffer.i32()[r] = label(x.data());
    }
  }
  int64_t items_per_step() const override { return batch_; }
  std::string item_name() const override { return "samples"; }
  std::string describe() const override {
    return "synthetic classification (" + std::to_string(features_) + " features, " +
           std::to_string(classes_) + " classes)";
  }

 private:
  void point(int64_t step, int64_t row, std::vector<float>& x) const {
    RowRandom rng(row_seed(seed_, step, row));
    std::normal_distribution<float> normal;
    for (float& v : x) v = normal(rng);
  }

  int32_t label(const float* x) const {
    int32_t best = 0;
    float best_score = -1e30f;
    for (int64_t c = 0; c < classes_; ++c) {
      float score = 0;
      for (int64_t f = 0; f < features_; ++f) score += x[f] * teacher_[f * classes_ + c];
      if (score > best_score) best_score = score, best = static_cast<int32_t>(c);
    }
    return best;
  }

  uint64_t seed_;
  int64_t batch_ = 0, features_ = 0, classes_ = 2;
  std::vector<float> teacher_;
};

}  // namespace

FeedSlice whole(const kernels::TensorRef& buffer) {
  return {buffer, 0, buffer.type.shape.empty() ? 1 : buffer.type.shape[0]};
}

std::string synthetic_corpus(size_t bytes) {
  static const char* subjects[] = {"the cat", "a dog", "the bird", "my friend", "the old man", "a child"};
  static const char* verbs[] = {"sees", "likes", "finds", "eats", "wants", "holds"};
  static const char* objects[] = {"the ball", "a fish", "some bread", "the red box", "a small hat", "the tree"};
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pick(0, 5);
  std::string text;
  while (text.size() < bytes) {
    text += std::string(subjects[pick(rng)]) + " " + verbs[pick(rng)] + " " + objects[pick(rng)] + ".\n";
  }
  text.resize(bytes);
  return text;
}

namespace {

class CallbackData : public DataSource {
 public:
  CallbackData(FillFeeds fill, int64_t items, std::string item, std::string description)
      : fill_(std::move(fill)), items_(items), item_(std::move(item)), description_(std::move(description)) {}
  void fill(int64_t step, const Feeds& feeds) override { fill_(step, feeds); }
  int64_t items_per_step() const override { return items_; }
  std::string item_name() const override { return item_; }
  std::string describe() const override { return description_; }
  bool timeable() const override { return false; }

 private:
  FillFeeds fill_;
  int64_t items_;
  std::string item_, description_;
};

}  // namespace

std::unique_ptr<DataSource> make_callback_source(FillFeeds fill, int64_t items_per_step, std::string item_name,
                                                 std::string description) {
  if (!fill) throw Error("the data callback is empty");
  return std::make_unique<CallbackData>(std::move(fill), items_per_step, std::move(item_name), std::move(description));
}

std::unique_ptr<DataSource> make_data_source(const ir::Graph& g, uint64_t seed) {
  std::string task = g.meta.s("task", "");
  std::string data = g.meta.s("data", "synthetic");
  if (task == "language_model") {
    if (data == "synthetic") {
      return std::make_unique<LanguageModelData>(synthetic_corpus(1 << 20), "synthetic corpus", g, seed);
    }
    return std::make_unique<LanguageModelData>(read_text_file(data, "data file"), data, g, seed);
  }
  if (task == "classification") {
    if (data != "synthetic") throw Error("a classification model reads only synthetic data, not '" + data + "'");
    return std::make_unique<ClassificationData>(g, seed);
  }
  throw Error("the graph's meta 'task' is '" + task + "'; expected language_model or classification");
}

}  // namespace spmd::runtime
