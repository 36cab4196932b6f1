#!/usr/bin/env python3
"""Tracer overhead benchmark: untraced, the C settrace floor, hunter 3.9.0 and ours, side by side.

Timing model of ANCHORS.md section 2.2: every sample is a fresh process (bench/worker.py) that runs the
workload's setup(), one untraced warm-up iteration, installs the tracer and times iterations. For each
interpreter and workload, every configuration (scenario x implementation, see scenarios.py) runs --reps
times, in a newly shuffled order per repetition, one process at a time. A cell shows the median and
the min..max of its samples, each divided by the untraced median of the same interpreter and workload.

The markdown tables go to stdout, progress to stderr, every raw sample to bench/results/*.json.
Exit status 1 when a sample failed, or when an implementation not named by --optional is unavailable.
"""

import argparse
import importlib.util
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import implementations
import scenarios

DEFAULT_VERSIONS = ("3.11", "3.12", "3.13")
DEFAULT_WORKLOADS = implementations.REPO_ROOT.parent / "shared" / "bench" / "workloads"
RESULTS_DIR = implementations.BENCH_DIR / "results"
WORKER = implementations.BENCH_DIR / "worker.py"
SMOKE_ITERS = 3
# Generous: a sample times at most --max-seconds, plus process start, setup() and tracer installation.
SAMPLE_TIMEOUT_SECONDS = 300


def split_list(text):
    return [item for item in text.replace(",", " ").split() if item]


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--python",
        action="append",
        metavar="3.X",
        help=f"interpreter versions, repeatable or comma-separated (default: {' '.join(DEFAULT_VERSIONS)})",
    )
    parser.add_argument(
        "--workloads", default=str(DEFAULT_WORKLOADS), help="workloads package directory (default: %(default)s)"
    )
    parser.add_argument("--workload", action="append", metavar="NAME", help="only these workloads (default: all)")
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help=f"only these scenarios (default: all): {', '.join(scenarios.BY_NAME)}",
    )
    parser.add_argument("--reps", type=int, default=5, help="fresh processes per cell (default: %(default)s)")
    parser.add_argument("--iters", type=int, help="iterations per sample (default: each workload's DEFAULT_ITERS)")
    parser.add_argument(
        "--max-seconds", type=float, default=2.0, help="stop timing a sample after this long (default: %(default)s)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"a quick check that everything runs: 1 sample of {SMOKE_ITERS} iterations per cell",
    )
    parser.add_argument(
        "--ours-python",
        action="append",
        default=[],
        metavar="3.X=PATH",
        help="interpreter with our package installed, instead of building a release wheel into bench/.cache",
    )
    parser.add_argument(
        "--reference-venvs",
        default=os.environ.get("HUNTER_REFERENCE_VENVS"),
        metavar="DIR",
        help="venvs with hunter 3.9.0 as DIR/3.X (default: $HUNTER_REFERENCE_VENVS, else made in bench/.cache)",
    )
    parser.add_argument(
        "--optional",
        default="ours",
        metavar="IMPL,...",
        help="implementations that may be unavailable (n/a) without failing the run (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, help="seed of the run order shuffles (default: random, recorded in the JSON)"
    )
    parser.add_argument("--output", help="JSON file for the raw samples (default: bench/results/bench-<time>.json)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.reps = 1
        args.iters = SMOKE_ITERS
    args.versions = [version for text in (args.python or DEFAULT_VERSIONS) for version in split_list(text)]
    args.optional = set(split_list(args.optional))
    try:
        args.ours_python = {
            version: os.path.abspath(path) for version, path in (item.split("=", 1) for item in args.ours_python)
        }
    except ValueError:
        parser.error("--ours-python takes VERSION=PATH")
    unknown = set(args.scenario or ()) - set(scenarios.BY_NAME)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if args.seed is None:
        args.seed = random.randrange(2**32)
    return args


def load_workload_names(workloads_dir):
    spec = importlib.util.spec_from_file_location("bench_workloads_index", Path(workloads_dir) / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.NAMES)


def version_tuple(version):
    return tuple(int(part) for part in version.split("."))


def configurations(version, selected_scenarios, prepared):
    """(scenario, implementation) pairs that apply to this interpreter version, in table order."""
    return [
        (scenario, prepared[name])
        for scenario in selected_scenarios
        if version_tuple(version) >= scenario.min_python
        for name in scenario.runs_on
    ]


def run_sample(implementation, scenario, workload, args):
    """Runs one worker process; returns its result, or {"error": ...}."""
    with tempfile.TemporaryDirectory(prefix="hunter-bench-") as scratch:
        result_file = Path(scratch) / "result.json"
        stderr_file = Path(scratch) / "stderr"
        command = [implementation.python, str(WORKER), "--workloads", args.workloads, "--workload", workload]
        command += ["--scenario", scenario.name, "--max-seconds", str(args.max_seconds), "--result", str(result_file)]
        if args.iters is not None:
            command += ["--iters", str(args.iters)]
        for directory in implementation.sys_path:
            command += ["--path", directory]
        with open(stderr_file, "w") as stderr:
            try:
                status = subprocess.run(
                    command,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    env=implementations.clean_environment(),
                    timeout=SAMPLE_TIMEOUT_SECONDS,
                ).returncode
            except subprocess.TimeoutExpired:
                return {"error": f"timed out after {SAMPLE_TIMEOUT_SECONDS} s"}
        if status == 0 and result_file.exists():
            with open(result_file) as stream:
                return json.load(stream)
        tail = " | ".join(stderr_file.read_text(errors="replace").strip().splitlines()[-3:])
        return {"error": f"exit {status}: {tail}"}


def measure(version, configs, workloads, args, rng):
    """All samples of one interpreter: per workload, --reps rounds of every configuration in shuffled order."""
    runnable = [(scenario, implementation) for scenario, implementation in configs if implementation.available]
    samples = []
    for workload in workloads:
        print(f"Python {version}, {workload}: ", end="", file=sys.stderr, flush=True)
        for repetition in range(args.reps):
            order = list(runnable)
            rng.shuffle(order)
            for scenario, implementation in order:
                result = run_sample(implementation, scenario, workload, args)
                sample = {
                    "python": version,
                    "workload": workload,
                    "scenario": scenario.name,
                    "implementation": implementation.name,
                    "repetition": repetition,
                }
                sample.update(result)
                samples.append(sample)
                print("x" if "error" in result else ".", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    return samples


def format_ratio(value):
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_milliseconds(value):
    return f"{value:.3f}"


def spread(values, scale, formatter):
    low, middle, high = (formatter(value / scale) for value in (min(values), statistics.median(values), max(values)))
    return f"{middle} ({low}..{high})"


def markdown_row(title, cells):
    return f"| {title} | {' | '.join(cells)} |"


def row_title(scenario, implementation):
    if len(scenario.runs_on) == 1:
        return scenario.title
    return f"{implementation.label}: {scenario.title}"


def render_table(version, full_version, configs, workloads, samples, args):
    """Markdown table of one interpreter, followed by notes on unavailable implementations and errors."""

    def times(workload, scenario, implementation):
        return [
            sample["sec_per_iter"]
            for sample in samples
            if sample["workload"] == workload
            and sample["scenario"] == scenario.name
            and sample["implementation"] == implementation.name
            and "error" not in sample
        ]

    untraced_scenario = scenarios.BY_NAME[scenarios.UNTRACED]
    plain = next(implementation for scenario, implementation in configs if scenario is untraced_scenario)
    untraced = {workload: times(workload, untraced_scenario, plain) for workload in workloads}
    baseline = {workload: statistics.median(values) for workload, values in untraced.items() if values}

    def cell(workload, scenario, implementation):
        if not implementation.available:
            return "n/a"
        values = times(workload, scenario, implementation)
        if not values or workload not in baseline:
            return "error"
        return spread(values, baseline[workload], format_ratio)

    lines = [
        f"### Python {full_version}",
        "",
        f"Ratio to untraced: median (min..max) of {args.reps} fresh process(es) per cell.",
        "",
        markdown_row("configuration", workloads),
        "|---|" + "---:|" * len(workloads),
        markdown_row(
            "untraced ms/iter",
            [spread(untraced[w], 1e-3, format_milliseconds) if untraced[w] else "error" for w in workloads],
        ),
    ]
    for scenario, implementation in configs:
        lines.append(
            markdown_row(row_title(scenario, implementation), [cell(w, scenario, implementation) for w in workloads])
        )
    by_scenario = {}
    for scenario, implementation in configs:
        by_scenario.setdefault(scenario, {})[implementation.name] = implementation
    for scenario, impls in by_scenario.items():
        if set(scenarios.HUNTER_IMPLEMENTATIONS) <= set(impls):
            speedups = []
            for workload in workloads:
                hunter_times = times(workload, scenario, impls["hunter"])
                ours_times = times(workload, scenario, impls["ours"])
                if hunter_times and ours_times:
                    speedups.append(f"{statistics.median(hunter_times) / statistics.median(ours_times):.2f}x")
                else:
                    speedups.append("n/a")
            lines.append(markdown_row(f"speedup of ours over hunter 3.9.0: {scenario.title}", speedups))
    lines.append("")
    for implementation in {implementation.name: implementation for _, implementation in configs}.values():
        state = "" if implementation.available else "**n/a**: "
        lines.append(f"- {implementation.label}: {state}{implementation.detail}")
    hooks = sorted(
        {f"{sample['implementation']}: {sample['trace_hook']}" for sample in samples if sample.get("trace_hook")}
    )
    if hooks:
        lines.append(f"- trace hook classes seen: {', '.join(hooks)}")
    for sample in samples:
        if "error" in sample:
            where = f"{sample['implementation']}/{sample['scenario']} on {sample['workload']}"
            lines.append(f"- **error** {where}: {sample['error']}")
    lines.append("")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    if not (Path(args.workloads) / "__init__.py").exists():
        print(f"bench: no workloads package at {args.workloads} (use --workloads)", file=sys.stderr)
        return 1
    args.workloads = str(Path(args.workloads).resolve())
    workloads = args.workload or load_workload_names(args.workloads)
    selected_scenarios = [
        scenario for scenario in scenarios.SCENARIOS if not args.scenario or scenario.name in args.scenario
    ]
    if scenarios.BY_NAME[scenarios.UNTRACED] not in selected_scenarios:
        selected_scenarios.insert(0, scenarios.BY_NAME[scenarios.UNTRACED])
    rng = random.Random(args.seed)

    failures = []
    report = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "argv": sys.argv,
        "host": {"node": platform.node(), "cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg()},
        "settings": {
            "workloads": args.workloads,
            "reps": args.reps,
            "iters": args.iters,
            "max_seconds": args.max_seconds,
            "seed": args.seed,
            "scenarios": {
                scenario.name: {"title": scenario.title, "runs_on": scenario.runs_on, "install": scenario.install}
                for scenario in selected_scenarios
            },
        },
        "interpreters": {},
        "samples": [],
    }
    tables = []
    for version in args.versions:
        base_python = implementations.find_python(version)
        if base_python is None:
            print(f"Python {version}: not found, skipped", file=sys.stderr)
            tables.append(f"### Python {version}\n\nnot found (looked in ~/.pyenv/versions and on PATH), skipped.\n")
            continue
        prepared = implementations.prepare_all(
            version, base_python, args.reference_venvs, args.ours_python.get(version)
        )
        configs = configurations(version, selected_scenarios, prepared)
        for implementation in {implementation.name: implementation for _, implementation in configs}.values():
            if not implementation.available:
                print(f"Python {version}: {implementation.label} unavailable: {implementation.detail}", file=sys.stderr)
                if implementation.name not in args.optional:
                    failures.append(f"{implementation.label} unavailable on {version}")
        samples = measure(version, configs, workloads, args, rng)
        failures += [f"sample error: {sample['error']}" for sample in samples if "error" in sample]
        full_version = implementations.full_version(base_python)
        report["interpreters"][version] = {
            "base_python": base_python,
            "version": full_version,
            "implementations": {
                name: {"python": impl.python, "available": impl.available, "detail": impl.detail}
                for name, impl in prepared.items()
            },
        }
        report["samples"] += samples
        tables.append(render_table(version, full_version, configs, workloads, samples, args))

    report["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    report["failures"] = failures
    if args.output:
        output = Path(args.output)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started))
        output = RESULTS_DIR / f"bench-{stamp}{'-smoke' if args.smoke else ''}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1))

    print(f"## Tracer overhead (bench/run.py, {report['started']}, {time.time() - started:.0f} s)\n")
    print("\n".join(tables))
    print(f"Raw samples: {output}")
    if not report["interpreters"]:
        failures.append("none of the requested interpreters was found")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
