// Atomic outputs: a command stages every file it will write, writes them all to temporary files
// beside their targets, and renames them into place only when the whole run has succeeded
// (commit()). A run that fails (an exception, a full disk, a later file that cannot be written)
// leaves every earlier file byte-identical: the destructor removes the temporaries. Targets that
// exist and are not regular files (/dev/full, a directory) are refused, never replaced.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace xbarnet::cli {

class OutputSet {
 public:
  OutputSet() = default;
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;
  ~OutputSet();  // removes every temporary file not committed

  // The temporary path to write instead of `target` (in target's directory). Throws InputError
  // when the target cannot be a file we replace (it is a directory or a device, or its
  // directory does not exist) or is staged twice.
  std::filesystem::path stage(const std::filesystem::path& target);

  // Writes a staged text file through a stream and checks every write and the close.
  void write_text(const std::filesystem::path& target,
                  const std::function<void(std::ostream&)>& write);

  // Renames every staged file into place; returns the targets that already existed (replaced).
  std::vector<std::string> commit();

 private:
  struct Entry {
    std::filesystem::path target, temporary;
  };
  std::vector<Entry> entries_;
  bool committed_ = false;
};

// Checks a stream after its last write and close: throws InputError naming the file.
void check_written(std::ostream& out, const std::filesystem::path& path);

// Creates the output directory of a run (and its parents); InputError when it cannot be one.
void make_output_directory(const std::filesystem::path& dir);

}  // namespace xbarnet::cli
