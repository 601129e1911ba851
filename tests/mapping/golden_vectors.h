// Readers for the golden data files under tests/data: the tab-separated
// identifier vectors and the golden event directory.
#ifndef CONVERSIONS_TESTS_MAPPING_GOLDEN_VECTORS_H_
#define CONVERSIONS_TESTS_MAPPING_GOLDEN_VECTORS_H_

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace conversions::testing {

// One row of a vector file: kind, input, normalized (or DROP), and a last
// column that holds the hash (identifier_vectors.tsv) or "-" / the drop code
// (raw_field_vectors.tsv). `input` and `normalized` are unescaped.
struct VectorRow {
  std::string file;
  int line = 0;
  std::string kind;
  std::string input;
  std::string normalized;
  std::string last;

  bool dropped() const { return normalized == "DROP"; }
};

// Names a row by position for failure messages: "identifier_vectors.tsv:17
// (email)". Never the value.
inline std::string RowLocation(const VectorRow& row) {
  return row.file + ":" + std::to_string(row.line) + " (" + row.kind + ")";
}

// Appends the UTF-8 encoding of code point `cp`.
inline void AppendUtf8(std::uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Decodes the escapes of the vector files: \\ \t \n \r, \xHH (one raw byte)
// and \u{H...} (one code point). Sets *ok to false on a malformed escape.
inline std::string Unescape(std::string_view s, bool* ok) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 1 >= s.size()) {
      *ok = false;
      return out;
    }
    char e = s[++i];
    switch (e) {
      case '\\':
        out.push_back('\\');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'x':
        if (i + 2 >= s.size()) {
          *ok = false;
          return out;
        }
        out.push_back(static_cast<char>(
            std::stoul(std::string(s.substr(i + 1, 2)), nullptr, 16)));
        i += 2;
        break;
      case 'u': {
        size_t close = s.find('}', i);
        if (i + 1 >= s.size() || s[i + 1] != '{' ||
            close == std::string_view::npos) {
          *ok = false;
          return out;
        }
        AppendUtf8(
            static_cast<std::uint32_t>(std::stoul(
                std::string(s.substr(i + 2, close - i - 2)), nullptr, 16)),
            &out);
        i = close;
        break;
      }
      default:
        *ok = false;
        return out;
    }
  }
  return out;
}

// The rows of a vector file under tests/data, and the numbers of the lines
// that are not four tab-separated columns or hold a bad escape.
struct VectorFile {
  std::vector<VectorRow> rows;
  std::vector<int> malformed_lines;
};

// Reads a vector file under tests/data. Does not use gtest assertions, so
// that it can run while parameterized tests are being registered; a missing
// file gives no rows.
inline VectorFile ReadVectorFile(const std::string& relative_path) {
  VectorFile result;
  std::ifstream in(std::string(CONVERSIONS_TEST_DATA_DIR) + "/" +
                   relative_path);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> columns;
    size_t start = 0;
    while (true) {
      size_t tab = line.find('\t', start);
      columns.push_back(line.substr(start, tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    bool ok = columns.size() == 4;
    VectorRow row;
    if (ok) {
      row.file = relative_path;
      row.line = number;
      row.kind = columns[0];
      row.input = Unescape(columns[1], &ok);
      row.normalized = Unescape(columns[2], &ok);
      row.last = columns[3];
    }
    if (ok) {
      result.rows.push_back(std::move(row));
    } else {
      result.malformed_lines.push_back(number);
    }
  }
  return result;
}

inline std::vector<VectorRow> ReadVectorRows(const std::string& relative_path) {
  return ReadVectorFile(relative_path).rows;
}

// Returns the sorted names <name> of the golden events under
// tests/data/golden: each has <name>.event.textproto and <name>.wire.json.
inline std::vector<std::string> GoldenEventNames() {
  constexpr std::string_view kSuffix = ".event.textproto";
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::string(CONVERSIONS_TEST_DATA_DIR) + "/golden", error)) {
    std::string file = entry.path().filename().string();
    if (file.size() > kSuffix.size() &&
        file.compare(file.size() - kSuffix.size(), kSuffix.size(), kSuffix) ==
            0) {
      names.push_back(file.substr(0, file.size() - kSuffix.size()));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace conversions::testing

#endif  // CONVERSIONS_TESTS_MAPPING_GOLDEN_VECTORS_H_
