"""Prints every field of events whose frame is a stand-in object, and every printer's rows for them.

Run under hunter-rs and under hunter 3.9.0's pure build (PUREPYTHONHUNTER=yes): the output must be the same,
since hunter-rs presents itself as that build, whose Event reads any object with the ``f_*`` attributes.
"""

import io
import re
import sys

import hunter


class StandInFrame:
    f_back = None
    f_globals = {}
    f_locals = {}
    f_lineno = 0

    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def target(a, b=2, *rest, key=None, **options):
    total = a + b
    return total


collected = []


def collect(event):
    copy = event.detach(lambda value: value)
    copy.detached = False
    # The parent is a stand-in too: a real running frame's line differs between hunter's pure build and a C-level
    # tracer on 3.9, where it depends on whether the tracer set its `f_trace` (README difference 15).
    caller = StandInFrame(f_code=main.__code__, f_globals=event.frame.f_globals, f_lineno=60)
    copy.frame = StandInFrame(
        f_globals=event.frame.f_globals,
        f_locals=event.frame.f_locals,
        f_back=caller,
        f_lasti=event.frame.f_lasti,
        f_code=event.code,
    )
    collected.append(copy)


def mask(text):
    return re.sub(r'0x[0-9a-f]+', '0xADDR', text)


def main():
    tracer = hunter.Tracer()
    tracer.trace(hunter.When(hunter.Q(function='target'), collect))
    target(1, 5, 6, key=7, z=8)
    tracer.stop()

    module_globals = {'__name__': 'some.module', '__file__': __file__}
    fresh = StandInFrame(
        f_code=target.__code__, f_globals=module_globals, f_locals={'a': 1, 'b': 'two'}, f_lineno=25, f_lasti=4
    )
    built = hunter.Event(fresh, 'call', None, 3, 4, False)
    no_filename = StandInFrame(
        f_code=type('Code', (), {'co_filename': '', 'co_name': 'fake', 'co_code': b'ab'})(),
        f_globals=module_globals,
        f_lasti=1,
    )
    for event in [built, hunter.Event(no_filename, 'line', None, 0, 0, False)]:
        fields = ('function', 'module', 'filename', 'lineno', 'locals', 'stdlib', 'instruction', 'source')
        print(mask(repr([(name, getattr(event, name)) for name in fields])))

    stream = io.StringIO()
    printers = [
        hunter.CallPrinter(stream=stream, repr_limit=30),
        hunter.CodePrinter(stream=stream),
        hunter.VarsPrinter('a', 'total', stream=stream),
        hunter.VarsSnooper(stream=stream),
        hunter.StackPrinter(stream=stream, depth=3),
    ]
    for printer in printers:
        hunter.CallPrinter.cleanup()
        for event in collected + [built]:
            printer(event)
    sys.stdout.write(mask(stream.getvalue().replace(__file__, 'SAMPLE')))


if __name__ == '__main__':
    main()
