// Every #include of the source tree follows the folder table of DESIGN.md (arrows point to what
// a folder may use, never the other way).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "include_rules.hpp"

namespace xbarnet {
namespace {

namespace fs = std::filesystem;

TEST(Layering, EveryIncludeFollowsTheFolderTable) {
  const fs::path root(XBARNET_SOURCE_DIR);
  int files = 0;
  std::string violations;
  for (const auto& [folder, allowed] : testing::include_rules()) {
    if (!fs::exists(root / folder)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root / folder)) {
      const std::string ext = entry.path().extension().string();
      if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp" && ext != ".h")) continue;
      std::ifstream f(entry.path());
      const std::string text((std::istreambuf_iterator<char>(f)), {});
      const std::string rel = fs::relative(entry.path(), root).generic_string();
      for (const auto& v : testing::check_includes(rel, text)) violations += v.message + "\n";
      ++files;
    }
  }
  EXPECT_GT(files, 40);
  EXPECT_EQ(violations, "");
}

TEST(Layering, AnUpwardIncludeIsCaught) {
  const auto v =
      testing::check_includes("solver/backends.cpp",
                              "#include <cmath>\n#include \"core/status.hpp\"\n"
                              "  #include \"mapping/plan.hpp\"\n#include \"devices/device.hpp\"\n");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].line, 3);
  EXPECT_EQ(v[0].message,
            "solver/backends.cpp:3: solver/ may not include mapping/plan.hpp (solver/ may use: "
            "core/, netlists/; DESIGN.md, folder table)");
  EXPECT_EQ(v[1].included, "devices/device.hpp");
  EXPECT_TRUE(testing::check_includes("core/status.hpp", "#include \"devices/device.hpp\"\n")
                  .front()
                  .message.find("nothing of ours") != std::string::npos);
  EXPECT_TRUE(testing::check_includes("cli/main.cpp", "#include \"mapping/plan.hpp\"\n").empty());
  // Angle brackets and relative paths reach our folders too.
  EXPECT_EQ(testing::check_includes("solver/a.cpp", "#include <mapping/plan.hpp>\n").size(), 1u);
  const auto rel = testing::check_includes("solver/a.cpp", "#include \"../mapping/plan.hpp\"\n");
  ASSERT_EQ(rel.size(), 1u);
  EXPECT_EQ(rel[0].included, "mapping/plan.hpp");
  EXPECT_TRUE(testing::check_includes("solver/a.cpp", "#include \"./ordering.hpp\"\n").empty());
  EXPECT_TRUE(testing::check_includes("solver/a.cpp", "#include <vector>\n").empty());
  EXPECT_TRUE(testing::check_includes("solver/a.cpp", "#include <Eigen/Dense>\n").empty());
}

}  // namespace
}  // namespace xbarnet
