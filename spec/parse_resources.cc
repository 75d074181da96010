// `resources:` of a job.yaml: what each run needs and how it is queued.
#include "absl/strings/str_cat.h"
#include "spec/parse_internal.h"

namespace gwo::spec::internal {

void ReadResources(const YAML::Node& node, ErrorList* errors, Resources* out) {
  MapReader r(node, "resources", errors);
  r.Int("gpus", &out->gpus, 0, 64);
  r.Int("priority", &out->priority, -1000, 1000);
  r.Double("gpu_memory_gb", &out->gpu_memory_gb, 0.0, 1e6);
  r.String("project", &out->project);
  if (r.Has("project")) {
    bool plain = !out->project.empty() && out->project.size() <= 64;
    for (char c : out->project) {
      plain = plain && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.');
    }
    if (!plain) {
      errors->Add(r.Get("project").Mark(), r.Path("project"),
                  absl::StrCat("expected 1-64 characters of [A-Za-z0-9_.-], got \"", out->project, "\""));
    }
  }
  r.Finish();
  if (r.ok() && out->gpus == 0 && r.Has("gpu_memory_gb") && out->gpu_memory_gb > 0) {
    errors->Add(r.Get("gpu_memory_gb").Mark(), r.Path("gpu_memory_gb"), "needs gpus >= 1 (memory is per GPU)");
  }
}

}  // namespace gwo::spec::internal
