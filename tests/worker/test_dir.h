// A temporary directory for one test, removed with everything in it at the end.
#ifndef GWO_TESTS_WORKER_TEST_DIR_H_
#define GWO_TESTS_WORKER_TEST_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace gwo::testing {

class TestDir {
 public:
  TestDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "gwo_test_XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TestDir() { std::filesystem::remove_all(path_); }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(std::string_view relative) const {
    return (std::filesystem::path(path_) / relative).string();
  }
  // Writes `content` to `relative`, creating parent directories; returns the path.
  std::string Write(std::string_view relative, std::string_view content) const {
    const std::filesystem::path file = std::filesystem::path(path_) / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }

 private:
  std::string path_;
};

}  // namespace gwo::testing

#endif  // GWO_TESTS_WORKER_TEST_DIR_H_
