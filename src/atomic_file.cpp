// Atomic file replacement with POSIX calls. open(O_EXCL) creates a fresh
// temporary file, and fsync makes the data reach the disk before the rename
// makes it visible. rename(2) replaces the destination atomically only within
// one file system, so the temporary file lives in the destination's directory.

#include "fmala/io/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>

#include "fmala/core/error.hpp"

namespace fmala::io {
namespace {

std::string errno_text(int error) { return std::strerror(error); }

std::string directory_of(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

// Opens a new temporary file next to `path`. The name is hidden (leading dot),
// starts with the destination's name so a leftover file after a crash is easy to
// attribute, and is unique per process and call.
int open_temporary(const std::string& path, std::string& temp_path) {
  static std::atomic<unsigned long long> counter{0};
  const std::filesystem::path target(path);
  const std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..") {
    throw make_error(path, "the output path names a directory, not a file",
                     "Give a file name at the end of the path");
  }

  constexpr int kAttempts = 100;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const std::string temp_name = "." + name + ".tmp-" + std::to_string(::getpid()) + "-" +
                                  std::to_string(counter.fetch_add(1));
    temp_path = (target.parent_path() / temp_name).string();
    const int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      return fd;
    }
    const int error = errno;
    if (error == EEXIST || error == EINTR) {
      continue;
    }
    const std::string directory = directory_of(path);
    if (error == ENOENT || error == ENOTDIR) {
      throw make_error(
          path, "cannot write the file because the directory '" + directory + "' does not exist",
          "Create the directory or choose another output path");
    }
    throw make_error(
        path,
        "cannot create a temporary file in the directory '" + directory + "': " + errno_text(error),
        "Check that the directory is writable and the disk is not full");
  }
  throw make_error(
      path,
      "cannot find an unused temporary file name after " + std::to_string(kAttempts) + " attempts",
      "Remove leftover '." + target.filename().string() + ".tmp-*' files");
}

// Flushes the directory entry created by rename. Failure is ignored: the data
// is already safe and some file systems do not support fsync on directories.
void sync_directory(const std::string& path) {
  const int fd = ::open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  fd_ = open_temporary(path_, temp_path_);
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    discard();
  }
}

void AtomicFile::write(const void* data, std::size_t size) {
  if (committed_ || fd_ < 0) {
    throw make_error(path_, "write after commit or after a failed write",
                     "Create a new AtomicFile for each output");
  }
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t written = ::write(fd_, bytes, size);
    if (written < 0) {
      const int error = errno;
      if (error == EINTR) {
        continue;
      }
      discard();
      throw make_error(path_, "writing failed: " + errno_text(error),
                       "Check free disk space and quotas; the previous file is unchanged");
    }
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
}

void AtomicFile::commit() {
  if (committed_ || fd_ < 0) {
    throw make_error(path_, "commit called twice or after a failed write",
                     "Create a new AtomicFile for each output");
  }
  if (::fsync(fd_) != 0) {
    const int error = errno;
    discard();
    throw make_error(path_, "flushing to disk failed: " + errno_text(error),
                     "Check free disk space; the previous file is unchanged");
  }
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) {
    const int error = errno;
    discard();
    throw make_error(path_, "closing the temporary file failed: " + errno_text(error),
                     "Check free disk space; the previous file is unchanged");
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int error = errno;
    discard();
    throw make_error(path_,
                     "renaming the temporary file onto the output failed: " + errno_text(error),
                     "Check that the output path is not a directory and is writable");
  }
  committed_ = true;
  sync_directory(path_);
}

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    ::unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  AtomicFile file(path);
  file.write(bytes);
  file.commit();
}

}  // namespace fmala::io
