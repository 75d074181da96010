// A temporary directory for one test, removed with everything in it at the end.
#ifndef GWO_TESTS_WORKER_TEST_DIR_H_
#define GWO_TESTS_WORKER_TEST_DIR_H_

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace gwo::testing {

class TestDir {
 public:
  // Under $TMPDIR, or /tmp when that is unset or unusable. Throws when neither works
  // (a null mkdtemp result must not reach std::string).
  TestDir() {
    for (const std::string base : {TempBase(), std::string("/tmp")}) {
      std::string pattern = base + "/gwo_test_XXXXXX";
      if (mkdtemp(pattern.data()) != nullptr) {
        path_ = pattern;
        return;
      }
    }
    throw std::runtime_error(std::string("TestDir: cannot create a temporary directory: ") + std::strerror(errno));
  }
  // Not std::filesystem::remove_all: PyTorch's CUDA LibTorch (2.11 wheels) exports its
  // own copy of it from libtorch.so, which the loader bound this call to, and that copy
  // jumps to a null pointer (SIGSEGV, seen under cuda-gdb on an H100 host).
  ~TestDir() {
    nftw(path_.c_str(),
         [](const char* p, const struct stat*, int, struct FTW*) {
           ::remove(p);  // best effort: keep going
           return 0;
         },
         16,
         FTW_DEPTH | FTW_PHYS);
  }
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
  static std::string TempBase() {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    return ec ? std::string("/tmp") : base.string();
  }
  std::string path_;
};

}  // namespace gwo::testing

#endif  // GWO_TESTS_WORKER_TEST_DIR_H_
