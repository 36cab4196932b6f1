"""
The native printing path of CodePrinter/CallPrinter: Python subclasses that override ``__call__`` and use the
helper methods, hostile objects as argument and return values, and output streams that break while tracing.
Where upstream's behaviour is the expectation, the same snippet also runs under the real hunter 3.9.0.
"""

import subprocess
import sys
import textwrap

from test_actions_differential import normalise
from test_actions_fixes import run_snippet

SUBCLASS = """
class Tagged(CallPrinter):
    '''Prints its own banner for calls, then the normal row, using every helper a subclass may call.'''

    def __call__(self, event):
        if event.kind == 'call':
            self.output('{BRIGHT}{fore(BLUE)}>> {}{RESET} {} {!r}|{}|{}|{}\\n', event.function, self.try_repr(event.arg),
                        self.try_str(event.locals.get('a')), self.try_source(event).strip(), self.filename_prefix(),
                        self.pid_prefix() + self.thread_prefix(event))
            self.output('{}{}\\n', self.filename_prefix(event), self.try_source(event, full=True).strip())
        super().__call__(event)
        if event.kind == 'return':
            super().__call__(event.detach(self.try_repr))

for colours in (False, True):
    out = io.StringIO()
    CallPrinter.cleanup()
    hunter.trace(Q(module='demo_target'), action=Tagged(stream=out, force_colors=colours, repr_limit=25))
    demo.main()
    hunter.stop()
    print(out.getvalue())
"""


def test_python_subclass_overriding_call_prints_like_hunter():
    ours = run_snippet(SUBCLASS)
    assert '>> add' in ours
    assert normalise(ours) == normalise(run_snippet(SUBCLASS, ours=False))


EVIL = """
class Raising:
    def __repr__(self):
        raise RuntimeError('no repr for you')

class Slow:
    calls = 0
    def __repr__(self):
        Slow.calls += 1
        return 'slow'

class Recursive(list):
    pass

def take(value, other):
    return value

recursive = Recursive()
recursive.append(recursive)
nested = []
nested.append(nested)
huge = list(range(100000))
values = [Raising(), Slow(), recursive, nested, huge, 'x' * 5000, {'k': huge}, b'\\x00' * 3000]
for repr_func in ('safe_repr', 'repr'):
    for limit in (30, 1024):
        Slow.calls = 0
        out = io.StringIO()
        hunter.trace(Q(function='take'), action=CallPrinter(stream=out, repr_func=repr_func, repr_limit=limit))
        for value in values:
            take(value, value)
        hunter.stop()
        print(repr_func, limit, 'slow repr calls:', Slow.calls)
        print(out.getvalue())
"""


def test_hostile_values_print_like_hunter():
    ours = run_snippet(EVIL)
    # safe_repr never runs user __repr__ code; repr does, once per argument and return value printed.
    assert 'safe_repr 30 slow repr calls: 0' in ours
    assert 'repr 30 slow repr calls: 3' in ours
    assert "!!! FAILED REPR: RuntimeError('no repr for you')" in ours
    assert max(len(line) for line in ours.splitlines()) < 3000
    assert normalise(ours) == normalise(run_snippet(EVIL, ours=False))


BROKEN_PIPE = """
import hunter, sys

def work(n):
    return n + 1

hunter.trace(hunter.Q(function='work'), action=hunter.CallPrinter(stream=sys.stdout))
total = sum(work(n) for n in range(20000))
hunter.stop()
sys.stderr.write(f'finished {total}\\n')
"""


def run_into_a_pipe_read_once(source):
    """`python -c source | head -1`: the reader takes one line and goes away. Returns (that line, stderr), once the
    program ended with status 0."""
    process = subprocess.Popen(
        [sys.executable, '-c', textwrap.dedent(source)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    first_line = process.stdout.readline()
    process.stdout.close()
    with process.stderr:
        stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, stderr
    return first_line, stderr


def test_broken_pipe_stops_the_tracer_with_one_message():
    first_line, stderr = run_into_a_pipe_read_once(BROKEN_PIPE)
    assert b'=> work(n=0)' in first_line
    assert stderr.splitlines() == [
        'hunter: tracing stopped, the output stream is closed or broken (BrokenPipeError: [Errno 32] Broken pipe)',
        'finished 200010000',
    ]


PROGRAM_STOPPED_BY_ITS_BROKEN_PIPE = """
import hunter, sys

def item(n):
    return f'item {n}'

hunter.trace(hunter.Q(function='item'), action=hunter.CallPrinter(stream=sys.stdout))
try:
    for n in range(200000):
        print(item(n), flush=True)
except BrokenPipeError:
    sys.stderr.write(f'stopped at its broken pipe after {n} items\\n')
else:
    sys.stderr.write('never saw its broken pipe\\n')
hunter.stop()
"""


def test_a_program_still_sees_its_own_broken_pipe():
    # `yes | head -1`-style: the program ends when its reader goes away. The tracer's own write failing first must
    # not hide the pipe from the program (it once pointed the descriptor at the null device: the program's writes
    # then all succeeded, and such a program never ended).
    first_line, stderr = run_into_a_pipe_read_once(PROGRAM_STOPPED_BY_ITS_BROKEN_PIPE)
    assert b'=> item(n=0)' in first_line
    lines = stderr.splitlines()
    assert lines[0] == (
        'hunter: tracing stopped, the output stream is closed or broken (BrokenPipeError: [Errno 32] Broken pipe)'
    )
    assert len(lines) == 2 and lines[1].startswith('stopped at its broken pipe after '), stderr


def test_closed_stream_stops_the_tracer_with_one_message():
    output = run_snippet(
        """
        stream = io.StringIO()
        hunter.trace(Q(module='demo_target'), action=CodePrinter(stream=stream))
        stream.close()
        demo.main()
        hunter.stop()
        print('finished')
        """
    )
    assert output == 'finished\n'


def test_closed_stream_message_goes_to_stderr():
    result = subprocess.run(
        [
            sys.executable,
            '-c',
            'import io, hunter\n'
            'stream = io.StringIO()\n'
            'hunter.trace(function="f", action=hunter.CallPrinter(stream=stream))\n'
            'stream.close()\n'
            'def f():\n    pass\n'
            'f(); f()\n'
            'print("finished")\n',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert result.stdout == 'finished\n'
    assert result.stderr == 'hunter: tracing stopped, the output stream is closed or broken (ValueError: I/O operation on closed file)\n'


def test_native_printers_keep_the_python_api():
    import hunter
    from hunter import actions

    for name in ('ColorStreamAction', 'CodePrinter', 'CallPrinter', 'VarsPrinter', 'VarsSnooper', 'ErrorSnooper', 'StackPrinter'):
        cls = getattr(actions, name)
        assert cls.__module__ == 'hunter.actions'
        assert issubclass(cls, actions.Action)
        assert isinstance(cls(stream=sys.stdout) if name != 'VarsPrinter' else cls('a'), actions.Action)
    printer = hunter.CallPrinter(stream=sys.stdout, repr_limit=8)
    assert printer.try_repr('x' * 20) == "'xxx [...] xxx'"
    printer.repr_limit = 1024
    assert printer.try_repr('x' * 20) == repr('x' * 20)
    printer.repr_func = 'repr'
    assert printer.try_repr(actions) == repr(actions)


VARIABLE_STATE = """
from hunter import VarsPrinter, VarsSnooper, StackPrinter

out = io.StringIO()
snooper = VarsSnooper(stream=out)
hunter.trace(Q(module='demo_target', function='add', kind_in=('call', 'line')), action=snooper)
demo.add(1, c=2)
hunter.stop()
print(sorted((key.co_name, sorted(scope.items())) for key, scope in snooper.stored_reprs.items()))
# A replaced store is the one used: the values already in it count as seen.
snooper.stored_reprs = {demo.add.__wrapped__.__code__: {'a': '1', 'b': '2'}}
hunter.trace(Q(module='demo_target', function='add'), action=snooper)
demo.add(1, c=3)
hunter.stop()
print(type(snooper.stored_reprs).__name__, snooper.stored_reprs)

printer = VarsPrinter('a', 'a + b', stream=out)
print({expression: sorted(names) for expression, names in printer.names.items()})
stack = StackPrinter(depth=1, limit=1, stream=out)
stack.limit = 3
print(stack.depth, stack.limit)
hunter.trace(Q(module='demo_target', function='add', kind='call'), action=hunter.When(Q(), printer, stack))
demo.add(5, c=1)
hunter.stop()
print(out.getvalue())
"""


def test_variable_printers_state_is_the_python_attributes():
    ours = run_snippet(VARIABLE_STATE)
    assert "[('add', [('a', '1'), ('args', '()'), ('b', '2')" in ours
    # The second trace starts from the replaced store: a and b were seen, c is new in it.
    assert 'call      [args := ()]\n' in ours and '...       [c := 3]\n' in ours
    assert normalise(ours) == normalise(run_snippet(VARIABLE_STATE, ours=False))


SAME_CODE_OTHER_GLOBALS = """
# One code object without a filename, run with two globals dicts: the filename shown comes from each one's
# __file__, so rows formatted for one must not be reused for the other; nor rows formatted with other options.
code = compile('x = 1\\ny = x + 1\\n', '', 'exec')
out = io.StringIO()
printer = CallPrinter(stream=out, filename_alignment=20)
hunter.trace(kind='line', module_endswith='_module', action=printer)
for name in ('first_module.py', 'second_module.py', 'first_module.py'):
    exec(code, {'__file__': name, '__name__': name[:-3]})
# Options are changed while not tracing: our option setters are Python code, hunter's are not.
hunter.stop()
printer.filename_alignment = 30
hunter.trace(kind='line', module_endswith='_module', action=printer)
exec(code, {'__file__': 'second_module.py', '__name__': 'second_module'})
hunter.stop()
printer.force_colors = True
printer.stream = out
hunter.trace(kind='line', module_endswith='_module', action=printer)
exec(code, {'__file__': 'first_module.py', '__name__': 'first_module'})
hunter.stop()
print(out.getvalue())
"""


def test_line_rows_follow_globals_and_options_like_hunter():
    ours = run_snippet(SAME_CODE_OTHER_GLOBALS)
    assert 'first_module.py:1' in ours
    assert 'second_module.py:2' in ours
    assert normalise(ours) == normalise(run_snippet(SAME_CODE_OTHER_GLOBALS, ours=False))


ARGUMENT_KINDS = """
# Call rows read each parameter's current value: plain, captured by a closure (a cell), *args/**kwargs,
# keyword-only, deleted or rebound before a generator resumes (its resume is a call event too).
def captured(a, b=2, *rest, key=None, **options):
    def inner():
        return a + b
    return inner()

def resumed(first, second):
    del first
    second = 'rebound'
    yield second
    first = 'back'
    yield first

def shadowed(a):
    a = [a]
    return a

out = io.StringIO()
hunter.trace(kind_in=['call', 'return'], module='__main__', action=CallPrinter(stream=out))
captured(1, 3, 4, 5, key='k', extra=True)
list(resumed('one', 'two'))
shadowed(7)
hunter.stop()
print(out.getvalue())
"""


def test_call_rows_show_every_kind_of_parameter_like_hunter():
    ours = run_snippet(ARGUMENT_KINDS)
    assert 'resumed(first=<hunter.util.MISSING object at 0x' in ours
    assert normalise(ours) == normalise(run_snippet(ARGUMENT_KINDS, ours=False))


def test_call_stacks_read_as_sequences_of_pending_calls():
    """``CallPrinter.locals`` maps thread idents to native stacks; code inspecting them sees the pending calls."""
    import io
    import threading

    import hunter
    from hunter import CallPrinter

    seen = []

    def inner(value):
        stack = CallPrinter.locals[threading.get_ident()]
        seen.append((len(stack), [entry[:2] for entry in stack], stack[-1][:2], stack[-len(stack)][:2], repr(stack)))
        return value

    def outer(value):
        return inner(value) + 1

    CallPrinter.cleanup()
    with hunter.trace(hunter.Q(function_in=['inner', 'outer']), action=CallPrinter(stream=io.StringIO())):
        assert outer(1) == 2
    stack = CallPrinter.locals[threading.get_ident()]
    [(depth, entries, top, bottom, text)] = seen
    assert depth == 2
    assert entries == [(__name__, 'outer'), (__name__, 'inner')]
    assert (top, bottom) == ((__name__, 'inner'), (__name__, 'outer'))
    assert text.startswith(f"CallStack([({__name__!r}, 'outer', ") and text.endswith('])')
    assert len(stack) == 0 and list(stack) == []
    for index in (0, -1):
        try:
            stack[index]
        except IndexError as error:
            assert 'out of range' in str(error)
        else:
            raise AssertionError(f'stack[{index}] of an empty stack')
    old = CallPrinter.locals
    CallPrinter.cleanup()
    assert CallPrinter.locals is not old and len(CallPrinter.locals[threading.get_ident()]) == 0
