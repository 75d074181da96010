#!/usr/bin/env python3
"""Checks a run's metric series as `gwoctl metrics RUN --names NAME` printed it
against what gwo-train wrote to its metrics.jsonl: the same steps, each once, and
the same values (gwoctl prints 6 significant digits). With --steps N --log-every K
(train_loss), also that the steps are exactly those gwo-train logs: 1 and every
multiple of K up to N.

Usage: check_series.py TABLE METRICS_JSONL NAME [--steps N --log-every K]
Exit 0 when it matches; otherwise 1, with what differs."""
import json
import math
import sys


def main():
    args = sys.argv[1:]
    table, jsonl, name = args[0], args[1], args[2]
    steps = log_every = None
    if "--steps" in args:
        steps = int(args[args.index("--steps") + 1])
        log_every = int(args[args.index("--log-every") + 1])
    shown = {}
    with open(table) as f:
        lines = f.read().split("\n")
    header = lines[0].split()
    if header != ["STEP", name]:
        print(f"unexpected header {header}")
        return 1
    for line in lines[1:]:
        cells = line.split()
        if not cells:
            continue
        step = int(cells[0])
        if step in shown:
            print(f"step {step} shown twice")
            return 1
        shown[step] = float(cells[1])
    written = {}
    with open(jsonl) as f:
        for line in f:
            p = json.loads(line)
            if p["name"] != name:
                continue
            if p["step"] in written:
                print(f"{jsonl}: step {p['step']} written twice")
                return 1
            written[p["step"]] = p["value"]
    problems = []
    if set(shown) != set(written):
        problems.append(f"steps only in the database: {sorted(set(shown) - set(written))[:20]}; "
                        f"only in metrics.jsonl: {sorted(set(written) - set(shown))[:20]}")
    for step in sorted(set(shown) & set(written)):
        a, b = shown[step], written[step]
        if b is None or not math.isclose(a, b, rel_tol=2e-5, abs_tol=1e-9):
            problems.append(f"step {step}: {a} in the database, {b} in metrics.jsonl")
    if steps is not None:
        expected = {1} | set(range(log_every, steps + 1, log_every))
        if set(shown) != expected:
            problems.append(f"steps missing: {sorted(expected - set(shown))[:20]}; "
                            f"unexpected: {sorted(set(shown) - expected)[:20]}")
    for p in problems[:10]:
        print(p)
    if not problems:
        print(f"{name}: {len(shown)} points, each step once, equal to {jsonl}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
