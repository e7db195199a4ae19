#include "common/files.h"

#include <fstream>
#include <iterator>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/error.h"

namespace spmd {
namespace {

std::string reason() { return std::strerror(errno); }

}  // namespace

AtomicFile::AtomicFile(std::string path, std::string what) : path_(std::move(path)), what_(std::move(what)) {
  struct stat st{};
  if (::stat(path_.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) throw Error(what_ + " '" + path_ + "' is a directory");
  in_place_ = ::stat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
  tmp_ = in_place_ ? path_ : path_ + ".tmp." + std::to_string(::getpid());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot write " + what_ + " '" + path_ + "': " + reason());
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (fd_ >= 0 && !in_place_) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const std::string& text) {
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw JobFailure("writing " + what_ + " '" + path_ + "' failed: " + reason());
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  // fsync fails with EINVAL on pipes and character devices, which have nothing to sync.
  if (::fsync(fd_) != 0 && errno != EINVAL && errno != EROFS) {
    throw JobFailure("writing " + what_ + " '" + path_ + "' failed: " + reason());
  }
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    if (!in_place_) ::unlink(tmp_.c_str());
    throw JobFailure("writing " + what_ + " '" + path_ + "' failed: " + reason());
  }
  if (!in_place_ && std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    std::string why = reason();
    ::unlink(tmp_.c_str());
    throw JobFailure("cannot move the new " + what_ + " '" + path_ + "' into place: " + why);
  }
}

void require_regular_file(const std::string& path, const std::string& what) {
  struct stat st{};
  const std::string name = what + " '" + path + "'";
  if (::stat(path.c_str(), &st) != 0) throw Error(name + (errno == ENOENT ? " does not exist" : " cannot be read: " + reason()));
  if (S_ISDIR(st.st_mode)) throw Error(name + " is a directory");
  if (!S_ISREG(st.st_mode)) throw Error(name + " is not a regular file");
}

std::string read_text_file(const std::string& path, const std::string& what) {
  require_regular_file(path, what);
  const std::string name = what + " '" + path + "'";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(name + " cannot be read: " + reason());
  try {
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) throw Error(name + " cannot be read: " + reason());
    return text;
  } catch (const std::ios_base::failure&) {  // libstdc++'s filebuf throws on a failed read(2)
    throw Error(name + " cannot be read: " + reason());
  }
}

void write_file_atomically(const std::string& path, const std::string& text, const std::string& what) {
  AtomicFile file(path, what);
  file.write(text);
  file.commit();
}

}  // namespace spmd
