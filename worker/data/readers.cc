#include "worker/data/readers.h"

#include <filesystem>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "worker/data/corpus_files.h"
#include "worker/data/file_io.h"

namespace gwo::data {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Punctuation written without a space before it / after it.
bool IsCloser(std::string_view w) {
  return w == "," || w == "." || w == ";" || w == ":" || w == "!" || w == "?" || w == ")" ||
         w == "]" || w == "}" || w == "''" || w == "'";
}
bool IsOpener(std::string_view w) { return w == "(" || w == "[" || w == "{" || w == "``" || w == "`"; }

std::string_view Readable(std::string_view w) {
  if (w == "``" || w == "''") return "\"";
  if (w == "`") return "'";
  return w;
}

// Appends `doc` to `set` unless empty, cutting it to what is left of `max_bytes`.
// Returns false once the limit is reached (stop reading).
bool Add(Document doc, int64_t max_bytes, DocumentSet& set) {
  if (max_bytes > 0) {
    const int64_t left = max_bytes - set.bytes;
    if (left <= 0) return false;
    if (static_cast<int64_t>(doc.text.size()) > left) doc.text.resize(static_cast<size_t>(left));
  }
  if (!doc.text.empty()) {
    set.bytes += static_cast<int64_t>(doc.text.size());
    set.documents.push_back(std::move(doc));
  }
  return max_bytes <= 0 || set.bytes < max_bytes;
}

absl::Status LineError(const std::string& file, int64_t line, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": ", what));
}

// Cuts `doc` to what data.max_bytes_per_label leaves of its label's bytes (in
// `label_bytes`, updated); false when the label has none left (skip the document).
bool FitLabelBudget(const spec::DataSpec& data, Document& doc, std::map<std::string, int64_t>& label_bytes) {
  if (data.max_bytes_per_label <= 0) return true;
  int64_t& used = label_bytes[doc.label];
  const int64_t left = data.max_bytes_per_label - used;
  if (left <= 0) return false;
  if (static_cast<int64_t>(doc.text.size()) > left) doc.text.resize(static_cast<size_t>(left));
  used += static_cast<int64_t>(doc.text.size());
  return true;
}

// Reads the JSON lines of `file` into `set`; false in *more once max_bytes is reached.
// `label_bytes`: the bytes read so far per label (data.max_bytes_per_label).
absl::Status ReadJsonLines(const spec::DataSpec& data, const std::string& file,
                           const std::string& id_prefix, bool labelled, DocumentSet& set,
                           std::map<std::string, int64_t>& label_bytes, bool* more) {
  absl::StatusOr<std::string> content = ReadFileUpTo(file, -1);
  if (!content.ok()) return content.status();
  const std::string_view all = *content;
  int64_t line_number = 0;
  for (size_t pos = 0; pos < all.size() && *more;) {
    size_t end = all.find('\n', pos);
    if (end == std::string_view::npos) end = all.size();
    const std::string_view line = all.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    bool blank = true;
    for (const char c : line) blank = blank && IsSpace(c);
    if (blank) continue;

    Json object = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded()) return LineError(file, line_number, "not valid JSON");
    if (!object.is_object()) return LineError(file, line_number, "expected a JSON object");
    const auto text = object.find(data.field);
    if (text == object.end()) {
      return LineError(file, line_number, absl::StrCat("no field \"", data.field, "\""));
    }
    if (!text->is_string()) {
      return LineError(file, line_number,
                       absl::StrCat("field \"", data.field, "\" is not a string"));
    }
    Document doc;
    doc.id = absl::StrCat(id_prefix, ":", line_number);
    doc.text = text->get<std::string>();
    if (labelled) {
      const auto label = object.find(data.label_field);
      if (label == object.end() || label->is_null()) {
        return LineError(file, line_number, absl::StrCat("no label field \"", data.label_field, "\""));
      }
      if (label->is_object() || label->is_array()) {
        return LineError(file, line_number, absl::StrCat("label field \"", data.label_field,
                                                         "\" is not a string, number or bool"));
      }
      doc.label = label->is_string() ? label->get<std::string>() : label->dump();
      if (!FitLabelBudget(data, doc, label_bytes)) continue;
    }
    *more = Add(std::move(doc), data.max_bytes, set);
  }
  return absl::OkStatus();
}

}  // namespace

std::string DetagText(std::string_view tagged) {
  std::string out;
  bool paragraph_open = false;  // the current paragraph has words
  bool break_pending = false;   // a blank line ended the paragraph
  bool glue_next = false;       // the previous word opens (no space after it)
  for (size_t pos = 0; pos <= tagged.size();) {
    size_t end = tagged.find('\n', pos);
    if (end == std::string_view::npos) end = tagged.size();
    const std::string_view line = tagged.substr(pos, end - pos);
    pos = end + 1;
    bool any = false;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && IsSpace(line[i])) ++i;
      size_t j = i;
      while (j < line.size() && !IsSpace(line[j])) ++j;
      if (j == i) break;
      std::string_view token = line.substr(i, j - i);
      i = j;
      if (const size_t slash = token.rfind('/'); slash != std::string_view::npos && slash > 0) {
        token = token.substr(0, slash);
      }
      any = true;
      if (break_pending) {
        out += "\n\n";
        break_pending = paragraph_open = glue_next = false;
      }
      if (paragraph_open && !glue_next && !IsCloser(token)) out += ' ';
      out += Readable(token);
      paragraph_open = true;
      glue_next = IsOpener(token);
    }
    if (!any && paragraph_open) break_pending = true;
  }
  if (!out.empty()) out += '\n';
  return out;
}

absl::StatusOr<DocumentSet> ReadDocuments(const spec::DataSpec& data) {
  const std::string& format = data.format;
  const bool jsonl = format == "jsonl" || format == "labelled_jsonl";
  if (!jsonl && format != "text" && format != "tagged") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown corpus format '", format, "' (known: text, jsonl, tagged, labelled_jsonl)"));
  }
  absl::StatusOr<std::vector<std::string>> files = ListCorpusFiles(data.path, data.glob);
  if (!files.ok()) return files.status();

  if (data.max_bytes_per_label > 0 && format != "labelled_jsonl") {
    return absl::InvalidArgumentError(absl::StrCat("corpus '", data.name, "' has format '", format,
                                                   "'; max_bytes_per_label needs labelled_jsonl"));
  }
  std::error_code ec;
  const bool path_is_file = fs::is_regular_file(data.path, ec);
  DocumentSet set;
  std::map<std::string, int64_t> label_bytes;
  bool more = true;
  for (const std::string& file : *files) {
    if (!more) break;
    const std::string id = path_is_file
                               ? fs::path(file).filename().generic_string()
                               : fs::path(file).lexically_relative(data.path).generic_string();
    if (jsonl) {
      if (absl::Status s = ReadJsonLines(data, file, id, format == "labelled_jsonl", set, label_bytes, &more);
          !s.ok()) {
        return s;
      }
      continue;
    }
    // A text file is read only up to what max_bytes leaves (a corpus may be huge).
    const int64_t limit = data.max_bytes > 0 && format == "text" ? data.max_bytes - set.bytes : -1;
    absl::StatusOr<std::string> bytes = ReadFileUpTo(file, limit);
    if (!bytes.ok()) return bytes.status();
    Document doc;
    doc.id = id;
    doc.text = format == "tagged" ? DetagText(*bytes) : *std::move(bytes);
    more = Add(std::move(doc), data.max_bytes, set);
  }
  return set;
}

}  // namespace gwo::data
