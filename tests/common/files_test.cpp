// Files read whole with one-line errors, and written so that a failure never leaves a torn
// or half-replaced file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "tests/support/scratch.h"

namespace spmd {
namespace {

std::string temp(const std::string& name) { return spmd::testing::scratch_path(name); }

std::string contents(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Files, ReadingADirectoryOrFifoOrNothingSaysWhich) {
  EXPECT_EQ(message_of([] { read_text_file("/nonexistent/x", "plan file"); }), "plan file '/nonexistent/x' does not exist");
  EXPECT_EQ(message_of([] { read_text_file("/tmp", "plan file"); }), "plan file '/tmp' is a directory");
  std::string fifo = temp("fifo");
  unlink(fifo.c_str());  // left by an earlier process of the same pid
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(message_of([&] { read_text_file(fifo, "data file"); }), "data file '" + fifo + "' is not a regular file");
  unlink(fifo.c_str());
}

TEST(Files, ReadsAnEmptyFileAsEmpty) {
  std::string path = temp("empty");
  std::ofstream{path};
  EXPECT_EQ(read_text_file(path, "file"), "");
}

TEST(Files, AtomicWriteReplacesTheFileWhole) {
  std::string path = temp("atomic");
  write_file_atomically(path, "first\n");
  write_file_atomically(path, "second\n");
  EXPECT_EQ(contents(path), "second\n");
}

TEST(Files, AnUncommittedWriteLeavesThePreviousFileAndNoTemporary) {
  std::string path = temp("kept");
  write_file_atomically(path, "previous\n");
  {
    AtomicFile file(path);
    file.write("half of the new");
  }
  EXPECT_EQ(contents(path), "previous\n");
  std::string dir = ::testing::TempDir();
  for (const char* suffix : {".tmp."}) {
    std::string tmp = path + suffix + std::to_string(getpid());
    EXPECT_NE(access(tmp.c_str(), F_OK), 0) << tmp << " was left behind";
  }
}

TEST(Files, WriteErrorsAreJobFailures) {
  AtomicFile full("/dev/full");
  EXPECT_THROW(
      {
        full.write(std::string(1 << 16, 'x'));
        full.commit();
      },
      JobFailure);
}

TEST(Files, AFileInAMissingDirectoryIsTheUsersMistake) {
  EXPECT_THROW(AtomicFile("/nonexistent/dir/file"), Error);
  EXPECT_THROW(AtomicFile("/tmp"), Error);
}

}  // namespace
}  // namespace spmd
