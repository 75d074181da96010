// A generator of grade-school math word problems with worked, step-by-step answers
// ending in a GSM8K-style "#### <answer>" line: the math-synth corpus.
//
// Each problem is built as a small computation (given numbers, then one arithmetic
// step per line of the worked answer) and its text is written from the values that
// computation produced, so the stated answer is right by construction; the
// structure is kept so a test can recompute it.
#ifndef GWO_WORKER_DATA_MATH_SYNTH_H_
#define GWO_WORKER_DATA_MATH_SYNTH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace gwo::data {

// An exact fraction num/den, den > 0, in lowest terms.
struct Rational {
  int64_t num = 0;
  int64_t den = 1;

  Rational() = default;
  Rational(int64_t n) : num(n) {}  // NOLINT: integers convert implicitly
  Rational(int64_t n, int64_t d);  // normalises; d != 0

  bool is_integer() const { return den == 1; }
  // "42", "12.5" (when den has no prime factor but 2 and 5), else "7/3".
  std::string ToString() const;
  friend bool operator==(const Rational& a, const Rational& b) = default;
};
Rational operator+(const Rational& a, const Rational& b);
Rational operator-(const Rational& a, const Rational& b);
Rational operator*(const Rational& a, const Rational& b);
Rational operator/(const Rational& a, const Rational& b);  // b != 0

enum class MathOp { kAdd, kSub, kMul, kDiv };

// values[out] = values[lhs] op values[rhs], where out is the step's own index in
// MathProblem::values (after the givens and the earlier steps).
struct MathStep {
  MathOp op;
  int lhs;
  int rhs;
};

struct MathProblem {
  uint64_t seed = 0;
  int level = 1;
  int64_t index = 0;
  std::string kind;  // which template, e.g. "change" or "sale"
  // The givens first (given_text.size() of them), then one value per step.
  std::vector<Rational> values;
  // How each given is written in the question ("$2.50", "3/4", "25"); empty for a
  // constant the question does not state (100 for percentages, 60 minutes an hour).
  std::vector<std::string> given_text;
  std::vector<MathStep> steps;
  std::string question;
  std::vector<std::string> solution;  // the worked answer, one sentence a line
  Rational answer;                    // values.back()

  // "Question: <question>\nAnswer: <solution lines>\n#### <answer.ToString()>".
  std::string Text() const;
};

// The problem number `index` of difficulty `level` for `seed`: the same triple gives
// the same problem on every platform (own PRNG, no std distributions).
//   1: one step, adding or subtracting numbers up to ~60.
//   2: two steps with a multiplication or division, often money ($) or time units.
//   3: three to five steps with fractions and percentages.
// INVALID_ARGUMENT when level is not 1, 2 or 3.
absl::StatusOr<MathProblem> GenerateMathProblem(uint64_t seed, int level, int64_t index);

}  // namespace gwo::data

#endif  // GWO_WORKER_DATA_MATH_SYNTH_H_
