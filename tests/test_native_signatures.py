"""The native classes and functions of ``hunter._hunter`` show their real signatures and carry docstrings.

``inspect.signature`` (and so ``help()``) of each public native class, function and method users call must be
hunter 3.9.0's pure-Python one (read from the reference interpreter), with the real defaults rather than
``Ellipsis``, except where hunter-rs deliberately differs (listed in ``DIFFERENT_FROM_HUNTER``) or has no
counterpart in hunter (``NOT_IN_HUNTER``). Each docstring must name every parameter it documents."""

import importlib
import inspect
import json
import pydoc
import re
import sys

import pytest

from reference import require_reference_python
from reference import run_python

native = pytest.importorskip('hunter._hunter', reason='the native module of hunter-rs (not in hunter 3.9.0)')

# Public homes of the native objects that hunter 3.9.0 also has, as `module:attribute[.method]`. Methods are
# compared without their `self` parameter (hunter's is a plain Python one, ours positional-only).
SHARED_WITH_HUNTER = [
    'hunter.predicates:Query',
    'hunter.predicates:When',
    'hunter.predicates:From',
    'hunter.predicates:Backlog',
    'hunter.predicates:Backlog.filter',
    'hunter.predicates:And',
    'hunter.predicates:Or',
    'hunter.predicates:Not',
    'hunter.event:Event',
    'hunter.event:Event.detach',
    'hunter.event:Event.clone',
    'hunter.tracer:Tracer',
    'hunter.tracer:Tracer.trace',
    'hunter.tracer:Tracer.stop',
    'hunter.tracer:Tracer.__enter__',
    'hunter.tracer:Tracer.__exit__',
    'hunter.util:safe_repr',
    # The printers' helper methods live on the native base of ColorStreamAction.
    'hunter.actions:ColorStreamAction.try_repr',
    'hunter.actions:ColorStreamAction.try_str',
    'hunter.actions:ColorStreamAction.try_source',
    'hunter.actions:ColorStreamAction.filename_prefix',
    'hunter.actions:ColorStreamAction.pid_prefix',
    'hunter.actions:ColorStreamAction.thread_prefix',
]

# Where hunter-rs accepts more than hunter 3.9.0 (the README lists both).
DIFFERENT_FROM_HUNTER = {
    # hunter: (frame, kind, arg, depth, calls, threading_support), all required.
    'hunter.event:Event': '(frame, kind, arg=None, depth=0, calls=0, threading_support=None)',
    # The backend option is new.
    'hunter.tracer:Tracer': '(threading_support=None, profiling_mode=False, backend=None)',
}

# Native names without a counterpart in hunter 3.9.0.
NOT_IN_HUNTER = {
    'hunter._hunter:CallStack': '()',
    'hunter._hunter:NativeStreamAction': '(*_args, **_kwargs)',
    'hunter._hunter:clip_ends': '(text, limit)',
    'hunter._hunter:evaluate_arguments': '(text, namespace, source_name, predicates_only=True)',
    'hunter._hunter:say_on_stderr': '(message)',
}

SIGNATURES_SCRIPT = r"""
import importlib, inspect, json, sys

def signature_text(path):
    module_name, _, attribute = path.partition(':')
    obj = importlib.import_module(module_name)
    for part in attribute.split('.'):
        obj = getattr(obj, part)
    signature = inspect.signature(obj)
    if '.' in attribute:
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    return str(signature)

print(json.dumps({path: signature_text(path) for path in sys.argv[1:]}))
"""


def resolve(path):
    module_name, _, attribute = path.partition(':')
    obj = importlib.import_module(module_name)
    for part in attribute.split('.'):
        obj = getattr(obj, part)
    return obj


def signatures_under(python, paths):
    result = run_python(python, SIGNATURES_SCRIPT, paths)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_public_native_name_is_checked():
    public = {name for name in dir(native) if not name.startswith('_') and callable(getattr(native, name))}
    checked = {path.partition(':')[2].partition('.')[0] for path in [*SHARED_WITH_HUNTER, *NOT_IN_HUNTER]}
    # ExpressionError is an exception class: its signature is ValueError's.
    assert public - checked == {'ExpressionError'}
    assert native.ExpressionError.__doc__


def test_signatures_are_hunters():
    reference = signatures_under(require_reference_python(), SHARED_WITH_HUNTER)
    ours = signatures_under(sys.executable, SHARED_WITH_HUNTER)
    expected = {path: DIFFERENT_FROM_HUNTER.get(path, signature) for path, signature in reference.items()}
    assert ours == expected


def test_deliberate_differences_are_still_differences():
    reference = signatures_under(require_reference_python(), list(DIFFERENT_FROM_HUNTER))
    assert all(reference[path] != signature for path, signature in DIFFERENT_FROM_HUNTER.items())


@pytest.mark.parametrize('path', sorted(NOT_IN_HUNTER))
def test_signatures_of_names_hunter_does_not_have(path):
    assert str(inspect.signature(resolve(path))) == NOT_IN_HUNTER[path]


@pytest.mark.parametrize('path', [*SHARED_WITH_HUNTER, *NOT_IN_HUNTER])
def test_docstrings_name_every_parameter(path):
    obj = resolve(path)
    doc = inspect.getdoc(obj)
    assert doc, f'{path} has no docstring'
    parameters = [name for name in inspect.signature(obj).parameters if name != 'self' and not name.startswith('_')]
    if path == 'hunter.tracer:Tracer.__exit__':
        parameters = []  # the context manager protocol's arguments, which it ignores
    missing = [name for name in parameters if not re.search(rf'\b{name}\b', doc)]
    assert not missing, f'the docstring of {path} does not mention {missing}'


def test_help_shows_real_defaults():
    from hunter.predicates import Backlog

    def help_text(obj):
        # Without layout: pydoc 3.13+ puts each parameter of a long signature on its own line.
        return re.sub(r'[\s|]+', ' ', pydoc.render_doc(obj, renderer=pydoc.plaintext)).replace('( ', '(').replace(' )', ')')

    text = help_text(Backlog)
    assert 'Backlog(condition, size=100, stack=10, vars=False, strip=True, action=None, filter=None)' in text
    assert 'Until-point buffering' in text
    assert 'safe_repr(obj, maxdepth=5)' in help_text(native.safe_repr)


def test_signature_defaults_are_the_real_defaults():
    # The shown defaults are what omitting the argument gives.
    from hunter.actions import CallPrinter
    from hunter.predicates import Backlog
    from hunter.predicates import Query

    backlog = Backlog(Query(), action=CallPrinter)
    shown = inspect.signature(Backlog).parameters
    assert (backlog.size, backlog.stack, backlog.vars, backlog.strip) == (
        shown['size'].default,
        shown['stack'].default,
        shown['vars'].default,
        shown['strip'].default,
    )
    nested = [[[[[[['deep']]]]]]]
    assert native.safe_repr(nested) == native.safe_repr(nested, inspect.signature(native.safe_repr).parameters['maxdepth'].default)
    assert native.safe_repr(nested) != native.safe_repr(nested, 6)
