#!/usr/bin/env python3
"""Tracer overhead benchmark: untraced, the C hook floors, VizTracer, coverage.py, hunter 3.9.0 and ours
(each backend), side by side.

Timing model of ANCHORS.md section 2.2: every sample is a fresh process (bench/worker.py) that runs the
workload's setup(), one untraced warm-up iteration, installs the tracer and times iterations. For each
interpreter and workload, every configuration (scenario x implementation, see scenarios.py) runs --reps
times, in a newly shuffled order per repetition, one process at a time. A cell shows the median and
the min..max of its samples, each divided by the untraced median of the same interpreter and workload.
With --callgrind every sample runs under valgrind's callgrind and the metric is instructions per
iteration instead of seconds.

The markdown tables (report.py) go to stdout, progress to stderr, every raw sample to
bench/results/*.json, the plot (plot.py, unless --smoke or --no-plot) next to it.
Exit status 1 when a sample failed, or when an implementation not named by --optional is unavailable.
"""

import argparse
import concurrent.futures
import importlib.util
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import implementations
import report
import scenarios

DEFAULT_VERSIONS = ("3.11", "3.12", "3.13")
DEFAULT_WORKLOADS = implementations.REPO_ROOT.parent / "shared" / "bench" / "workloads"
EXTRA_WORKLOADS = implementations.BENCH_DIR / "workloads_extra"
RESULTS_DIR = implementations.BENCH_DIR / "results"
WORKER = implementations.BENCH_DIR / "worker.py"
PLOTTER = implementations.BENCH_DIR / "plot.py"
PLOT_REQUIREMENT = "matplotlib>=3.8,<4"
SMOKE_ITERS = 1
SMOKE_MAX_SECONDS = 0.2
# Under callgrind a program runs some 50 times slower, and counts do not vary: few iterations suffice.
CALLGRIND_ITERS = 2
CALLGRIND_MAX_SECONDS = 600.0
# Generous: a sample times at most --max-seconds, plus process start, setup() and tracer installation.
SAMPLE_TIMEOUT_SECONDS = 300
CALLGRIND_SAMPLE_TIMEOUT_SECONDS = 3600


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
        "--workloads", default=str(DEFAULT_WORKLOADS), help="shared workloads package directory (default: %(default)s)"
    )
    parser.add_argument(
        "--extra-workloads",
        default=str(EXTRA_WORKLOADS),
        metavar="DIR",
        help="workloads package with third-party requirements (requirements.txt); '' for none (default: %(default)s)",
    )
    parser.add_argument("--workload", action="append", metavar="NAME", help="only these workloads (default: all)")
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="NAME",
        help=f"only these scenarios (default: all): {', '.join(scenarios.BY_NAME)}",
    )
    parser.add_argument(
        "--implementation",
        action="append",
        metavar="NAME",
        help="only these implementations (default: all; the untraced interpreter always runs): "
        f"{', '.join(implementations.LABELS)}",
    )
    parser.add_argument("--reps", type=int, help="fresh processes per cell (default: 5, 1 with --callgrind)")
    parser.add_argument(
        "--iters",
        type=int,
        help=f"iterations per sample (default: each workload's DEFAULT_ITERS; {CALLGRIND_ITERS} with --callgrind)",
    )
    parser.add_argument("--max-seconds", type=float, help="stop timing a sample after this long (default: 2.0)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"a quick check that everything runs: 1 sample of {SMOKE_ITERS} iteration per cell, at most "
        f"{SMOKE_MAX_SECONDS} s; no VizTracer/coverage rows and no plot",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        help="samples run at once (default: 1, the CPU count with --smoke); above 1 the timings disturb each other",
    )
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="count instructions with valgrind --tool=callgrind instead of timing (stable on a noisy machine)",
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
        default="ours,ours_monitoring",
        metavar="IMPL,...",
        help="implementations that may be unavailable (n/a) without failing the run (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, help="seed of the run order shuffles (default: random, recorded in the JSON)"
    )
    parser.add_argument("--output", help="JSON file for the raw samples (default: bench/results/bench-<time>.json)")
    parser.add_argument("--plot", help="PNG file for the plot (default: the JSON file's name with .png)")
    parser.add_argument("--no-plot", action="store_true", help="do not draw the plot")
    args = parser.parse_args(argv)
    if args.smoke and args.callgrind:
        parser.error("--smoke and --callgrind do not go together")
    if args.callgrind:
        # Instruction counts do not depend on what runs beside them.
        defaults = {"reps": 1, "iters": CALLGRIND_ITERS, "max_seconds": CALLGRIND_MAX_SECONDS, "jobs": os.cpu_count()}
    elif args.smoke:
        defaults = {"reps": 1, "iters": SMOKE_ITERS, "max_seconds": SMOKE_MAX_SECONDS, "jobs": os.cpu_count()}
    else:
        defaults = {"reps": 5, "iters": None, "max_seconds": 2.0, "jobs": 1}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.callgrind and not shutil.which("valgrind"):
        parser.error("--callgrind needs valgrind on PATH (e.g. apt-get install valgrind)")
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
    unknown = set(args.implementation or ()) - set(implementations.LABELS)
    if unknown:
        parser.error(f"unknown implementation(s): {', '.join(sorted(unknown))}")
    if args.seed is None:
        args.seed = random.randrange(2**32)
    return args


def load_workload_names(workloads_dir):
    index = Path(workloads_dir) / "__init__.py"
    spec = importlib.util.spec_from_file_location(f"bench_index_{Path(workloads_dir).name}", index)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.NAMES)


def find_workloads(args):
    """{workload name: its package directory}, shared workloads first, filtered by --workload."""
    directories = [args.workloads] + ([args.extra_workloads] if args.extra_workloads else [])
    found = {}
    for directory in directories:
        for name in load_workload_names(directory):
            if name in found:
                raise SystemExit(f"bench: workload {name} is in both {found[name]} and {directory}")
            found[name] = directory
    unknown = set(args.workload or ()) - set(found)
    if unknown:
        raise SystemExit(f"bench: unknown workload(s): {', '.join(sorted(unknown))} (have {', '.join(found)})")
    return {name: directory for name, directory in found.items() if not args.workload or name in args.workload}


def configurations(version, selected_scenarios, prepared, smoke, selected_implementations=None):
    """(scenario, implementation) pairs that apply to this interpreter version, in table order; only the
    `selected_implementations` (and the untraced interpreter) when given."""
    return [
        (scenario, prepared[name])
        for scenario in selected_scenarios
        if implementations.version_tuple(version) >= scenario.min_python
        for name in scenario.runs_on
        if name in prepared
        and (not smoke or scenarios.in_smoke_run(scenario, name))
        and (not selected_implementations or name == "plain" or name in selected_implementations)
    ]


def callgrind_instructions(output_file):
    """Instructions counted in a callgrind output file (its `summary:` or `totals:` line)."""
    for line in Path(output_file).read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError(f"no summary line in {output_file}")


def run_sample(implementation, scenario, workload, workload_dir, args):
    """Runs one worker process; returns its result, or {"error": ...}."""
    with tempfile.TemporaryDirectory(prefix="hunter-bench-") as scratch:
        result_file = Path(scratch) / "result.json"
        stderr_file = Path(scratch) / "stderr"
        callgrind_file = Path(scratch) / "callgrind.out"
        command = [implementation.python, str(WORKER), "--workloads", workload_dir, "--workload", workload]
        command += ["--scenario", scenario.name, "--max-seconds", str(args.max_seconds), "--result", str(result_file)]
        if args.iters is not None:
            command += ["--iters", str(args.iters)]
        for directory in implementation.sys_path:
            command += ["--path", directory]
        timeout = SAMPLE_TIMEOUT_SECONDS
        if args.callgrind:
            valgrind = ["valgrind", "--tool=callgrind", "--collect-atstart=no"]
            valgrind.append(f"--callgrind-out-file={callgrind_file}")
            command = valgrind + command + ["--callgrind"]
            timeout = CALLGRIND_SAMPLE_TIMEOUT_SECONDS
        with open(stderr_file, "w") as stderr:
            try:
                status = subprocess.run(
                    command,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    env=implementations.clean_environment(implementation.env),
                    timeout=timeout,
                ).returncode
            except subprocess.TimeoutExpired:
                return {"error": f"timed out after {timeout} s"}
        if status == 0 and result_file.exists():
            with open(result_file) as stream:
                result = json.load(stream)
            if args.callgrind:
                result["instructions"] = callgrind_instructions(callgrind_file)
                result["instr_per_iter"] = result["instructions"] / result["iters"]
            return result
        tail = " | ".join(stderr_file.read_text(errors="replace").strip().splitlines()[-3:])
        return {"error": f"exit {status}: {tail}"}


def measure(version, configs, workloads, args, rng, pool):
    """All samples of one interpreter: per workload, --reps rounds of every configuration in shuffled order.
    The samples of a round run through `pool`, one at a time unless --jobs is above 1."""
    runnable = [(scenario, implementation) for scenario, implementation in configs if implementation.available]
    samples = []
    for workload, workload_dir in workloads.items():
        print(f"Python {version}, {workload}: ", end="", file=sys.stderr, flush=True)
        for repetition in range(args.reps):
            order = list(runnable)
            rng.shuffle(order)
            # The load average when each sample starts: the machine may be shared, and this shows when it was busy.
            results = pool.map(
                lambda config: (os.getloadavg()[0], run_sample(config[1], config[0], workload, workload_dir, args)),
                order,
            )
            for (scenario, implementation), (load, result) in zip(order, results):
                sample = {
                    "python": version,
                    "workload": workload,
                    "scenario": scenario.name,
                    "implementation": implementation.name,
                    "repetition": repetition,
                    "loadavg_1min": load,
                }
                sample.update(result)
                samples.append(sample)
                print("x" if "error" in result else ".", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    return samples


def draw_plot(json_file, png_file):
    """Draws the plot with plot.py in a bench-only venv that has matplotlib (bench/.cache/venvs/plot)."""
    python, _ = implementations.ensure_venv_with(
        sys.executable, implementations.CACHE_DIR / "venvs" / "plot", "import matplotlib", [PLOT_REQUIREMENT]
    )
    implementations.run([python, PLOTTER, json_file, png_file], purpose="plot.py")


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    for directory in filter(None, (args.workloads, args.extra_workloads)):
        if not (Path(directory) / "__init__.py").exists():
            print(f"bench: no workloads package at {directory} (see --workloads, --extra-workloads)", file=sys.stderr)
            return 1
    args.workloads = str(Path(args.workloads).resolve())
    args.extra_workloads = str(Path(args.extra_workloads).resolve()) if args.extra_workloads else ""
    workloads = find_workloads(args)
    needs_deps = args.extra_workloads and args.extra_workloads in workloads.values()
    selected_scenarios = [
        scenario for scenario in scenarios.SCENARIOS if not args.scenario or scenario.name in args.scenario
    ]
    if scenarios.BY_NAME[scenarios.UNTRACED] not in selected_scenarios:
        selected_scenarios.insert(0, scenarios.BY_NAME[scenarios.UNTRACED])
    rng = random.Random(args.seed)
    if args.smoke:
        print(f"bench: {scenarios.SMOKE_NOTE}; no plot", file=sys.stderr)

    failures = []
    results = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "argv": sys.argv,
        "host": {
            "node": platform.node(),
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
            "processor": cpu_model(),
            "loadavg_at_start": os.getloadavg(),
        },
        "settings": {
            "workloads": args.workloads,
            "extra_workloads": args.extra_workloads,
            "workload_names": list(workloads),
            "implementations": args.implementation,
            "reps": args.reps,
            "iters": args.iters,
            "max_seconds": args.max_seconds,
            "smoke_note": scenarios.SMOKE_NOTE if args.smoke else None,
            "jobs": args.jobs,
            "metric": "instr_per_iter" if args.callgrind else "sec_per_iter",
            "seed": args.seed,
            "scenarios": {
                scenario.name: {"title": scenario.title, "runs_on": scenario.runs_on, "install": scenario.install}
                for scenario in selected_scenarios
            },
        },
        "interpreters": {},
        "samples": [],
    }
    for version in args.versions:
        base_python = implementations.find_python(version)
        if base_python is None:
            print(f"Python {version}: not found, skipped", file=sys.stderr)
            results["interpreters"][version] = {
                "missing": "not found (looked in ~/.pyenv/versions and on PATH), skipped."
            }
            continue
        extra_paths = []
        if needs_deps:
            requirements = Path(args.extra_workloads) / "requirements.txt"
            try:
                extra_paths.append(implementations.prepare_workload_deps(version, base_python, requirements))
            except (OSError, implementations.SetupError) as exc:
                print(f"Python {version}: {exc}", file=sys.stderr)
                failures.append(str(exc))
        prepared = implementations.prepare_all(
            version,
            base_python,
            args.reference_venvs,
            args.ours_python.get(version),
            with_tools=not args.smoke,
            extra_paths=extra_paths,
            callgrind=args.callgrind,
        )
        configs = configurations(version, selected_scenarios, prepared, args.smoke, args.implementation)
        for implementation in {implementation.name: implementation for _, implementation in configs}.values():
            if not implementation.available:
                print(f"Python {version}: {implementation.label} unavailable: {implementation.detail}", file=sys.stderr)
                if implementation.name not in args.optional:
                    failures.append(f"{implementation.label} unavailable on {version}")
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            samples = measure(version, configs, workloads, args, rng, pool)
        failures += [f"sample error: {sample['error']}" for sample in samples if "error" in sample]
        results["interpreters"][version] = {
            "base_python": base_python,
            "version": implementations.full_version(base_python),
            "configurations": [(scenario.name, implementation.name) for scenario, implementation in configs],
            "implementations": {
                name: {"python": impl.python, "available": impl.available, "detail": impl.detail, "label": impl.label}
                for name, impl in prepared.items()
            },
        }
        results["samples"] += samples

    results["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["host"]["loadavg_at_end"] = os.getloadavg()
    if not any("missing" not in interpreter for interpreter in results["interpreters"].values()):
        failures.append("none of the requested interpreters was found")
    results["failures"] = failures
    if args.output:
        output = Path(args.output)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started))
        kind = "-smoke" if args.smoke else "-callgrind" if args.callgrind else ""
        output = RESULTS_DIR / f"bench-{stamp}{kind}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1))

    load = ", ".join(f"{value:.1f}" for value in results["host"]["loadavg_at_start"])
    host = results["host"]
    print(
        f"## Tracer overhead (bench/run.py, {results['started']}, {time.time() - started:.0f} s)\n\n"
        f"Machine: {host['processor']}, {host['cpus']} CPUs ({host['node']}); load average (1, 5, 15 min) {load} "
        f"at the start, {', '.join(f'{value:.1f}' for value in host['loadavg_at_end'])} at the end.\n"
    )
    print(report.render(results))
    print(f"Raw samples: {output}")
    if not (args.smoke or args.no_plot) and results["samples"]:
        plot = Path(args.plot) if args.plot else output.with_suffix(".png")
        try:
            draw_plot(output, plot)
            print(f"Plot: {plot}")
        except (OSError, implementations.SetupError) as exc:
            failures.append(f"plot: {exc}")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def cpu_model():
    """The processor's model name (Linux), for the record of where a run was measured."""
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


if __name__ == "__main__":
    sys.exit(main())
