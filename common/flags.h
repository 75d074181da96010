// Command-line flags are ABSL_FLAGs, whose names use underscores. Users write
// `--data-dir` as often as `--data_dir`: both spellings are accepted.
#ifndef GWO_COMMON_FLAGS_H_
#define GWO_COMMON_FLAGS_H_

#include <string>
#include <vector>

namespace gwo {

// Parses absl flags after turning dashes inside flag names into underscores
// (`--data-dir=x` -> `--data_dir=x`; values and arguments after `--` untouched).
// Returns the positional arguments, argv[0] first.
std::vector<std::string> ParseFlags(int argc, char** argv);

}  // namespace gwo

#endif  // GWO_COMMON_FLAGS_H_
