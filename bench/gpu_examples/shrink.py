#!/usr/bin/env python3
"""Writes a copy of an example job.yaml whose `gpu` scale keeps every shape (model, context,
batch, tokenizer, corpus, attention options, metrics) but trains only a few steps with one seed,
so that every run of the five examples fits in one short call on one GPU: a check that the GPU scale runs, not a result.

  shrink.py IN.yaml OUT.yaml [--steps N] [--variants A,B,...] [--datasets X,Y,...]

--variants / --datasets keep only the named variants / datasets that the example has (an
example with none of them keeps all of its own), e.g. to rerun a few runs; a kept variant
must name the variants it starts from (from_variant) too.
"""
import sys
import yaml


def arg(name, default=None):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


src, dst = sys.argv[1], sys.argv[2]
steps = int(arg("--steps", 10))
job = yaml.safe_load(open(src))
gpu = job["scales"]["gpu"]


def keep_only(key, names):
    """Drops entries of job[key] and gpu[key] not in names, unless that drops them all."""
    if not names:
        return
    wanted = set(names.split(","))
    own = [e["name"] for e in job.get(key, [])]
    if not wanted & set(own):
        return
    job[key] = [e for e in job[key] if e["name"] in wanted]
    if gpu.get(key):
        gpu[key] = [e for e in gpu[key] if e["name"] in wanted]


keep_only("variants", arg("--variants"))
keep_only("datasets", arg("--datasets"))


def shrink_training(t):
    if "steps" in t:
        t["steps"] = steps
    for key, value in (("eval_every", steps), ("eval_batches", 2), ("log_every", 5)):
        if key in t:
            t[key] = value
    if "warmup_steps" in t:
        t["warmup_steps"] = min(t["warmup_steps"], 2)
    icl = t.get("icl")
    if isinstance(icl, dict) and "queries" in icl:
        icl["queries"] = min(icl["queries"], 8)


shrink_training(gpu.setdefault("training", {}))
for v in gpu.get("variants", []) or []:
    shrink_training(v.setdefault("training", {}))
gpu["seeds"] = [1]

job["name"] = job["name"] + "-gpu-smoke"
yaml.safe_dump(job, open(dst, "w"), sort_keys=False)
