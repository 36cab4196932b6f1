#!/usr/bin/env python3
"""Grouped bar chart (log scale) of a benchmark JSON: `plot.py RESULTS.json OUT.png`.

One panel per interpreter; one group of bars per scenario, one bar per implementation it ran on. A bar
is the geometric mean over the workloads of the median ratio to untraced; the dots on it are the
workloads' own medians, so the spread between workloads stays visible. bench/run.py calls this in a
bench-only venv with matplotlib (it is no dependency of the project).
"""

import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402

COLORS = {
    "floor": "#9e9e9e",
    "tools": "#c8a165",
    "hunter": "#d62728",
    "ours": "#1f77b4",
    "ours_monitoring": "#2ca02c",
}


def geometric_mean(values):
    return math.exp(sum(math.log(value) for value in values) / len(values))


def draw(results, output):
    run = report.Run(results)
    versions = [version for version, interpreter in results["interpreters"].items() if "missing" not in interpreter]
    figure, axes = plt.subplots(len(versions), 1, figsize=(16, 5.2 * len(versions)), squeeze=False)
    metric_title, _, _ = report.METRICS[run.metric]
    for panel, version in zip(axes[:, 0], versions):
        groups = {}
        for scenario, implementation in run.configurations(version):
            if scenario != report.UNTRACED:
                groups.setdefault(scenario, []).append(implementation)
        labelled = set()
        centres = []
        # One width for every bar, so a scenario with a single implementation gets no wider bar.
        width = 0.8 / max(len(implementations) for implementations in groups.values())
        for position, (scenario, implementations) in enumerate(groups.items()):
            centres.append(position)
            first = position - width * len(implementations) / 2
            for index, implementation in enumerate(implementations):
                ratios = [run.median_ratio(version, workload, scenario, implementation) for workload in run.workloads]
                ratios = [ratio for ratio in ratios if ratio]
                if not ratios:
                    continue
                x = first + width * (index + 0.5)
                label = run.label(version, implementation)
                panel.bar(
                    x,
                    geometric_mean(ratios),
                    width * 0.9,
                    color=COLORS.get(implementation, "#7f7f7f"),
                    label=None if label in labelled else label,
                )
                labelled.add(label)
                panel.scatter([x] * len(ratios), ratios, s=6, color="black", zorder=3)
        panel.set_yscale("log")
        panel.axhline(1.0, color="black", linewidth=0.8)
        panel.set_xticks(centres)
        panel.set_xticklabels(list(groups), rotation=30, ha="right", fontsize=8)
        panel.set_ylabel(f"ratio to untraced ({metric_title})")
        panel.set_title(f"Python {results['interpreters'][version]['version']}", fontsize=10)
        panel.grid(axis="y", which="both", alpha=0.3)
        panel.legend(fontsize=8, loc="upper left")
    host = results["host"]
    figure.suptitle(
        f"Tracer overhead, {results['started'][:10]}, {host.get('processor') or host['node']} ({host['cpus']} CPUs): "
        f"bar = geometric mean over {', '.join(run.workloads)}; dots = each workload's median",
        fontsize=10,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.98))  # leaves room for the title
    figure.savefig(output, dpi=90)


def main(argv):
    if len(argv) != 3:
        print(f"usage: {argv[0]} RESULTS.json OUT.png", file=sys.stderr)
        return 2
    with open(argv[1]) as stream:
        draw(json.load(stream), argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
