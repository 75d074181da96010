#include "spec/yaml_guard.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "common/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spec/parse.h"

namespace gwo::spec {
namespace {

using ::testing::HasSubstr;

std::string Errors(const std::string& yaml, const YamlLimits& limits = {}) {
  ErrorList errors("job.yaml");
  const bool ok = CheckYamlText(yaml, &errors, limits);
  EXPECT_EQ(ok, errors.empty()) << errors.Joined();
  return errors.Joined();
}

constexpr char kJob[] = R"(name: demo
datasets:
  - {name: code, path: /tmp/corpus}
variants:
  - name: base
)";

TEST(YamlGuard, AcceptsAPlainJob) {
  EXPECT_EQ(Errors(kJob), "");
  EXPECT_TRUE(ParseExperimentSpec(kJob, "job.yaml").ok());
}

TEST(YamlGuard, RefusesADuplicateKeyNamingItAndItsLine) {
  EXPECT_EQ(Errors("name: x\nname: y\n"),
            "job.yaml:2:1: duplicate key \"name\" (each key may appear once in a mapping)");
  // In nested and flow mappings too, and once per mapping (the same key in two
  // sibling mappings is fine).
  EXPECT_THAT(Errors("training: {lr: 1, steps: 2, lr: 3}\n"), HasSubstr("1:29: duplicate key \"lr\""));
  EXPECT_EQ(Errors("variants:\n  - name: a\n  - name: b\n"), "");
  // What yaml-cpp alone does: keeps one value silently. The parser now refuses it.
  absl::Status s = ParseExperimentSpec(std::string(kJob) + "name: other\n", "job.yaml").status();
  EXPECT_THAT(s.message(), HasSubstr("duplicate key \"name\""));
}

TEST(YamlGuard, RefusesAnchorsAndAliasesSoNoAliasBombExpands) {
  EXPECT_THAT(Errors("a: &x {lr: 1}\nb: *x\n"), HasSubstr("1:4: anchors (&name) are not accepted"));
  EXPECT_THAT(Errors("a: &x {lr: 1}\nb: *x\n"), HasSubstr("2:4: aliases (*name) are not accepted"));
  // The "billion laughs": nine levels of ten aliases each. Refused before any
  // node tree exists, with a bounded number of messages.
  std::string bomb = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i < 9; ++i) {
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += (k ? ", *a" : "*a") + std::to_string(i - 1);
    bomb += "]\n";
  }
  const std::string errors = Errors(bomb);
  EXPECT_THAT(errors, HasSubstr("anchors (&name) are not accepted"));
  EXPECT_LE(std::count(errors.begin(), errors.end(), '\n'), 20);
}

TEST(YamlGuard, RefusesASecondDocument) {
  EXPECT_THAT(Errors("name: a\n---\nname: b\n"), HasSubstr("job.yaml:2:1: a second YAML document"));
  EXPECT_THAT(Errors("name: a\n...\n---\n"), HasSubstr("a second YAML document"));
  EXPECT_EQ(Errors("---\nname: a\n...\n"), "");  // one document with its markers is fine
}

TEST(YamlGuard, RefusesTextThatIsNotUtf8NamingTheByte) {
  EXPECT_EQ(Errors("name: a\ndescription: caf\xe9\n"),
            "job.yaml:2:17: not UTF-8 text at byte offset 24: the character that byte 0xe9 starts is cut off");
  std::optional<Utf8Error> bad = FindInvalidUtf8("name: a\ndescription: caf\xe9\n");
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->offset, 24u);
  EXPECT_EQ(bad->line, 1);
  EXPECT_EQ(bad->column, 16);
  EXPECT_EQ(bad->what, "the character that byte 0xe9 starts is cut off");
  // Valid multi-byte text passes; the column counts characters, not bytes.
  EXPECT_FALSE(FindInvalidUtf8("description: café ✓ 𝄞\n").has_value());
  bad = FindInvalidUtf8("é\xff");
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->offset, 2u);
  EXPECT_EQ(bad->column, 1);
  EXPECT_EQ(bad->what, "byte 0xff cannot start a character");
  // Overlong forms, surrogates and code points beyond U+10FFFF.
  EXPECT_EQ(FindInvalidUtf8("\xc0\xaf")->what, "byte 0xc0 cannot start a character");
  EXPECT_EQ(FindInvalidUtf8("\xe0\x80\xaf")->what, "an overlong encoding");
  EXPECT_EQ(FindInvalidUtf8("\xed\xa0\x80")->what, "a UTF-16 surrogate (U+D800..U+DFFF)");
  EXPECT_EQ(FindInvalidUtf8("\xf4\x90\x80\x80")->what, "a code point beyond U+10FFFF");
  EXPECT_EQ(FindInvalidUtf8("a\xc3z")->what, "byte 0x7a after 0xc3 is not a continuation byte");
}

TEST(YamlGuard, EnforcesSizeDepthAndNodeLimits) {
  YamlLimits small{.max_bytes = 64, .max_depth = 4, .max_nodes = 10};
  EXPECT_EQ(Errors(std::string(65, '#'), small), "job.yaml: the file has 65 bytes; at most 64 are accepted");
  EXPECT_EQ(Errors("a: {b: {c: [1]}}\n", small), "");
  EXPECT_THAT(Errors("a: {b: {c: [[1]]}}\n", small), HasSubstr("nested deeper than 4 levels"));
  EXPECT_THAT(Errors("a: [1, 2, 3, 4, 5, 6, 7, 8]\n", small), HasSubstr("more than 10 values in one file"));
  // The defaults: a deep flow list is refused with a message, not a stack overflow.
  EXPECT_THAT(Errors("a: " + std::string(40, '[') + std::string(40, ']') + "\n"),
              HasSubstr("job.yaml:1:35: nested deeper than 32 levels"));
  EXPECT_THAT(Errors("a: " + std::string(100000, '[') + "\n"), HasSubstr("nested deeper than 32 levels"));
  // And the parser uses the defaults: a 2 MiB file is refused.
  absl::Status s = ParseExperimentSpec(std::string(kJob) + "# " + std::string(2 << 20, 'x') + "\n", "job.yaml").status();
  EXPECT_THAT(s.message(), HasSubstr("at most 1048576 are accepted"));
}

TEST(YamlGuard, RefusesCollectionsAsKeysAndReportsSyntaxErrors) {
  EXPECT_THAT(Errors("? [a, b]\n: 1\n"), HasSubstr("a mapping key must be a plain value"));
  EXPECT_THAT(Errors("name: [a\n"), HasSubstr("malformed YAML"));
}

// Names, descriptions and YAML full of quotes, semicolons, control characters and SQL
// keywords are data: they parse to exactly what was written.
TEST(YamlGuard, HostileButValidTextParsesVerbatim) {
  const std::string description = "'; DROP TABLE runs; -- \"quoted\" \\ back\tslash SELECT * FROM x WHERE 1=1; \x01\x1f";
  std::string yaml = std::string(kJob) + "description: \"" ;
  for (char c : description) {
    if (c == '"' || c == '\\') {
      yaml += '\\';
      yaml += c;
    } else if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      yaml += buf;
    } else {
      yaml += c;
    }
  }
  yaml += "\"\n";
  absl::StatusOr<ExperimentSpec> spec = ParseExperimentSpec(yaml, "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->description, description);
}

}  // namespace
}  // namespace gwo::spec
