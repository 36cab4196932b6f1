"""A typed use of hunter's whole public API: checked with ``mypy --strict`` (see .ci/run and tests/test_typing.py).

It also runs: ``python tests/typing/public_api.py`` traces a few calls and exits 0, so the example cannot drift
from what the package accepts at run time.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from types import CodeType, FrameType
from typing import Any

import hunter
from hunter import Backlog
from hunter import CallPrinter
from hunter import CodePrinter
from hunter import Debugger
from hunter import ErrorSnooper
from hunter import Event
from hunter import From
from hunter import Manhole
from hunter import Not
from hunter import Profile
from hunter import Timeline
from hunter import Q
from hunter import Query
from hunter import StackPrinter
from hunter import Tracer
from hunter import TreePrinter
from hunter import VarsPrinter
from hunter import VarsSnooper
from hunter import When
from hunter.actions import Action
from hunter.actions import ColorStreamAction
from hunter.predicates import ALLOWED_KEYS
from hunter.predicates import ALLOWED_OPERATORS
from hunter.util import safe_repr


def describe(event: Event) -> str:
    """Reads every attribute of an event, with its type."""
    frame: FrameType | None = event.frame
    code: CodeType = event.code
    kind: str = event.kind
    arg: Any = event.arg
    depth: int = event.depth
    calls: int = event.calls
    builtin: bool = event.builtin
    detached: bool = event.detached
    threading_support: bool | None = event.threading_support
    function: str = event.function
    module: str = event.module
    filename: str = event.filename
    lineno: int = event.lineno
    global_names: dict[str, Any] = event.globals
    local_names: dict[str, Any] = event.locals
    stdlib: bool = event.stdlib
    source: str = event.source
    fullsource: str = event.fullsource
    threadid: int | None = event.threadid
    threadname: str | None = event.threadname
    instruction: int | None = event.instruction
    by_key: Any = event['function']
    return ' '.join(
        str(value)
        for value in (
            frame is not None,
            code.co_name,
            kind,
            safe_repr(arg),
            depth,
            calls,
            builtin,
            detached,
            threading_support,
            function,
            module,
            filename,
            lineno,
            len(global_names),
            sorted(local_names),
            stdlib,
            source.strip(),
            fullsource.strip(),
            threadid,
            threadname,
            instruction,
            by_key,
        )
    )


class Collect(Action):
    """A custom action: keeps a description and a detached copy of each event."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.lines.append(describe(event))
        detached = event.detach(safe_repr)
        detached.depth += 1
        self.events.append(detached.clone())


class Announce(ColorStreamAction):
    """A custom printer: the base class gives it hunter's stream, colours and prefixes."""

    def __call__(self, event: Event) -> None:
        self.output('{}{KIND}{}{RESET} {}\n', self.filename_prefix(event), event.kind, self.try_repr(event.arg))


def in_sample_module(event: Event) -> bool:
    """A custom predicate: any callable taking an event."""
    return event.module == __name__


def sample(limit: int) -> int:
    total = 0
    for number in range(limit):
        total += number
    return total


def sample_generator(limit: int) -> Iterator[int]:
    yield from range(limit)


def every_action(output: io.StringIO) -> list[Action]:
    return [
        CallPrinter(stream=output, force_colors=False, repr_limit=80, repr_func='repr'),
        CodePrinter(output, filename_alignment=30, thread_alignment=10, pid_alignment=5, force_pid=True),
        VarsPrinter('total', 'number * 2', stream=output, repr_func=safe_repr),
        VarsSnooper(stream=output, repr_limit=40),
        ErrorSnooper(max_backlog=5, max_events=20, max_depth=1, stream=output),
        StackPrinter(depth=3, limit=1, stream=output),
        CallPrinter(stream=output, durations=True),
        TreePrinter(stream=output, max_rows=100, filename_alignment=20),
        Profile(stream=output, sort='own', limit=10),
        Announce(stream=output),
        Debugger(klass=object),
        Manhole(socket_path='/nonexistent'),
        hunter.Stop(),
    ]


def predicates() -> list[hunter.actions.Action | object]:
    query: Query = Query(module=__name__, function_in=['sample'], lineno_gte=0, depth_lt=10)
    either = Q(function='sample') | Q(function='sample_generator')
    both = Q(module=__name__) & ~Q(kind='line')
    when: When = When(Q(kind='call'), Collect())
    backlog = Backlog(Q(kind='return'), size=5, stack=2, vars=True, strip=False, action=CallPrinter).filter(
        ~Q(function='sample_generator')
    )
    return [
        query,
        either,
        both,
        when,
        backlog,
        From(Q(function='sample'), Q(depth_lt=2), watermark=1),
        From(function='sample', depth_lt=2),
        hunter.And(query, stdlib=False),
        hunter.Or(query, function='sample'),
        Not(query),
        Q(in_sample_module, action=Collect(), actions=[Collect()]),
        Q(CallPrinter, module=__name__),
        query.query_eq,
        ALLOWED_KEYS,
        ALLOWED_OPERATORS,
    ]


def main() -> int:
    output = io.StringIO()
    collect = Collect()
    printer = CallPrinter(stream=output)
    printer.repr_limit = 100
    limit: int = printer.repr_limit
    profile = Profile(stream=output, sort='calls')
    with hunter.trace(function='sample', kind_in=('call', 'return'), action=profile):
        sample(3)
    rows = profile.stats()
    profiled_calls: int = sum(row['calls'] for row in rows)
    profiled_total: float = sum(row['total'] for row in rows)
    report: str = profile.report()
    profile.clear()
    timeline = Timeline('trace.json', size=1000, on_full='stop', args=True)
    trace_text: str = timeline.dumps()
    timeline.clear()

    # trace/stop with query options and tracer options (threading support, backend, profile, clear_env_var).
    hunter.trace(module=__name__, function='sample', action=collect, threading_support=False, clear_env_var=True)
    sample(3)
    hunter.stop()

    backends: list[Any] = [None, 'settrace'] + (['monitoring'] if sys.version_info >= (3, 12) else [])
    for backend in backends:
        with hunter.trace(in_sample_module, Q(kind='call'), actions=[collect, printer], backend=backend) as tracer:
            list(sample_generator(2))
        assert isinstance(tracer, Tracer)
        mode: str = tracer.backend
        assert mode in ('settrace', 'monitoring')

    tracer = Tracer(threading_support=False, profiling_mode=False)
    tracer.trace(When(Q(function='sample'), collect))
    sample(2)
    tracer.stop()
    depth: int = tracer.depth
    calls: int = tracer.calls

    @hunter.wrap
    def wrapped(value: int) -> int:
        return value + 1

    @hunter.wrap(local=True, action=collect)
    def wrapped_locally(value: int) -> int:
        return sample(value)

    assert wrapped_locally(wrapped(1)) == 1
    hunter.load_config(stream=output)
    hunter.load_config()

    assert every_action(output) and predicates()
    print(f'{len(collect.lines)} events, {len(collect.events)} detached; {limit} {depth} {calls} {hunter.__version__}')
    return 0 if collect.lines and output.getvalue() else 1


if __name__ == '__main__':
    sys.exit(main())
