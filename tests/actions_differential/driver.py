"""
Runs every action scenario and prints each one's output under a ``=== name`` header.

The same driver runs twice and the outputs are compared by tests/test_actions_differential.py:

* reference: the real hunter 3.9.0 (``python driver.py`` in a reference venv);
* candidate: our whole package, tracer and actions (``python driver.py`` in its venv).
"""

import argparse
import collections
import inspect
import io
import os
import re
import sys
import traceback
import types

SCENARIOS = {}


def scenario(function):
    SCENARIOS[function.__name__] = function
    return function


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument('scenarios', nargs='*', help='run only these scenarios')
    return parser.parse_args()


ARGS = parse_args()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hunter  # noqa: E402
import hunter.actions as A  # noqa: E402
from hunter import Q  # noqa: E402

import demo_target as demo  # noqa: E402

IN_DEMO = Q(module='demo_target')
ADDRESS = re.compile('0x[0-9a-f]+')


def masked(render):
    """Short repr limits keep only a few digits of an address, too few to mask afterwards: mask them before."""
    return lambda obj: ADDRESS.sub('0xADDR', render(obj))


def traced(action, predicate=IN_DEMO, function=demo.main, **options):
    A.CallPrinter.cleanup()
    hunter.trace(predicate, action=action, **options)
    try:
        function()
    finally:
        hunter.stop()


def printed(make_action, **trace_options):
    out = io.StringIO()
    traced(make_action(out), **trace_options)
    return out.getvalue()


@scenario
def call_default():
    return printed(lambda out: A.CallPrinter(stream=out))


def clean_while_deep():
    A.CallPrinter.cleanup()
    demo.deep_fn(1)


def call_cleaning_while_deep():
    clean_while_deep()


@scenario
def call_cleanup_mid_trace():
    """`CallPrinter.cleanup()` during a trace replaces the call stacks: the same printer starts over."""
    return printed(
        lambda out: A.CallPrinter(stream=out),
        predicate=Q(module_in=('demo_target', __name__)),
        function=call_cleaning_while_deep,
    )


@scenario
def call_colors():
    return printed(lambda out: A.CallPrinter(stream=out, force_colors=True))


@scenario
def code_default():
    return printed(lambda out: A.CodePrinter(stream=out))


@scenario
def code_colors():
    return printed(lambda out: A.CodePrinter(stream=out, force_colors=True))


@scenario
def call_options():
    return printed(
        lambda out: A.CallPrinter(
            stream=out,
            force_pid=True,
            filename_alignment=20,
            thread_alignment=5,
            pid_alignment=12,
            repr_limit=30,
            repr_func='repr',
        ),
        threading_support=True,
    )


@scenario
def code_options_colors():
    return printed(
        lambda out: A.CodePrinter(
            stream=out, force_colors=True, force_pid=True, filename_alignment=15, repr_limit=7, repr_func=masked(repr)
        ),
        threading_support=True,
    )


@scenario
def call_repr_func_callable():
    return printed(lambda out: A.CallPrinter(stream=out, repr_func=lambda obj: f'<{type(obj).__name__}>', force_colors=True))


@scenario
def call_repr_limits():
    return ''.join(
        printed(lambda out, limit=limit: A.CallPrinter(stream=out, repr_limit=limit, repr_func=masked(repr)), function=demo.run_threads)
        for limit in (0, 1, 2, 5, 1000)
    )


@scenario
def threads_auto():
    return printed(lambda out: A.CallPrinter(stream=out), function=demo.run_threads)


@scenario
def threads_on():
    return printed(lambda out: A.CallPrinter(stream=out, force_colors=True), function=demo.run_threads, threading_support=True)


@scenario
def threads_off():
    return printed(lambda out: A.CodePrinter(stream=out), function=demo.run_threads, threading_support=False)


@scenario
def threads_aliases():
    return printed(lambda out: A.VarsSnooper(stream=out), function=demo.run_threads, threads=True)


VARS = ('a', 'b', 'a + b', 'x', 'self.value', 'missing_name', 'kwargs["nope"]', '1 / 0', 'len(args)', 'value.double()', 'text')


@scenario
def vars_printer():
    return printed(lambda out: A.VarsPrinter(*VARS, stream=out))


@scenario
def vars_printer_colors():
    return printed(lambda out: A.VarsPrinter(*VARS, stream=out, force_colors=True, repr_limit=10, repr_func=masked(A.BUILTIN_REPR_FUNCS['safe_repr'])), threading_support=True)


# Globals and builtins of demo_target, attribute access (failing ones show nothing), a comprehension variable
# that is never a local, an assignment that does not compile as an expression, and constants.
MORE_VARS = (
    'Value', 'value.value', 'value.missing', 'functools.wraps.__name__', 'len', 'print', 'args[0]', 'kwargs.get("z")',
    '[i for i in args]', 'sorted(kwargs)', 'x = 1', '__debug__', '__name__', 'None', 'a if b else c', 'threading',
    'decorate.__name__ + str(a)', 'total', 'odd', 'int("x")',
)


@scenario
def vars_printer_expressions():
    return printed(lambda out: A.VarsPrinter(*MORE_VARS, stream=out, repr_func='repr')) + printed(
        lambda out: A.VarsPrinter(*MORE_VARS, stream=out, force_colors=True, repr_limit=12, repr_func=masked(repr))
    )


@scenario
def vars_printer_shadowing():
    """Locals hide globals and builtins; a deleted local uncovers the global again."""
    return printed(lambda out: A.VarsPrinter('len', 'Value', 'print', 'print + str(len)', stream=out), function=demo.shadowing)


@scenario
def vars_printer_threads():
    return printed(
        lambda out: A.VarsPrinter('a', 'c', 'results', 'name', stream=out, force_pid=True, thread_alignment=15),
        function=demo.run_threads,
        threading_support=True,
    )


@scenario
def vars_threads_auto():
    """Thread names show once a second thread has had an event, printed or not."""
    return printed(lambda out: A.VarsPrinter('c', 'results', stream=out), function=demo.run_threads)


@scenario
def vars_printer_changed_options():
    out = io.StringIO()
    printer = A.VarsPrinter('a', stream=out)
    printer.names = {'b': {'b'}, 'a + c': {'a', 'c'}}
    printer.filename_alignment = 25
    traced(printer)
    printer.repr_limit = 3
    traced(printer)
    return out.getvalue()


class EveryOtherVarsPrinter(A.VarsPrinter):
    """A subclass adding its own rows around the native ones."""

    def __call__(self, event):
        if event.kind == 'call':
            self.output('{VARS}calling {}{RESET}\n', event.function)
            super().__call__(event)
        elif event.kind == 'return':
            super().__call__(event.detach(self.try_repr))


class QuietVarsSnooper(A.VarsSnooper):
    """A subclass that only changes options."""

    EVENT_COLORS = A.CALL_COLORS

    def __init__(self, **options):
        super().__init__(repr_limit=8, repr_func=masked(repr), **options)


@scenario
def vars_subclasses():
    return printed(lambda out: EveryOtherVarsPrinter('a', 'x', 'value', stream=out, force_colors=True)) + printed(
        lambda out: QuietVarsSnooper(stream=out, force_colors=True)
    )


@scenario
def vars_snooper():
    return printed(lambda out: A.VarsSnooper(stream=out))


@scenario
def vars_snooper_colors():
    return printed(lambda out: A.VarsSnooper(stream=out, force_colors=True, repr_func='repr'))


@scenario
def error_snooper():
    return printed(lambda out: A.ErrorSnooper(stream=out))


@scenario
def error_snooper_colors():
    return printed(lambda out: A.ErrorSnooper(stream=out, force_colors=True))


@scenario
def error_snooper_options():
    return ''.join(
        printed(lambda out, options=options: A.ErrorSnooper(stream=out, **options), function=demo.swallow_deep)
        for options in ({'max_backlog': 0}, {'max_events': 3}, {'max_depth': 1}, {'max_depth': 2, 'max_backlog': 2})
    )


@scenario
def stack_printer():
    return printed(lambda out: A.StackPrinter(stream=out, force_pid=True))


@scenario
def stack_printer_options():
    return printed(lambda out: A.StackPrinter(depth=2, limit=1, stream=out, force_colors=True, filename_alignment=10))


@scenario
def stack_printer_depths():
    outputs = []
    for depth, limit in ((0, 2), (None, 0), (1, -1), (3, 5)):
        outputs.append(printed(lambda out, depth=depth, limit=limit: A.StackPrinter(depth=depth, limit=limit, stream=out)))
    out = io.StringIO()
    printer = A.StackPrinter(stream=out)
    printer.depth = 1
    printer.limit = 1
    traced(printer, function=demo.run_threads, threading_support=True)
    outputs.append(out.getvalue())
    return ''.join(outputs)


def replaying_detached(printer, value_filter):
    def action(event):
        printer(event.detach(value_filter))

    return action


@scenario
def detached_events():
    outputs = []
    for printer_class in (A.CodePrinter, A.CallPrinter, A.VarsSnooper, A.StackPrinter):
        for colors in (False, True):
            out = io.StringIO()
            printer = printer_class(stream=out, force_colors=colors, repr_limit=40)
            traced(replaying_detached(printer, printer.try_repr))
            traced(replaying_detached(printer, None))
            outputs.append(out.getvalue())
    out = io.StringIO()
    printer = A.VarsPrinter('a', 'x', 'a + b', stream=out)
    traced(replaying_detached(printer, printer.try_repr))
    outputs.append(out.getvalue())
    return ''.join(outputs)


@scenario
def backlog():
    outputs = []
    for options in ({}, {'vars': True, 'stack': 2}, {'size': 3, 'stack': 0}, {'strip': False, 'size': 4}):
        out = io.StringIO()
        action = A.CallPrinter(stream=out)
        backlog = hunter.Backlog(Q(function='deep_fn', depth_gt=3), action=action, **options).filter(IN_DEMO)
        traced(action, predicate=backlog)
        outputs.append(out.getvalue())
    return ''.join(outputs)


@scenario
def backlog_stack_events_keep_their_module():
    """The stack events Backlog makes up (vars=False) have empty globals, but their module is their frame's (as in
    hunter's pure build), so a module filter keeps them; with vars=True they keep the frame's globals too."""
    outputs = []
    for vars in (False, True):
        out = io.StringIO()
        action = A.CodePrinter(stream=out)
        backlog = hunter.Backlog(Q(kind='exception'), size=3, stack=2, vars=vars, action=action, filter=IN_DEMO)
        traced(action, predicate=backlog)
        outputs.append(out.getvalue())
    return ''.join(outputs)


@scenario
def backlog_code_printer():
    out = io.StringIO()
    action = A.CodePrinter(stream=out, force_colors=True)
    traced(action, predicate=hunter.Backlog(Q(kind='exception'), size=5, action=action).filter(IN_DEMO))
    return out.getvalue()


class DumpExceptions(A.CodePrinter):
    """The cookbook recipe: keep a few detached events and replay them when an exception gets swallowed."""

    def __init__(self, max_count=10, **options):
        self.max_count = max_count
        self.backlog = collections.deque(maxlen=5)
        self.events = []
        self.depth = 0
        self.count = 0
        self.exception_text = None
        super().__init__(**options)

    def __call__(self, event):
        self.count += 1
        if event.kind == 'exception':
            self.events = [*self.backlog, event.detach(self.try_repr)]
            self.exception_text = self.try_repr(event.arg[1])
            self.depth = event.depth
            self.count = 0
        elif not self.events:
            self.backlog.append(event.detach(self.try_repr))
        elif event.depth > self.depth:
            return
        elif event.depth < self.depth and event.kind == 'return':
            if event.instruction in A.RETURN_OPCODES:
                self.output('{BRIGHT}{fore(BLUE)}{} tracing {} on {}{RESET}\n', '>' * 46, event.function, self.exception_text)
                for recorded in self.events:
                    super().__call__(recorded)
                ending = 'too many lines' if self.count > 10 else 'function exit'
                self.output('{BRIGHT}{fore(BLACK)}{} {}{RESET}\n', '-' * 46, ending)
            self.events = []
            self.exception_text = None
        elif self.count < self.max_count:
            self.events.append(event.detach(self.try_repr))


@scenario
def dump_exceptions_recipe():
    return printed(lambda out: DumpExceptions(stream=out)) + printed(lambda out: DumpExceptions(stream=out, force_colors=True))


@scenario
def profile_mode():
    in_demo_file = Q(filename=demo.__file__)
    return printed(lambda out: A.CallPrinter(stream=out), predicate=in_demo_file, profile=True) + printed(
        lambda out: A.CodePrinter(stream=out, force_colors=True), predicate=in_demo_file, profile=True
    )


@scenario
def missing_source():
    def run_code_without_source():
        namespace = {'__name__': 'demo_target'}
        exec(compile('def f(a):\n    return a\nf(1)\n', '<string>', 'exec'), namespace)
        exec(compile('def g(b):\n    return b\ng(2)\n', '?', 'exec'), namespace)

    return ''.join(
        printed(lambda out, cls=cls, colors=colors: cls(stream=out, force_colors=colors), function=run_code_without_source)
        for cls in (A.CodePrinter, A.CallPrinter)
        for colors in (False, True)
    )


@scenario
def debugger():
    out = io.StringIO()
    action = A.Debugger(stdin=io.StringIO('p a, b\nw\nc\n'), stdout=out)
    traced(action, predicate=Q(function='add', kind='call', module='demo_target'))
    sys.settrace(None)
    return out.getvalue().replace(os.path.dirname(hunter.__file__), '<hunter>')


@scenario
def fork():
    if not hasattr(os, 'fork'):
        return 'no fork'
    out = io.StringIO()
    action = A.CallPrinter(stream=out)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            traced(action, function=lambda: demo.add(1, c=2))
        finally:
            os.write(write_end, out.getvalue().encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child_output = pipe.read()
    os.waitpid(pid, 0)
    return child_output


def fake_event(**attributes):
    defaults = {
        'filename': '/a/rather/long/path/to/some/module.py',
        'lineno': 7,
        'source': 'x = 1\n',
        'fullsource': 'x = 1\n',
        'threading_support': None,
        'kind': 'line',
        'detached': False,
    }
    return types.SimpleNamespace(**dict(defaults, **attributes))


def describe(label, function):
    try:
        result = repr(function())
    except Exception as exc:
        result = f'raised {exc!r}'
    return f'{label}: {result}\n'


@scenario
def api_surface():
    lines = []
    classes = [A.CodePrinter, A.CallPrinter, A.VarsSnooper, A.ErrorSnooper, A.StackPrinter]
    lines.append(describe('__all__', lambda: A.__all__))
    lines.append(describe('RETURN_OPCODES', lambda: A.RETURN_OPCODES))
    lines.append(describe('BUILTIN_REPR_FUNCS', lambda: sorted(A.BUILTIN_REPR_FUNCS)))
    for cls in [*classes, A.VarsPrinter, A.Debugger, A.Manhole, A.ColorStreamAction]:
        # Deliberately different: upstream's CallPrinter and ErrorSnooper take (*args, **kwargs).
        if cls not in (A.CallPrinter, A.ErrorSnooper):
            lines.append(describe(f'signature {cls.__name__}', lambda cls=cls: str(inspect.signature(cls))))
        lines.append(describe(f'hash {cls.__name__}', lambda cls=cls: cls.__hash__))
    for cls in classes:
        lines.append(describe(f'repr {cls.__name__}', lambda cls=cls: repr(cls())))
        lines.append(describe(f'str {cls.__name__}', lambda cls=cls: str(cls(stream=sys.stdout, repr_func='repr'))))
    lines.append(describe('repr VarsPrinter', lambda: repr(A.VarsPrinter('a', stream=sys.stdout, filename_alignment=3))))
    lines.append(describe('VarsPrinter()', lambda: A.VarsPrinter()))
    lines.append(describe('VarsPrinter names', lambda: A.VarsPrinter('a.b', 'c[d]', 'e + f(g)').names))
    lines.append(describe('bad repr_func', lambda: A.CodePrinter(repr_func='str')))
    lines.append(describe('bad repr_func 2', lambda: A.CallPrinter(repr_func=None)))
    for debugger in (A.Debugger(), A.Debugger(klass=dict, x=1)):
        lines.append(describe('debugger repr', lambda debugger=debugger: repr(debugger)))
        lines.append(describe('debugger str', lambda debugger=debugger: str(debugger)))
    lines.append(describe('debugger eq', lambda: (A.Debugger() == A.Debugger(), A.Debugger(a=1) == A.Debugger())))
    lines.append(describe('manhole', lambda: (repr(A.Manhole()), str(A.Manhole(a='b')), A.Manhole(a=1) == A.Manhole(a=1))))
    lines.append(describe('lazy pdb', lambda: (repr(A.LazyImportPdb()), str(A.LazyImportPdb()))))
    lines.append(describe('lazy pdb call', lambda: type(A.LazyImportPdb()(nosigint=True)).__name__))
    stream = io.StringIO()
    instances = [cls(stream=stream) for cls in classes] + [A.VarsPrinter('a', stream=stream)]
    lines.append(describe('eq matrix', lambda: [[a == b for b in instances] for a in instances]))
    lines.append(describe('eq options', lambda: (
        A.CallPrinter(stream=stream, force_pid=True) == A.CallPrinter(stream=stream),
        A.CallPrinter(stream=stream, repr_limit=3) == A.CallPrinter(stream=stream),
        A.CallPrinter(stream=stream) == A.CallPrinter(stream=io.StringIO()),
    )))
    lines.append(describe('action call', lambda: A.Action()(None)))
    lines.append(describe('cleanup', lambda: (A.CallPrinter.cleanup(), type(A.CallPrinter.locals).__name__, dict(A.CallPrinter.locals))))
    lines.append(describe('base cleanup', lambda: A.CodePrinter(stream=stream).cleanup()))
    lines.append(describe('tty attrs', lambda: (A.CodePrinter(stream=stream)._tty, A.CodePrinter(stream=stream, force_colors=True)._tty)))
    lines.append(describe('colour keys', lambda: sorted(A.CallPrinter(stream=stream).event_colors.items())))
    lines.append(describe('coloured event colours', lambda: sorted(A.CallPrinter(stream=stream, force_colors=True).event_colors.items())))
    lines.append(describe('code event colours', lambda: sorted(A.ErrorSnooper(stream=stream, force_colors=True).event_colors.items())))
    lines.append(describe('error snooper state', lambda: (lambda s: (s.max_backlog, s.backlog.maxlen, s.max_events, s.max_depth, s.origin, s.events))(A.ErrorSnooper(stream, max_backlog=4))))
    lines.append(describe('stack printer state', lambda: (lambda s: (s.depth, s.limit))(A.StackPrinter(3, 4))))

    for colors in (False, True):
        for limit in (0, 1, 4, 11, 1024):
            printer = A.CodePrinter(stream=stream, force_colors=colors, repr_limit=limit)
            for value in ('x' * 30, 'short', 'multi\nline', None, 12345678901234):
                lines.append(describe(f'try_repr {colors} {limit}', lambda printer=printer, value=value: printer.try_repr(value)))
                lines.append(describe(f'try_str {colors} {limit}', lambda printer=printer, value=value: printer.try_str(value)))
        printer = A.CodePrinter(stream=stream, force_colors=colors, repr_func='repr')
        lines.append(describe('failing repr', lambda printer=printer: printer.try_repr(demo.Unrepresentable())))
        lines.append(describe('non-str repr', lambda printer=printer: A.CodePrinter(stream=stream, repr_func=len, force_colors=colors).try_repr('abc')))
        lines.append(describe('limit None', lambda printer=printer: A.CodePrinter(stream=stream, repr_limit=None, force_colors=colors).try_repr('abc')))
        for event in (
            fake_event(),
            fake_event(filename='?', source='', fullsource=''),
            fake_event(filename='short.py', lineno=123456, source='??? NO SOURCE: it is gone', fullsource='??? NO SOURCE: full'),
            fake_event(filename='x' * 40, threading_support=True),
            fake_event(filename='x' * 41, threading_support=False),
        ):
            lines.append(describe('filename_prefix', lambda printer=printer, event=event: printer.filename_prefix(event)))
            lines.append(describe('try_source', lambda printer=printer, event=event: printer.try_source(event)))
            lines.append(describe('try_source full', lambda printer=printer, event=event: printer.try_source(event, full=True)))
            lines.append(describe('thread_prefix', lambda printer=printer, event=event: printer.thread_prefix(event)))
        lines.append(describe('empty filename_prefix', lambda printer=printer: printer.filename_prefix()))
        lines.append(describe('pid_prefix', lambda printer=printer: printer.pid_prefix()))
        lines.append(describe('output', lambda printer=printer: (printer.output('{fore(RED)}{}{back(BLUE)}{0}{COLOR}\n', 'x', COLOR='c'), stream.getvalue()[-30:])))
    return ''.join(lines)


def main():
    for name, function in SCENARIOS.items():
        if ARGS.scenarios and name not in ARGS.scenarios:
            continue
        try:
            output = function()
        except BaseException:
            output = 'SCENARIO CRASHED\n' + traceback.format_exc()
        if output and not output.endswith('\n'):
            output += '<no newline at the end>\n'
        sys.stdout.write(f'=== {name}\n{output}')
    sys.stdout.flush()


if __name__ == '__main__':
    main()
