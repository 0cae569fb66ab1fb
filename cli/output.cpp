#include "cli/output.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <system_error>

#include "cli/npy.hpp"

namespace xbarnet::cli {

namespace fs = std::filesystem;

OutputSet::~OutputSet() {
  if (committed_) return;
  for (const Entry& e : entries_) {
    std::error_code ec;
    fs::remove(e.temporary, ec);  // best effort: never throws from a destructor
  }
}

fs::path OutputSet::stage(const fs::path& target) {
  if (target.empty()) throw InputError("an output file name is empty");
  std::error_code ec;
  const fs::file_status st = fs::status(target, ec);
  if (fs::exists(st) && !fs::is_regular_file(st)) {
    throw InputError(fmt::format(
        "{}: exists and is not a regular file (a directory or a device): xbarnet writes "
        "regular files only and does not replace it",
        target.string()));
  }
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(dir, ec)) {
    throw InputError(
        fmt::format("{}: its directory {} does not exist", target.string(), dir.string()));
  }
  for (const Entry& e : entries_) {
    if (fs::weakly_canonical(e.target, ec) == fs::weakly_canonical(target, ec)) {
      throw InputError(fmt::format("{}: written twice by one run", target.string()));
    }
  }
  // Unique within the process (this set, its index) and across processes (the pid).
  const std::string name = fmt::format(".{}.xbarnet-{}-{}-{}.tmp", target.filename().string(),
                                       ::getpid(), static_cast<const void*>(this), entries_.size());
  entries_.push_back({target, dir / name});
  return entries_.back().temporary;
}

void OutputSet::write_text(const fs::path& target,
                           const std::function<void(std::ostream&)>& write) {
  const fs::path tmp = stage(target);
  std::ofstream out(tmp, std::ios::binary);
  if (!out) throw InputError(fmt::format("{}: cannot open file for writing", target.string()));
  write(out);
  out.close();
  check_written(out, target);
}

std::vector<std::string> OutputSet::commit() {
  std::vector<std::string> replaced;
  for (const Entry& e : entries_) {
    std::error_code ec;
    if (!fs::exists(e.temporary, ec)) {
      throw InputError(fmt::format("{}: its output was never written", e.target.string()));
    }
  }
  for (const Entry& e : entries_) {
    std::error_code ec;
    if (fs::exists(e.target, ec)) replaced.push_back(e.target.string());
    fs::rename(e.temporary, e.target, ec);
    if (ec) {
      throw InputError(fmt::format("{}: cannot move the finished output into place: {}",
                                   e.target.string(), ec.message()));
    }
  }
  committed_ = true;
  return replaced;
}

void check_written(std::ostream& out, const fs::path& path) {
  if (!out) {
    throw InputError(
        fmt::format("{}: write failed (disk full, or a size limit reached)", path.string()));
  }
}

void make_output_directory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw InputError(fmt::format("{}: cannot be the output directory: {}", dir.string(),
                                 ec ? ec.message() : "not a directory"));
  }
}

}  // namespace xbarnet::cli
