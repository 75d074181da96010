#!/usr/bin/env python3
"""Checks a Grafana dashboard against live /metrics outputs.

Usage: check_dashboard.py DASHBOARD.json METRICS_FILE...
The dashboard must parse as JSON and have panels with targets; every gwo_*
series name its PromQL expressions use must be declared (a "# TYPE" line) in one
of the metrics files; for histograms, NAME_bucket/_sum/_count. Exits 1 listing
what is missing.
"""
import json
import re
import sys


def declared_series(paths):
    names = set()
    for path in paths:
        with open(path) as f:
            for line in f:
                m = re.match(r"# TYPE (\S+) (\S+)", line)
                if not m:
                    continue
                name, kind = m.groups()
                names.add(name)
                if kind == "histogram":
                    names.update(name + s for s in ("_bucket", "_sum", "_count"))
    return names


def main():
    dashboard_path, metrics_paths = sys.argv[1], sys.argv[2:]
    with open(dashboard_path) as f:
        dashboard = json.load(f)
    declared = declared_series(metrics_paths)
    used = set()
    panels = dashboard.get("panels", [])
    if not panels:
        print("dashboard has no panels")
        return 1
    for panel in panels:
        targets = panel.get("targets", [])
        if not targets:
            print(f"panel {panel.get('title')!r} has no targets")
            return 1
        for t in targets:
            used.update(re.findall(r"\bgwo_[a-z0-9_]+", t.get("expr", "")))
    missing = sorted(used - declared)
    if missing:
        print("dashboard queries metrics no /metrics declares: " + ", ".join(missing))
        return 1
    print(f"dashboard OK: {len(panels)} panels, {len(used)} metrics, all declared")
    return 0


if __name__ == "__main__":
    sys.exit(main())
