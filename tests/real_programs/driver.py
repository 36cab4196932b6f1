"""Runs one real program under hunter, printing each configuration's output after a ``=== name`` header.

    python driver.py PROGRAM          every code configuration, in order, each into its own stream
    python driver.py PROGRAM --plain  the program once, untraced by this script (for PYTHONHUNTER runs)

The same file runs under the real hunter 3.9.0 and under hunter-rs; tests/test_real_programs.py compares.
"""

import importlib
import io
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import configurations  # noqa: E402


def print_section(name, text):
    sys.stdout.write(f'=== {name}\n{text}')
    if text and not text.endswith('\n'):
        sys.stdout.write('\n')


def run_configurations(program, workload):
    import hunter

    facts = {
        'LIB': program.lib,
        'WORKLOAD': program.workload,
        'FOCUS': program.focus,
        'FUNCTIONS': program.functions,
        'NAMES': program.names,
        'SUFFIX': program.suffix,
        'RAISERS': program.raisers,
    }
    names = dict({name: getattr(hunter, name) for name in hunter.__all__}, Stop=hunter.Stop, **facts)
    for name, arguments in configurations.CODE_CONFIGURATIONS.items():
        stream = io.StringIO()
        started = time.perf_counter()
        hunter.CallPrinter.cleanup()
        try:
            # Only the arguments are evaluated: trace() is called from this frame, so no frame of the evaluation
            # returns (the started tracer) while tracing.
            args, kwargs = eval(f'(lambda *args, **kwargs: (args, kwargs))({arguments})', dict(names, OUT=stream))
            tracer = hunter.trace(*args, **kwargs)
            try:
                workload.run()
            finally:
                tracer.stop()
        except Exception:
            stream.write('CONFIGURATION FAILED\n' + traceback.format_exc())
        print_section(name, stream.getvalue())
        if os.environ.get('REAL_PROGRAMS_TIMINGS'):
            sys.stderr.write(f'{name}: {time.perf_counter() - started:.3f} s\n')


def main():
    program = configurations.PROGRAMS[sys.argv[1]]
    workload = importlib.import_module(program.workload)
    # Untraced first: lazy imports and caches filled here would otherwise show up in the first configuration only.
    print_section('result', workload.run())
    if sys.argv[2:] != ['--plain']:
        run_configurations(program, workload)


if __name__ == '__main__':
    main()
