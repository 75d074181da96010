#!/usr/bin/env python3
"""Tests of report.py on small synthetic files: ratios, met/missed, missing rows. No torch."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import report  # noqa: E402


def peer(workload, compile, tok, step=None):
    return {"workload": workload, "compile": compile, "batch": 16, "seq": 1024, "tokens_per_s": tok,
            "step_ms": step or 16384e3 / tok, "step_ms_p10": 99.0, "step_ms_p90": 101.0,
            "peak_mem_gib": 20.25, "params": 124475904, "trainable_params": 124475904,
            "flops_per_token": 8.5e8, "mfu": 0.4, "gpu": "NVIDIA H100 80GB HBM3", "torch": "2.11.0"}


def gwo(workload, tok, **kw):
    r = {"workload": workload, "tokens_per_s": tok, "step_ms": 100.0, "peak_mem_gib": 15.0, "mfu": 0.5,
         "flops_per_token": 8.5e8, "trainable_params": 124475904, "params": 124475904,
         "source": "gwo-train metrics.jsonl", "harness_tokens_per_s": None}
    r.update(kw)
    return r


def section(md, workload):
    """The lines of one workload's section."""
    lines = md.split("\n")
    i = lines.index(f"## {workload}")
    j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith("## ")), len(lines))
    return lines[i:j]


def row(md, workload, name):
    for line in section(md, workload):
        if line.startswith(f"| {name} |"):
            return [c.strip() for c in line.strip("|").split("|")]
    raise AssertionError(f"no row {name} in {workload}")


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        peers = [peer("gpt2", True, 100000.0), peer("gpt2", False, 80000.0),
                 peer("qwen3", True, 50000.0), peer("qwen3", False, 40000.0),
                 peer("gpt2-lora", True, 1000.0), peer("gpt2-lora", False, 500.0),
                 peer("gpt2-distill", False, 30000.0)]          # no compiled distill peer
        gwos = [gwo("gpt2", 1.0),                               # superseded by the next line
                gwo("gpt2", 125000.0),
                gwo("qwen3", 55000.0),                          # 1.10x: short of 1.2
                gwo("gpt2-lora", None, harness_tokens_per_s=1000.0, mfu=None, peak_mem_gib=None)]
        self.paths = {}
        for name, rows in (("peer", peers), ("gwo", gwos)):
            self.paths[name] = os.path.join(d, name + ".jsonl")
            with open(self.paths[name], "w") as f:
                f.write("".join(json.dumps(r) + "\n" for r in rows) + "\n")
        self.paths["env"] = os.path.join(d, "env.txt")
        with open(self.paths["env"], "w") as f:
            f.write("GPU: NVIDIA H100 80GB HBM3\nDriver 580\n```odd fence```\n")
        self.md = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), "--peer", self.paths["peer"],
                                  "--gwo", self.paths["gwo"], "--env", self.paths["env"]],
                                 check=True, capture_output=True, text=True).stdout

    def tearDown(self):
        self.dir.cleanup()

    def test_ratios_and_met(self):
        g = row(self.md, "gpt2", "gwo")
        self.assertEqual(g[1], "125,000")
        self.assertEqual(g[5], "1.25×")          # 125000 / 100000
        self.assertEqual(g[6], "1.56×")          # 125000 / 80000 = 1.5625
        self.assertEqual(g[7], "≥ 1.2× compiled: met")
        self.assertEqual(g[3], "50.0%")

    def test_missed(self):
        g = row(self.md, "qwen3", "gwo")
        self.assertEqual(g[5], "1.10×")
        self.assertEqual(g[6], "1.38×")          # 55000 / 40000 = 1.375
        self.assertEqual(g[7], "≥ 1.2× compiled: missed")

    def test_equal_meets_1x_and_harness_fallback(self):
        g = row(self.md, "gpt2-lora", "gwo")
        self.assertEqual(g[1], "— (harness 1,000)")
        self.assertEqual(g[5], "1.00× (harness)")
        self.assertEqual(g[6], "2.00× (harness)")
        self.assertEqual(g[7], "≥ 1× compiled: met")
        self.assertEqual(g[3], "—")
        self.assertEqual(g[4], "—")

    def test_not_run(self):
        self.assertEqual(row(self.md, "gpt2-distill", "peer compiled")[1], "not run")
        self.assertEqual(row(self.md, "gpt2-distill", "gwo")[1], "not run")
        self.assertEqual(row(self.md, "gpt2-distill", "gwo")[7], "≥ 1× compiled: —")
        self.assertEqual(row(self.md, "gpt2-distill", "peer eager")[1], "30,000")

    def test_peer_cells_and_env(self):
        p = row(self.md, "gpt2", "peer compiled")
        self.assertEqual(p[2], "163.8 (99.0–101.0)")
        self.assertEqual(p[4], "20.2")           # 20.25 rounds half to even
        self.assertIn("GPU: NVIDIA H100 80GB HBM3\nDriver 580\n```odd fence```\n````", self.md)
        self.assertTrue(self.md.index("````") < self.md.index("## gpt2"))

    def test_ratio_unit(self):
        self.assertAlmostEqual(report.ratio(120.0, 100.0), 1.2)
        self.assertIsNone(report.ratio(None, 100.0))
        self.assertIsNone(report.ratio(120.0, None))
        self.assertIsNone(report.ratio(120.0, 0.0))
        self.assertEqual(report.target_cell("gpt2", 1.2), "≥ 1.2× compiled: met")
        self.assertEqual(report.target_cell("gpt2", 1.1999), "≥ 1.2× compiled: missed")

    def test_no_torch(self):
        self.assertNotIn("torch", sys.modules)
        with open(os.path.join(HERE, "report.py")) as f:
            self.assertNotIn("import torch", f.read())


if __name__ == "__main__":
    unittest.main()
