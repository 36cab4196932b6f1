"""One benchmark sample in a fresh process (timing model of ANCHORS.md section 2.2).

setup(), one untraced warm-up iteration, install the scenario's tracer, then time iterations until
`--iters` are done or `--max-seconds` have passed, stop the clock, run the scenario's `stop`.
The result (seconds per iteration, wall and CPU; the events the tracer recorded, when the scenario counts them)
is written as JSON to `--result`, so nothing the tracer prints on stdout/stderr can corrupt it.

With --callgrind the worker runs under `valgrind --tool=callgrind --collect-atstart=no` (bench/run.py
does that) and switches collection on and off around the timed iterations with `_floortrace`, so the
instruction count covers exactly the timed region.
"""

import argparse
import importlib
import json
import os
import sys
import time

import scenarios


def describe_trace_hook():
    """Names the class of the installed Python-level trace object: shows e.g. that hunter's Cython tracer ran."""
    hook = sys.gettrace()
    if hook is None:
        return None
    kind = type(hook)
    return f"{kind.__module__}.{kind.__qualname__}"


def run_sample(workload, scenario, iters, max_seconds, callgrind):
    state = workload.setup()
    workload.iteration(state)
    namespace = {}
    exec(compile(scenario.install, f"<scenario {scenario.name}>", "exec"), namespace)
    trace_hook = describe_trace_hook()
    if callgrind:
        import _floortrace

        toggle_collection = _floortrace.callgrind_toggle
        if not toggle_collection():
            raise SystemExit("_floortrace was built without valgrind/callgrind.h: cannot count instructions")
    done = 0
    wall_start = time.perf_counter()
    cpu_start = time.process_time()
    while done < iters:
        workload.iteration(state)
        done += 1
        if time.perf_counter() - wall_start >= max_seconds:
            break
    if callgrind:
        toggle_collection()
    wall = time.perf_counter() - wall_start
    cpu = time.process_time() - cpu_start
    stop = namespace.get("stop")
    if stop is not None:
        stop()
    describe = namespace.get("describe")
    result = {
        "sec_per_iter": wall / done,
        "cpu_per_iter": cpu / done,
        "iters": done,
        "trace_hook": trace_hook,
        "detail": describe() if describe is not None else None,
    }
    if "recorded_events" in namespace:
        result["events"] = namespace["recorded_events"]
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workloads", required=True, help="the workloads package directory")
    parser.add_argument("--workload", required=True)
    parser.add_argument("--scenario", required=True, choices=sorted(scenarios.BY_NAME))
    parser.add_argument("--iters", type=int, help="iterations to time (default: the workload's DEFAULT_ITERS)")
    parser.add_argument("--max-seconds", type=float, required=True)
    parser.add_argument("--path", action="append", default=[], help="directory to prepend to sys.path")
    parser.add_argument("--result", required=True, help="file to write the JSON result to")
    parser.add_argument("--callgrind", action="store_true", help="toggle callgrind collection around the timed loop")
    args = parser.parse_args()

    workloads_dir = os.path.abspath(args.workloads)
    sys.path[:0] = args.path + [os.path.dirname(workloads_dir)]
    workload = importlib.import_module(f"{os.path.basename(workloads_dir)}.{args.workload}")
    iters = args.iters if args.iters is not None else workload.DEFAULT_ITERS
    result = run_sample(workload, scenarios.BY_NAME[args.scenario], iters, args.max_seconds, args.callgrind)
    with open(args.result, "w") as stream:
        json.dump(result, stream)


if __name__ == "__main__":
    main()
