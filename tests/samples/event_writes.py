"""An action that rewrites the event it is given, as hunter's pure-Python events allow: the predicates and actions
after it (native ones included) read what it wrote; detach() still reads the frame's own code."""
import sys

import hunter
from hunter import And
from hunter import CallPrinter
from hunter import CodePrinter
from hunter import Q
from hunter import VarsPrinter


def traced(a):
    return a + 1


def rewrite(event):
    event.function = 'renamed'
    event.module = 'elsewhere'
    event.lineno = 999
    event.arg = 'WRITTEN' if event.kind == 'return' else event.arg
    return True


def evaluate_by_hand(event):
    # A predicate called from Python with the event: what its actions write, its later ones read.
    hunter.When(Q(kind='call'), rewrite, CallPrinter(stream=sys.stdout))(event)


def detach_after_writing_code(event):
    event.code = 'not a code object'
    detached = event.detach()
    print('detached:', detached.kind, detached.code, detached.instruction is not None)


if __name__ == '__main__':
    seen = []
    query = And(Q(function='traced'), rewrite, Q(function='renamed', module='elsewhere', lineno=999))
    with hunter.trace(query, action=lambda event: seen.append((event.kind, event.function, event.module, event.lineno))):
        traced(1)
    print('matched after the rewrite:', seen)
    printers = [CallPrinter(stream=sys.stdout), CodePrinter(stream=sys.stdout), VarsPrinter('a', stream=sys.stdout)]
    with hunter.trace(function='traced', actions=[rewrite, *printers]):
        traced(1)
    with hunter.trace(function='traced', kind='call', action=evaluate_by_hand):
        traced(1)
    with hunter.trace(function='traced', kind='call', action=detach_after_writing_code):
        traced(1)
