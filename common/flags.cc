#include "common/flags.h"

#include "absl/flags/parse.h"

namespace gwo {

std::vector<std::string> ParseFlags(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& a = args[i];
    if (a == "--") break;
    if (a.size() < 3 || a[0] != '-') continue;
    size_t start = a[1] == '-' ? 2 : 1;
    size_t end = a.find('=');
    if (end == std::string::npos) end = a.size();
    for (size_t j = start; j < end; ++j) {
      if (a[j] == '-') a[j] = '_';
    }
  }
  std::vector<char*> ptrs;
  for (auto& a : args) ptrs.push_back(a.data());
  ptrs.push_back(nullptr);
  std::vector<char*> positional = absl::ParseCommandLine(argc, ptrs.data());
  return std::vector<std::string>(positional.begin(), positional.end());
}

}  // namespace gwo
