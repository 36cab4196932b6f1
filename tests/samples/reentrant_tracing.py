"""Handlers that start tracers of their own: the events each handler sees, printed as kind and function."""
import sys

import hunter


def target(n):
    total = n
    return total + 1


def nested_in_handler():
    seen = []

    def predicate(event):
        seen.append((event.kind, event.function))
        hunter.trace(lambda event: None)
        return False

    hunter.trace(predicate)
    target(1)
    hunter.stop()
    hunter.stop()
    return seen


def nested_with_blocks():
    outer, inner = [], []

    def record(into):
        # hunter's own frames differ between implementations: only this file's events are compared.
        return lambda event: into.append((event.kind, event.function, event.lineno)) if event.filename == __file__ else None

    with hunter.trace(record(outer)):
        target(1)
        with hunter.trace(record(inner)):
            target(2)
        target(3)
    return outer, inner


if __name__ == '__main__':
    import warnings

    warnings.simplefilter('ignore')
    for scenario in (nested_in_handler, nested_with_blocks):
        print(scenario.__name__, [item for item in scenario() if item])
    sys.stdout.flush()
