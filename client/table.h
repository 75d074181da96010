// Aligned text tables for the terminal.
#ifndef GWO_CLIENT_TABLE_H_
#define GWO_CLIENT_TABLE_H_

#include <string>
#include <vector>

namespace gwo::client {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Columns padded to their widest cell, two spaces apart.
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace gwo::client

#endif  // GWO_CLIENT_TABLE_H_
