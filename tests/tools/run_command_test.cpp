// spmd run and spmd ir end to end: metrics, determinism, and the IR file round trip.
#include <nlohmann/json.hpp>

#include "tests/tools/cli.h"

namespace spmd::testing {
namespace {

const char* kSmallGpt = "gpt:layers=1,d_model=32,heads=2,seq=16,vocab=64,batch=2";

std::vector<nlohmann::json> metrics(const std::string& path) {
  std::vector<nlohmann::json> records;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) records.push_back(nlohmann::json::parse(line));
  return records;
}

std::vector<double> losses(const std::vector<nlohmann::json>& records) {
  std::vector<double> out;
  for (const auto& r : records) out.push_back(r.at("loss").get<double>());
  return out;
}

TEST(RunCommand, WritesOneMetricsRecordPerStep) {
  std::string path = ::testing::TempDir() + "m.jsonl";
  Result r = run(std::string("run ") + kSmallGpt + " --steps 4 --metrics " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto records = metrics(path);
  ASSERT_EQ(records.size(), 4u);
  for (const char* key : {"step", "loss", "step_time_s", "tokens_per_s", "peak_bytes", "predicted_step_time_s",
                          "exposed_comm_s"}) {
    EXPECT_TRUE(records[0].contains(key)) << key;
  }
  EXPECT_EQ(records[3]["step"], 4);
  EXPECT_NE(r.out.find("step     1  loss"), std::string::npos) << r.out;
  // A non-terminal stdout gets no progress bar.
  EXPECT_EQ(r.out.find('\r'), std::string::npos);
}

// Data parallel on 2 ranks: the gradients' all-reduces are predicted and measured.
TEST(RunCommand, TwoRanksReportPredictedStepTimeAndExposedCommunication) {
  std::string path = ::testing::TempDir() + "m2.jsonl";
  Result r = run(mpirun(2, std::string("run ") + kSmallGpt + " --steps 2 --metrics " + path), /*raw=*/true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto records = metrics(path);
  ASSERT_EQ(records.size(), 2u);
  for (const auto& record : records) {
    EXPECT_GT(record.at("predicted_step_time_s").get<double>(), 0) << record;
    EXPECT_GT(record.at("exposed_comm_s").get<double>(), 0) << record;
    EXPECT_LT(record.at("exposed_comm_s").get<double>(), record.at("step_time_s").get<double>()) << record;
  }
  EXPECT_EQ(records[0]["predicted_step_time_s"], records[1]["predicted_step_time_s"]);
}

TEST(RunCommand, MlpReportsSamplesPerSecond) {
  std::string path = ::testing::TempDir() + "mlp.jsonl";
  ASSERT_EQ(run("run mlp:hidden=16 --steps 2 --metrics " + path).exit_code, 0);
  EXPECT_TRUE(metrics(path)[0].contains("samples_per_s"));
}

TEST(RunCommand, IrFileTrainsExactlyAsTheModel) {
  std::string dir = ::testing::TempDir();
  ASSERT_EQ(run(std::string("ir ") + kSmallGpt + " --lr 0.003").exit_code, 0);
  Result ir = run(std::string("ir ") + kSmallGpt + " --lr 0.003");
  std::ofstream(dir + "g.ir") << ir.out;
  ASSERT_EQ(run("run " + dir + "g.ir --steps 5 --seed 9 --metrics " + dir + "from_ir.jsonl").exit_code, 0);
  ASSERT_EQ(run(std::string("run ") + kSmallGpt + " --lr 0.003 --steps 5 --seed 9 --metrics " + dir + "from_model.jsonl").exit_code, 0);
  EXPECT_EQ(losses(metrics(dir + "from_ir.jsonl")), losses(metrics(dir + "from_model.jsonl")));
}

TEST(RunCommand, SameSeedSameLossesBitForBit) {
  std::string dir = ::testing::TempDir();
  ASSERT_EQ(run(std::string("run ") + kSmallGpt + " --steps 5 --metrics " + dir + "a.jsonl").exit_code, 0);
  ASSERT_EQ(run(std::string("run ") + kSmallGpt + " --steps 5 --metrics " + dir + "b.jsonl").exit_code, 0);
  EXPECT_EQ(losses(metrics(dir + "a.jsonl")), losses(metrics(dir + "b.jsonl")));
}

TEST(RunCommand, TrainsOnATextFile) {
  std::string path = ::testing::TempDir() + "corpus.txt";
  {
    std::ofstream out(path);
    for (int i = 0; i < 200; ++i) out << "hello world, this is a small corpus.\n";
  }
  Result r = run(std::string("run ") + kSmallGpt + " --steps 2 --data " + path);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("data: " + path), std::string::npos) << r.out;
}

}  // namespace
}  // namespace spmd::testing
