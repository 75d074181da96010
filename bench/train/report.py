#!/usr/bin/env python3
"""Markdown tables of gwo's training throughput next to the PyTorch peer's.

  python3 bench/train/report.py --peer peer.jsonl --gwo gwo.jsonl --env env.txt > table.md

peer.jsonl: lines from peer_train.py (one per workload and compile setting).
gwo.jsonl:  lines from the gwo side with the same keys (tokens_per_s, step_ms, ...), plus
            "source" and "harness_tokens_per_s"; any value may be missing or null.
env.txt:    free text, printed verbatim in a fenced block at the top.
Where a file holds several lines for the same row, the last one counts.
One table per workload: rows peer compiled, peer eager, gwo; the gwo row carries its
tokens/s as a multiple of each peer row's and whether it meets the workload's target.
No torch here: this runs anywhere.
"""
import argparse
import json
import sys

WORKLOADS = ["gpt2", "qwen3", "gpt2-distill", "gpt2-lora"]
# gwo's tokens/s must be at least this multiple of the compiled peer's.
TARGETS = {"gpt2": 1.2, "qwen3": 1.2, "gpt2-distill": 1.0, "gpt2-lora": 1.0}
DASH = "—"


def load_jsonl(path):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if line:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise SystemExit(f"{path}:{n}: not JSON: {e}")
    return rows


def num(row, key):
    """row[key] as a float, or None when the row, the key or the value is missing."""
    v = (row or {}).get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, spec, suffix=""):
    return DASH if v is None else format(v, spec) + suffix


def fmt_step(row):
    med, p10, p90 = num(row, "step_ms"), num(row, "step_ms_p10"), num(row, "step_ms_p90")
    s = fmt(med, ".1f")
    if med is not None and p10 is not None and p90 is not None:
        s += f" ({p10:.1f}–{p90:.1f})"
    return s


def gwo_tokens(row):
    """gwo's tokens/s for the ratios: its own metrics, else the harness's (marked)."""
    t = num(row, "tokens_per_s")
    if t is not None:
        return t, ""
    h = num(row, "harness_tokens_per_s")
    return (h, " (harness)") if h is not None else (None, "")


def fmt_tokens(row, gwo=False):
    s = fmt(num(row, "tokens_per_s"), ",.0f")
    h = num(row, "harness_tokens_per_s") if gwo else None
    if h is not None:
        s += f" (harness {h:,.0f})"
    return s


def target_cell(workload, r_compiled):
    t = TARGETS.get(workload)
    if t is None:
        return DASH
    goal = f"≥ {t:g}× compiled"
    if r_compiled is None:
        return f"{goal}: {DASH}"
    return f"{goal}: {'met' if r_compiled >= t else 'missed'}"


def table(workload, compiled, eager, gwo):
    lines = [
        "| run | tokens/s | step ms (median; p10–p90) | MFU | peak mem GiB "
        "| × compiled peer | × eager peer | target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]

    def row(name, r, extra):                              # extra: the last three cells
        if r is None:
            cells = ["not run", "", "", ""]
        else:
            mfu = num(r, "mfu")
            cells = [fmt_tokens(r, gwo=name == "gwo"), fmt_step(r),
                     fmt(None if mfu is None else mfu * 100, ".1f", "%"), fmt(num(r, "peak_mem_gib"), ".1f")]
        return "| " + " | ".join([name] + cells + extra) + " |"

    lines.append(row("peer compiled", compiled, ["", "", ""]))
    lines.append(row("peer eager", eager, ["", "", ""]))
    g, mark = gwo_tokens(gwo)
    r_c = ratio(g, num(compiled, "tokens_per_s"))
    r_e = ratio(g, num(eager, "tokens_per_s"))
    extra = ["", "", target_cell(workload, None)] if gwo is None else \
        [fmt(r_c, ".2f", "×" + mark), fmt(r_e, ".2f", "×" + mark), target_cell(workload, r_c)]
    lines.append(row("gwo", gwo, extra))
    return lines


def notes(compiled, eager, gwo):
    """Shapes and counts under a table, and where they disagree."""
    out = []
    peer = compiled or eager
    if peer:
        out.append(f"- Peer: B={peer.get('batch')} T={peer.get('seq')}, params {fmt(num(peer, 'params'), ',.0f')}, "
                   f"trainable {fmt(num(peer, 'trainable_params'), ',.0f')}, "
                   f"FLOPs/token {fmt(num(peer, 'flops_per_token'), '.3e')}, "
                   f"{peer.get('gpu') or DASH}, torch {peer.get('torch') or DASH}.")
    if gwo:
        parts = [f"source: {gwo.get('source') or DASH}"]
        for key, spec in (("batch", ".0f"), ("seq", ".0f"), ("params", ",.0f"), ("trainable_params", ",.0f")):
            if num(gwo, key) is not None:
                parts.append(f"{key} {num(gwo, key):{spec}}")
        if num(gwo, "flops_per_token") is not None:
            parts.append(f"FLOPs/token {num(gwo, 'flops_per_token'):.3e}")
        out.append("- gwo: " + ", ".join(parts) + ".")
        if peer:
            for key in ("batch", "seq", "trainable_params", "flops_per_token"):
                a, b = gwo.get(key), peer.get(key)
                if a is not None and b is not None and a != b:
                    out.append(f"- **Differs:** {key} gwo {a} vs peer {b}.")
    return out


def last_by(rows, key):
    out = {}
    for r in rows:
        out[key(r)] = r
    return out


def build_report(peer_rows, gwo_rows, env_text):
    peer = last_by(peer_rows, lambda r: (r.get("workload"), bool(r.get("compile"))))
    gwo = last_by(gwo_rows, lambda r: r.get("workload"))
    seen = {w for w, _ in peer} | set(gwo)
    workloads = WORKLOADS + sorted(w for w in seen if w not in WORKLOADS and w is not None)

    fence = "```"
    while fence in env_text:
        fence += "`"
    out = ["# Training throughput: gwo vs the PyTorch peer", "", fence, env_text.rstrip("\n"), fence, "",
           "tokens/s is B×T over the median step time; ratios are gwo's tokens/s over the peer row's. "
           "MFU uses each side's FLOPs/token (nanoGPT's 6N + 12·L·H·Q·T) over the dense bf16 peak.", ""]
    for w in workloads:
        c, e, g = peer.get((w, True)), peer.get((w, False)), gwo.get(w)
        out.append(f"## {w}")
        out.append("")
        out.extend(table(w, c, e, g))
        n = notes(c, e, g)
        if n:
            out.append("")
            out.extend(n)
        out.append("")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peer", required=True)
    ap.add_argument("--gwo", required=True)
    ap.add_argument("--env", required=True)
    a = ap.parse_args(argv)
    with open(a.env) as f:
        env_text = f.read()
    sys.stdout.write(build_report(load_jsonl(a.peer), load_jsonl(a.gwo), env_text))


if __name__ == "__main__":
    main()
