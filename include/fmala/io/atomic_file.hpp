#pragma once
// Atomic file replacement: output goes to a temporary file in the destination's
// directory, is flushed to disk, and is renamed over the destination. A reader
// sees either the old file or the complete new one, never a partial write, and
// the old file survives any failure before the rename.

#include <cstddef>
#include <string>
#include <string_view>

namespace fmala::io {

// Writes `bytes` to `path` atomically. Throws fmala::Error naming `path` when the
// directory is missing or not writable, the disk is full, or the rename fails.
void write_file_atomic(const std::string& path, const std::string& bytes);

// Streams a file to `path` atomically, for outputs too large to build in memory
// first. The constructor creates the temporary file; write() appends; commit()
// flushes and renames. Destroying an uncommitted AtomicFile removes the temporary
// file and leaves `path` untouched. All errors are fmala::Error naming `path`.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // Flushes the data to disk and renames the temporary file to `path`. Call once.
  void commit();

  const std::string& path() const { return path_; }

 private:
  void discard() noexcept;

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace fmala::io
