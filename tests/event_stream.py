"""Record the events hunter's Tracer delivers while a sample program runs.

This module is executed inside a child interpreter (the reference one with the real hunter 3.9.0, or the
current one with ours) by ``tests/test_differential_engine.py``; run it as::

    python -c 'import event_stream; event_stream.main()' < cases.json > streams.json

``cases.json`` is a list of ``{"id", "sample", "predicate", "profile", "threading_support"}`` objects, where
``predicate`` is an expression evaluated with hunter's public names (``Q(kind='call') | Q(depth_lt=2)``).
The output maps every case id to ``{"events": [...], "disabled": bool}``; every recorded event is a flat dict
of Event attributes (see ``describe_event``).

Only the events produced while ``sample.main()`` runs are recorded. Events of the runner itself and events
whose module starts with ``hunter`` are dropped: the real hunter's pure tracer traces its own Python frames
(``Tracer.stop`` and friends) and the Cython and Rust tracers see different parts of the runner's frame, so
neither says anything about the engine's behaviour on user code.

Determinism: every sample runs once untraced first (imports, codec lookups and regex caches are warm), the
garbage collector is off while tracing (so finalisers never run at allocation-dependent points) and the
parent fixes PYTHONHASHSEED. Threads stay the exception: how the main thread's ``Thread.start()`` internals
interleave with a new worker is up to the OS even with a huge GIL switch interval (which still makes
preemption mid-run rare), so the comparison treats the threads sample specially.
"""

import gc
import importlib
import json
import os
import re
import sys
import sysconfig

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
RUNNER_FILENAME = os.path.abspath(__file__)
ADDRESS_RE = re.compile(r'0x[0-9a-fA-F]+')
# reprlib-shortened reprs (asyncio callbacks on 3.9) can cut an address down to its last hex digits.
SHORTENED_ADDRESS_RE = re.compile(r'\.\.\.[0-9a-f]+')
# Thread idents (pthread_t values) show up in Thread reprs; sample values never get this long.
THREAD_IDENT_RE = re.compile(r'\b\d{10,}\b')
# Clock readings (asyncio's loop.time()) are the only floats the samples produce.
FLOAT_RE = re.compile(r'\b\d+\.\d+(?:e[-+]?\d+)?\b')


def normalised_repr(value):
    """repr() with addresses, thread idents and floats blanked out; failures are recorded, not raised."""
    try:
        text = repr(value)
    except Exception as exc:  # a half-initialised object's __repr__ may fail; that is still comparable
        return f'!repr failed: {type(exc).__name__}'
    replacements = ((ADDRESS_RE, '0x?'), (SHORTENED_ADDRESS_RE, '...?'), (THREAD_IDENT_RE, '<ident>'), (FLOAT_RE, '<float>'))
    for pattern, placeholder in replacements:
        text = pattern.sub(placeholder, text)
    return text


def _stdlib_dirs():
    paths = sysconfig.get_paths()
    return tuple({os.path.realpath(paths[name]) for name in ('stdlib', 'platstdlib')})


STDLIB_DIRS = _stdlib_dirs()
PREFIXES = tuple({os.path.realpath(prefix) for prefix in (sys.prefix, sys.exec_prefix)})


def in_deliberately_changed_area(filename):
    """True where our engine deliberately differs from hunter 3.9.0 in ``stdlib``/``source``/``fullsource``.

    That is ``<frozen ...>`` modules (upstream #125: no source; and on 3.11+ frozen stdlib modules count as
    non-stdlib) and user files that merely live under ``sys.prefix`` (upstream #103).
    """
    if filename.startswith('<frozen '):
        return True
    real = os.path.realpath(filename)
    return real.startswith(PREFIXES) and not real.startswith(STDLIB_DIRS) and 'site-packages' not in real


def describe_event(event):
    filename = event.filename
    return {
        'kind': event.kind,
        'module': event.module,
        'function': event.function,
        'filename': os.path.basename(filename),
        'lineno': event.lineno,
        'depth': event.depth,
        'calls': event.calls,
        'builtin': event.builtin,
        'stdlib': event.stdlib,
        'source': event.source,
        'fullsource': event.fullsource,
        'instruction': event.instruction,
        'arg': normalised_repr(event.arg),
        'threadid_is_none': event.threadid is None,
        'threadname': event.threadname,
        'deliberate': in_deliberately_changed_area(filename),
    }


class Recorder:
    """The action: keeps a description of every matching event seen while ``active``."""

    def __init__(self):
        self.active = False
        self.events = []

    def __call__(self, event):
        if not self.active or event.module.startswith('hunter') or event.filename == RUNNER_FILENAME:
            return
        self.events.append(describe_event(event))


def run_case(hunter, sample, predicate_source, profile, threading_support):
    predicate = eval(predicate_source, vars(hunter))
    recorder = Recorder()
    tracer = hunter.Tracer(threading_support=threading_support, profiling_mode=profile)
    gc.collect()
    gc.disable()
    try:
        tracer.trace(hunter.When(predicate, recorder))
        recorder.active = True
        sample.main()
        recorder.active = False
        disabled = tracer.handler is None
        tracer.stop()
    finally:
        gc.enable()
    return {'events': recorder.events, 'disabled': disabled}


def main():
    sys.path.insert(0, TESTS_DIR)
    sys.setswitchinterval(1000)
    import hunter

    cases = json.load(sys.stdin)
    samples = {}
    for name in sorted({case['sample'] for case in cases}):
        samples[name] = importlib.import_module(name)
        samples[name].main()
    results = {
        case['id']: run_case(hunter, samples[case['sample']], case['predicate'], case['profile'], case['threading_support'])
        for case in cases
    }
    json.dump(results, sys.stdout)


if __name__ == '__main__':
    main()
