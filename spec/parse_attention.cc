#include "spec/parse_attention.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstdint>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spec/attention_kinds.h"

namespace gwo::spec {
namespace {

struct KindOptions {
  absl::string_view kind;
  std::vector<absl::string_view> keys;
};

// One row per kind with options; kinds not listed take none.
const std::vector<KindOptions>& OptionTable() {
  static const auto* table = new std::vector<KindOptions>{
      {"factorized", {"rank", "gate_init"}},
      {"sliding_window", {"window", "sink_tokens"}},
      {"mask_mixture", {"windows", "stride", "sink_tokens", "per"}},
      {"learned_mask", {"block", "top_k", "relaxation"}},
      {"performer", {"features", "redraw_interval"}},
      {"nsa", {"block", "stride", "selected_blocks", "window"}},
      {"linear", {"normalize"}},
  };
  return *table;
}

// Every option key of any kind, sorted.
std::set<absl::string_view> AllOptionKeys() {
  std::set<absl::string_view> keys;
  for (const KindOptions& row : OptionTable()) keys.insert(row.keys.begin(), row.keys.end());
  return keys;
}

// A non-empty list of distinct integers >= min at `key`.
void ReadIntList(MapReader& r, const std::string& key, int min, std::vector<int>* out) {
  YAML::Node list = r.Get(key);
  if (!list.IsDefined()) return;
  ErrorList* errors = r.errors();
  if (!list.IsSequence() || list.size() == 0) {
    errors->Add(list.Mark(), r.Path(key),
                absl::StrCat("expected a non-empty list of integers >= ", min, ", got ",
                             Describe(list)));
    return;
  }
  std::vector<int> values;
  bool ok = true;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node item = list[i];
    const std::string item_path = absl::StrCat(r.Path(key), "[", i, "]");
    int64_t value = 0;
    bool parsed = false;
    if (item.IsScalar()) {
      const std::string& s = item.Scalar();
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
      parsed = ec == std::errc() && end == s.data() + s.size() && !s.empty();
    }
    if (!parsed || value < min || value > INT32_MAX) {
      errors->Add(item.Mark(), item_path,
                  absl::StrCat("expected an integer >= ", min, ", got ",
                               parsed ? absl::StrCat(value) : Describe(item)));
      ok = false;
      continue;
    }
    for (int previous : values) {
      if (previous == value) {
        errors->Add(item.Mark(), item_path, absl::StrCat("duplicate value ", value));
        ok = false;
      }
    }
    values.push_back(static_cast<int>(value));
  }
  if (ok) *out = std::move(values);
}

void ReadOptions(MapReader& r, const std::string& kind, AttentionSpec* a) {
  ErrorList* errors = r.errors();
  if (kind == "factorized") {
    r.Int("rank", &a->factorized.rank, 0, INT32_MAX);
    r.Double("gate_init", &a->factorized.gate_init, -30.0, 30.0);
  } else if (kind == "sliding_window") {
    r.Int("window", &a->sliding_window.window, 1, INT32_MAX);
    r.Int("sink_tokens", &a->sliding_window.sink_tokens, 0, INT32_MAX);
  } else if (kind == "mask_mixture") {
    ReadIntList(r, "windows", 1, &a->mask_mixture.windows);
    r.Int("stride", &a->mask_mixture.stride, 0, INT32_MAX);
    r.Int("sink_tokens", &a->mask_mixture.sink_tokens, 0, INT32_MAX);
    r.Enum("per", &a->mask_mixture.per, {"head", "layer"});
  } else if (kind == "learned_mask") {
    r.Int("block", &a->learned_mask.block, 1, INT32_MAX);
    r.Int("top_k", &a->learned_mask.top_k, 1, INT32_MAX);
    r.Enum("relaxation", &a->learned_mask.relaxation, {"straight_through", "soft"});
  } else if (kind == "performer") {
    r.Int("features", &a->performer.features, 1, 1 << 16);
    r.Int("redraw_interval", &a->performer.redraw_interval, 0, INT64_MAX);
  } else if (kind == "nsa") {
    NsaOptions& o = a->nsa;
    r.Int("block", &o.block, 1, INT32_MAX);
    r.Int("stride", &o.stride, 1, INT32_MAX);
    r.Int("selected_blocks", &o.selected_blocks, 1, INT32_MAX);
    r.Int("window", &o.window, 1, INT32_MAX);
    if (o.stride > o.block) {
      const YAML::Node at = r.Has("stride") ? r.Get("stride") : r.node();
      errors->Add(at.Mark(), r.Path("stride"),
                  absl::StrCat("expected an integer <= attention block (", o.block,
                               ") so compressed blocks cover every key, got ", o.stride));
    }
  } else if (kind == "linear") {
    r.Enum("normalize", &a->linear.normalize, {"count", "none"});
  }
}

}  // namespace

const std::vector<absl::string_view>& AttentionOptionKeys(absl::string_view kind) {
  static const auto* none = new std::vector<absl::string_view>();
  for (const KindOptions& row : OptionTable()) {
    if (row.kind == kind) return row.keys;
  }
  return *none;
}

void ReadAttention(const YAML::Node& node, const std::string& path, ErrorList* errors,
                   AttentionSpec* a) {
  MapReader r(node, path, errors);
  if (!r.ok()) return;
  std::string kind = a->kind;
  r.String("kind", &kind);
  if (r.Has("kind")) {
    bool known = false;
    for (absl::string_view k : AttentionKinds()) known = known || k == kind;
    if (known) {
      a->kind = kind;
    } else {
      errors->Add(r.Get("kind").Mark(), r.Path("kind"),
                  absl::StrCat("unknown attention kind \"", kind,
                               "\"; expected one of: ", absl::StrJoin(AttentionKinds(), ", ")));
      r.Finish();
      return;  // its options cannot be checked
    }
  }
  // Options of other kinds get a precise message (Finish() would call them unknown).
  const std::vector<absl::string_view>& own = AttentionOptionKeys(a->kind);
  for (absl::string_view key : AllOptionKeys()) {
    const std::string k(key);
    if (!r.Has(k) || std::find(own.begin(), own.end(), key) != own.end()) continue;
    r.Get(k);  // known: reported here, not again by Finish()
    YAML::Mark at = r.node().Mark();
    for (const auto& kv : r.node()) {
      if (kv.first.Scalar() == k) at = kv.first.Mark();  // point at the key
    }
    errors->Add(at, r.Path(k),
                absl::StrCat("not an option of attention kind \"", a->kind, "\" (",
                             own.empty() ? std::string("it takes none")
                                         : absl::StrCat("its options: ", absl::StrJoin(own, ", ")),
                             ")"));
  }
  ReadOptions(r, a->kind, a);
  r.Finish();
}

void WriteAttention(const AttentionSpec& a, YAML::Emitter* out) {
  YAML::Emitter& o = *out;
  // Shortest text that parses back to the same double.
  auto num = [](double v) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    return std::string(buf, end);
  };
  o << YAML::BeginMap;
  o << YAML::Key << "kind" << YAML::Value << a.kind;
  if (a.kind == "factorized") {
    o << YAML::Key << "rank" << YAML::Value << a.factorized.rank;
    o << YAML::Key << "gate_init" << YAML::Value << num(a.factorized.gate_init);
  } else if (a.kind == "sliding_window") {
    o << YAML::Key << "window" << YAML::Value << a.sliding_window.window;
    o << YAML::Key << "sink_tokens" << YAML::Value << a.sliding_window.sink_tokens;
  } else if (a.kind == "mask_mixture") {
    o << YAML::Key << "windows" << YAML::Value << YAML::Flow << a.mask_mixture.windows;
    o << YAML::Key << "stride" << YAML::Value << a.mask_mixture.stride;
    o << YAML::Key << "sink_tokens" << YAML::Value << a.mask_mixture.sink_tokens;
    o << YAML::Key << "per" << YAML::Value << a.mask_mixture.per;
  } else if (a.kind == "learned_mask") {
    o << YAML::Key << "block" << YAML::Value << a.learned_mask.block;
    o << YAML::Key << "top_k" << YAML::Value << a.learned_mask.top_k;
    o << YAML::Key << "relaxation" << YAML::Value << a.learned_mask.relaxation;
  } else if (a.kind == "performer") {
    o << YAML::Key << "features" << YAML::Value << a.performer.features;
    o << YAML::Key << "redraw_interval" << YAML::Value << a.performer.redraw_interval;
  } else if (a.kind == "nsa") {
    o << YAML::Key << "block" << YAML::Value << a.nsa.block;
    o << YAML::Key << "stride" << YAML::Value << a.nsa.stride;
    o << YAML::Key << "selected_blocks" << YAML::Value << a.nsa.selected_blocks;
    o << YAML::Key << "window" << YAML::Value << a.nsa.window;
  } else if (a.kind == "linear") {
    o << YAML::Key << "normalize" << YAML::Value << a.linear.normalize;
  }
  o << YAML::EndMap;
}

}  // namespace gwo::spec
