#!/usr/bin/env python3
"""Markdown tables from a benchmark JSON (bench/run.py writes it; `python3 bench/report.py FILE` re-renders it).

Per interpreter:
  1. ratio to untraced: median (min..max) of each cell's samples, each divided by the untraced median of
     the same interpreter and workload;
  2. speed-up of ours over hunter 3.9.0: hunter's median / ours' median, per backend of ours;
  3. the targets of the benchmark issue: the no-match filter of ours (settrace) against the C settrace
     floor, of ours (monitoring) against untraced, and CallPrinter-on-everything against hunter 3.9.0;
  4. "Beyond hunter": Timeline recording everything against VizTracer recording everything, Timeline of one
     module against 1.10x untraced plus the cost of the events it recorded (on 3.12+, monitoring backend), and
     CallPrinter with durations against without.
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
# The unit and scale of a cost per recorded event, per metric.
EVENT_COST_UNITS = {"sec_per_iter": ("ns", 1e-9), "instr_per_iter": ("instructions", 1)}
VIZTRACER = ("viztracer", "tools")
TIMELINE_ALL = "timeline_all"
# Profile mode: Python and C calls, the events VizTracer records.
TIMELINE_PROFILE = "timeline_profile"
TIMELINE_ONE_MODULE = "timeline_one_module"
# The bound of a Timeline whose query matches a small part of the program, before the cost of what it records.
TIMELINE_ONE_MODULE_BOUND = 1.10


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
        # Events the tracer recorded per timed iteration, for the scenarios that count them (the Timeline rows).
        self.events = {}
        for sample in report["samples"]:
            if "error" not in sample:
                key = (sample["python"], sample["workload"], sample["scenario"], sample["implementation"])
                self.values.setdefault(key, []).append(sample[self.metric])
                if sample.get("events") is not None:
                    self.events.setdefault(key, []).append(sample["events"] / sample["iters"])

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

    def events_per_iter(self, version, workload, scenario, implementation):
        values = self.events.get((version, workload, scenario, implementation))
        return statistics.median(values) if values else None

    def event_cost(self, version, workload, implementation):
        """What one event recorded by `timeline_all` cost (metric units): its median minus the untraced median,
        over the median events recorded per iteration."""
        values = self.samples(version, workload, TIMELINE_ALL, implementation)
        events = self.events_per_iter(version, workload, TIMELINE_ALL, implementation)
        baseline = self.baseline(version, workload)
        if not values or not events or not baseline:
            return None
        return (statistics.median(values) - baseline) / events

    def median_ratio_of(self, version, workload, numerator, denominator):
        """median of the (scenario, implementation) `numerator` / median of `denominator`."""
        top = self.samples(version, workload, *numerator)
        bottom = self.samples(version, workload, *denominator)
        return statistics.median(top) / statistics.median(bottom) if top and bottom else None

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


def beyond_hunter_table(run, version):
    """The rows of the actions hunter 3.9.0 does not have (Timeline, CallPrinter durations), with their targets."""
    unit, unit_scale = EVENT_COST_UNITS[run.metric]
    backends = [
        implementation
        for implementation in OURS_BACKENDS
        if implementation in run.report["interpreters"][version]["implementations"]
    ]
    rows = []

    def add(title, bound, cells):
        if any(cell is not None for cell in cells):
            rows.append(markdown_row(title, [bound, *("n/a" if cell is None else cell for cell in cells)]))

    def verdict(value, bound):
        return format_ratio(value) + ("" if value <= bound else " (missed)")

    viztracer = [run.median_ratio(version, workload, *VIZTRACER) for workload in run.workloads]
    add("VizTracer 1.1.1 recording everything / untraced", "reference", [v and format_ratio(v) for v in viztracer])
    for scenario, recording in ((TIMELINE_ALL, "recording everything"), (TIMELINE_PROFILE, "in profile mode")):
        for implementation in backends:
            cells = []
            for workload, reference in zip(run.workloads, viztracer):
                ours = run.median_ratio(version, workload, scenario, implementation)
                if ours is None or reference is None:
                    cells.append(ours and format_ratio(ours))
                else:
                    cells.append(verdict(ours, reference))
            add(f"Timeline {recording}, {run.label(version, implementation)} / untraced", "at most VizTracer's", cells)
    for implementation in backends:
        cells = []
        for workload in run.workloads:
            cost = run.event_cost(version, workload, implementation)
            events = run.events_per_iter(version, workload, TIMELINE_ALL, implementation)
            cells.append(None if cost is None else f"{cost / unit_scale:,.0f} {unit} ({events:,.0f} events/iter)")
        add(f"Timeline recording everything, {run.label(version, implementation)}: cost per recorded event", "", cells)
    for implementation in backends:
        # The target is the monitoring backend's (3.12+): settrace pays for every event it is handed.
        judged = implementation == "ours_monitoring"
        cells = []
        for workload in run.workloads:
            ratio = run.median_ratio(version, workload, TIMELINE_ONE_MODULE, implementation)
            events = run.events_per_iter(version, workload, TIMELINE_ONE_MODULE, implementation)
            cost = run.event_cost(version, workload, implementation)
            if ratio is None:
                cells.append(None)
            elif events is None or cost is None or not judged:
                recorded = "" if events is None else f" ({events:,.0f} events/iter)"
                cells.append(format_ratio(ratio) + recorded)
            else:
                bound = TIMELINE_ONE_MODULE_BOUND + events * cost / run.baseline(version, workload)
                cells.append(f"{verdict(ratio, bound)}; bound {bound:.3f} ({events:,.0f} events/iter)")
        add(
            f"Timeline of one module, {run.label(version, implementation)} / untraced",
            f"at most {TIMELINE_ONE_MODULE_BOUND:.2f} + recorded events' cost" if judged else "no target",
            cells,
        )
    for implementation in backends:
        ratios = [
            run.median_ratio_of(
                version,
                workload,
                ("callprinter_durations", implementation),
                ("callprinter_devnull", implementation),
            )
            for workload in run.workloads
        ]
        add(
            f"CallPrinter(durations=True) / CallPrinter, {run.label(version, implementation)}",
            "reported",
            [ratio and f"{ratio:.2f}x" for ratio in ratios],
        )
    if not rows:
        return []
    return [markdown_row("row", ["bound", *run.workloads]), "|---|---|" + "---:|" * len(run.workloads), *rows]


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
        beyond = beyond_hunter_table(run, version)
        if beyond:
            out += [
                "Beyond hunter (actions hunter 3.9.0 does not have; medians; the cost per event is timeline_all's"
                " time above untraced over the events it recorded, and prices the events of the one-module row):",
                "",
                *beyond,
                "",
            ]
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
