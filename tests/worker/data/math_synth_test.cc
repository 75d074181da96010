#include "worker/data/math_synth.h"

#include <numeric>
#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gwo::data {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// An exact fraction of the test's own, so the check does not reuse the generator's
// arithmetic.
struct Frac {
  __int128 n = 0;
  __int128 d = 1;
};
Frac Norm(__int128 n, __int128 d) {
  if (d < 0) n = -n, d = -d;
  __int128 a = n < 0 ? -n : n, b = d;
  while (b != 0) {
    const __int128 t = a % b;
    a = b;
    b = t;
  }
  return a == 0 ? Frac{0, 1} : Frac{n / a, d / a};
}
bool operator==(const Frac& a, const Frac& b) { return a.n == b.n && a.d == b.d; }

Frac Recompute(const MathProblem& p) {
  std::vector<Frac> v;
  for (size_t i = 0; i < p.given_text.size(); ++i) v.push_back(Norm(p.values[i].num, p.values[i].den));
  for (const MathStep& s : p.steps) {
    const Frac a = v.at(s.lhs), b = v.at(s.rhs);
    switch (s.op) {
      case MathOp::kAdd: v.push_back(Norm(a.n * b.d + b.n * a.d, a.d * b.d)); break;
      case MathOp::kSub: v.push_back(Norm(a.n * b.d - b.n * a.d, a.d * b.d)); break;
      case MathOp::kMul: v.push_back(Norm(a.n * b.n, a.d * b.d)); break;
      case MathOp::kDiv: v.push_back(Norm(a.n * b.d, a.d * b.n)); break;
    }
  }
  return v.back();
}

// "12", "12.5" or "7/3" as an exact fraction; false when it is none of those.
bool ParseAnswer(const std::string& s, Frac* out) {
  int64_t n = 0, d = 1;
  if (const size_t slash = s.find('/'); slash != std::string::npos) {
    if (!absl::SimpleAtoi(s.substr(0, slash), &n) || !absl::SimpleAtoi(s.substr(slash + 1), &d)) return false;
    *out = Norm(n, d);
    return true;
  }
  const size_t dot = s.find('.');
  if (dot == std::string::npos) {
    if (!absl::SimpleAtoi(s, &n)) return false;
    *out = Norm(n, 1);
    return true;
  }
  std::string digits = s.substr(0, dot) + s.substr(dot + 1);
  for (size_t i = dot + 1; i < s.size(); ++i) d *= 10;
  if (!absl::SimpleAtoi(digits, &n)) return false;
  *out = Norm(n, d);
  return true;
}

TEST(Rational, PrintsIntegersTerminatingDecimalsAndFractions) {
  EXPECT_EQ(Rational(42).ToString(), "42");
  EXPECT_EQ(Rational(25, 2).ToString(), "12.5");
  EXPECT_EQ(Rational(11, 4).ToString(), "2.75");
  EXPECT_EQ(Rational(-1, 4).ToString(), "-0.25");
  EXPECT_EQ(Rational(1, 40).ToString(), "0.025");
  EXPECT_EQ(Rational(14, 6).ToString(), "7/3");
  EXPECT_EQ(Rational(6, -4), Rational(-3, 2));
}

TEST(GenerateMathProblem, SameSeedLevelAndIndexGiveTheSameProblem) {
  for (int level = 1; level <= 3; ++level) {
    for (int64_t index : {0, 1, 17, 123456}) {
      absl::StatusOr<MathProblem> a = GenerateMathProblem(7, level, index);
      absl::StatusOr<MathProblem> b = GenerateMathProblem(7, level, index);
      ASSERT_TRUE(a.ok() && b.ok());
      EXPECT_EQ(a->Text(), b->Text());
      EXPECT_EQ(a->values, b->values);
      EXPECT_EQ(a->kind, b->kind);
    }
  }
}

TEST(GenerateMathProblem, ProblemsVaryWithIndexAndSeed) {
  std::set<std::string> texts, kinds;
  for (int64_t i = 0; i < 300; ++i) {
    absl::StatusOr<MathProblem> p = GenerateMathProblem(0, 1 + i % 3, i);
    ASSERT_TRUE(p.ok());
    texts.insert(p->Text());
    kinds.insert(p->kind);
  }
  EXPECT_GT(texts.size(), 290u);
  EXPECT_GE(kinds.size(), 15u);  // all templates of the three levels show up
  EXPECT_NE(GenerateMathProblem(0, 2, 5)->Text(), GenerateMathProblem(1, 2, 5)->Text());
}

TEST(GenerateMathProblem, StatedFinalAnswerEqualsTheRecomputedStructure) {
  for (int level = 1; level <= 3; ++level) {
    for (int64_t i = 0; i < 2000; ++i) {
      absl::StatusOr<MathProblem> p = GenerateMathProblem(3, level, i);
      ASSERT_TRUE(p.ok());
      SCOPED_TRACE(p->Text());
      // Layout: givens, then one value per step.
      ASSERT_EQ(p->values.size(), p->given_text.size() + p->steps.size());
      for (const MathStep& s : p->steps) {
        ASSERT_GE(s.lhs, 0);
        ASSERT_GE(s.rhs, 0);
      }
      // Every stated given is in the question; no value is negative.
      for (const std::string& g : p->given_text) {
        if (!g.empty()) EXPECT_THAT(p->question, HasSubstr(g));
      }
      for (const Rational& v : p->values) EXPECT_GE(v.num, 0);
      // The "#### " line states the recomputed answer, as an integer or decimal.
      const std::string text = p->Text();
      EXPECT_THAT(text, StartsWith("Question: "));
      const size_t at = text.rfind("\n#### ");
      ASSERT_NE(at, std::string::npos);
      const std::string stated = text.substr(at + 6);
      EXPECT_EQ(stated.find('/'), std::string::npos);
      Frac parsed;
      ASSERT_TRUE(ParseAnswer(stated, &parsed)) << stated;
      EXPECT_TRUE(parsed == Recompute(*p)) << stated;
      // The last worked line ends with the answer's value.
      EXPECT_THAT(p->solution.back(), HasSubstr(stated));
      // Difficulty shows in the structure.
      if (level == 1) EXPECT_EQ(p->steps.size(), 1u);
      if (level == 2) {
        EXPECT_EQ(p->steps.size(), 2u);
        bool mul_or_div = false;
        for (const MathStep& s : p->steps) mul_or_div |= s.op == MathOp::kMul || s.op == MathOp::kDiv;
        EXPECT_TRUE(mul_or_div);
      }
      if (level == 3) {
        EXPECT_GE(p->steps.size(), 3u);
        bool fraction_or_percent = false;
        for (const std::string& g : p->given_text) {
          fraction_or_percent |= g.find('%') != std::string::npos || g.find('/') != std::string::npos;
        }
        EXPECT_TRUE(fraction_or_percent);
      }
    }
  }
}

TEST(GenerateMathProblem, LevelOutsideOneToThreeIsInvalidArgument) {
  EXPECT_EQ(GenerateMathProblem(0, 0, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GenerateMathProblem(0, 4, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace gwo::data
