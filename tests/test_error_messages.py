"""
Errors that teach (issue 16, item 5): a mistyped name gets "Did you mean 'X'?", a filter value that no event can
ever match is refused when the query is built, a string whose quotes the shell removed is explained, and
undecodable environment text is a parse error with its column.

hunter's own message stays the start of ours (its test suite and user code match on prefixes); the hints are
appended. Tests of what hunter 3.9.0 silently accepts carry ``deliberate_change``; tests of our added wording are
skipped when the ``hunter`` under test is the real one.
"""

import json
import os
import subprocess
import sys

import pytest

import hunter
from conftest import hunter_under_test_is_reference
from hunter import CallPrinter
from hunter import From
from hunter import Q
from hunter import Query
from hunter import StackPrinter
from hunter import VarsPrinter
from reference import child_env
from reference import require_reference_python
from reference import run_reference

ours_only = pytest.mark.skipif(hunter_under_test_is_reference(), reason="tests hunter-rs's added wording")
KINDS = "('call', 'line', 'return', 'exception')"


def message_of(call, error=Exception):
    with pytest.raises(error) as excinfo:
        call()
    return str(excinfo.value)


# -- Did you mean: Query keys -------------------------------------------------------------------------------------

QUERY_KEY_CASES = [
    # (keyword arguments, hunter's message prefix, our appended hint)
    ({'modul': 'x'}, "Unexpected argument 'modul'. Must be one of (", " Did you mean 'module'?"),
    ({'fucntion_sw': 'x'}, "Unexpected argument 'fucntion_sw'. Must be one of (", " Did you mean 'function_sw'?"),
    ({'module_startwith': 'x'}, "Unexpected operator 'startwith'. Must be one of (", " Did you mean 'module_startswith'?"),
    ({'depth_lessthan': 3}, "Unexpected operator 'lessthan'. Must be one of (", ''),
    (
        {'function_starts_with': 'x'},
        "Unexpected argument 'function_starts_with'. Must be one of (",
        ". Did you mean 'function_startswith'?",
    ),
    ({'zzz': 1}, "Unexpected argument 'zzz'. Must be one of (", ''),
]


@ours_only
@pytest.mark.parametrize(('query', 'prefix', 'hint'), QUERY_KEY_CASES, ids=lambda case: str(case))
def test_unknown_query_key_suggests_the_closest(query, prefix, hint):
    message = message_of(lambda: Query(**query), TypeError)
    assert message.startswith(prefix)
    assert message.endswith(('.', ')') if not hint else hint)
    if not hint:
        assert 'Did you mean' not in message


def test_query_messages_start_with_hunters_own():
    """Run the same constructions under the real hunter: its message, up to the list of names (whose order and
    contents differ between its builds, see test_native_predicates), is the start of ours."""
    require_reference_python()
    cases = [query for query, _, _ in QUERY_KEY_CASES]
    code = (
        'import json, sys, hunter\n'
        'out = []\n'
        'for query in json.loads(sys.argv[1]):\n'
        '    try: hunter.Query(**query)\n'
        '    except TypeError as exc: out.append(str(exc))\n'
        'print(json.dumps(out))\n'
    )
    theirs = json.loads(run_reference(code, [json.dumps(cases)]).stdout)
    ours = [message_of(lambda query=query: Query(**query), TypeError) for query in cases]
    assert len(theirs) == len(ours)
    for their_message, our_message in zip(theirs, ours):
        their_start = their_message.partition(' Must be one of (')[0]
        assert our_message.startswith(their_start + ' Must be one of (')


MISUSE_MESSAGES = """
import pickle, hunter
def show(thunk):
    try:
        thunk()
    except Exception as error:
        print(type(error).__name__, error)
def misuse(event):
    show(lambda: event.no_such_field)
    show(lambda: len(event))
    show(lambda: hash(event))
    show(lambda: event < event)
    show(lambda: pickle.dumps(event))
def traced():
    pass
with hunter.trace(function='traced', kind='call', action=misuse):
    traced()
for obj in [hunter.Tracer(), hunter.Q(), hunter.Q(module='a') | hunter.Q(function='b'),
            hunter.Q(module='a') & hunter.Q(function='b'), ~hunter.Q(module='a'),
            hunter.When(hunter.Q(), hunter.CallPrinter), hunter.From(hunter.Q(module='a')), hunter.Backlog(hunter.Q(module='a'))]:
    show(lambda: obj.no_such_field)
    show(lambda: hash(obj))
    show(lambda: obj < 1)
    show(lambda: iter(obj))
"""


def output_as_hunters(script):
    """What `script` prints, run by this Python and by hunter 3.9.0's pure build, which must print the same."""
    require_reference_python()
    expected = run_reference(script, env={'PUREPYTHONHUNTER': '1'})
    ours = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, env=child_env())
    assert expected.returncode == ours.returncode == 0, ours.stderr
    assert ours.stdout == expected.stdout
    return ours.stdout


def test_python_messages_name_the_classes_as_hunter_does():
    # CPython's own messages about the native classes (an attribute typo in an action, an event put in a set) name
    # them as the messages about hunter's pure-Python classes do: 'Event', not 'hunter.event.Event'.
    assert "'Event' object has no attribute 'no_such_field'" in output_as_hunters(MISUSE_MESSAGES)


# -- Did you mean: printer options ----------------------------------------------------------------------------------


@ours_only
@pytest.mark.parametrize(
    ('make', 'hint'),
    [
        (lambda: CallPrinter(repr_limt=3), "Did you mean 'repr_limit'?"),
        (lambda: CallPrinter(force_color=True), "Did you mean 'force_colors'?"),
        (lambda: StackPrinter(dept=3), "Did you mean 'depth'?"),
        (lambda: VarsPrinter('a', filename_alignement=3), "Did you mean 'filename_alignment'?"),
        (lambda: hunter.ErrorSnooper(max_backlg=3), "Did you mean 'max_backlog'?"),
    ],
)
def test_unknown_printer_option_suggests_the_closest(make, hint):
    message = message_of(make, TypeError)
    assert 'got an unexpected keyword argument' in message
    assert message.endswith('. ' + hint)
    # Once, also where Python suggests it itself (3.13+).
    assert message.count('Did you mean') == 1, message


def test_printer_option_errors_stay_pythons_own():
    """Nothing close: Python's message unchanged; an error inside the constructor is not mistaken for one."""
    assert message_of(lambda: CallPrinter(zzzzzz=1), TypeError).endswith("unexpected keyword argument 'zzzzzz'")
    assert message_of(lambda: VarsPrinter(), TypeError) == 'VarsPrinter requires at least one variable name/expression.'


@ours_only
def test_printer_signatures_are_kept():
    import inspect

    assert 'repr_limit' in inspect.signature(CallPrinter).parameters
    assert 'stream' in inspect.signature(hunter.actions.ColorStreamAction.__init__).parameters


# -- Did you mean: PYTHONHUNTERCONFIG / load_config keys -----------------------------------------------------------


@pytest.fixture
def restored_config():
    yield
    hunter._default_trace_args = None
    hunter._default_config.clear()


@ours_only
@pytest.mark.parametrize(
    ('key', 'hint'),
    [
        ('repr_limt', ". Did you mean 'repr_limit'?"),
        ('threading_suport', ". Did you mean 'threading_support'?"),
        ('modul', ". Did you mean 'module'?"),
        ('zzz', ''),
    ],
)
def test_unknown_config_key_suggests_the_closest(restored_config, capsys, key, hint):
    hunter.load_config(**{key: 1})
    assert capsys.readouterr().err == f'Discarded config from PYTHONHUNTERCONFIG {key}=1: Unknown option{hint}\n'


@ours_only
def test_config_key_hint_from_the_environment(monkeypatch, capsys, restored_config):
    monkeypatch.setenv('PYTHONHUNTERCONFIG', 'force_color=1, stdlib=False')
    hunter.load_config()
    assert capsys.readouterr().err == (
        "Discarded config from PYTHONHUNTERCONFIG force_color=1: Unknown option. Did you mean 'force_colors'?\n"
    )
    assert hunter._default_trace_args == ([], {'stdlib': False})


@pytest.mark.deliberate_change('hunter accepts a config filter value no event can match')
def test_unmatchable_config_value_fails_the_config_as_other_value_errors_do(monkeypatch, capsys, restored_config):
    monkeypatch.setenv('PYTHONHUNTERCONFIG', 'kind="cal", depth_lt=5')
    hunter.load_config()
    error = ValueError(f"Value 'cal' for 'kind' is invalid: kind is always one of {KINDS}. Did you mean 'call'?")
    assert capsys.readouterr().err == (
        f"Failed to load hunter config from PYTHONHUNTERCONFIG 'kind=\"cal\", depth_lt=5': {error!r}\n"
    )
    assert hunter._default_trace_args == ((), ())


# -- Values no event can match ------------------------------------------------------------------------------------


@pytest.mark.deliberate_change('hunter accepts a kind no event has; it never matches')
@pytest.mark.parametrize(
    ('query', 'message'),
    [
        ({'kind': 'cal'}, f"Value 'cal' for 'kind' is invalid: kind is always one of {KINDS}. Did you mean 'call'?"),
        (
            {'kind_in': ['retrun']},
            f"Value ['retrun'] for 'kind_in' is invalid: 'retrun' can never match: kind is always one of {KINDS}."
            " Did you mean 'return'?",
        ),
        (
            {'kind_in': ('call', 'exeption')},
            f"Value ('call', 'exeption') for 'kind_in' is invalid: 'exeption' can never match: kind is always one of"
            f" {KINDS}. Did you mean 'exception'?",
        ),
        (
            {'kind': 'c_call'},
            f"Value 'c_call' for 'kind' is invalid: kind is always one of {KINDS}. C function events have kind 'call'"
            ' and builtin=True.',
        ),
        ({'kind_in': 'retrun'}, f"Value 'retrun' for 'kind_in' is invalid: kind is always one of {KINDS}. Did you mean 'return'?"),
        ({'kind': 'frobnicate'}, f"Value 'frobnicate' for 'kind' is invalid: kind is always one of {KINDS}."),
        ({'kind': 1}, f"Value 1 for 'kind' is invalid: kind is always one of {KINDS}."),
        ({'kind': None}, f"Value None for 'kind' is invalid: kind is always one of {KINDS}."),
    ],
    ids=repr,
)
def test_unknown_kind_is_rejected(query, message):
    assert message_of(lambda: Query(**query), ValueError) == message
    # Through Q and trace's keyword filters too.
    assert message_of(lambda: Q(**query), ValueError) == message


@pytest.mark.deliberate_change('hunter accepts values of the wrong type for numeric and flag fields; they never match')
@pytest.mark.parametrize(
    ('query', 'message'),
    [
        ({'depth_lt': '3'}, "Value '3' for 'depth_lt' is invalid: depth is always an int."),
        ({'calls_gt': 'x'}, "Value 'x' for 'calls_gt' is invalid: calls is always an int."),
        ({'lineno': '12'}, "Value '12' for 'lineno' is invalid: lineno is always an int."),
        ({'lineno': None}, "Value None for 'lineno' is invalid: lineno is always an int."),
        ({'depth_in': [1, '2']}, "Value [1, '2'] for 'depth_in' is invalid: '2' can never match: depth is always an int."),
        ({'depth_in': '123'}, "Value '123' for 'depth_in' is invalid: depth is always an int."),
        ({'threadid': 'main'}, "Value 'main' for 'threadid' is invalid: threadid is always an int or None."),
        ({'instruction_gte': b'x'}, "Value b'x' for 'instruction_gte' is invalid: instruction is always an int or None."),
        ({'stdlib': 'no'}, "Value 'no' for 'stdlib' is invalid: stdlib is always True or False."),
        ({'builtin': 'yes'}, "Value 'yes' for 'builtin' is invalid: builtin is always True or False."),
        ({'stdlib': 2}, "Value 2 for 'stdlib' is invalid: stdlib is always True or False."),
        ({'builtin_in': [True, 'no']}, "Value [True, 'no'] for 'builtin_in' is invalid: 'no' can never match: builtin is always True or False."),
    ],
    ids=repr,
)
def test_wrong_type_for_numeric_and_flag_fields_is_rejected(query, message):
    assert message_of(lambda: Query(**query), ValueError) == message


@pytest.mark.parametrize(
    'query',
    [
        {'kind': 'call'},
        {'kind_in': ['call', 'return']},
        {'kind_in': 'call,return'},
        {'kind_in': {'line': 1}},
        {'kind_sw': 'c'},
        {'kind_regex': 'ca.*'},
        {'kind_lt': 'm'},
        {'depth_lt': 3},
        {'depth_lte': 2.5},
        {'depth_in': range(3)},
        {'depth_in': [1, True]},
        {'calls': True},
        {'lineno_in': {1, 2}},
        {'threadid': None},
        {'threadid_in': (None, 1)},
        {'instruction': 83},
        {'stdlib': False},
        {'stdlib': 0},
        {'builtin': 1},
        {'builtin_in': [False]},
        {'module': 1},
        {'function_in': [1, 'x']},
    ],
    ids=repr,
)
def test_values_that_can_match_are_accepted(query):
    Query(**query)


def test_objects_with_their_own_equality_are_accepted():
    class Anything:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    event = hunter.Event(sys._getframe(0), 'line', None, 0, 0, False)
    for key in ('kind', 'depth', 'stdlib', 'lineno_in'):
        value = [Anything()] if key.endswith('_in') else Anything()
        assert Query(**{key: value})(event)


@pytest.mark.deliberate_change('hunter accepts a kind no event has; trace() now refuses it before tracing starts')
def test_trace_refuses_an_unmatchable_kind_before_tracing():
    previous = sys.gettrace()
    with pytest.raises(ValueError, match="^Value 'cal' for 'kind' is invalid"):
        hunter.trace(kind='cal')
    assert sys.gettrace() is previous


# -- From ---------------------------------------------------------------------------------------------------------


@ours_only
def test_from_clash_says_where_the_keyword_filters_go():
    message = message_of(lambda: From(Q(module='x'), depth_lt=2, kind='call'), TypeError)
    assert message.endswith(" Put the keyword filters in a predicate, such as Q(depth_lt=2, kind='call').")


def test_from_clash_starts_as_hunters():
    message = message_of(lambda: From(Q(module='x'), depth_lt=2), TypeError)
    assert message.startswith(
        "Unexpected arguments dict_keys(['depth_lt']). Don't combine positional with keyword arguments."
    )


# -- The expression language (PYTHONHUNTER, PYTHONHUNTERCONFIG) ----------------------------------------------------


def run_with_environment(code, environment):
    """``python -c code`` with extra environment entries given as bytes (so they need not be valid UTF-8)."""
    env = {key.encode(): value.encode() for key, value in child_env().items() if not key.startswith('PYTHONHUNTER')}
    env.update(environment)
    return subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, timeout=60)


EMBED = 'import hunter; hunter._embed_via_environment(); print("ran")'


@ours_only
def test_bare_name_value_says_to_quote_strings():
    result = run_with_environment(EMBED, {b'PYTHONHUNTER': b'kind=call'})
    assert result.stdout == b'ran\n'
    first_line, source_line, caret_line = result.stderr.decode().splitlines()
    assert first_line.startswith('hunter: cannot parse PYTHONHUNTER at column 6: expected one of And, ')
    assert first_line.endswith(
        "but found unknown name 'call'. A string needs quotes, as in kind=\"call\"; in a shell, put single quotes"
        " around them: PYTHONHUNTER='kind=\"call\"'"
    )
    assert (source_line, caret_line) == ('    kind=call', '         ^')


@ours_only
def test_bare_names_in_lists_and_close_names():
    def error_of(text):
        with pytest.raises(hunter.ExpressionError) as excinfo:
            hunter._evaluate_arguments(text, 'the query')
        return str(excinfo.value).splitlines()[0]

    assert error_of('kind_in=["call", line]').endswith(
        "found unknown name 'line'. A string needs quotes, as in \"line\"; in a shell, put single quotes around them:"
        " '\"line\"'"
    )
    assert error_of('action=CallPrinte').endswith("found unknown name 'CallPrinte'. Did you mean 'CallPrinter'?")
    assert error_of('Q(module="a") | Whne(Q())').endswith("found unknown name 'Whne'. Did you mean 'When'?")
    assert error_of('Bogus(module="a")').endswith("but found unknown name 'Bogus'")


@ours_only
@pytest.mark.parametrize('variable', ['PYTHONHUNTER', 'PYTHONHUNTERCONFIG'])
def test_undecodable_environment_text_is_a_parse_error(variable):
    result = run_with_environment(EMBED, {variable.encode(): b'stdlib=False, module="caf\xe9"'})
    assert result.stdout == b'ran\n'
    assert result.stderr.decode('utf-8').splitlines() == [
        f'hunter: cannot parse {variable} at column 26: expected UTF-8 text but found the byte 0xe9, which is not'
        ' valid UTF-8',
        '    stdlib=False, module="caf\ufffd"',
        '                             ^',
    ]


@ours_only
def test_lone_surrogate_in_text_is_a_parse_error():
    with pytest.raises(hunter.ExpressionError) as excinfo:
        hunter._evaluate_arguments('module="\ud800", \udcff', 'the query')
    assert str(excinfo.value).splitlines() == [
        'cannot parse the query at column 9: expected UTF-8 text but found the lone surrogate U+D800',
        '    module="\ufffd", \ufffd',
        '            ^',
    ]


def test_valid_environment_text_still_traces():
    result = run_with_environment(EMBED, {b'PYTHONHUNTER': 'module="ünïcode"'.encode()})
    assert result.returncode == 0
    assert result.stderr == b''
    assert os.fsdecode(result.stdout) == 'ran\n'


CONSTRUCTOR_MESSAGES = """
import hunter
from hunter.predicates import And, Backlog, From, Not, Or, Query, When
from hunter.tracer import Tracer
def show(thunk):
    try:
        thunk()
    except TypeError as error:
        print(error)
for thunk in [lambda: From(module='a'), lambda: From(), lambda: From(1, 2, 3, 4), lambda: From(1, condition=2),
              lambda: When(), lambda: Backlog(), lambda: Query(1), lambda: And(x=1), lambda: Or(x=1), lambda: Not(),
              lambda: Not(1, 2), lambda: Not(predicate=1, other=2), lambda: Tracer(x=1)]:
    show(thunk)
"""


def test_constructor_argument_errors_read_as_hunters():
    # The native classes' constructors are named `__init__` and count `self`, as CPython words the errors of hunter's
    # pure-Python classes (`From.__init__() got an unexpected keyword argument 'module'`; `__init__() ...` on 3.9).
    printed = output_as_hunters(CONSTRUCTOR_MESSAGES)
    assert len(printed.splitlines()) == 13
    assert '__new__' not in printed


@ours_only
def test_a_value_of_the_wrong_type_is_refused_naming_its_argument():
    # Not the conversion's own words ("'str' object cannot be interpreted as an integer"), which name nothing.
    frame = sys._getframe()
    event = hunter.Event(frame, 'call')
    kind_message = message_of(lambda: hunter.Event(frame, None), TypeError)
    assert kind_message.startswith("kind must be a str ('call', 'line', 'return', 'exception', ")
    assert kind_message.endswith("or a sys.settrace event number, not 'NoneType'")
    assert message_of(lambda: hunter.Event(frame, 99), ValueError) == 'Invalid event kind 99.'
    for field, value, error, message in [
        ('depth', 'x', TypeError, "depth must be an int, not 'str'"),
        ('depth', 2**70, OverflowError, 'depth must fit in a 64-bit int'),
        ('calls', 1.5, TypeError, "calls must be an int, not 'float'"),
        ('detached', 'yes', TypeError, "detached must be a bool, not 'str'"),
    ]:
        assert message_of(lambda: setattr(event, field, value), error) == message
    assert (event.depth, event.calls, event.detached) == (0, 0, False)
    event.depth, event.detached = True, True
    assert (event.depth, event.detached) == (1, True)
    assert message_of(lambda: hunter.Event(frame, 'call', depth='1'), TypeError) == "depth must be an int, not 'str'"
    condition = hunter.Q(module='a')
    assert message_of(lambda: From(condition, watermark='a'), TypeError) == "watermark must be an int, not 'str'"
    assert message_of(lambda: From(condition, watermark=10**100), OverflowError) == 'watermark must fit in a 64-bit int'
    assert message_of(lambda: hunter.Tracer(backend=5), TypeError) == "backend must be a str or None, not 'int'"
