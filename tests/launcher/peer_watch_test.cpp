// The peer watch across processes, without MPI: a rank is a forked process holding its own
// watch, connected over TCP as under a job. A rank killed (SIGKILL, as mpirun's user or the
// kernel does) is named by every survivor with its pid, through rank 0's relay or, for
// rank 0 itself, directly; a rank that says it is leaving is not lost; a stopped rank is
// found by a probe.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <vector>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "launcher/peer_watch.h"

namespace spmd::launcher {
namespace {

// The address travels through a pipe as port, count, addresses.
void send_address(int fd, const WatchAddress& at) {
  const uint32_t head[2] = {at.port, static_cast<uint32_t>(at.ipv4.size())};
  ASSERT_EQ(write(fd, head, sizeof head), static_cast<ssize_t>(sizeof head));
  const ssize_t bytes = static_cast<ssize_t>(at.ipv4.size() * sizeof(uint32_t));
  ASSERT_EQ(write(fd, at.ipv4.data(), static_cast<size_t>(bytes)), bytes);
}

WatchAddress receive_address(int fd) {
  uint32_t head[2] = {};
  WatchAddress at;
  if (read(fd, head, sizeof head) != static_cast<ssize_t>(sizeof head)) return at;
  at.port = static_cast<uint16_t>(head[0]);
  at.ipv4.resize(head[1]);
  const ssize_t bytes = static_cast<ssize_t>(head[1] * sizeof(uint32_t));
  if (read(fd, at.ipv4.data(), static_cast<size_t>(bytes)) != bytes) at.ipv4.clear();
  return at;
}

// A process forked before any watch (so before any thread) that runs `body` with the
// read end of `to_child` and the write end of `from_child`, then exits.
struct Child {
  pid_t pid = -1;
  int to_child[2] = {-1, -1}, from_child[2] = {-1, -1};
  explicit Child(const std::function<void(int in, int out)>& body) {
    if (pipe(to_child) != 0 || pipe(from_child) != 0) return;
    pid = fork();
    if (pid == 0) {
      close(to_child[1]);
      close(from_child[0]);
      try {
        body(to_child[0], from_child[1]);
      } catch (...) {
        _exit(1);
      }
      _exit(0);
    }
    close(to_child[0]);
    close(from_child[1]);
  }
  // Stops the child (SIGSTOP: a hung peer) and waits until it is stopped: the signal takes
  // effect when the child is next scheduled, and on a loaded machine it answered the probe
  // that followed the kill first.
  bool stop() const {
    int status = 0;
    return kill(pid, SIGSTOP) == 0 && waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status);
  }
  ~Child() {
    if (pid > 0 && waitpid(pid, nullptr, WNOHANG) == 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    close(to_child[1]);
    close(from_child[0]);
  }
  void kill_now() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

bool heard_all(const PeerWatch& watch, int ranks) {
  for (int i = 0; i < 500 && watch.heard() < ranks; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return watch.heard() == ranks;
}

// Rank 2 of 3 in a child: connects, says it is ready, then waits for what the test does to it.
void rank_two(int in, int out, bool leave_cleanly) {
  std::unique_ptr<PeerWatch> watch = PeerWatch::member(2, 3, receive_address(in));
  (void)!write(out, "r", 1);
  char go = 0;
  (void)!read(in, &go, 1);
  if (leave_cleanly) watch.reset();
  else pause();
}

// A job of three: rank 0 and rank 1 here, rank 2 in `child`, every rank heard by rank 0.
struct ThreeRanks {
  std::unique_ptr<PeerWatch> lead, one;
  explicit ThreeRanks(Child& child) {
    lead = PeerWatch::lead(3);
    send_address(child.to_child[1], lead->address());
    one = PeerWatch::member(1, 3, lead->address());
    char ready = 0;
    EXPECT_EQ(read(child.from_child[0], &ready, 1), 1);
    EXPECT_TRUE(heard_all(*lead, 3));
  }
};

TEST(PeerWatch, ARankKilledIsNamedByEverySurvivorWithItsPid) {
  Child child([](int in, int out) { rank_two(in, out, false); });
  ASSERT_GT(child.pid, 0);
  auto [lead, one] = ThreeRanks(child);
  ASSERT_FALSE(HasFailure());
  PeerWatch::Lost lost[4];
  EXPECT_EQ(lead->lost(lost, 4), 0u);
  EXPECT_EQ(one->lost(lost, 4), 0u);

  const pid_t killed = child.pid;
  child.kill_now();
  for (const PeerWatch* survivor : {lead.get(), one.get()}) {
    ASSERT_EQ(survivor->lost(lost, 4, 10.0), 1u);
    EXPECT_EQ(lost[0].rank, 2);
    EXPECT_EQ(lost[0].pid, killed);
    EXPECT_TRUE(lost[0].this_host);
    EXPECT_GT(std::strlen(lost[0].host), 0u);
  }
}

TEST(PeerWatch, ARankThatSaysItIsLeavingIsNotLost) {
  Child child([](int in, int out) { rank_two(in, out, true); });
  ASSERT_GT(child.pid, 0);
  auto [lead, one] = ThreeRanks(child);
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(write(child.to_child[1], "g", 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(child.pid, &status, 0), child.pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  PeerWatch::Lost lost[4];
  EXPECT_EQ(lead->lost(lost, 4, 0.5), 0u);
  EXPECT_EQ(one->lost(lost, 4, 0.2), 0u);
  one->mark_leaving();  // rank 1 leaves too: its end is no loss either
  one.reset();
  EXPECT_EQ(lead->lost(lost, 4, 0.5), 0u);
}

// Rank 0 of 2 in a child, which waits for what the test does to it.
void rank_zero_of_two(int, int out) {
  std::unique_ptr<PeerWatch> lead = PeerWatch::lead(2);
  send_address(out, lead->address());
  pause();
}

TEST(PeerWatch, RankZerosLossIsSeenDirectly) {
  Child child(rank_zero_of_two);
  ASSERT_GT(child.pid, 0);
  std::unique_ptr<PeerWatch> one = PeerWatch::member(1, 2, receive_address(child.from_child[0]));
  ASSERT_TRUE(heard_all(*one, 2));  // rank 0's hello came back
  const pid_t killed = child.pid;
  child.kill_now();
  PeerWatch::Lost lost[4];
  ASSERT_EQ(one->lost(lost, 4, 10.0), 1u);
  EXPECT_EQ(lost[0].rank, 0);
  EXPECT_EQ(lost[0].pid, killed);
}

// A stopped rank (SIGSTOP: a hung peer) keeps its connection: a probe finds it, asked by
// any rank, and every survivor then names it, as stopped.
TEST(PeerWatch, AStoppedRankIsFoundByAProbeAndNamedByEverySurvivor) {
  Child child([](int in, int out) { rank_two(in, out, false); });
  ASSERT_GT(child.pid, 0);
  auto [lead, one] = ThreeRanks(child);
  ASSERT_FALSE(HasFailure());
  EXPECT_TRUE(one->unresponsive(0.3).empty()) << "every rank answers while all run";
  EXPECT_TRUE(lead->unresponsive(0.3).empty());

  ASSERT_TRUE(child.stop());
  const std::vector<PeerWatch::Lost> silent = one->unresponsive(0.3);
  ASSERT_EQ(silent.size(), 1u);
  EXPECT_EQ(silent[0].rank, 2);
  EXPECT_EQ(silent[0].pid, child.pid);
  EXPECT_TRUE(silent[0].stopped);
  EXPECT_EQ(describe(silent[0]), "rank 2 (pid " + std::to_string(child.pid) + ", on this host)");
  PeerWatch::Lost lost[4];
  for (const PeerWatch* survivor : {lead.get(), one.get()}) {
    ASSERT_EQ(survivor->lost(lost, 4, 1.0), 1u);
    EXPECT_EQ(lost[0].rank, 2);
    EXPECT_TRUE(lost[0].stopped);
  }
  // Killed now (mpirun ends it once the job fails): it stays named as stopped, not lost twice.
  child.kill_now();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(one->lost(lost, 4), 1u);
  EXPECT_TRUE(lost[0].stopped);
}

// A stopped rank that mpirun wakes to end it says it is leaving from its signal handler: it
// stays named as stopped, by rank 0 too, whose handler reads it as the same order ends it.
TEST(PeerWatch, AStoppedRankThatThenSaysItIsLeavingStaysNamedAsStopped) {
  Child child([](int in, int out) { rank_two(in, out, true); });
  ASSERT_GT(child.pid, 0);
  auto [lead, one] = ThreeRanks(child);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(child.stop());
  ASSERT_EQ(one->unresponsive(0.3).size(), 1u);
  ASSERT_EQ(kill(child.pid, SIGCONT), 0);
  ASSERT_EQ(write(child.to_child[1], "g", 1), 1);  // it lets its watch go: "leaving"
  ASSERT_EQ(waitpid(child.pid, nullptr, 0), child.pid);
  child.pid = -1;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // its frame read by rank 0
  PeerWatch::Lost lost[4];
  for (const PeerWatch* survivor : {lead.get(), one.get()}) {
    ASSERT_EQ(survivor->lost(lost, 4), 1u);
    EXPECT_EQ(lost[0].rank, 2);
    EXPECT_TRUE(lost[0].stopped);
  }
}

// A rank that asks while another's probe is under way (one begun before the peer stopped,
// which it answered) gets the result of a probe begun after its ask, which finds the peer.
TEST(PeerWatch, AProbeAskedDuringAnotherAnswersWithOneBegunAfterTheAsk) {
  Child child([](int in, int out) { rank_two(in, out, false); });
  ASSERT_GT(child.pid, 0);
  auto [lead, one] = ThreeRanks(child);
  ASSERT_FALSE(HasFailure());
  std::vector<PeerWatch::Lost> earlier;
  std::thread asks_first([&, watch = lead.get()] { earlier = watch->unresponsive(1.0); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // rank 2 answered its ping
  ASSERT_TRUE(child.stop());
  const std::vector<PeerWatch::Lost> silent = one->unresponsive(0.3);
  asks_first.join();
  EXPECT_TRUE(earlier.empty()) << "rank 2 answered the probe under way";
  ASSERT_EQ(silent.size(), 1u);
  EXPECT_EQ(silent[0].rank, 2);
  EXPECT_TRUE(silent[0].stopped);
}

// Rank 0 stopped: the rank that asks gets no result, and names rank 0.
TEST(PeerWatch, AStoppedRankZeroIsNamedByTheRankThatAsked) {
  Child child(rank_zero_of_two);
  ASSERT_GT(child.pid, 0);
  std::unique_ptr<PeerWatch> one = PeerWatch::member(1, 2, receive_address(child.from_child[0]));
  ASSERT_TRUE(heard_all(*one, 2));
  EXPECT_TRUE(one->unresponsive(0.2).empty());
  ASSERT_TRUE(child.stop());
  const auto start = std::chrono::steady_clock::now();
  const std::vector<PeerWatch::Lost> silent = one->unresponsive(0.2);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(silent.size(), 1u);
  EXPECT_EQ(silent[0].rank, 0);
  EXPECT_EQ(silent[0].pid, child.pid);
  EXPECT_TRUE(silent[0].stopped);
  EXPECT_LT(seconds, 3.0);
}

TEST(PeerWatch, ARankThatCannotReachRankZeroSaysWhereItTried) {
  uint16_t port = 0;
  {
    std::unique_ptr<PeerWatch> gone = PeerWatch::lead(2);
    port = gone->address().port;
  }  // closed: nothing listens there now
  try {
    PeerWatch::member(1, 2, WatchAddress{port, {0x7f000001u}}, 0.5);
    FAIL() << "connected to a closed port";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot reach rank 0's peer watch at 127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace spmd::launcher
