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
    r["python"] = library;
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
    const auto open = line.find('"', hash);
    if (open == std::string::npos) continue;  // <system> headers
    const auto close = line.find('"', open + 1);
    const std::string inc = line.substr(open + 1, close - open - 1);
    const auto slash = inc.find('/');
    if (slash == std::string::npos) continue;  // a header beside the file
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
