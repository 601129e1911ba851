// A temporary folder for a test, removed with its contents afterwards.
#ifndef CONVERSIONS_TESTS_SERVICE_TEMP_DIR_H_
#define CONVERSIONS_TESTS_SERVICE_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace conversions::testing {

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "conversions-XXXXXX")
            .string();
    path_ = mkdtemp(pattern.data()) ? pattern : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_SERVICE_TEMP_DIR_H_
