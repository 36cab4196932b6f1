"""
Printers whose subclasses replace the methods hunter's printers call on themselves (``output``, ``pid_prefix``,
``thread_prefix``, ``filename_prefix``, ``try_repr``, ``try_str``, ``try_source``). Prints, for each scenario (a
printer class and the hook replaced), what the printer wrote and every call its hooks got, under a ``=== name``
header. tests/test_printer_hooks.py runs it with the real hunter 3.9.0 and with ours and compares.

Runs next to a copy of tests/actions_differential/demo_target.py (the traced code).
"""

import io
import os
import re
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hunter  # noqa: E402
import hunter.actions as A  # noqa: E402
from hunter import Q  # noqa: E402

import demo_target as demo  # noqa: E402

IN_DEMO = Q(module='demo_target')
ADDRESS = re.compile('0x[0-9a-f]+')
# Each printer class, with the arguments it is made with.
PRINTERS = {
    'call': (A.CallPrinter, (), {}),
    'code': (A.CodePrinter, (), {}),
    'vars': (A.VarsPrinter, ('a', 'x', 'a + b', 'n', 'undefined_name', 'a.nope', '1 // n'), {}),
    'snooper': (A.VarsSnooper, (), {}),
    'stack': (A.StackPrinter, (), {'depth': 3}),
    'error_snooper': (A.ErrorSnooper, (), {}),
}
# Each hook as a replacement that changes what is printed, and logs its calls.
LOG = []


def shown(value):
    """How a hook's argument is logged: events by kind, function and line; other values by type."""
    if hasattr(value, 'kind') and hasattr(value, 'function'):
        return f'<{"detached " if value.detached else ""}{value.kind} {value.function}:{value.lineno}>'
    if isinstance(value, str):
        return repr(ADDRESS.sub('0xADDR', value))
    return type(value).__name__


def logged(name, *args, **kwargs):
    LOG.append(' '.join([name, *map(shown, args), *(f'{key}={shown(value)}' for key, value in sorted(kwargs.items()))]))


def output(self, format_str, *args, **kwargs):
    logged('output', format_str, *args, **kwargs)
    self.stream.write('OUT| ' + format_str.format(*args, **dict(self.other_colors, **kwargs)))


def pid_prefix(self):
    logged('pid_prefix')
    return '<pid>'


def thread_prefix(self, event):
    logged('thread_prefix', event)
    return '<thread>'


def filename_prefix(self, event=None):
    logged('filename_prefix', *([event] if event else []))
    return 'PFX ' if event else '... '


def try_repr(self, obj):
    logged('try_repr', obj)
    return '<X>'


def try_str(self, obj):
    logged('try_str', obj)
    return f'<S {str(obj)[:12]}>'


def try_source(self, event, full=False):
    logged('try_source', event, full=full)
    return '  first\n  second  ' if full else '  the source  '


HOOKS = {hook.__name__: hook for hook in (output, pid_prefix, thread_prefix, filename_prefix, try_repr, try_str, try_source)}


def recording(name):
    """A replacement that only logs, then does what the base class does."""

    def hook(self, *args, **kwargs):
        logged(name, *args, **kwargs)
        return getattr(super(type(self), self), name)(*args, **kwargs)

    return hook


def traced(action):
    A.CallPrinter.cleanup()
    hunter.trace(IN_DEMO, action=action)
    try:
        demo.main()
    finally:
        hunter.stop()


def replaying_detached(printer):
    def action(event):
        printer(event.detach(printer.try_repr))

    return action


def run(make_printer, detached_too=True):
    """The printer's output and its hooks' calls, for live events (and replayed detached ones), colours off and on."""
    parts = []
    for colours in (False, True):
        modes = ('live', 'detached') if detached_too else ('live',)
        for mode in modes:
            out = io.StringIO()
            printer = make_printer(stream=out, force_colors=colours)
            del LOG[:]
            traced(printer if mode == 'live' else replaying_detached(printer))
            parts.append(f'--- {mode}, colours {colours}\n{out.getvalue()}--- hook calls\n')
            parts.extend(f'{line}\n' for line in LOG)
    return ''.join(parts)


SCENARIOS = {}
for printer_name, printer in PRINTERS.items():
    for hook_name, hook in HOOKS.items():
        SCENARIOS[f'{printer_name}_{hook_name}'] = (printer, {hook_name: hook})
    SCENARIOS[f'{printer_name}_recording_all'] = (printer, {name: recording(name) for name in HOOKS})


class DebugPrinter(A.CallPrinter):
    """Like hunter's own tests' printer: a prefix row from ``__call__``, a suffix before every newline."""

    def __call__(self, event):
        self.output('depth={} calls={:<4}', event.depth, event.calls)
        super().__call__(event)

    def output(self, format_str, *args, **kwargs):
        super().output(format_str.replace('\n', ' [suffix]\n'), *args, **kwargs)


def instance_hook():
    """A hook set on an instance (after it printed natively) is called from then on."""
    out = io.StringIO()
    printer = A.CallPrinter(stream=out)
    traced(printer)
    printer.try_repr = lambda obj: '<instance>'
    traced(printer)
    del printer.try_repr
    traced(printer)
    return out.getvalue()


def main():
    wanted = sys.argv[1:]
    extra = {'debug_printer': lambda: run(DebugPrinter), 'instance_hook': instance_hook}
    for name in [*SCENARIOS, *extra]:
        if wanted and name not in wanted:
            continue
        try:
            if name in extra:
                text = extra[name]()
            else:
                (printer_class, args, kwargs), namespace = SCENARIOS[name]
                custom = type(f'Custom{printer_class.__name__}', (printer_class,), namespace)
                text = run(
                    lambda custom=custom, args=args, kwargs=kwargs, **options: custom(*args, **kwargs, **options),
                    # ErrorSnooper detaches the events itself.
                    detached_too=printer_class is not A.ErrorSnooper,
                )
        except BaseException:
            text = 'SCENARIO CRASHED\n' + traceback.format_exc()
        sys.stdout.write(f'=== {name}\n{text}')
    sys.stdout.flush()


if __name__ == '__main__':
    main()
