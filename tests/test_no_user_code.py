"""No user code runs where none was asked for (issue 13, item 11).

`safe_repr` reads what objects store instead of calling their attribute hooks, and the expression language of
PYTHONHUNTER (and the command line) lets `VarsPrinter` read variables but not run code.
"""

import io
import types

import pytest

import hunter
from activation_env import make_pth_venv
from activation_env import run as run_in_venv
from hunter import ExpressionError
from hunter._hunter import safe_repr


def test_safe_repr_of_an_exception_reads_its_stored_args():
    ran = []

    class Overridden(Exception):
        @property
        def args(self):
            ran.append('args')
            return ('from the property',)

    assert safe_repr(Overridden(1, 'two')) == "Overridden(1, 'two')"
    assert safe_repr([Overridden()]) == '[Overridden()]'
    assert ran == []


def test_safe_repr_of_an_exception_whose_args_were_replaced():
    error = ValueError('old')
    error.args = ['new', 2]  # BaseException stores a tuple of them
    assert safe_repr(error) == "ValueError('new', 2)"


def test_safe_repr_of_a_method_of_a_callable_object_runs_none_of_its_hooks():
    ran = []

    class Callable:
        def __call__(self, *args):
            pass

        def __getattr__(self, name):
            ran.append(name)
            return 'computed'

    class Owner:
        def method(self):
            pass

    method = types.MethodType(Callable(), Owner())
    assert safe_repr(method).startswith('<bound method ? of <')
    assert ran == []
    assert '.Owner.method of <' in safe_repr(Owner().method)


def evaluate(text):
    return hunter._evaluate_arguments(text, 'PYTHONHUNTER')


@pytest.mark.parametrize('expression', ['a', 'self.x', "d['k']", 'a[0].b', 'a[-1]', 'a.b[b"k"][1.5].c', 'x [ 1 ] . y'])
def test_expression_language_vars_printer_reads_variables(expression):
    (query,), _ = evaluate(f'Q(function="f", action=VarsPrinter({expression!r}))')
    (printer,) = query.actions
    assert list(printer.names) == [expression]


@pytest.mark.parametrize(
    'expression',
    [
        '__import__("os").system("true")',
        'len(a)',
        'a + b',
        'a[b]',
        'a[0:2]',
        '[x for x in a]',
        '(a := 1)',
        'lambda: 1',
        'a.b()',
        'not a',
        'a if b else c',
        '',
        'a b',
    ],
)
def test_expression_language_vars_printer_refuses_code(expression):
    with pytest.raises(ExpressionError) as error:
        evaluate(f'Q(function="f", action=VarsPrinter("x", {expression!r}))')
    message = str(error.value)
    assert 'cannot parse PYTHONHUNTER at column 41' in message
    assert 'name, attribute access or subscript by a literal' in message
    assert repr(expression) in message


def test_vars_printer_in_code_still_evaluates_any_expression():
    stream = io.StringIO()

    def target(a):
        return a

    with hunter.trace(function='target', kind='call', action=hunter.VarsPrinter('len(a)', stream=stream)):
        target('four')
    assert 'len(a) => 4' in stream.getvalue()


@pytest.mark.slow
def test_pythonhunter_cannot_run_code_through_vars_printer(tmp_path):
    python = make_pth_venv(tmp_path / 'venv')
    witness = tmp_path / 'ran'
    program = tmp_path / 'program.py'
    program.write_text('def target(a):\n    return a\n\n\ntarget(1)\nprint("program ran")\n')
    payload = f'open({str(witness)!r}, "w").close()'
    result = run_in_venv(
        python, [str(program)], env={'PYTHONHUNTER': f"function='target', action=VarsPrinter('a', {payload!r})"}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == 'program ran\n'
    assert not witness.exists()
    assert 'hunter: cannot parse PYTHONHUNTER at column' in result.stderr
    assert 'as a VarsPrinter expression here' in result.stderr


def test_exception_args_in_slots_are_read_as_hunter_reads_them():
    # A `__slots__` entry named `args` is a member descriptor (C code, no user code): read as `getattr` would,
    # so the output is hunter's, including the AttributeError of an unset slot.
    from hunter.util import safe_repr

    class SlotArgs(Exception):
        __slots__ = ('args',)

    error = SlotArgs(1, 2)
    with pytest.raises(AttributeError):
        safe_repr(error)
    error.args = (3,)
    assert safe_repr(error) == 'SlotArgs(3)'
