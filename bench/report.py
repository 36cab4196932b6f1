#!/usr/bin/env python3
"""Markdown tables from a benchmark JSON (bench/run.py writes it; `python3 bench/report.py FILE` re-renders it).

Per interpreter:
  1. ratio to untraced: median (min..max) of each cell's samples, each divided by the untraced median of
     the same interpreter and workload;
  2. speed-up of ours over hunter 3.9.0: hunter's median / ours' median, per backend of ours;
  3. the targets of the benchmark issue: the no-match filter of ours (settrace) against the C settrace
     floor, of ours (monitoring) against untraced, and CallPrinter-on-everything against hunter 3.9.0.
The metric is wall time per iteration, or instructions per iteration for a --callgrind run.

Standard library only: the orchestrator (any Python 3.9+) and plot.py (the plot venv) both import it.
"""

import json
import statistics
import sys

UNTRACED = "untraced"
HUNTER = "hunter"
OURS_BACKENDS = ("ours", "ours_monitoring")
METRICS = {
    "sec_per_iter": ("wall time", "untraced ms/iter", 1e-3),
    "instr_per_iter": ("instructions (callgrind)", "untraced M instructions/iter", 1e6),
}


def format_ratio(value):
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_absolute(value):
    return f"{value:.3f}"


def spread(values, scale, formatter):
    """`median (min..max)` of values/scale; just the value when there is one."""
    if len(values) == 1:
        return formatter(values[0] / scale)
    low, middle, high = (formatter(value / scale) for value in (min(values), statistics.median(values), max(values)))
    return f"{middle} ({low}..{high})"


def markdown_row(title, cells):
    return f"| {title} | {' | '.join(cells)} |"


class Run:
    """The samples of one benchmark JSON, indexed for the tables and the plot."""

    def __init__(self, report):
        self.report = report
        self.metric = report["settings"].get("metric", "sec_per_iter")
        self.workloads = report["settings"]["workload_names"]
        self.scenarios = report["settings"]["scenarios"]
        self.values = {}
        for sample in report["samples"]:
            if "error" not in sample:
                key = (sample["python"], sample["workload"], sample["scenario"], sample["implementation"])
                self.values.setdefault(key, []).append(sample[self.metric])

    def samples(self, version, workload, scenario, implementation):
        return self.values.get((version, workload, scenario, implementation), [])

    def baseline(self, version, workload):
        values = self.samples(version, workload, UNTRACED, "plain")
        return statistics.median(values) if values else None

    def median_ratio(self, version, workload, scenario, implementation):
        values = self.samples(version, workload, scenario, implementation)
        baseline = self.baseline(version, workload)
        if not values or not baseline:
            return None
        return statistics.median(values) / baseline

    def configurations(self, version):
        """(scenario, implementation) pairs of `version`'s rows, in table order (unavailable ones included)."""
        return [tuple(pair) for pair in self.report["interpreters"][version]["configurations"]]

    def label(self, version, implementation):
        return self.report["interpreters"][version]["implementations"][implementation]["label"]

    def row_title(self, version, scenario, implementation):
        settings = self.scenarios[scenario]
        if len(settings["runs_on"]) == 1:
            return settings["title"]
        return f"{self.label(version, implementation)}: {settings['title']}"

    def speedup(self, version, workload, scenario, implementation):
        hunter = self.samples(version, workload, scenario, HUNTER)
        ours = self.samples(version, workload, scenario, implementation)
        if not hunter or not ours:
            return None
        return statistics.median(hunter) / statistics.median(ours)


def ratio_table(run, version):
    _, absolute_title, scale = METRICS[run.metric]
    interpreter = run.report["interpreters"][version]
    lines = [markdown_row("configuration", run.workloads), "|---|" + "---:|" * len(run.workloads)]
    untraced = [run.samples(version, workload, UNTRACED, "plain") for workload in run.workloads]
    lines.append(markdown_row(absolute_title, [spread(v, scale, format_absolute) if v else "error" for v in untraced]))
    for scenario, implementation in run.configurations(version):
        if scenario == UNTRACED:
            continue
        cells = []
        for workload in run.workloads:
            values = run.samples(version, workload, scenario, implementation)
            baseline = run.baseline(version, workload)
            if not interpreter["implementations"][implementation]["available"]:
                cells.append("n/a")
            elif not values or not baseline:
                cells.append("error")
            else:
                cells.append(spread(values, baseline, format_ratio))
        lines.append(markdown_row(run.row_title(version, scenario, implementation), cells))
    return lines


def speedup_table(run, version):
    rows = []
    for scenario, implementation in run.configurations(version):
        if implementation in OURS_BACKENDS and HUNTER in run.scenarios[scenario]["runs_on"]:
            values = [run.speedup(version, workload, scenario, implementation) for workload in run.workloads]
            if all(value is None for value in values):
                continue
            cells = ["n/a" if value is None else f"{value:.1f}x" for value in values]
            title = f"{run.scenarios[scenario]['title']}, {run.label(version, implementation)}"
            rows.append(markdown_row(title, cells))
    if not rows:
        return []
    return [markdown_row("scenario, ours", run.workloads), "|---|" + "---:|" * len(run.workloads), *rows]


def target_table(run, version):
    """The figures the benchmark issue judges, with its bounds."""

    def floor_ratio(workload):
        ours = run.samples(version, workload, "nomatch", "ours")
        floor = run.samples(version, workload, "c_settrace_noop", "floor")
        return statistics.median(ours) / statistics.median(floor) if ours and floor else None

    def monitoring_ratio(workload):
        return run.median_ratio(version, workload, "nomatch", "ours_monitoring")

    def printing_speedup(workload):
        return run.speedup(version, workload, "callprinter_devnull", "ours")

    checks = [
        ("no-match filter, ours (settrace) / C settrace floor", "at most 1.5", floor_ratio, lambda v: v <= 1.5),
        ("no-match filter, ours (monitoring) / untraced", "at most 1.10", monitoring_ratio, lambda v: v <= 1.10),
        (
            "CallPrinter on everything, hunter 3.9.0 / ours (settrace)",
            "at least 20",
            printing_speedup,
            lambda v: v >= 20,
        ),
    ]
    lines = [markdown_row("target", ["bound", *run.workloads]), "|---|---|" + "---:|" * len(run.workloads)]
    for title, bound, compute, meets in checks:
        values = [compute(workload) for workload in run.workloads]
        if all(value is None for value in values):
            continue
        cells = [
            "n/a" if value is None else format_ratio(value) + ("" if meets(value) else " (missed)") for value in values
        ]
        lines.append(markdown_row(title, [bound, *cells]))
    return lines if len(lines) > 2 else []


def notes(run, version):
    lines = []
    for implementation in run.report["interpreters"][version]["implementations"].values():
        state = "" if implementation["available"] else "**n/a**: "
        lines.append(f"- {implementation['label']}: {state}{implementation['detail']}")
    details = {}
    for sample in run.report["samples"]:
        if sample["python"] == version and "error" not in sample:
            for field in ("trace_hook", "detail"):
                if sample.get(field):
                    # A detail's first part names the backend or core; the rest (bytes written) varies per sample.
                    details.setdefault(f"{sample['implementation']}/{sample['scenario']}", set()).add(
                        sample[field].split(", ")[0] if field == "detail" else sample[field]
                    )
    if details:
        seen = "; ".join(f"{key}: {', '.join(sorted(values))}" for key, values in sorted(details.items()))
        lines.append(f"- hooks and backends seen: {seen}")
    for sample in run.report["samples"]:
        if sample["python"] == version and "error" in sample:
            where = f"{sample['implementation']}/{sample['scenario']} on {sample['workload']}"
            lines.append(f"- **error** {where}: {sample['error']}")
    return lines


def render(report):
    """The markdown of every interpreter in `report`."""
    run = Run(report)
    metric_title, _, _ = METRICS[run.metric]
    reps = report["settings"]["reps"]
    out = []
    if report["settings"].get("smoke_note"):
        out += [f"**{report['settings']['smoke_note']}**", ""]
    for version, interpreter in report["interpreters"].items():
        if interpreter.get("missing"):
            out += [f"### Python {version}", "", interpreter["missing"], ""]
            continue
        out += [
            f"### Python {interpreter['version']}",
            "",
            f"Ratio to untraced ({metric_title}; lower is better): median (min..max) of {reps} fresh process(es)"
            " per cell.",
            "",
            *ratio_table(run, version),
            "",
        ]
        speedups = speedup_table(run, version)
        if speedups:
            out += ["Speed-up of ours over hunter 3.9.0 (hunter's median / ours; higher is better):", "", *speedups, ""]
        targets = target_table(run, version)
        if targets:
            out += ["Targets of the benchmark issue (medians):", "", *targets, ""]
        out += [*notes(run, version), ""]
    return "\n".join(out)


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} RESULTS.json", file=sys.stderr)
        return 2
    with open(argv[1]) as stream:
        print(render(json.load(stream)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
