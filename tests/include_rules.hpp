// The folder table of DESIGN.md as data, and a checker of `#include "folder/..."` lines against
// it. Used by test_layering.cpp on the whole source tree and on deliberate violations.
#pragma once

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace xbarnet::testing {

// folder -> the folders of ours it may include (its own folder is always allowed).
inline const std::map<std::string, std::set<std::string>>& include_rules() {
  static const std::map<std::string, std::set<std::string>> kRules = [] {
    std::map<std::string, std::set<std::string>> r;
    r["core"] = {};
    r["devices"] = {"core"};
    r["netlists"] = {"core", "devices"};
    r["solver"] = {"core", "netlists"};
    r["corrections"] = {"core", "devices", "netlists", "solver"};
    r["mapping"] = {"core", "devices", "netlists", "solver", "corrections"};
    r["networks"] = {"core", "devices", "netlists", "solver", "corrections", "mapping"};
    const std::set<std::string> library = {"core",        "devices", "netlists", "solver",
                                           "corrections", "mapping", "networks"};
    r["cli"] = library;
    // The Python package is the second front end: it shares cli/'s file readers and report
    // writers (network config, IDX data sets, the layer report's JSON) rather than a copy of
    // them, so that its results and reports are the program's, to the bit. cli/ never
    // includes python/.
    r["python"] = library;
    r["python"].insert("cli");
    std::set<std::string> everything = library;
    everything.insert({"cli", "python", "tests", "validation", "bench", "examples"});
    for (const char* f : {"tests", "validation", "bench", "examples"}) r[f] = everything;
    return r;
  }();
  return kRules;
}

struct IncludeViolation {
  std::string file;
  int line = 0;
  std::string included;
  std::string message;
};

// Checks the text of `file` (a path relative to the source root, e.g. "solver/backends.cpp").
inline std::vector<IncludeViolation> check_includes(const std::string& file,
                                                    const std::string& text) {
  std::vector<IncludeViolation> out;
  const std::string folder = file.substr(0, file.find('/'));
  const auto rule = include_rules().find(folder);
  if (rule == include_rules().end()) return out;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const auto hash = line.find_first_not_of(" \t");
    if (hash == std::string::npos || line.compare(hash, 8, "#include") != 0) continue;
    // "..." and <...> alike: the source root is on the include path, so <mapping/plan.hpp>
    // reaches our folders too. Relative paths are resolved against the including file's folder.
    auto open = line.find_first_of("\"<", hash + 8);
    if (open == std::string::npos) continue;
    const char closer = line[open] == '"' ? '"' : '>';
    const auto close = line.find(closer, open + 1);
    if (close == std::string::npos) continue;
    std::string inc = line.substr(open + 1, close - open - 1);
    if (inc.rfind("./", 0) == 0 || inc.rfind("../", 0) == 0) {
      std::vector<std::string> parts;
      std::string dir = file.substr(0, file.rfind('/'));
      for (std::string piece; !dir.empty();) {
        const auto cut = dir.find('/');
        piece = dir.substr(0, cut);
        parts.push_back(piece);
        dir = cut == std::string::npos ? "" : dir.substr(cut + 1);
      }
      std::string rest = inc;
      while (!rest.empty()) {
        const auto cut = rest.find('/');
        const std::string piece = rest.substr(0, cut);
        rest = cut == std::string::npos ? "" : rest.substr(cut + 1);
        if (piece == "..") {
          if (!parts.empty()) parts.pop_back();
        } else if (piece != ".") {
          parts.push_back(piece);
        }
      }
      inc.clear();
      for (const std::string& p : parts) inc += (inc.empty() ? "" : "/") + p;
    }
    const auto slash = inc.find('/');
    if (slash == std::string::npos) continue;  // a header beside the file, or <vector>
    const std::string target = inc.substr(0, slash);
    if (target == folder || rule->second.contains(target)) continue;
    if (!include_rules().contains(target)) continue;  // not one of our folders
    out.push_back({file, number, inc,
                   file + ":" + std::to_string(number) + ": " + folder + "/ may not include " +
                       inc + " (" + folder + "/ may use: " +
                       [&] {
                         std::string s;
                         for (const auto& f : rule->second) s += (s.empty() ? "" : ", ") + f + "/";
                         return s.empty() ? std::string("nothing of ours") : s;
                       }() +
                       "; DESIGN.md, folder table)"});
  }
  return out;
}

}  // namespace xbarnet::testing
