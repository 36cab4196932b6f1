"""Differential tests: the events our engine delivers must equal real hunter 3.9.0's.

Every sample program in ``tests/samples`` is traced with many predicates, under the reference interpreter
(real hunter 3.9.0, pure build unless HUNTER_REFERENCE_PURE=0) and under the current interpreter, by
``tests/event_stream.py``; the recorded event streams are compared field by field.

What is normalised (everything else must be equal):

* object addresses and thread idents inside reprs (done by the recorder);
* events of hunter's own frames and of the runner (dropped by the recorder on both sides, see event_stream);
* deliberate fixes (upstream #103 and #125): on events from ``<frozen ...>`` modules and from user files
  under ``sys.prefix``, ``stdlib``, ``source`` and ``fullsource`` are masked; and if the predicate itself
  looks at those fields, such events are dropped from both streams, because the fixes change which of them
  match. ``test_frozen_stdlib_*`` check those fields separately.
"""

import functools
import json
import linecache
import os
import sys
import sysconfig

import pytest

import reference
import samples

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
RUNNER_CODE = 'import event_stream; event_stream.main()'
RUNNER_ENV = {'PYTHONPATH': TESTS_DIR}
# The current side keeps the caller's PUREPYTHONHUNTER so conftest's build detection describes it too.
CURRENT_RUNNER_ENV = dict(RUNNER_ENV, PUREPYTHONHUNTER=os.environ.get('PUREPYTHONHUNTER', ''))
REFERENCE_RUNNER_ENV = dict(RUNNER_ENV, PUREPYTHONHUNTER='' if os.environ.get('HUNTER_REFERENCE_PURE') == '0' else '1')
DELIBERATELY_CHANGED_FIELDS = ('stdlib', 'source', 'fullsource')
MASKED = '<deliberately different>'
HAS_FROZEN_STDLIB = sys.version_info >= (3, 11)
# Always counted as stdlib by hunter 3.9.0 (its SYS_PREFIX_PATHS lists them).
BOOTSTRAP_FROZEN_FILENAMES = ('<frozen zipimport>', '<frozen importlib._bootstrap>', '<frozen importlib._bootstrap_external>')

PREDICATES = (
    'Query()',
    "Q(module_startswith='samples')",
    "Q(module__startswith='samples', kind='line')",
    "Q(kind='call') | Q(kind='exception')",
    "~Q(kind='line') & Q(stdlib=False)",
    'Q(stdlib=True)',
    'Q(depth_lt=3)',
    'Q(depth_gt=1, depth_lte=4)',
    'Q(calls_gt=5)',
    'Q(calls_gte=3, calls_lt=40)',
    "Q(function_in=['main', 'wrapper', '__init__', 'work'])",
    "Q(kind_in=('call', 'return'), function_regex='(?!_)')",
    "Q(filename_endswith='.py')",
    "Q(filename_ew=('.py', '>'), kind='return')",
    "Q(function_sw=['_', 'w'])",
    "Q(function_has='init')",
    "Q(source_contains='yield')",
    "Q(source_regex=r'\\s*return ')",
    "Q(fullsource_has='def ')",
    "Q(function_regex='^_')",
    "Q(module_rx='samples[.](gen|co)')",
    "Q(threadname='MainThread', kind='call')",
    'Q(threadid=None, depth=1)',
    "Q(kind='return', arg=None)",
    "Q(kind='call', locals_has='self')",
    'Q(lineno_gte=10, lineno_lte=20)',
    "Not(Q(module_startswith='samples'))",
    "Or(module='samples.generators', function='main')",
    "And(Q(kind='line'), Q(module_startswith='samples'), Q(depth_gte=1))",
    "From(Q(function_in=['validate', 'countdown', 'fetch', 'area', 'describe', 'increment', 'work', 'combine']), Q(depth_lt=2))",
    "From(module_startswith='samples', depth_lt=1)",
    "From(Q(kind='exception'), watermark=-1)",
    "From(Q(function='main'), Q(calls_lt=4) & Q(kind='call'))",
)
PROFILE_PREDICATES = (
    'Query()',
    'Q(builtin=True)',
    "Q(kind='call', module_startswith='samples') | Q(builtin=True, function_in=['len', 'append', 'join'])",
    'Q(depth_lt=2)',
    '~Q(stdlib=True)',
)
# For the threads sample: predicates whose matches do not depend on how the main thread's threading internals
# interleave with the worker (see samples/__init__.py). Its streams are compared per thread, without depth/calls,
# which are tracer-wide counters and so depend on that interleaving too.
THREADED_PREDICATES = (
    "Q(module_startswith='samples')",
    "Q(module_startswith='samples', kind_in=['call', 'return'])",
    "Q(threadname_startswith='sample-worker', module_startswith='samples')",
    "Q(filename_endswith='threads.py', threadid=None)",
    "Q(function='work') | Q(function='run', module='threading')",
    "Q(module_startswith='samples', source_has='total')",
)
# hunter 3.9.0's Cython Query requires str event values for `contains`; its pure build (and ours) does not.
PURE_SEMANTICS_PREDICATES = {"Q(kind='call', locals_has='self')"}
# On 3.9 the Cython tracer's `frame.f_trace = self` makes f_lineno stale in profile mode (no line events update
# it), so builtin and return events report the `def` line; the pure build reports the executing line.
PROFILE_LINENO_IS_STALE_IN_CYTHON = sys.version_info < (3, 10)
THREAD_INTERLEAVING_FIELDS = ('depth', 'calls')


def _case(sample, predicate, profile=False, threading_support=None):
    mode = 'profile' if profile else 'trace'
    return {
        'id': f'{sample}|{mode}|threads={threading_support}|{predicate}',
        'sample': sample,
        'predicate': predicate,
        'profile': profile,
        'threading_support': threading_support,
    }


CASES = (
    [_case(sample, predicate) for sample in samples.SINGLE_THREADED_SAMPLES for predicate in PREDICATES]
    + [_case(sample, predicate, profile=True) for sample in samples.SINGLE_THREADED_SAMPLES for predicate in PROFILE_PREDICATES]
    + [
        _case(samples.THREADED_SAMPLE, predicate, profile=profile, threading_support=threading_support)
        for predicate in THREADED_PREDICATES
        for profile in (False, True)
        for threading_support in (None, False, True)
    ]
)


def run_in_reference(cases):
    return reference.run_reference(RUNNER_CODE, env=REFERENCE_RUNNER_ENV, input=json.dumps(cases))


# Both of our backends must give the reference's streams; sys.monitoring exists from 3.12 on.
CURRENT_BACKENDS = ('monitoring', 'settrace') if sys.version_info >= (3, 12) else ('settrace',)


def run_in_current(cases, backend):
    env = dict(CURRENT_RUNNER_ENV, PYTHONHUNTERBACKEND=backend)
    return reference.run_python(sys.executable, RUNNER_CODE, env=env, input=json.dumps(cases))


def record_streams(run, cases):
    """Record ``cases`` in one child interpreter; ``run`` is ``run_in_reference`` or ``run_in_current``."""
    result = run(cases)
    if result.returncode != 0:
        pytest.fail(f'event recorder failed (exit code {result.returncode}):\n{result.stderr}')
    return json.loads(result.stdout)


class StreamCache:
    """Records streams lazily, one child interpreter per sample, and keeps them for the whole session."""

    def __init__(self, run):
        self._run = run
        self._by_sample = {}

    def __getitem__(self, case):
        if case['sample'] not in self._by_sample:
            same_sample = [other for other in CASES if other['sample'] == case['sample']]
            self._by_sample[case['sample']] = record_streams(self._run, same_sample)
        return self._by_sample[case['sample']][case['id']]


@pytest.fixture(scope='session')
def reference_streams():
    if reference.reference_python() is None:
        pytest.skip('no reference interpreter with hunter 3.9.0 (set HUNTER_REFERENCE_PYTHON or HUNTER_REFERENCE_CREATE=1)')
    return StreamCache(run_in_reference)


@pytest.fixture(scope='session')
def current_streams():
    return {backend: StreamCache(functools.partial(run_in_current, backend=backend)) for backend in CURRENT_BACKENDS}


def _predicate_reads_changed_fields(predicate):
    return any(field in predicate for field in DELIBERATELY_CHANGED_FIELDS)


def comparable_events(case, events):
    """Apply the normalisation described in the module docstring."""
    drop_changed_area = _predicate_reads_changed_fields(case['predicate'])
    threaded = case['sample'] == samples.THREADED_SAMPLE
    comparable = []
    for event in events:
        event = dict(event)
        if event.pop('deliberate'):
            if drop_changed_area:
                continue
            event.update(dict.fromkeys(DELIBERATELY_CHANGED_FIELDS, MASKED))
        if threaded:
            event.update(dict.fromkeys(THREAD_INTERLEAVING_FIELDS, MASKED))
        comparable.append(event)
    if threaded:
        thread_order = list(dict.fromkeys(event['threadname'] for event in comparable))
        comparable.sort(key=lambda event: thread_order.index(event['threadname']))
    return comparable


def _first_difference(expected, actual):
    for index, (left, right) in enumerate(zip(expected, actual)):
        if left != right:
            return index
    return min(len(expected), len(actual))


def _describe_divergence(expected, actual):
    index = _first_difference(expected, actual)
    lines = [f'streams diverge at event {index} (reference has {len(expected)} events, current has {len(actual)})']
    for offset in range(max(0, index - 3), index):
        lines.append(f'  same [{offset}] {expected[offset]}')
    reference_event = expected[index] if index < len(expected) else '<end of stream>'
    current_event = actual[index] if index < len(actual) else '<end of stream>'
    lines.append(f'  reference [{index}] {reference_event}')
    lines.append(f'  current   [{index}] {current_event}')
    if isinstance(reference_event, dict) and isinstance(current_event, dict):
        differing = sorted(key for key in reference_event if reference_event[key] != current_event.get(key))
        lines.append(f'  differing fields: {differing}')
    return '\n'.join(lines)


def _as_param(case):
    pure_only = case['predicate'] in PURE_SEMANTICS_PREDICATES or (case['profile'] and PROFILE_LINENO_IS_STALE_IN_CYTHON)
    marks = [pytest.mark.pure_semantics] if pure_only else []
    return pytest.param(case, id=case['id'], marks=marks)


@pytest.mark.parametrize('backend', CURRENT_BACKENDS)
@pytest.mark.parametrize('case', [_as_param(case) for case in CASES])
def test_event_stream_matches_reference(case, backend, reference_streams, current_streams):
    expected, actual = reference_streams[case], current_streams[backend][case]
    assert actual['disabled'] == expected['disabled'], 'the tracer disabled itself on one side only'
    expected_events = comparable_events(case, expected['events'])
    actual_events = comparable_events(case, actual['events'])
    if expected_events != actual_events:
        pytest.fail(_describe_divergence(expected_events, actual_events), pytrace=False)


def test_samples_produce_events_for_every_predicate_family(reference_streams):
    """Guards the corpus itself: a predicate that never matches anything would compare nothing."""
    matched_something = {case['predicate'] for case in CASES if reference_streams[case]['events']}
    never_matched = set(PREDICATES + PROFILE_PREDICATES + THREADED_PREDICATES) - matched_something
    assert not never_matched


FROZEN_CASE = _case('samples.stdlib_use', "Q(filename_startswith='<frozen ')")


def _frozen_stdlib_events(run):
    stream = record_streams(run, [FROZEN_CASE])[FROZEN_CASE['id']]
    events = [event for event in stream['events'] if event['filename'] not in BOOTSTRAP_FROZEN_FILENAMES]
    assert events, 'the stdlib sample no longer runs code from frozen stdlib modules'
    return events


@pytest.mark.skipif(not HAS_FROZEN_STDLIB, reason='stdlib modules are not frozen before Python 3.11')
def test_frozen_stdlib_reference_behaviour_is_the_upstream_bug(reference_streams):
    """Why the masking above is needed: hunter 3.9.0 gives frozen stdlib modules no source and stdlib=False."""
    events = _frozen_stdlib_events(run_in_reference)
    assert {event['stdlib'] for event in events} == {False}
    assert {event['source'] for event in events} == {''}


def _real_stdlib_file(frozen_filename):
    module = frozen_filename[len('<frozen ') : -1]
    return os.path.join(sysconfig.get_path('stdlib'), *module.split('.')) + '.py'


@pytest.mark.skipif(not HAS_FROZEN_STDLIB, reason='stdlib modules are not frozen before Python 3.11')
@pytest.mark.deliberate_change('frozen stdlib modules count as stdlib and have source (upstream #125)')
@pytest.mark.parametrize('backend', CURRENT_BACKENDS)
def test_frozen_stdlib_events_are_stdlib_with_source(backend):
    for event in _frozen_stdlib_events(functools.partial(run_in_current, backend=backend)):
        assert event['stdlib'] is True, event
        path = _real_stdlib_file(event['filename'])
        expected_line = linecache.getline(path, event['lineno'])
        assert expected_line, f'{path}:{event["lineno"]} does not exist'
        assert event['source'] == expected_line, event
        assert event['fullsource'].startswith(expected_line), event
