#include "worker/data/math_synth.h"

#include <array>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace gwo::data {

Rational::Rational(int64_t n, int64_t d) {
  if (d < 0) n = -n, d = -d;
  const int64_t g = std::gcd(n, d);
  num = g == 0 ? 0 : n / g;
  den = g == 0 ? 1 : d / g;
}

Rational operator+(const Rational& a, const Rational& b) {
  return Rational(a.num * b.den + b.num * a.den, a.den * b.den);
}
Rational operator-(const Rational& a, const Rational& b) {
  return Rational(a.num * b.den - b.num * a.den, a.den * b.den);
}
Rational operator*(const Rational& a, const Rational& b) {
  return Rational(a.num * b.num, a.den * b.den);
}
Rational operator/(const Rational& a, const Rational& b) {
  return Rational(a.num * b.den, a.den * b.num);
}

std::string Rational::ToString() const {
  if (den == 1) return absl::StrCat(num);
  int64_t d = den;
  int digits = 0;
  int64_t scale = 1;
  while (d % 10 == 0 || d % 2 == 0 || d % 5 == 0) {
    if (d % 2 == 0) d /= 2;
    if (d % 5 == 0) d /= 5;
    ++digits;
    scale *= 10;
  }
  if (d != 1) return absl::StrCat(num, "/", den);
  // den divides 10^digits: print num/den with `digits` decimals, trailing zeros dropped.
  const int64_t scaled = num * (scale / den);
  std::string s = absl::StrCat(std::llabs(scaled) / scale, ".",
                               absl::StrFormat("%0*d", digits, std::llabs(scaled) % scale));
  while (s.back() == '0') s.pop_back();
  return (num < 0 ? "-" : "") + s;
}

std::string MathProblem::Text() const {
  return absl::StrCat("Question: ", question, "\nAnswer: ", absl::StrJoin(solution, "\n"),
                      "\n#### ", answer.ToString());
}

namespace {

// Most of this file is the problem templates (Level1..Level3, one case each): they
// read best side by side, so the file is longer than most.

// SplitMix64: a tiny PRNG whose sequence is fixed by its definition.
class Rng {
 public:
  explicit Rng(uint64_t state) : state_(state) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (the modulo bias is negligible at these sizes).
  int64_t Int(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& items) {
    return items[static_cast<size_t>(Int(0, static_cast<int64_t>(N) - 1))];
  }

 private:
  uint64_t state_;
};

struct Person {
  const char* name;
  bool she;
};
constexpr std::array<Person, 24> kPeople = {{
    {"Maria", true},  {"James", false}, {"Aisha", true},  {"Liam", false},   {"Sofia", true},
    {"Noah", false},  {"Mei", true},    {"Carlos", false}, {"Emma", true},   {"Omar", false},
    {"Priya", true},  {"Lucas", false}, {"Hana", true},   {"Daniel", false}, {"Zoe", true},
    {"Ravi", false},  {"Chloe", true},  {"Mateo", false}, {"Fatima", true},  {"Ethan", false},
    {"Grace", true},  {"Kenji", false}, {"Lena", true},   {"Samuel", false},
}};

std::string Money(const Rational& v) {
  if (v.is_integer()) return absl::StrCat("$", v.num);
  const Rational cents = v * 100;
  return absl::StrFormat("$%d.%02d", cents.num / 100, cents.num % 100);
}

// Builds one problem: givens first, then steps; the text is written from the values.
class Builder {
 public:
  Builder(MathProblem& p, Rng& rng) : p_(p), rng_(rng) {
    a_ = rng.Pick(kPeople);
    do b_ = rng.Pick(kPeople); while (b_.name == a_.name);
  }
  int Given(const Rational& v, std::string text) {
    p_.values.push_back(v);
    p_.given_text.push_back(std::move(text));
    return static_cast<int>(p_.values.size()) - 1;
  }
  int Given(int64_t v) { return Given(v, absl::StrCat(v)); }
  int Constant(int64_t v) { return Given(v, ""); }
  int Op(MathOp op, int lhs, int rhs) {
    const Rational& a = p_.values[lhs];
    const Rational& b = p_.values[rhs];
    Rational r;
    switch (op) {
      case MathOp::kAdd: r = a + b; break;
      case MathOp::kSub: r = a - b; break;
      case MathOp::kMul: r = a * b; break;
      case MathOp::kDiv: r = a / b; break;
    }
    p_.values.push_back(r);
    p_.steps.push_back({op, lhs, rhs});
    return static_cast<int>(p_.values.size()) - 1;
  }
  // A value as the text writes it: givens that are fractions as "3/4", others as
  // Rational::ToString ("12", "2.25").
  std::string V(int i) const {
    const Rational& v = p_.values[i];
    if (i < static_cast<int>(p_.given_text.size()) && !v.is_integer()) return absl::StrCat(v.num, "/", v.den);
    return v.ToString();
  }
  std::string M(int i) const { return Money(p_.values[i]); }
  // "1 page" or "3 pages": the value with the noun that agrees with it.
  std::string C(int i, const char* one, const char* many) const {
    return absl::StrCat(V(i), " ", p_.values[i] == Rational(1) ? one : many);
  }
  void Ask(std::string question) { p_.question = std::move(question); }
  void Say(std::string line) { p_.solution.push_back(std::move(line)); }

  // The main person and a second one; pronouns of the main person.
  const char* name() const { return a_.name; }
  const char* other() const { return b_.name; }
  const char* he() const { return a_.she ? "she" : "he"; }
  const char* He() const { return a_.she ? "She" : "He"; }
  const char* his() const { return a_.she ? "her" : "his"; }
  const char* him() const { return a_.she ? "her" : "him"; }
  Rng& rng() { return rng_; }
  bool One(int i) const { return p_.values[i] == Rational(1); }

 private:
  MathProblem& p_;
  Rng& rng_;
  Person a_;
  Person b_;
};

constexpr std::array<const char*, 8> kThings = {"apples",   "marbles", "stickers",      "pencils",
                                                "seashells", "coins",  "baseball cards", "books"};
constexpr std::array<const char*, 5> kFruit = {"apples", "strawberries", "oranges", "peaches",
                                               "plums"};

// Level 1: one addition or subtraction.
void Level1(Builder& b, MathProblem& p) {
  Rng& r = b.rng();
  const char* things = r.Pick(kThings);
  switch (r.Int(0, 5)) {
    case 0: {
      p.kind = "gain";
      const int x = b.Given(r.Int(2, 20)), y = b.Given(r.Int(1, 15));
      const int z = b.Op(MathOp::kAdd, x, y);
      b.Ask(absl::StrCat(b.name(), " has ", b.V(x), " ", things, ". ", b.other(), " gives ", b.him(),
                         " ", b.V(y), " more. How many ", things, " does ", b.name(), " have now?"));
      b.Say(absl::StrCat(b.name(), " now has ", b.V(x), " + ", b.V(y), " = ", b.V(z), " ", things, "."));
      return;
    }
    case 1: {
      p.kind = "give_away";
      const int64_t total = r.Int(5, 30);
      const int x = b.Given(total), y = b.Given(r.Int(1, total - 1));
      const int z = b.Op(MathOp::kSub, x, y);
      b.Ask(absl::StrCat(b.name(), " had ", b.V(x), " ", things, ". ", b.He(), " gave ", b.V(y),
                         " of them to ", b.other(), ". How many ", things, " does ", b.name(),
                         " have left?"));
      const std::string thing(things, std::strlen(things) - 1);  // every kThings ends in a plain "s"
      b.Say(absl::StrCat(b.name(), " has ", b.V(x), " - ", b.V(y), " = ", b.C(z, thing.c_str(), things),
                         " left."));
      return;
    }
    case 2: {
      p.kind = "pick";
      const char* fruit = r.Pick(kFruit);
      const int x = b.Given(r.Int(3, 30)), y = b.Given(r.Int(3, 30));
      const int z = b.Op(MathOp::kAdd, x, y);
      b.Ask(absl::StrCat(b.name(), " picked ", b.V(x), " ", fruit, " in the morning and ", b.V(y), " ",
                         fruit, " in the afternoon. How many ", fruit, " did ", b.name(),
                         " pick in all?"));
      b.Say(absl::StrCat(b.name(), " picked ", b.V(x), " + ", b.V(y), " = ", b.V(z), " ", fruit,
                         " in all."));
      return;
    }
    case 3: {
      const bool older = r.Int(0, 1) == 1;
      p.kind = older ? "age_older" : "age_younger";
      const int64_t age = r.Int(8, 16);
      const int x = b.Given(age), y = b.Given(r.Int(1, older ? 12 : age - 2));
      const int z = b.Op(older ? MathOp::kAdd : MathOp::kSub, x, y);
      b.Ask(absl::StrCat(b.name(), " is ", b.V(x), " years old. ", b.other(), " is ",
                         b.C(y, "year", "years"), " ", older ? "older" : "younger", " than ", b.name(), ". How old is ",
                         b.other(), "?"));
      b.Say(absl::StrCat(b.other(), " is ", b.V(x), older ? " + " : " - ", b.V(y), " = ", b.V(z),
                         " years old."));
      return;
    }
    case 4: {
      p.kind = "bus";
      const int64_t riders = r.Int(10, 45);
      const int x = b.Given(riders), y = b.Given(r.Int(1, riders - 1));
      const int z = b.Op(MathOp::kSub, x, y);
      b.Ask(absl::StrCat("A bus has ", b.V(x), " passengers. At the next stop, ",
                         b.C(y, "passenger gets", "passengers get"), " off and nobody gets on. How many passengers are on the "
                         "bus now?"));
      b.Say(absl::StrCat(b.One(z) ? "There is " : "There are ", b.V(x), " - ", b.V(y), " = ",
                         b.C(z, "passenger", "passengers"), " on the bus now."));
      return;
    }
    default: {
      p.kind = "pages_more";
      const int64_t monday = r.Int(10, 60);
      const int x = b.Given(monday), y = b.Given(r.Int(1, monday - 1));
      const int z = b.Op(MathOp::kSub, x, y);
      b.Ask(absl::StrCat(b.name(), " read ", b.V(x), " pages on Monday and ",
                         b.C(y, "page", "pages"), " on Tuesday. How many more pages did ", b.he(),
                         " read on Monday than on Tuesday?"));
      b.Say(absl::StrCat(b.He(), " read ", b.V(x), " - ", b.V(y), " = ", b.C(z, "more page", "more pages"),
                         " on Monday."));
      return;
    }
  }
}

// Level 2: two steps, one of them a multiplication or division; money and time.
void Level2(Builder& b, MathProblem& p) {
  Rng& r = b.rng();
  switch (r.Int(0, 5)) {
    case 0: {
      p.kind = "change";
      constexpr std::array<const char*, 6> kItems = {"notebooks", "pens", "muffins",
                                                     "bottles of juice", "bags of chips", "erasers"};
      constexpr std::array<int64_t, 11> kCents = {25, 50, 75, 100, 125, 150, 200, 250, 300, 400, 500};
      const char* items = r.Pick(kItems);
      const int64_t price_cents = r.Pick(kCents);
      const int64_t n = r.Int(2, 9);
      // The smallest bill that covers the cost, or (half the time) the next one.
      constexpr std::array<int64_t, 5> kBills = {5, 10, 20, 50, 100};
      size_t i = 0;
      while (kBills[i] * 100 < n * price_cents) ++i;  // n * price_cents <= 4500
      if (i + 1 < kBills.size() && r.Int(0, 1) == 1) ++i;
      const Rational price(price_cents, 100);
      const int64_t bill = kBills[i];
      const int x = b.Given(n), y = b.Given(price, Money(price)), w = b.Given(bill, Money(bill));
      const int c = b.Op(MathOp::kMul, x, y);
      const int z = b.Op(MathOp::kSub, w, c);
      b.Ask(absl::StrCat(b.name(), " buys ", b.V(x), " ", items, " that cost ", b.M(y), " each. ",
                         b.He(), " pays with a ", b.M(w), " bill. How much change, in dollars, does ",
                         b.he(), " get?"));
      b.Say(absl::StrCat("The ", items, " cost ", b.V(x), " * ", b.M(y), " = ", b.M(c), "."));
      b.Say(absl::StrCat(b.name(), " gets ", b.M(w), " - ", b.M(c), " = ", b.M(z), " in change."));
      return;
    }
    case 1: {
      p.kind = "wage";
      const int rate = b.Given(Rational(r.Int(8, 25)), "");
      p.given_text[rate] = b.M(rate);
      const int h = b.Given(r.Int(2, 8)), d = b.Given(r.Int(2, 6));
      const int hours = b.Op(MathOp::kMul, h, d);
      const int pay = b.Op(MathOp::kMul, hours, rate);
      b.Ask(absl::StrCat(b.name(), " earns ", b.M(rate), " per hour. ", b.He(), " works ", b.V(h),
                         " hours a day for ", b.V(d), " days. How many dollars does ", b.he(),
                         " earn in all?"));
      b.Say(absl::StrCat(b.name(), " works ", b.V(h), " * ", b.V(d), " = ", b.V(hours), " hours."));
      b.Say(absl::StrCat(b.He(), " earns ", b.V(hours), " * ", b.M(rate), " = ", b.M(pay), "."));
      return;
    }
    case 2: {
      p.kind = "practice_hours";
      constexpr std::array<int64_t, 6> kMinutes = {15, 20, 30, 40, 45, 90};
      constexpr std::array<const char*, 5> kInstruments = {"piano", "guitar", "violin", "drums",
                                                           "flute"};
      const int64_t minutes = r.Pick(kMinutes);
      const int64_t period = 60 / std::gcd(minutes, int64_t{60});  // days for whole hours
      const int m = b.Given(minutes), d = b.Given(period * r.Int(1, 28 / period + 1));
      const int sixty = b.Constant(60);
      const int total = b.Op(MathOp::kMul, m, d);
      const int hours = b.Op(MathOp::kDiv, total, sixty);
      b.Ask(absl::StrCat(b.name(), " practices the ", r.Pick(kInstruments), " for ", b.V(m),
                         " minutes every day. How many hours does ", b.he(), " practice in ", b.V(d),
                         " days?"));
      b.Say(absl::StrCat(b.He(), " practices ", b.V(m), " * ", b.V(d), " = ", b.V(total), " minutes."));
      b.Say(absl::StrCat("That is ", b.V(total), " / 60 = ", b.C(hours, "hour", "hours"), "."));
      return;
    }
    case 3: {
      p.kind = "share";
      const int64_t trays = r.Int(2, 6), per_tray = r.Int(6, 12);
      std::vector<int64_t> divisors;
      for (int64_t f = 2; f <= 12; ++f) {
        if ((trays * per_tray) % f == 0) divisors.push_back(f);
      }
      const int64_t friends = divisors[static_cast<size_t>(r.Int(0, static_cast<int64_t>(divisors.size()) - 1))];
      const int k = b.Given(trays), c = b.Given(per_tray), f = b.Given(friends);
      const int cookies = b.Op(MathOp::kMul, k, c);
      const int each = b.Op(MathOp::kDiv, cookies, f);
      b.Ask(absl::StrCat(b.name(), " bakes ", b.V(k), " trays of cookies with ", b.V(c),
                         " cookies on each tray. ", b.He(), " shares all the cookies equally among ",
                         b.V(f), " friends. How many cookies does each friend get?"));
      b.Say(absl::StrCat(b.name(), " bakes ", b.V(k), " * ", b.V(c), " = ", b.V(cookies), " cookies."));
      b.Say(absl::StrCat("Each friend gets ", b.V(cookies), " / ", b.V(f), " = ", b.C(each, "cookie", "cookies"), "."));
      return;
    }
    case 4: {
      p.kind = "trip";
      constexpr std::array<int64_t, 7> kSpeeds = {30, 40, 45, 50, 55, 60, 65};
      const int s = b.Given(r.Pick(kSpeeds)), h = b.Given(r.Int(2, 5)), m = b.Given(r.Int(5, 60));
      const int part = b.Op(MathOp::kMul, s, h);
      const int total = b.Op(MathOp::kAdd, part, m);
      b.Ask(absl::StrCat("A train travels at ", b.V(s), " miles per hour for ", b.V(h),
                         " hours. Then it travels ", b.V(m),
                         " more miles. How many miles does the train travel in total?"));
      b.Say(absl::StrCat("In ", b.V(h), " hours the train travels ", b.V(s), " * ", b.V(h), " = ",
                         b.V(part), " miles."));
      b.Say(absl::StrCat("In total it travels ", b.V(part), " + ", b.V(m), " = ", b.V(total), " miles."));
      return;
    }
    default: {
      p.kind = "packs";
      constexpr std::array<int64_t, 5> kPack = {6, 8, 10, 12, 24};
      const int64_t pack = r.Pick(kPack), packs = r.Int(2, 6);
      const int x = b.Given(pack), k = b.Given(packs), g = b.Given(r.Int(1, pack * packs - 1));
      const int all = b.Op(MathOp::kMul, x, k);
      const int left = b.Op(MathOp::kSub, all, g);
      b.Ask(absl::StrCat("Pencils come in packs of ", b.V(x), ". ", b.name(), " buys ", b.V(k),
                         " packs and gives ", b.C(g, "pencil", "pencils"), " to ", b.his(),
                         " classmates. How many pencils does ", b.name(), " have left?"));
      b.Say(absl::StrCat(b.name(), " buys ", b.V(x), " * ", b.V(k), " = ", b.V(all), " pencils."));
      b.Say(absl::StrCat(b.He(), " has ", b.V(all), " - ", b.V(g), " = ", b.C(left, "pencil", "pencils"), " left."));
      return;
    }
  }
}

struct Fraction {
  int64_t num;
  int64_t den;
};

int GivenFraction(Builder& b, Fraction f) {
  return b.Given(Rational(f.num, f.den), absl::StrCat(f.num, "/", f.den));
}
int GivenPercent(Builder& b, int64_t pct) { return b.Given(pct, absl::StrCat(pct, "%")); }

// Level 3: several steps with fractions and percentages.
void Level3(Builder& b, MathProblem& p) {
  Rng& r = b.rng();
  constexpr std::array<Fraction, 8> kFractions = {
      {{1, 2}, {1, 3}, {1, 4}, {2, 3}, {3, 4}, {1, 5}, {2, 5}, {3, 5}}};
  switch (r.Int(0, 5)) {
    case 0: {
      p.kind = "sale";
      constexpr std::array<const char*, 5> kItems = {"jacket", "lamp", "backpack", "board game",
                                                     "helmet"};
      constexpr std::array<int64_t, 10> kPrices = {20, 24, 30, 36, 40, 45, 50, 60, 80, 120};
      constexpr std::array<int64_t, 7> kPercents = {10, 15, 20, 25, 30, 40, 50};
      const char* item = r.Pick(kItems);
      const int price = b.Given(Rational(r.Pick(kPrices)), "");
      p.given_text[price] = b.M(price);
      const int pct = GivenPercent(b, r.Pick(kPercents));
      const int n = b.Given(r.Int(2, 4));
      const int ship = b.Given(Rational(r.Int(3, 12)), "");
      p.given_text[ship] = b.M(ship);
      const int hundred = b.Constant(100);
      const int scaled = b.Op(MathOp::kMul, price, pct);
      const int off = b.Op(MathOp::kDiv, scaled, hundred);
      const int sale = b.Op(MathOp::kSub, price, off);
      const int sub = b.Op(MathOp::kMul, sale, n);
      const int total = b.Op(MathOp::kAdd, sub, ship);
      b.Ask(absl::StrCat("A ", item, " costs ", b.M(price), ". This week it is ", b.V(pct), "% off. ",
                         b.name(), " buys ", b.V(n), " of them and pays ", b.M(ship),
                         " for shipping. How many dollars does ", b.name(), " pay in total?"));
      b.Say(absl::StrCat("The discount is ", b.M(price), " * ", b.V(pct), " / 100 = ", b.M(off), "."));
      b.Say(absl::StrCat("The sale price is ", b.M(price), " - ", b.M(off), " = ", b.M(sale), "."));
      b.Say(absl::StrCat(b.V(n), " of them cost ", b.V(n), " * ", b.M(sale), " = ", b.M(sub), "."));
      b.Say(absl::StrCat("With shipping, ", b.name(), " pays ", b.M(sub), " + ", b.M(ship), " = ",
                         b.M(total), "."));
      return;
    }
    case 1: {
      p.kind = "stickers";
      constexpr std::array<int64_t, 5> kPercents = {10, 20, 25, 50, 75};
      const Fraction f = r.Pick(kFractions);
      const int64_t pct = r.Pick(kPercents);
      const int64_t q = 100 / std::gcd(pct, int64_t{100});      // remaining must be a multiple
      const int64_t unit = q / std::gcd(q, f.den - f.num);      // k must be a multiple of this
      const int64_t k = unit * r.Int(1, std::max<int64_t>(1, 60 / (unit * f.den)));
      const int a = b.Given(f.den * k), fr = GivenFraction(b, f), pc = GivenPercent(b, pct);
      const int hundred = b.Constant(100);
      const int give = b.Op(MathOp::kMul, a, fr);
      const int rem = b.Op(MathOp::kSub, a, give);
      const int scaled = b.Op(MathOp::kMul, rem, pc);
      const int used = b.Op(MathOp::kDiv, scaled, hundred);
      const int left = b.Op(MathOp::kSub, rem, used);
      b.Ask(absl::StrCat(b.name(), " has ", b.V(a), " stickers. ", b.He(), " gives ", b.V(fr),
                         " of them to ", b.other(), ", and then uses ", b.V(pc), "% of the stickers ",
                         b.he(), " has left to decorate a poster. How many stickers does ", b.name(),
                         " have now?"));
      b.Say(absl::StrCat(b.name(), " gives away ", b.V(a), " * ", b.V(fr), " = ",
                         b.C(give, "sticker", "stickers"), "."));
      b.Say(absl::StrCat(b.He(), " has ", b.V(a), " - ", b.V(give), " = ", b.V(rem), " stickers left."));
      b.Say(absl::StrCat(b.He(), " uses ", b.V(rem), " * ", b.V(pc), " / 100 = ",
                         b.C(used, "sticker", "stickers"), " on the poster."));
      b.Say(absl::StrCat(b.name(), " now has ", b.V(rem), " - ", b.V(used), " = ",
                         b.C(left, "sticker", "stickers"), "."));
      return;
    }
    case 2: {
      p.kind = "glasses";
      constexpr std::array<Fraction, 5> kGirls = {{{1, 2}, {2, 3}, {3, 4}, {2, 5}, {3, 5}}};
      constexpr std::array<int64_t, 4> kPercents = {10, 20, 25, 50};
      const Fraction f = r.Pick(kGirls);
      const int64_t pct = r.Pick(kPercents);
      const int64_t q = 100 / std::gcd(pct, int64_t{100});
      const int64_t unit = std::lcm(q, f.num);  // girls: a multiple of both
      const int64_t girls = unit * r.Int(1, std::max<int64_t>(1, 40 / (unit * f.den / f.num)));
      const int n = b.Given(girls * f.den / f.num), fr = GivenFraction(b, f), pc = GivenPercent(b, pct);
      const int hundred = b.Constant(100);
      const int g = b.Op(MathOp::kMul, n, fr);
      const int scaled = b.Op(MathOp::kMul, g, pc);
      const int glasses = b.Op(MathOp::kDiv, scaled, hundred);
      const int rest = b.Op(MathOp::kSub, g, glasses);
      b.Ask(absl::StrCat("There are ", b.V(n), " students in a class. ", b.V(fr),
                         " of them are girls, and ", b.V(pc),
                         "% of the girls wear glasses. How many girls in the class do not wear "
                         "glasses?"));
      b.Say(absl::StrCat("There are ", b.V(n), " * ", b.V(fr), " = ", b.V(g), " girls."));
      b.Say(absl::StrCat(b.V(g), " * ", b.V(pc), " / 100 = ", b.C(glasses, "girl wears", "girls wear"),
                         " glasses."));
      b.Say(absl::StrCat("So ", b.V(g), " - ", b.V(glasses), " = ", b.C(rest, "girl does", "girls do"),
                         " not wear glasses."));
      return;
    }
    case 3: {
      p.kind = "savings";
      constexpr std::array<const char*, 4> kJobs = {"walking dogs", "a paper route", "babysitting",
                                                    "mowing lawns"};
      constexpr std::array<const char*, 4> kThingsToBuy = {"bike", "video game", "telescope",
                                                           "pair of skates"};
      const Fraction f = r.Pick(kFractions);
      const int64_t wage = f.den * r.Int(2, 12);
      const int64_t weeks = r.Int(3, 10);
      const int64_t saved = wage * f.num / f.den * weeks;
      const int w = b.Given(Rational(wage), ""), fr = GivenFraction(b, f), k = b.Given(weeks);
      p.given_text[w] = b.M(w);
      const int spend = b.Given(Rational(r.Int(1, saved - 1)), "");
      p.given_text[spend] = b.M(spend);
      const int each = b.Op(MathOp::kMul, w, fr);
      const int total = b.Op(MathOp::kMul, each, k);
      const int left = b.Op(MathOp::kSub, total, spend);
      const char* thing = r.Pick(kThingsToBuy);
      b.Ask(absl::StrCat(b.name(), " earns ", b.M(w), " each week from ", r.Pick(kJobs), ". ", b.He(),
                         " saves ", b.V(fr), " of ", b.his(), " earnings every week. After ", b.V(k),
                         " weeks, ", b.he(), " spends ", b.M(spend), " of ", b.his(),
                         " savings on a ", thing, ". How many dollars does ", b.name(),
                         " have saved now?"));
      b.Say(absl::StrCat(b.name(), " saves ", b.M(w), " * ", b.V(fr), " = ", b.M(each), " each week."));
      b.Say(absl::StrCat("In ", b.V(k), " weeks ", b.he(), " saves ", b.M(each), " * ", b.V(k), " = ",
                         b.M(total), "."));
      b.Say(absl::StrCat("After buying the ", thing, ", ", b.he(), " has ", b.M(total), " - ",
                         b.M(spend), " = ", b.M(left), " saved."));
      return;
    }
    case 4: {
      p.kind = "flour";
      constexpr std::array<Fraction, 4> kCups = {{{1, 2}, {1, 4}, {3, 4}, {3, 2}}};
      const Fraction f = r.Pick(kCups);
      const int cups = GivenFraction(b, f);
      const int k = b.Given(r.Int(2, 8)), j = b.Given(r.Int(1, 5)), e = b.Given(r.Int(1, 4));
      const int batches = b.Op(MathOp::kAdd, k, j);
      const int flour = b.Op(MathOp::kMul, batches, cups);
      const int total = b.Op(MathOp::kAdd, flour, e);
      b.Ask(absl::StrCat("A muffin recipe uses ", b.V(cups), " cup", f.num > f.den ? "s" : "",
                         " of flour for each batch. ", b.name(), " makes ", b.V(k),
                         " batches for a bake sale and ", b.C(j, "batch", "batches"), " for ", b.his(),
                         " family. ", b.He(), " also uses ", b.C(e, "cup", "cups"),
                         " of flour to bake bread. How many cups of flour does ", b.name(),
                         " use in all?"));
      b.Say(absl::StrCat(b.name(), " makes ", b.V(k), " + ", b.V(j), " = ", b.V(batches), " batches."));
      b.Say(absl::StrCat("The muffins need ", b.V(batches), " * ", b.V(cups), " = ",
                         b.C(flour, "cup", "cups"), " of flour."));
      b.Say(absl::StrCat("In all ", b.he(), " uses ", b.V(flour), " + ", b.V(e), " = ", b.V(total),
                         " cups of flour."));
      return;
    }
    default: {
      p.kind = "tank";
      constexpr std::array<int64_t, 6> kPercents = {20, 25, 30, 40, 50, 75};
      const Fraction f = r.Pick(kFractions);
      const int64_t capacity = 100 * r.Int(1, 8);
      const int64_t pct = r.Pick(kPercents);
      const int64_t now = capacity * pct / 100;
      // After pouring, the tank holds a multiple of f.den liters, at most its capacity.
      const int64_t lo = now / f.den + 1, hi = capacity / f.den;
      const int64_t after = f.den * r.Int(lo, hi);
      const int c = b.Given(capacity), pc = GivenPercent(b, pct), x = b.Given(after - now);
      const int fr = GivenFraction(b, f);
      const int hundred = b.Constant(100);
      const int scaled = b.Op(MathOp::kMul, c, pc);
      const int cur = b.Op(MathOp::kDiv, scaled, hundred);
      const int full = b.Op(MathOp::kAdd, cur, x);
      const int used = b.Op(MathOp::kMul, full, fr);
      const int left = b.Op(MathOp::kSub, full, used);
      b.Ask(absl::StrCat("A water tank holds ", b.V(c), " liters when it is full. Right now it is ",
                         b.V(pc), "% full. ", b.name(), " pours in ", b.V(x), " more liters, and then ",
                         b.V(fr), " of the water in the tank is used to water the garden. How many "
                         "liters of water are left in the tank?"));
      b.Say(absl::StrCat("The tank has ", b.V(c), " * ", b.V(pc), " / 100 = ", b.V(cur), " liters."));
      b.Say(absl::StrCat("After ", b.name(), " pours, it has ", b.V(cur), " + ", b.V(x), " = ",
                         b.V(full), " liters."));
      b.Say(absl::StrCat(b.V(full), " * ", b.V(fr), " = ", b.V(used), " liters are used."));
      b.Say(absl::StrCat("So ", b.V(full), " - ", b.V(used), " = ", b.V(left), " liters are left."));
      return;
    }
  }
}

}  // namespace

absl::StatusOr<MathProblem> GenerateMathProblem(uint64_t seed, int level, int64_t index) {
  if (level < 1 || level > 3) {
    return absl::InvalidArgumentError(absl::StrCat("math level must be 1, 2 or 3, not ", level));
  }
  // One independent stream per (seed, level, index).
  Rng mix(seed);
  Rng mix2(mix.Next() ^ static_cast<uint64_t>(level));
  Rng rng(mix2.Next() ^ static_cast<uint64_t>(index) * 0x9e3779b97f4a7c15ull);
  MathProblem p;
  p.seed = seed;
  p.level = level;
  p.index = index;
  Builder b(p, rng);
  if (level == 1) Level1(b, p);
  if (level == 2) Level2(b, p);
  if (level == 3) Level3(b, p);
  p.answer = p.values.back();
  return p;
}

}  // namespace gwo::data
