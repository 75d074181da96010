// Where the tokenizer tests find tests/fixtures/tokenizers.
#ifndef GWO_TESTS_WORKER_DATA_TOKENIZER_FIXTURES_H_
#define GWO_TESTS_WORKER_DATA_TOKENIZER_FIXTURES_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace gwo::data {

// $GWO_SOURCE_DIR/tests/fixtures/tokenizers/<name>; without that variable, found from
// this header's own path (CMake compiles with absolute paths).
inline std::string TokenizerFixture(const std::string& name) {
  const char* root = std::getenv("GWO_SOURCE_DIR");
  const std::filesystem::path dir =
      root != nullptr && *root != '\0'
          ? std::filesystem::path(root) / "tests/fixtures/tokenizers"
          : std::filesystem::path(__FILE__).parent_path() / "../../fixtures/tokenizers";
  return (dir / name).lexically_normal().string();
}

}  // namespace gwo::data

#endif  // GWO_TESTS_WORKER_DATA_TOKENIZER_FIXTURES_H_
