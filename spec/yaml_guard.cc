#include "spec/yaml_guard.h"

#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/utf8.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/exceptions.h"
#include "yaml-cpp/parser.h"

namespace gwo::spec {
namespace {

YAML::Mark MarkAt(int line, int column, size_t offset) {
  YAML::Mark m;
  m.pos = static_cast<int>(offset);
  m.line = line;
  m.column = column;
  return m;
}

struct LimitReached {};

// Walks the parser's events. Each mapping alternates key and value; a frame per open
// collection remembers which comes next and the keys seen.
class Guard : public YAML::EventHandler {
 public:
  Guard(const YamlLimits& limits, ErrorList* errors) : limits_(limits), errors_(errors) {}

  bool failed() const { return failed_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { Node(mark, anchor, "null", true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    Fail(mark, "aliases (*name) are not accepted in a spec; write the value out where it is used");
    Node(mark, YAML::NullAnchor, "", false);
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor, const std::string& value) override {
    Node(mark, anchor, value, true);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, anchor, /*is_map=*/false);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, anchor, /*is_map=*/true);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    bool is_map = false;
    bool next_is_key = true;
    std::set<std::string> keys;
  };

  // `stop`: a limit that makes reading on pointless (the parse ends with LimitReached).
  void Fail(const YAML::Mark& mark, absl::string_view message, bool stop = false) {
    failed_ = true;
    // One alias bomb is one error per anchor and alias, but not thousands.
    if (reported_ < 20) errors_->Add(mark, "", message);
    ++reported_;
    if (stop) throw LimitReached{};
  }

  // A node at `mark` in the innermost collection; `key_text` is its text when it is a
  // scalar (or null) that might be a mapping key.
  void Node(const YAML::Mark& mark, YAML::anchor_t anchor, const std::string& key_text, bool scalar) {
    if (anchor != YAML::NullAnchor) {
      Fail(mark, "anchors (&name) are not accepted in a spec; write the value out where it is used");
    }
    if (++nodes_ > limits_.max_nodes) {
      Fail(mark, absl::StrCat("more than ", limits_.max_nodes, " values in one file"), /*stop=*/true);
    }
    if (stack_.empty() || !stack_.back().is_map) return;
    Frame& f = stack_.back();
    const bool is_key = f.next_is_key;
    f.next_is_key = !f.next_is_key;
    if (!is_key) return;
    if (!scalar) {
      Fail(mark, "a mapping key must be a plain value, not a list or a mapping");
      return;
    }
    if (!f.keys.insert(key_text).second) {
      Fail(mark, absl::StrCat("duplicate key \"", key_text, "\" (each key may appear once in a mapping)"));
    }
  }

  void Open(const YAML::Mark& mark, YAML::anchor_t anchor, bool is_map) {
    Node(mark, anchor, "", false);
    if (static_cast<int>(stack_.size()) == limits_.max_depth) {
      Fail(mark, absl::StrCat("nested deeper than ", limits_.max_depth, " levels"), /*stop=*/true);
    }
    stack_.push_back(Frame{.is_map = is_map});
  }

  void Close() {
    if (!stack_.empty()) stack_.pop_back();
  }

  const YamlLimits& limits_;
  ErrorList* errors_;
  std::vector<Frame> stack_;
  int64_t nodes_ = 0;
  int reported_ = 0;
  bool failed_ = false;
};

}  // namespace

bool CheckYamlText(absl::string_view text, ErrorList* errors, const YamlLimits& limits) {
  if (text.size() > limits.max_bytes) {
    errors->Add(YAML::Mark::null_mark(), "",
                absl::StrCat("the file has ", text.size(), " bytes; at most ", limits.max_bytes, " are accepted"));
    return false;
  }
  if (std::optional<Utf8Error> bad = FindInvalidUtf8(text)) {
    errors->Add(MarkAt(bad->line, bad->column, bad->offset), "",
                absl::StrCat("not UTF-8 text at byte offset ", bad->offset, ": ", bad->what));
    return false;
  }
  std::istringstream in{std::string(text)};
  Guard guard(limits, errors);
  try {
    YAML::Parser parser(in);
    if (!parser.HandleNextDocument(guard)) return !guard.failed();
    if (guard.failed()) return false;
    // A second document would be ignored by the loader: say so instead.
    class Second : public YAML::EventHandler {
     public:
      void OnDocumentStart(const YAML::Mark& mark) override {
        if (!seen) start = mark;
        seen = true;
      }
      void OnDocumentEnd() override {}
      void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
      void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
      void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
      void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
      void OnSequenceEnd() override {}
      void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
      void OnMapEnd() override {}
      bool seen = false;
      YAML::Mark start;
    } second;
    if (parser.HandleNextDocument(second)) {
      errors->Add(second.start, "", "a second YAML document; a spec file holds one (remove the `---` and what follows)");
      return false;
    }
  } catch (const LimitReached&) {
    return false;
  } catch (const YAML::Exception& e) {
    errors->Add(e.mark, "", absl::StrCat("malformed YAML: ", e.msg));
    return false;
  }
  return true;
}

}  // namespace gwo::spec
