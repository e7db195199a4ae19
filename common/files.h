// Files as the project reads and writes them: a text file read whole with one-line errors
// (not a directory, not a FIFO, not missing), and a file written so that no reader ever
// sees half of it: the text goes to a temporary name
// beside the target, is flushed and fsynced, and is renamed over the target only when
// complete (POSIX rename is atomic). A target that exists and is not a regular file (a
// device such as /dev/stdout, a FIFO) is written in place, since it cannot be renamed over.
#pragma once

#include <string>

namespace spmd {

class AtomicFile {
 public:
  // Opens "<path>.tmp.<pid>" for writing. Throws spmd::Error when it cannot be created (a
  // missing directory, a directory given as the path, no permission), naming `path` as
  // `what` ("plan file").
  explicit AtomicFile(std::string path, std::string what = "file");
  // Removes the temporary file unless commit() succeeded: a failed write leaves the
  // previous file whole.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends `text` (one write(2) loop). Throws spmd::JobFailure on a write error (a full
  // disk), naming the file and the system's reason.
  void write(const std::string& text);
  // fsync, close, rename over the target. Throws spmd::JobFailure on failure.
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_, what_, tmp_;
  int fd_ = -1;
  bool in_place_ = false;
};

// Tries that `path` can be written, as AtomicFile would (its temporary file is made and
// removed; the target is not touched), so that a path that cannot be fails before the work
// that would fill it. Throws as AtomicFile's constructor does. Cost: one open and unlink.
inline void try_writing(const std::string& path, const std::string& what) { AtomicFile(path, what); }

// Throws spmd::Error "<what> 'PATH' does not exist" / "is a directory" / "is not a regular
// file" (a FIFO, a device) unless `path` names a regular file. One stat(2).
void require_regular_file(const std::string& path, const std::string& what);

// The whole of a regular file. `what` names it in errors ("plan file"): throws spmd::Error
// "<what> 'PATH' does not exist" / "is a directory" / "is not a regular file" / "cannot be
// read: <reason>". Cost: one read of the file.
std::string read_text_file(const std::string& path, const std::string& what);

// Writes `text` to `path` atomically (AtomicFile, then commit).
void write_file_atomically(const std::string& path, const std::string& text, const std::string& what = "file");

}  // namespace spmd
