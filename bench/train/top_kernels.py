#!/usr/bin/env python3
"""The top-20 CUDA kernels of a Kineto Chrome trace (gwo-train --profile_steps) as a
markdown table: calls, total and mean time, share of all kernel time.

    python3 bench/train/top_kernels.py trace.json [--top 20]
"""
import argparse
import collections
import json


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trace")
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()
    with open(args.trace) as f:
        trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    total = collections.Counter()
    calls = collections.Counter()
    for e in events:
        if e.get("ph") == "X" and e.get("cat") in ("kernel", "Kernel"):
            total[e["name"]] += float(e.get("dur", 0))
            calls[e["name"]] += 1
    kernel_us = sum(total.values())
    print(f"{sum(calls.values())} kernel launches, {kernel_us / 1000:.2f} ms of kernel time in the trace\n")
    print("| # | kernel | calls | total ms | mean µs | share |")
    print("|---|---|---|---|---|---|")
    for i, (name, us) in enumerate(total.most_common(args.top), 1):
        short = name if len(name) <= 90 else name[:87] + "..."
        short = short.replace("|", "\\|")
        print(f"| {i} | `{short}` | {calls[name]} | {us / 1000:.3f} | {us / calls[name]:.1f} | "
              f"{100 * us / kernel_us:.1f}% |")


if __name__ == "__main__":
    main()
