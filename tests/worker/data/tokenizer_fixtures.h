// Where the tokenizer tests find tests/fixtures/tokenizers.
#ifndef GWO_TESTS_WORKER_DATA_TOKENIZER_FIXTURES_H_
#define GWO_TESTS_WORKER_DATA_TOKENIZER_FIXTURES_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace gwo::data {

// $GWO_SOURCE_DIR/tests/fixtures/tokenizers/<name>; without that variable, under the
// source dir CMake compiled in (GWO_TEST_SOURCE_DIR). Not __FILE__: ccache with a
// base_dir compiles with relative paths, which do not hold from the test's directory.
inline std::string TokenizerFixture(const std::string& name) {
  const char* root = std::getenv("GWO_SOURCE_DIR");
  const std::filesystem::path dir =
      std::filesystem::path(root != nullptr && *root != '\0' ? root : GWO_TEST_SOURCE_DIR) / "tests/fixtures/tokenizers";
  return (dir / name).lexically_normal().string();
}

}  // namespace gwo::data

#endif  // GWO_TESTS_WORKER_DATA_TOKENIZER_FIXTURES_H_
