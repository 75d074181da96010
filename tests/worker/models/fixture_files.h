// Paths of the committed HF fixtures (tests/fixtures/hf) and whole-file reads, for
// the model tests.
#ifndef GWO_TESTS_WORKER_MODELS_FIXTURE_FILES_H_
#define GWO_TESTS_WORKER_MODELS_FIXTURE_FILES_H_

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace gwo::testing {

// <source dir>/tests/fixtures/hf/<name>: the source dir is $GWO_SOURCE_DIR when set,
// else the one the test was built from (GWO_TEST_SOURCE_DIR, set in CMakeLists.txt).
inline std::string HfFixture(const std::string& name) {
  const char* root = std::getenv("GWO_SOURCE_DIR");
  return std::string(root != nullptr ? root : GWO_TEST_SOURCE_DIR) + "/tests/fixtures/hf/" + name;
}

// The bytes of `path` ("" when it cannot be read).
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace gwo::testing

#endif  // GWO_TESTS_WORKER_MODELS_FIXTURE_FILES_H_
